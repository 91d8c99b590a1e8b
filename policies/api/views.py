"""The integration API's write endpoints: each POST takes one object, each `bulk/` up to 1,000.

A view validates the shape of each item, hands the valid ones to one domain
ingest function inside one transaction, and answers per item. Replays are
answered from what is stored; no item's error loses another item's write.
"""

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.api.authentication import ApiKeyAuthentication, Integration
from policies.api.docs import write_description, write_examples
from policies.api.exceptions import api_error
from policies.api.serializers import (
    PolicyInput,
    PolicyOutput,
    SellerInput,
    SellerOutput,
    ShipmentInput,
    ShipmentOutput,
)
from policies.api.throttling import ApiKeyRateThrottle
from policies.ingest import CREATED, ERROR, ItemResult, sellers_upsert_bulk, shipments_record_bulk
from policies.services import policies_enrol_bulk

MAX_BULK_ITEMS = 1000


class IsIntegration(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, Integration)


class IntegrationApi(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsIntegration]
    throttle_classes = [ApiKeyRateThrottle]

    @property
    def marketplace(self):
        return self.request.user.marketplace

    def query_parameters(self) -> set[str]:
        """Return the query parameters this request may give: a list's page parameters."""
        paginator = getattr(self, "pagination_class", None)
        if paginator is None or self.request.method != "GET":
            return set()
        return {paginator.cursor_query_param, paginator.page_size_query_param}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.query_parameters())
        # Refused, not ignored: a misspelt filter would answer the whole list. A method the
        # view does not take is left to its 405.
        if unknown and hasattr(self, request.method.lower()):
            raise ValidationError({name: [_("Unknown query parameter.")] for name in unknown})


ErrorBody = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField()),
    },
)
BulkResults = inline_serializer(
    name="BulkResults",
    fields={
        "results": inline_serializer(
            name="BulkResult",
            many=True,
            fields={
                "external_id": serializers.CharField(),
                "status": serializers.ChoiceField(["created", "updated", "unchanged", "error"]),
                "id": serializers.IntegerField(required=False),
                "number": serializers.CharField(required=False),
                "code": serializers.CharField(required=False),
                "message": serializers.CharField(required=False),
                "errors": serializers.DictField(child=serializers.ListField()),
            },
        )
    },
)


def bulk_request(input_serializer) -> serializers.Serializer:
    return inline_serializer(
        name=f"{input_serializer.__name__}Bulk",
        fields={
            "items": serializers.ListField(
                child=input_serializer(), min_length=1, max_length=MAX_BULK_ITEMS
            )
        },
    )


