"""The one place that turns errors into the API's error body and status.

`{"code": "...", "message": "...", "fields": {"amount": ["..."]}}` with
400/401/403/404/409/413/415/429; bad input never reaches a 500. A refusal answers
the same code, message, fields and status whether it was raised (a single
request) or kept in a bulk item's result.
"""

import sys
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views import defaults
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from policies.api.parsers import RequestTooLarge
from policies.errors import DomainError, ErrorCode
from policies.ingest import ItemResult

CODES = {
    exceptions.ValidationError: ErrorCode.VALIDATION_ERROR,
    exceptions.ParseError: ErrorCode.PARSE_ERROR,
    exceptions.AuthenticationFailed: ErrorCode.NOT_AUTHENTICATED,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
    RequestTooLarge: ErrorCode.REQUEST_TOO_LARGE,
}

# The status of each shared code that is not a plain 400, whichever layer refused. A rule's
# own code takes the status its exception declares, raised or kept in a bulk item's result.
STATUSES = {
    ErrorCode.NOT_AUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.PERMISSION_DENIED: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: status.HTTP_405_METHOD_NOT_ALLOWED,
    ErrorCode.NOT_ACCEPTABLE: status.HTTP_406_NOT_ACCEPTABLE,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorCode.REQUEST_TOO_LARGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.THROTTLED: status.HTTP_429_TOO_MANY_REQUESTS,
}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"code": code, "message": message, "fields": fields or {}, **extra}


@dataclass(frozen=True)
class ApiError:
    """A refusal as the API tells it: the body's code, message and fields, and the status.

    `extra` holds the rule's own facts beyond those (such as an eligibility reason).
    """

    code: str
    message: str
    fields: dict[str, Any]
    status: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> dict:
        return error_body(self.code, self.message, self.fields)


def api_error(error: DomainError | ItemResult) -> ApiError:
    """Return how the API answers a refusal, raised as a DomainError or kept in an item's result."""
    if isinstance(error, DomainError):
        return ApiError(
            code=error.code,
            message=error.message,
            fields=error.fields,
            status=STATUSES.get(error.code, error.status),
            extra=error.extra,
        )
    if error.refusal is not None:
        return ApiError(
            code=error.refusal.code,
            message=error.refusal.message,
            fields=error.errors,
            status=STATUSES.get(error.refusal.code, error.refusal.status),
            extra=error.refusal.extra,
        )
    return ApiError(
        code=ErrorCode.VALIDATION_ERROR,
        message=_("Invalid input: %(fields)s.") % {"fields": ", ".join(error.errors)},
        fields=error.errors,
        status=status.HTTP_400_BAD_REQUEST,
    )


def django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def _first_message(fields) -> str:
    """Return the first message in a (possibly nested) field error structure."""
    if isinstance(fields, dict):
        for name, value in fields.items():
            return f"{name}: {_first_message(value)}"
    if isinstance(fields, list) and fields:
        return _first_message(fields[0])
    return str(fields)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        error = api_error(exc)
        extra = {"detail": error.extra} if error.extra else {}
        return Response({**error.body, **extra}, status=error.status)
    if isinstance(exc, DjangoValidationError):
        fields = django_validation_fields(exc)
        return Response(
            error_body(ErrorCode.VALIDATION_ERROR, _first_message(fields), fields),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, TransitionNotAllowed | ConcurrentTransition):
        return Response(
            error_body(ErrorCode.CONFLICT, _("The claim changed meanwhile: reload and try again.")),
            status=STATUSES[ErrorCode.CONFLICT],
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), exc.default_code)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(code, _first_message(fields), fields)
    else:
        response.data = error_body(code, str(exc.detail))
    return response


API_PREFIX = "/api/"


def page_not_found(request, exception):
    """Django's 404 (a URL no route matches) in the API's error body on the API's paths."""
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse(error_body(ErrorCode.NOT_FOUND, _("Not found.")), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """Django's answer to an error nothing else handled, in the API's error body on its paths.

    A database that was lost, refused the connection or gave up mid-statement is a
    `503` with `Retry-After`: the request may be sent again as it is (every write is
    safe to replay), and nothing of it was kept half.
    """
    exc = sys.exc_info()[1]
    unavailable = isinstance(exc, OperationalError | InterfaceError)
    code, status_code = (
        (ErrorCode.SERVICE_UNAVAILABLE, 503) if unavailable else (ErrorCode.SERVER_ERROR, 500)
    )
    if request.path_info.startswith(API_PREFIX):
        message = (
            _("The service is briefly unavailable: try again in a few seconds.")
            if unavailable
            else _("The server failed to answer the request. It has been logged.")
        )
        response = JsonResponse(error_body(code, message), status=status_code)
    elif unavailable:
        # Rendered without the request: its context would read the session from the
        # database that is gone.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    else:
        return defaults.server_error(request)
    if unavailable:
        response["Retry-After"] = str(settings.DATABASE_RETRY_AFTER)
    return response
