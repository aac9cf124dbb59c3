from django.urls import path  # noqa: F401

app_name = "members"

urlpatterns: list = []

# Import / export pages (members/io_views.py) are added by including their patterns here.
