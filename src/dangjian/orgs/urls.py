from django.urls import path

from dangjian.orgs import views

app_name = "orgs"

urlpatterns = [
    path("", views.tree, name="tree"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/children/", views.children, name="children"),
    path("<int:pk>/panel/", views.panel, name="panel"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/rename/", views.rename, name="rename"),
    path("<int:pk>/type/", views.change_type, name="change_type"),
    path("<int:pk>/move/", views.move, name="move"),
    path("<int:pk>/merge/", views.merge, name="merge"),
    path("<int:pk>/dissolve/", views.dissolve, name="dissolve"),
    path("<int:pk>/found/", views.found, name="found"),
    path("<int:pk>/committee/", views.committee, name="committee"),
]
