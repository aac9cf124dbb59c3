from django.urls import path

from dangjian.accounts import views

app_name = "accounts"

urlpatterns = [
    path("password/", views.password_change, name="password_change"),
    path("token/", views.token, name="token"),
    path("roles/", views.roles, name="roles"),
    path("roles/<int:pk>/revoke/", views.role_revoke, name="role_revoke"),
    path("audit/", views.audit, name="audit"),
]
