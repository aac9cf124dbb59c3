"""The audit log: who did what to which object, from where, and who revealed which personal data."""

from __future__ import annotations

import contextvars
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest, HttpResponse

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "dangjian_request", default=None
)


class RequestContextMiddleware:
    """Keeps the current request reachable so services can record the client IP in the audit log."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def client_ip(request: HttpRequest | None = None) -> str | None:
    request = request or _current_request.get()
    if request is None:
        return None
    # X-Forwarded-For is only believed for the proxies we run (DANGJIAN_PROXY_COUNT, e.g. 1 behind
    # nginx): the entry our outermost proxy appended is the client; anything left of it is the client's
    # own claim and could be forged.
    proxies = settings.PROXY_COUNT
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def audit_log(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    org: Any | None = None,
    changes: dict[str, Any] | None = None,
) -> Any:
    """Write one audit row. ``org`` places the row in the tree so org managers can read their subtree."""
    from dangjian.core.models import AuditEntry

    if org is None and obj is not None:
        org = _org_of(obj)
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        org=org,
        ip=client_ip(),
        changes=_jsonable(changes or {}),
    )


def _org_of(obj: models.Model) -> Any | None:
    if type(obj).__name__ == "Organization":
        return obj
    field = getattr(type(obj), "scope_org_field", None)
    if not field:
        return None
    target: Any = obj
    for part in field.split("__"):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return value.pk
    return str(value)
