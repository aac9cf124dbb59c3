from django.urls import path

from dangjian.members import io_views, views

app_name = "members"

urlpatterns: list = [
    path("", views.member_list, name="list"),
    path("new/", views.member_create, name="create"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/status/", views.member_status, name="status"),
    path("<int:pk>/status/<slug:event>/", views.member_status_event, name="status_event"),
    path("<int:pk>/reveal/", views.member_reveal, name="reveal"),
    path("<int:pk>/account/open/", views.member_account_open, name="account_open"),
    path("<int:pk>/account/password/", views.member_account_password, name="account_password"),
    path("<int:pk>/account/close/", views.member_account_close, name="account_close"),
    path("<int:pk>/discipline/", views.member_discipline, name="discipline"),
    path(
        "<int:pk>/discipline/<int:record>/restore/",
        views.member_discipline_restore,
        name="discipline_restore",
    ),
]

# Import / export pages (members/io_views.py) and the progress pages of their jobs.
urlpatterns += [
    path("import/", io_views.member_import, name="import"),
    path("import/template/", io_views.import_template, name="import_template"),
    path("export/", io_views.member_export, name="export"),
    path("jobs/<int:pk>/", io_views.job_detail, name="job"),
    path("jobs/<int:pk>/progress/", io_views.job_progress, name="job_progress"),
    path("jobs/<int:pk>/file/", io_views.job_file, name="job_file"),
]
