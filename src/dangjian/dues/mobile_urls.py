"""The member's dues on the phone, under /m/dues/ (namespace ``dues_mobile``, included from web/urls.py)."""

from django.urls import path

from dangjian.dues import views

app_name = "dues_mobile"

urlpatterns = [
    path("", views.mobile_home, name="home"),
    path("statement/<int:year>.pdf", views.mobile_statement, name="statement"),
]
