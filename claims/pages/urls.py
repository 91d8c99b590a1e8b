from django.urls import path

from claims.pages import views

app_name = "seller"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("figures/", views.figures, name="figures"),
    path("figures.csv", views.figures_download, name="figures_csv"),
    path("enrol/", views.enrol, name="enrol"),
    path("policies/", views.policy_list, name="policies"),
    path("shipments/", views.shipment_list, name="shipments"),
    path("shipments/<int:pk>/", views.shipment_detail, name="shipment"),
    path("claims/", views.claim_list, name="claims"),
    path("claims/new/", views.claim_new, name="claim_new"),
    path("claims/<str:number>/", views.claim_detail, name="claim"),
    path("claims/<str:number>/answer/", views.claim_answer, name="claim_answer"),
    path("claims/<str:number>/message/", views.claim_message, name="claim_message"),
    path("claims/<str:number>/withdraw/", views.claim_withdraw, name="claim_withdraw"),
    path("claims/<str:number>/evidence/<int:pk>/", views.evidence_download, name="evidence"),
    path("reports/", views.report_list, name="reports"),
    path("reports/upload/", views.report_upload, name="report_upload"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/status/", views.report_status, name="report_status"),
    path("reports/<int:pk>/rows.csv", views.report_csv, name="report_csv"),
]
