from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key; past it the answer is 429 with Retry-After."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        prefix = getattr(request.user, "key_prefix", None)
        if prefix is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": prefix}
