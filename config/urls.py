from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from claims.pages.accounts import PasswordResetView
from claims.pages.files import document_download
from claims.pages.views import SignInView

admin.site.site_header = _("sellercover · claims desk")
admin.site.site_title = _("sellercover claims desk")
admin.site.index_title = _("Claims desk")
# The claims queue needs the page's width more than a second navigation.
admin.site.enable_nav_sidebar = False
# A URL no route matches answers the API's JSON error body on the API's paths.
handler404 = "policies.api.exceptions.page_not_found"
# A lost database answers 503 with Retry-After; the API never answers an HTML page.
handler500 = "policies.api.exceptions.server_error"

urlpatterns = [
    path("", include("claims.pages.urls")),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("documents/<int:pk>/", document_download, name="document-download"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's start-up script comes as a file of its own: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
