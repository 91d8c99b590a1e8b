from django.urls import path

from claims import pages

app_name = "seller"

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("enrol/", pages.enrol, name="enrol"),
    path("policies/", pages.policy_list, name="policies"),
    path("shipments/", pages.shipment_list, name="shipments"),
    path("shipments/<int:pk>/", pages.shipment_detail, name="shipment"),
    path("claims/", pages.claim_list, name="claims"),
    path("claims/new/", pages.claim_new, name="claim_new"),
    path("claims/<str:number>/", pages.claim_detail, name="claim"),
    path("claims/<str:number>/answer/", pages.claim_answer, name="claim_answer"),
    path("claims/<str:number>/message/", pages.claim_message, name="claim_message"),
    path("claims/<str:number>/withdraw/", pages.claim_withdraw, name="claim_withdraw"),
    path("claims/<str:number>/evidence/<int:pk>/", pages.evidence_download, name="evidence"),
]
