"""Operational endpoints."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_GET

import dangjian
from dangjian.core.tasks import huey


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok", "database": "ok", "queue": "ok"}``; 503 if a dependency is down."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash the probe
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        pending = huey.pending_count()
        checks["queue"] = "ok"
        checks["queue_pending"] = str(pending)
    except Exception as exc:
        checks["queue"] = f"error: {exc.__class__.__name__}"
    healthy = checks["database"] == "ok" and checks["queue"] == "ok"
    body = {"status": "ok" if healthy else "error", "version": dangjian.__version__, **checks}
    return JsonResponse(body, status=200 if healthy else 503)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the API's error envelope under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        body = {"error": {"code": "not_found", "message": _("Not found."), "fields": {}}}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: the API's error envelope under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        body = {
            "error": {
                "code": "server_error",
                "message": _(
                    "Something went wrong on our side; the error was logged. Please try again later."
                ),
                "fields": {},
            }
        }
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
