from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from dangjian.accounts import api as accounts_api
from dangjian.core import alert_api, job_views, rule_api
from dangjian.core import views as core_views
from dangjian.dues import api as dues_api
from dangjian.dues import money_api as dues_money_api
from dangjian.dues import statement_api as dues_statement_api
from dangjian.members import api as members_api
from dangjian.members import io_api as members_io_api
from dangjian.orgs import api as orgs_api
from dangjian.recruitment import api as recruitment_api
from dangjian.transfers import api as transfers_api
from dangjian.web import urls as web_urls

router = DefaultRouter(trailing_slash=True)
router.register("orgs", orgs_api.OrganizationViewSet, basename="org")
router.register("members", members_api.MemberViewSet, basename="member")
router.register("role-assignments", accounts_api.RoleAssignmentViewSet, basename="roleassignment")
router.register("recruitment/cases", recruitment_api.RecruitmentCaseViewSet, basename="recruitment-case")
router.register(
    "recruitment/attachments", recruitment_api.AttachmentViewSet, basename="recruitment-attachment"
)
router.register("transfers", transfers_api.TransferViewSet, basename="transfer")
router.register("flow-certificates", transfers_api.FlowCertificateViewSet, basename="flow-certificate")
# Dues money (issue 4): payments, hardship reductions, remittances (dues/money_api.py).
router.register("dues/payments", dues_money_api.DuesPaymentViewSet, basename="dues-payment")
router.register("dues/reductions", dues_money_api.DuesReductionViewSet, basename="dues-reduction")
router.register("dues/remittances", dues_money_api.DuesRemittanceViewSet, basename="dues-remittance")
# Dues bills, declarations and a branch's arrangements (dues/api.py).
router.register("dues/bills", dues_api.DuesBillViewSet, basename="dues-bill")
router.register("dues/declarations", dues_api.DuesDeclarationViewSet, basename="dues-declaration")
router.register("dues/org-settings", dues_api.DuesOrgSettingViewSet, basename="dues-org-setting")
# Bank-statement imports: upload, review lines, confirm (dues/statement_api.py).
router.register("dues/statements", dues_statement_api.DuesStatementViewSet, basename="dues-statement")

api_v1 = [
    path("auth/token/", accounts_api.token_obtain, name="token"),
    path("me/", accounts_api.me, name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # xlsx import/export: before the router, whose members/{pk}/ would otherwise take "import".
    path("members/import/", members_io_api.MemberImportView.as_view(), name="member-import"),
    path(
        "members/import/template/",
        members_io_api.MemberImportTemplateView.as_view(),
        name="member-import-template",
    ),
    path("members/export/", members_io_api.MemberExportView.as_view(), name="member-export"),
    path("jobs/<int:pk>/", job_views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/file/", job_views.JobFileView.as_view(), name="job-file"),
    # The rulebook (core/rulebook.py) and the alerts of the nightly checks (core/alerts.py).
    path("rules/", rule_api.RulesInForceView.as_view(), name="rules"),
    path(
        "rules/overrides/",
        rule_api.RuleOverrideViewSet.as_view({"get": "list", "post": "create"}),
        name="ruleoverride-list",
    ),
    path("alerts/", alert_api.AlertViewSet.as_view({"get": "list"}), name="alert-list"),
    # Dues (issue 4, dues/api.py): the calculator, without a trailing slash as in the contract.
    path("dues/calculate", dues_api.CalculateView.as_view(), name="dues-calculate"),
    path("dues/summary/", dues_api.SummaryView.as_view(), name="dues-summary"),
    path("dues/arrears/", dues_api.ArrearsView.as_view(), name="dues-arrears"),
    path("dues/members/<int:pk>/", dues_api.MemberDuesView.as_view(), name="dues-member"),
    # Organization life (issue 5): meetings, attendance, check-in, votes, transcripts, compliance.
    path("meetings/", include("dangjian.meetings.api_urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("api/v1/", include((api_v1, "api"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("dangjian.web.urls")),
    *web_urls.extra,
]

handler404 = "dangjian.core.views.not_found"
handler500 = "dangjian.core.views.server_error"
