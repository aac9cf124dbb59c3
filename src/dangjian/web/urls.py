from django.urls import include, path

from dangjian.web import alert_pages, rule_pages, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    # 规则: the rules in force for an organisation, and its local versions.
    path("rules/", rule_pages.rules, name="rules"),
    path("rules/orgs/", rule_pages.org_choices, name="rule_orgs"),
    path("rules/<int:pk>/<str:key>/override/", rule_pages.override, name="rule_override"),
    path("rules/<int:pk>/<str:key>/end/", rule_pages.end, name="rule_end"),
    # 预警 and 消息.
    path("alerts/", alert_pages.alerts, name="alerts"),
    path("alerts/<int:pk>/dismiss/", alert_pages.alert_dismiss, name="alert_dismiss"),
    path("notifications/", alert_pages.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", alert_pages.notification_read, name="notification_read"),
    path("notifications/read/", alert_pages.notification_read_all, name="notifications_read_all"),
]

# Each app's pages live under its own prefix and namespace.
extra = [
    path("orgs/", include("dangjian.orgs.urls")),
    path("members/", include("dangjian.members.urls")),
    path("accounts/", include("dangjian.accounts.urls")),
    path("recruitment/", include("dangjian.recruitment.urls")),
    path("transfers/", include("dangjian.transfers.urls")),
    # Bank-statement import of the dues (dues/statement_urls.py); before any "dues/" include.
    path("dues/statements/", include("dangjian.dues.statement_urls")),
    # Party dues (dues/urls.py), and the member's dues on the phone under /m/dues/.
    path("dues/", include("dangjian.dues.urls")),
    path("m/dues/", include("dangjian.dues.mobile_urls")),
    # Organization life (meetings/urls.py) and its phone pages under /m/meetings/.
    path("meetings/", include("dangjian.meetings.urls")),
    path("m/meetings/", include("dangjian.meetings.mobile_urls")),
    path("m/", include("dangjian.web.mobile_urls")),
]
