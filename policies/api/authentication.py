"""Marketplace integrations authenticate with `Authorization: Api-Key <key>`."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from policies.models import Marketplace, MarketplaceApiKey

# Writing the last-used time on every request would make each call a write.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Integration:
    """The principal of an API request: one marketplace, through one of its keys."""

    marketplace: Marketplace
    key_prefix: str

    is_authenticated = True
    is_staff = False
    is_anonymous = False

    def __str__(self):
        return f"{self.marketplace.code} integration"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        key = KeyParser().get(request)
        if key is None:
            return None
        prefix, _dot, _secret = key.partition(".")
        api_key = (
            MarketplaceApiKey.objects.select_related("marketplace")
            .filter(prefix=prefix, revoked=False)
            .first()
        )
        if (
            api_key is None
            or not api_key.is_valid(key)
            or api_key.has_expired
            or not api_key.marketplace.is_active
        ):
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_PRECISION:
            MarketplaceApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return Integration(marketplace=api_key.marketplace, key_prefix=api_key.prefix), api_key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe the API key header in the OpenAPI schema."""

    target_class = "policies.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; a key sees only its own marketplace.",
        }
