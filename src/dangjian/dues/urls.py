"""URLs of the dues pages (/dues/, namespace ``dues``); the member's phone page is in mobile_urls.py."""

from django.urls import path

from dangjian.dues import views

app_name = "dues"

urlpatterns = [
    path("", views.collection, name="collection"),
    path("export/", views.collection_export, name="collection_export"),
    path("bills/generate/", views.bills_generate, name="bills_generate"),
    path("members/<int:pk>/", views.member_dues, name="member"),
    path("members/<int:pk>/pay/", views.payment_new, name="pay"),
    path(
        "members/<int:pk>/statement/<int:year>.pdf",
        views.statement_download,
        {"kind": "pdf"},
        name="statement_pdf",
    ),
    path(
        "members/<int:pk>/statement/<int:year>.docx",
        views.statement_download,
        {"kind": "docx"},
        name="statement_docx",
    ),
    path("declarations/<int:pk>/attachment/", views.declaration_attachment, name="declaration_attachment"),
    path("payments/<int:pk>/reverse/", views.payment_reverse, name="payment_reverse"),
    path("arrears/", views.arrears, name="arrears"),
    path("arrears/export/", views.arrears_export, name="arrears_export"),
    path("arrears/<int:member_id>/propose/", views.arrears_propose, name="arrears_propose"),
    path("reductions/", views.reduction_list, name="reductions"),
    path("reductions/new/", views.reduction_new, name="reduction_new"),
    path("reductions/<int:pk>/decide/", views.reduction_decide, name="reduction_decide"),
    path("reductions/<int:pk>/withdraw/", views.reduction_withdraw, name="reduction_withdraw"),
    path("remittances/", views.remittance_list, name="remittances"),
    path("remittances/new/", views.remittance_new, name="remittance_new"),
    path("remittances/<int:pk>/<str:action>/", views.remittance_act, name="remittance_act"),
    path("reports/", views.reports, name="reports"),
    path("reports/export/", views.reports_export, name="reports_export"),
    path("settings/", views.settings_page, name="settings"),
]
