"""Pages of the bank-statement import (namespace ``dues_statements``), included under /dues/statements/."""

from django.urls import path

from dangjian.dues import statement_views as views

app_name = "dues_statements"

urlpatterns = [
    path("", views.statement_list, name="list"),
    path("sample.xlsx", views.statement_sample, name="sample"),
    path("<int:pk>/", views.statement_detail, name="detail"),
    path("<int:pk>/lines/<int:line_pk>/", views.statement_line, name="line"),
    path("<int:pk>/confirm/", views.statement_confirm, name="confirm"),
    path("<int:pk>/discard/", views.statement_discard, name="discard"),
]
