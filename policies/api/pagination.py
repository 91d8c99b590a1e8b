"""The API's lists are paged by cursor, in pages of a size the caller may choose."""

import re

from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pages, with a `page_size` outside 1..max_page_size refused as the
    schema says, not quietly replaced by the default or the maximum."""

    page_size_query_param = "page_size"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (_WHOLE_NUMBER.fullmatch(raw) and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("Give a whole number from 1 to %(max)s.") % {"max": self.max_page_size}
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
        return parameters
