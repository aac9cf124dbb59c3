"""Template context shared by every page: platform name, navigation, the user's organisation context and
the number of unread notifications."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from dangjian.core.notifications import unread_count


def navigation(request: HttpRequest) -> dict[str, Any]:
    from dangjian.web.navigation import build_navigation

    context: dict[str, Any] = {"platform_name": settings.PLATFORM_NAME}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context.update(build_navigation(request))
        # The bell in the top bar; counted only when a template shows it (one query).
        context["unread_notifications"] = SimpleLazyObject(lambda: unread_count(user))
    return context
