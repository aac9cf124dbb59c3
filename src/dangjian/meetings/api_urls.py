"""API routes of organization life under /api/v1/meetings/ (names in the ``api`` namespace).

Each module adds its own lines; the contract paths are in issue 5: the meeting list and detail, and per
meeting attendance/, checkin/, votes/, transcript/ and keywords/; compliance/ for a subtree and year.
"""

from django.urls import path  # noqa: F401

urlpatterns: list = []
