from django.urls import path

from dangjian.transfers import views

app_name = "transfers"

urlpatterns = [
    path("", views.transfer_list, name="list"),
    path("new/", views.transfer_create, name="create"),
    path("flowing/", views.flowing_list, name="flowing"),
    path("flowing/new/", views.flowing_issue, name="flowing_issue"),
    path("flowing/<int:pk>/", views.flowing_detail, name="flowing_detail"),
    path("proposals/<int:pk>/decide/", views.proposal_decide, name="proposal_decide"),
    path("<int:pk>/", views.transfer_detail, name="detail"),
    path("<int:pk>/letter/", views.transfer_letter, name="letter"),
    path("<int:pk>/letter.docx", views.transfer_letter_docx, name="letter_docx"),
    path("<int:pk>/<str:action>/", views.transfer_act, name="act"),
]
