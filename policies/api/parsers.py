"""The API's one JSON parser: bounded in size and nesting, money read exactly."""

import json
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import renderers
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser, get_encoding

from policies.errors import ErrorCode
from policies.validators import MAX_JSON_DEPTH, json_depth


class RequestTooLarge(APIException):
    status_code = 413
    default_code = ErrorCode.REQUEST_TOO_LARGE


def _refuse_constant(name: str):
    raise ValueError(_("%(name)s is not a JSON number.") % {"name": name})


class JSONParser(BaseParser):
    """JSON bodies of at most API_MAX_BODY_BYTES and MAX_JSON_DEPTH levels; numbers with a
    fraction are read as Decimal, so money never passes through a float.

    Not DRF's JSONParser: DRF reads that one's body through Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE, the seller pages' limit, and a refusal there
    is an HTML 400. This one holds the API's own limit and answers a JSON 413.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.API_MAX_BODY_BYTES
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise self.too_large(limit)
        # One byte past the limit tells an understated Content-Length.
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise self.too_large(limit)
        try:
            text = body.decode(get_encoding(parser_context))
        except UnicodeDecodeError as exc:
            raise ParseError(
                _("The body is not valid %(encoding)s text.") % {"encoding": exc.encoding}
            ) from exc
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ParseError(
                _("JSON nested deeper than %(depth)s levels.") % {"depth": MAX_JSON_DEPTH}
            )
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(_("JSON parse error: %(error)s") % {"error": exc}) from exc

    @staticmethod
    def too_large(limit: int) -> RequestTooLarge:
        return RequestTooLarge(
            _("The request body is larger than the API's limit of %(limit)s bytes.")
            % {"limit": limit}
        )
