from django.urls import path

from dangjian.web import mobile

app_name = "mobile"

urlpatterns: list = [
    path("", mobile.home, name="home"),
    path("branch/", mobile.branch, name="branch"),
    path("secretary/", mobile.secretary, name="secretary"),
    path("offline/", mobile.offline, name="offline"),
    path("sw.js", mobile.service_worker, name="sw"),
]
