"""Template context shared by every page: the navigation and the user's organisation context."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    from dangjian.web.navigation import build_navigation

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return build_navigation(request)
