"""The claims side of the integration API: events that open claims, compensations, claims."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from claims.api.serializers import (
    ClaimInput,
    ClaimOutput,
    CompensationInput,
    CompensationOutput,
)
from claims.choices import ClaimStatus, CompensationSource
from claims.compensation import compensations_record_bulk
from claims.filing import claims_file_bulk, shipment_events_ingest
from claims.models import Claim
from claims.selectors import claim_list_for_marketplace
from policies.api.docs import CLAIM_DETAIL, CLAIM_LIST
from policies.api.pagination import CursorPagination
from policies.api.serializers import ShipmentEventInput, ShipmentEventOutput
from policies.api.views import ErrorBody, IngestApi, IntegrationApi, ingest_schema
from policies.validators import validate_date_in_range


class ShipmentEventRecordApi(IngestApi):
    input_serializer = ShipmentEventInput
    output_serializer = ShipmentEventOutput

    def ingest(self, items):
        return shipment_events_ingest(marketplace=self.marketplace, items=items)

    @ingest_schema(
        ShipmentEventInput,
        ShipmentEventOutput,
        bulk=False,
        summary="Record a shipment event; a covered event opens a claim (`claim` in the answer)",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ShipmentEventBulkApi(ShipmentEventRecordApi):
    bulk = True

    @ingest_schema(ShipmentEventInput, ShipmentEventOutput, bulk=True, summary="Record events")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class CompensationRecordApi(IngestApi):
    input_serializer = CompensationInput
    output_serializer = CompensationOutput

    def ingest(self, items):
        return compensations_record_bulk(
            marketplace=self.marketplace, items=items, source=CompensationSource.API
        )

    @ingest_schema(
        CompensationInput,
        CompensationOutput,
        bulk=False,
        summary="Record a compensation the marketplace paid; reconciliation matches it",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class CompensationBulkApi(CompensationRecordApi):
    bulk = True

    @ingest_schema(CompensationInput, CompensationOutput, bulk=True, summary="Record compensations")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ClaimStatus.choices)
    seller = django_filters.CharFilter(
        field_name="seller__external_id", help_text="The marketplace's seller id."
    )
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", validators=[validate_date_in_range]
    )

    class Meta:
        model = Claim
        fields = ["status", "seller", "updated_since"]


class ClaimCursorPagination(CursorPagination):
    ordering = ("updated_at", "pk")
    page_size = 100
    max_page_size = 1000


class ClaimFileApi(IngestApi):
    input_serializer = ClaimInput
    output_serializer = ClaimOutput
    identifier = "number"

    def ingest(self, items):
        return claims_file_bulk(marketplace=self.marketplace, items=items)

    def present(self, obj):
        return claim_list_for_marketplace(marketplace=self.marketplace).get(pk=obj.pk)


class ClaimListCreateApi(ClaimFileApi):
    pagination_class = ClaimCursorPagination

    def query_parameters(self):
        filters = set(ClaimFilter.base_filters) if self.request.method == "GET" else set()
        return super().query_parameters() | filters

    @ingest_schema(ClaimInput, ClaimOutput, bulk=False, summary="File a claim")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    @extend_schema(
        summary="List the marketplace's claims",
        description=CLAIM_LIST,
        parameters=[],
        filters=True,
        responses={200: ClaimOutput(many=True), 400: ErrorBody},
    )
    def get(self, request, *args, **kwargs):
        filterset = ClaimFilter(
            request.query_params, queryset=claim_list_for_marketplace(marketplace=self.marketplace)
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(ClaimOutput(page, many=True).data)


# Beside the list, not under it: a bulk takes POST only.
class ClaimBulkApi(ClaimFileApi):
    bulk = True

    @ingest_schema(ClaimInput, ClaimOutput, bulk=True, summary="File claims")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ClaimDetailApi(IntegrationApi):
    @extend_schema(
        summary="Read a claim with its calculation and transitions",
        description=CLAIM_DETAIL,
        responses={200: ClaimOutput, 404: ErrorBody},
    )
    def get(self, request, number: str):
        claim = get_object_or_404(
            claim_list_for_marketplace(marketplace=self.marketplace), number=number
        )
        return Response(ClaimOutput(claim).data)
