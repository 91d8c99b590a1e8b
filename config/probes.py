"""What orchestrators and Prometheus ask the web process: `/healthz`, `/readyz`, `/metrics`.

They are answered first in the middleware chain: before the host check (a probe names the
pod's address, not the site's host), the HTTPS redirect, sessions and sign-in, none of which
a probe can follow, and outside the request metrics and logs they would only fill.
"""

import hmac
import ipaddress

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client.exposition import choose_encoder

from claims.metrics import metrics_registry
from policies.health import FAILED, readiness


@never_cache
def healthz(request) -> JsonResponse:
    """The process is up and answering; nothing else is asked of it."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request) -> JsonResponse:
    """Every check's name and outcome; 503 when one failed."""
    checks = readiness()
    failed = FAILED in checks.values()
    return JsonResponse(
        {"status": FAILED if failed else "ok", "checks": checks}, status=503 if failed else 200
    )


def metrics_refusal(request) -> HttpResponse | None:
    """Return the answer refusing `request` the metrics, or None when it may read them.

    Each guard production configures must pass: the bearer token (`METRICS_TOKEN`) and the
    client's address, as the TRUSTED_PROXY rule reads it, in `METRICS_ALLOWED_IPS`. With
    neither configured the metrics are open in the demo profile only.
    """
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return None if settings.METRICS_OPEN else HttpResponse(status=403)
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.encode(), token.encode()):
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    if networks:
        try:
            address = ipaddress.ip_address(get_client_ip_address(request) or "")
        except ValueError:
            return HttpResponse(status=403)
        if not any(address in network for network in networks):
            return HttpResponse(status=403)
    return None


@never_cache
def metrics(request) -> HttpResponse:
    """The Prometheus exposition: django-prometheus's request and database figures and the
    product's own `sellercover_…`."""
    if (refusal := metrics_refusal(request)) is not None:
        return refusal
    # The format the scraper asks for (OpenMetrics or the text format), the classic text
    # format by default.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(metrics_registry()), content_type=content_type)


PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


class ProbeMiddleware:
    """Answer the probes' paths before any other middleware sees the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request)
