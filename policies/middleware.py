"""Refuse control characters in a request's path and query before any view reads them; name
each response's request id."""

import re

import structlog
from django.core.exceptions import BadRequest
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _

from policies.api.exceptions import API_PREFIX, error_body
from policies.errors import ErrorCode

# Unicode's controls (Cc), NUL among them: no claim number, id or filter value holds one,
# and PostgreSQL refuses a NUL even in a comparison, which would answer a 500.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ControlCharactersMiddleware:
    """A path with a control character names nothing: 404. A query parameter with one is
    malformed: 400. On the API in its JSON error body, elsewhere as Django's error pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path_info.startswith(API_PREFIX)
        if _CONTROL.search(request.path_info):
            if api:
                return JsonResponse(error_body(ErrorCode.NOT_FOUND, _("Not found.")), status=404)
            raise Http404
        refused = sorted(
            {
                name
                for name, values in request.GET.lists()
                if _CONTROL.search(name) or any(_CONTROL.search(value) for value in values)
            }
        )
        if refused:
            message = _("Remove the control characters from the query parameters: %(names)s.") % {
                "names": ", ".join(map(repr, refused))
            }
            if api:
                fields = {name: [_("Holds a control character.")] for name in refused}
                body = error_body(ErrorCode.VALIDATION_ERROR, message, fields)
                return JsonResponse(body, status=400)
            raise BadRequest(message)
        return self.get_response(request)


class RequestIdHeaderMiddleware:
    """Return the request's id in X-Request-ID: the one every log line of the request, and of
    the tasks it queued, carries (bound by django-structlog's RequestMiddleware, before it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request_id := structlog.contextvars.get_contextvars().get("request_id"):
            response["X-Request-ID"] = request_id
        return response