# Subclasses set the serializers, `ingest` and `bulk`; the flow is the same for all. (A
# comment, not a docstring: drf-spectacular would describe every operation with it.)
class IngestApi(IntegrationApi):
    input_serializer: type[serializers.Serializer]
    output_serializer: type[serializers.Serializer]
    identifier = "id"
    bulk = False

    def ingest(self, items: list[dict]) -> list[ItemResult]:
        raise NotImplementedError

    def present(self, obj):
        """Return the object as the output serializer reads it."""
        return obj

    def post(self, request, *args, **kwargs):
        results = self.run(self.raw_items(request.data))
        if self.bulk:
            return Response({"results": [self.result_row(r) for r in results]})
        return self.single_response(results[0])

    def raw_items(self, data) -> list:
        if not self.bulk:
            if not isinstance(data, dict):
                raise ValidationError({"non_field_errors": [_("Send one JSON object.")]})
            return [data]
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValidationError({"items": [_('Send {"items": [...]} with 1 to 1000 objects.')]})
        if len(items) > MAX_BULK_ITEMS:
            raise ValidationError(
                {
                    "items": [
                        _("At most %(max)s items per request; got %(count)s.")
                        % {"max": MAX_BULK_ITEMS, "count": len(items)}
                    ]
                }
            )
        return items

    def run(self, raw: list) -> list[ItemResult]:
        results: list[ItemResult | None] = []
        valid, positions = [], []
        # One serializer validates every item: building one per item costs more than the write.
        validator = self.input_serializer()
        plainly_valid = getattr(self.input_serializer, "plainly_valid", lambda item: None)
        for item in raw:
            if not isinstance(item, dict):
                results.append(ItemResult.error("", {"non_field_errors": [_("Not an object.")]}))
                continue
            try:
                validated = plainly_valid(item) or validator.run_validation(item)
            except ValidationError as exc:
                detail = exc.detail
                errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
                results.append(ItemResult.error(str(item.get("external_id", "")), errors))
                continue
            positions.append(len(results))
            valid.append(validated)
            results.append(None)
        if valid:
            with transaction.atomic():
                for position, result in zip(positions, self.ingest(valid), strict=True):
                    results[position] = result
        return results

    def result_row(self, result: ItemResult) -> dict:
        """Answer one bulk item: an error row carries the single answer's code and message."""
        row = {"external_id": result.external_id, "status": result.status}
        if result.status == ERROR:
            error = api_error(result)
            row.update(code=error.code, message=error.message, errors=error.fields)
            row.update(error.extra)
            return row
        row[self.identifier] = getattr(result.obj, self.identifier)
        row["errors"] = {}
        row.update(result.extra)
        return row

    def single_response(self, result: ItemResult) -> Response:
        if result.status == ERROR:
            error = api_error(result)
            return Response({**error.body, **error.extra}, status=error.status)
        body = self.output_serializer(self.present(result.obj)).data
        return Response(
            {**body, **result.extra},
            status=status.HTTP_201_CREATED if result.status == CREATED else status.HTTP_200_OK,
        )


def ingest_schema(input_serializer, output_serializer, *, bulk: bool, summary: str):
    described = {
        "summary": summary,
        "description": write_description(input_serializer, bulk=bulk),
        "examples": write_examples(input_serializer, bulk=bulk),
    }
    if bulk:
        return extend_schema(
            **described,
            request=bulk_request(input_serializer),
            responses={200: BulkResults, 400: ErrorBody, 429: ErrorBody},
        )
    return extend_schema(
        **described,
        request=input_serializer,
        responses={
            200: OpenApiResponse(output_serializer, description="Replay: the stored record."),
            201: output_serializer,
            400: ErrorBody,
            409: OpenApiResponse(ErrorBody, description="Same external id, other content."),
            429: ErrorBody,
        },
    )


class SellerUpsertApi(IngestApi):
    input_serializer = SellerInput
    output_serializer = SellerOutput

    def ingest(self, items):
        return sellers_upsert_bulk(marketplace=self.marketplace, items=items)

    @ingest_schema(SellerInput, SellerOutput, bulk=False, summary="Create or update a seller")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class SellerBulkApi(SellerUpsertApi):
    bulk = True

    @ingest_schema(SellerInput, SellerOutput, bulk=True, summary="Create or update sellers")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class PolicyEnrolApi(IngestApi):
    input_serializer = PolicyInput
    output_serializer = PolicyOutput
    identifier = "number"

    def ingest(self, items):
        return policies_enrol_bulk(marketplace=self.marketplace, items=items)

    @ingest_schema(PolicyInput, PolicyOutput, bulk=False, summary="Enrol a seller in a product")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class PolicyBulkApi(PolicyEnrolApi):
    bulk = True

    @ingest_schema(PolicyInput, PolicyOutput, bulk=True, summary="Enrol sellers")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ShipmentRecordApi(IngestApi):
    input_serializer = ShipmentInput
    output_serializer = ShipmentOutput

    def ingest(self, items):
        return shipments_record_bulk(marketplace=self.marketplace, items=items)

    @ingest_schema(ShipmentInput, ShipmentOutput, bulk=False, summary="Record a shipped item")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ShipmentBulkApi(ShipmentRecordApi):
    bulk = True

    @ingest_schema(ShipmentInput, ShipmentOutput, bulk=True, summary="Record shipped items")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
