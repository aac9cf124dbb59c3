"""Template context shared by every page: platform name, navigation and the user's organisation context."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    from dangjian.web.navigation import build_navigation

    context: dict[str, Any] = {"platform_name": settings.PLATFORM_NAME}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context.update(build_navigation(request))
    return context
