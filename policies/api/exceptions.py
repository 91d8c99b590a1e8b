"""The one place that turns errors into the API's error body.

`{"code": "...", "message": "...", "fields": {"amount": ["..."]}}` with
400/401/403/404/409/429; bad input never reaches a 500.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from policies.errors import DomainError

CODES = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"code": code, "message": message, "fields": fields or {}, **extra}


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
        extra = {"detail": exc.extra} if exc.extra else {}
        return Response(error_body(exc.code, exc.message, exc.fields, **extra), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = django_validation_fields(exc)
        return Response(
            error_body("validation_error", _first_message(fields), fields),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, TransitionNotAllowed | ConcurrentTransition):
        return Response(
            error_body("conflict", _("The claim changed meanwhile: reload and try again.")),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(code, _first_message(fields), fields)
    else:
        response.data = error_body(code, str(exc.detail))
    return response
