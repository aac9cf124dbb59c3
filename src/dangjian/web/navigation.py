"""The left navigation, grouped by the four platforms; only links to pages that exist."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def build_navigation(request: HttpRequest) -> dict[str, Any]:
    return {"nav_groups": []}
