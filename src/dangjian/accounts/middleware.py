"""Log out sessions that have been idle longer than DANGJIAN_SESSION_IDLE_MINUTES."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

_KEY = "dangjian_last_seen"


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last = request.session.get(_KEY)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                logout(request)
                messages.info(request, _("You were logged out after a period of inactivity."))
            elif last is None or now - last > 60:  # write at most once a minute
                request.session[_KEY] = now
        return self.get_response(request)
