"""Marketplace finance reports pushed over the API: imported at once, answered with what
every row came to; the rows' outcomes are paged at `rows_url`."""

import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from claims.choices import ReportFormat, ReportOutcome
from claims.models import ReportImport, ReportLine
from claims.reports.importing import report_import_claims, report_import_push
from policies.api.docs import REPORT_IMPORT, REPORT_IMPORT_EXAMPLES, REPORT_ROWS
from policies.api.pagination import CursorPagination
from policies.api.serializers import EXTERNAL_ID, LineField
from policies.api.views import ErrorBody, IntegrationApi


class ReportInput(serializers.Serializer):
    external_id = LineField(**EXTERNAL_ID)
    seller = LineField(max_length=64, help_text="The marketplace's seller id.")
    report = serializers.JSONField(
        # Money arrives as Decimal (the API's JSONParser); written back as text, never a float.
        encoder=DjangoJSONEncoder,
        help_text="The marketplace's report exactly as its API returned it: WB v5 rows, "
        "WB finance-API rows, or Ozon's transaction list (the whole response or its "
        "`operations`).",
    )


ReportOutput = inline_serializer(
    name="ReportImport",
    fields={
        "id": serializers.IntegerField(),
        "format": serializers.ChoiceField(ReportFormat.values),
        "rows": serializers.IntegerField(),
        "outcomes": inline_serializer(
            name="ReportOutcomes",
            fields={code: serializers.IntegerField() for code in ReportOutcome.values},
        ),
        "claims": serializers.ListField(child=serializers.CharField()),
        "rows_url": serializers.CharField(),
    },
)
ReportRowsOutput = inline_serializer(
    name="ReportRows",
    fields={
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": inline_serializer(
            name="ReportRow",
            many=True,
            fields={
                "key": serializers.CharField(),
                "line": serializers.IntegerField(),
                "outcome": serializers.ChoiceField(ReportOutcome.values),
                "claim": serializers.CharField(allow_null=True),
                "reason": serializers.CharField(),
            },
        ),
    },
)


def report_answer(imported: ReportImport, *, absolute: Callable[[str], str]) -> dict:
    """Return the API's answer for an import; `absolute` turns a path into a full URL."""
    return {
        "id": imported.pk,
        "format": imported.format,
        "rows": imported.rows,
        "outcomes": {code: imported.outcomes.get(code, 0) for code in ReportOutcome.values},
        "claims": report_import_claims(imported=imported),
        "rows_url": absolute(reverse("report-rows", args=[imported.pk])),
    }


class ReportImportApi(IntegrationApi):
    @extend_schema(
        summary="Import a seller's finance report: insured fees open claims, compensation "
        "is recorded",
        description=REPORT_IMPORT,
        examples=REPORT_IMPORT_EXAMPLES,
        request=ReportInput,
        responses={
            200: ReportOutput,
            201: ReportOutput,
            400: ErrorBody,
            409: ErrorBody,
            429: ErrorBody,
        },
    )
    def post(self, request):
        data = ReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        imported, created = report_import_push(
            marketplace=self.marketplace,
            seller_ref=data.validated_data["seller"],
            external_id=data.validated_data["external_id"],
            content=json.dumps(
                data.validated_data["report"], cls=DjangoJSONEncoder, ensure_ascii=False
            ).encode(),
        )
        return Response(
            report_answer(imported, absolute=request.build_absolute_uri),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReportRowPagination(CursorPagination):
    ordering = ("line", "pk")
    page_size = 500
    max_page_size = 5000


class ReportRowsApi(IntegrationApi):
    pagination_class = ReportRowPagination

    @extend_schema(
        summary="Page through what each row of an imported report came to",
        description=REPORT_ROWS,
        responses={200: ReportRowsOutput, 404: ErrorBody},
    )
    def get(self, request, pk: int):
        imported = get_object_or_404(ReportImport, pk=pk, marketplace=self.marketplace)
        lines = ReportLine.objects.filter(report=imported).select_related("claim")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(lines, request, view=self)
        return paginator.get_paginated_response(
            [
                {
                    "key": line.key,
                    "line": line.line,
                    "outcome": line.outcome,
                    "claim": line.claim.number if line.claim else None,
                    "reason": line.reason,
                }
                for line in page
            ]
        )
