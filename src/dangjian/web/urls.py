from django.urls import include, path

from dangjian.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
]

# Each app's pages live under its own prefix and namespace.
extra = [
    path("orgs/", include("dangjian.orgs.urls")),
    path("members/", include("dangjian.members.urls")),
    path("accounts/", include("dangjian.accounts.urls")),
    path("m/", include("dangjian.web.mobile_urls")),
]
