"""Pages of organization life (/meetings/, namespace ``meetings``); phone pages are in mobile_urls.py."""

from django.urls import path  # noqa: F401

app_name = "meetings"

urlpatterns: list = []
