from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from claims.pages.files import document_download
from claims.pages.views import SignInView

admin.site.site_header = _("sellercover · claims desk")
admin.site.site_title = _("sellercover claims desk")
admin.site.index_title = _("Claims desk")
# The claims queue needs the page's width more than a second navigation.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", include("claims.pages.urls")),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("documents/<int:pk>/", document_download, name="document-download"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
