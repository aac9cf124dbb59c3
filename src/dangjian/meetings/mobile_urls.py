"""Organization life on the phone (/m/meetings/, namespace ``mobile_meetings``): my meetings, leave
requests and QR check-in."""

from django.urls import path  # noqa: F401

app_name = "mobile_meetings"

urlpatterns: list = []
