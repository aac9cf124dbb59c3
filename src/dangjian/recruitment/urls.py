from django.urls import path

from dangjian.recruitment import views

app_name = "recruitment"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_create, name="create"),
    path("<int:pk>/", views.case_detail, name="case"),
    path("<int:pk>/steps/", views.case_step, name="step"),
    path("<int:pk>/stop/", views.case_stop, name="stop"),
    path("<int:pk>/record.docx", views.case_export, name="export"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
