"""The integration API, version 1: each resource takes one object, or up to 1,000 at its
`bulk/`; a key sees only its own marketplace's records."""

from django.urls import path

from claims.api import reports
from claims.api import views as claims
from policies.api import views as policies

urlpatterns = [
    path("sellers/", policies.SellerUpsertApi.as_view(), name="seller-upsert"),
    path("sellers/bulk/", policies.SellerBulkApi.as_view(), name="seller-bulk"),
    path("policies/", policies.PolicyEnrolApi.as_view(), name="policy-enrol"),
    path("policies/bulk/", policies.PolicyBulkApi.as_view(), name="policy-bulk"),
    path("shipments/", policies.ShipmentRecordApi.as_view(), name="shipment-record"),
    path("shipments/bulk/", policies.ShipmentBulkApi.as_view(), name="shipment-bulk"),
    path("shipment-events/", claims.ShipmentEventRecordApi.as_view(), name="event-record"),
    path("shipment-events/bulk/", claims.ShipmentEventBulkApi.as_view(), name="event-bulk"),
    path("compensations/", claims.CompensationRecordApi.as_view(), name="compensation-record"),
    path("compensations/bulk/", claims.CompensationBulkApi.as_view(), name="compensation-bulk"),
    path("claims/", claims.ClaimListCreateApi.as_view(), name="claim-list"),
    path("claims/bulk/", claims.ClaimBulkApi.as_view(), name="claim-bulk"),
    path("claims/<str:number>/", claims.ClaimDetailApi.as_view(), name="claim-detail"),
    path("reports/", reports.ReportImportApi.as_view(), name="report-import"),
    path("reports/<int:pk>/rows/", reports.ReportRowsApi.as_view(), name="report-rows"),
]
