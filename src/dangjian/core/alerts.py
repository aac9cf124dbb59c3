"""Alerts and reminders: apps register producers; a daily refresh turns their answers into rows.

An app declares, in its ``alerts.py`` (found automatically, like ``tasks.py``), what should be open on a
date::

    from dangjian.core.alerts import AlertSpec, alert_producer

    @alert_producer("recruitment.talk_overdue", label=gettext_lazy("Talk overdue"))
    def talk_overdue(on: dt.date) -> Iterable[AlertSpec]:
        for case in ...:
            yield AlertSpec(key=f"case{case.pk}", org=case.org, message=..., severity="warning",
                            due_date=..., subject=case, rule_ref=rule.ref, url=...)

A producer may also yield ``NotificationSpec`` for a friendly message to one user (the political
birthday greeting): it is sent once per ``key`` and user, never as an alert.

``alerts_refresh(on=date)`` (daily at 02:00, core/tasks.py) asks every producer, opens what is new,
updates what changed, and resolves the open alerts of that kind no longer produced. It is idempotent:
running it twice on the same day changes nothing the second time. A dismissed alert stays dismissed
while its condition lasts, and can be raised again once the condition has cleared and comes back.
A producer that fails is logged and skipped: its alerts are left as they were, never resolved by
mistake.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise

logger = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "danger")


@dataclass(frozen=True)
class AlertSpec:
    """An alert a producer wants open on a date. ``key`` is unique within the producer's kind."""

    key: str
    org: Any  # an Organization (or its id)
    message: str
    severity: str = "warning"
    due_date: dt.date | None = None
    subject: models.Model | None = None
    member: Any = None  # a Member (or its id)
    rule_ref: str = ""
    url: str = ""


@dataclass(frozen=True)
class NotificationSpec:
    """A message to one user, sent once per ``key`` (e.g. ``political_birthday:<member>:<year>``)."""

    key: str
    user: Any  # a User (or its id)
    title: str
    body: str = ""
    url: str = ""


@dataclass(frozen=True)
class Producer:
    kind: str
    label: Promise | str
    func: Callable[[dt.date], Iterable[AlertSpec | NotificationSpec]]
    notifications_only: bool = False  # sends notifications, raises no alert (not offered as a filter)


@dataclass
class RefreshResult:
    """What one refresh did, per kind and in total (printed by the shell, returned by the task)."""

    created: int = 0
    updated: int = 0
    resolved: int = 0
    notified: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, other: RefreshResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.resolved += other.resolved
        self.notified += other.notified
        self.failed += other.failed


_PRODUCERS: dict[str, Producer] = {}
_discovered = False


def alert_producer(
    kind: str, *, label: Promise | str | None = None, notifications_only: bool = False
) -> Callable[[Callable[[dt.date], Iterable[Any]]], Callable[[dt.date], Iterable[Any]]]:
    """Register ``func(on) -> iterable of AlertSpec/NotificationSpec`` as the producer of ``kind``."""

    def register(func: Callable[[dt.date], Iterable[Any]]) -> Callable[[dt.date], Iterable[Any]]:
        existing = _PRODUCERS.get(kind)
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"two producers for alert kind {kind!r}")
        _PRODUCERS[kind] = Producer(kind, label or kind, func, notifications_only)
        return func

    return register


def _discover() -> None:
    global _discovered
    if not _discovered:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("alerts")
        _discovered = True


def producers() -> dict[str, Producer]:
    """Every registered producer by kind (each installed app's ``alerts`` module is imported first)."""
    _discover()
    return dict(_PRODUCERS)


def kind_label(kind: str) -> str:
    producer = producers().get(kind)
    return str(producer.label) if producer else kind


def alerts_refresh(on: dt.date | None = None, kinds: Iterable[str] | None = None) -> RefreshResult:
    """Bring the open alerts in line with what every producer says should be open on ``on``."""
    from django.conf import settings

    on = on or timezone.localdate()
    total = RefreshResult()
    wanted = set(kinds) if kinds is not None else None
    for kind, producer in sorted(producers().items()):
        if wanted is not None and kind not in wanted:
            continue
        try:
            # Messages are stored as written: in the site's language, whoever triggers the refresh.
            with translation.override(settings.LANGUAGE_CODE):
                specs = list(producer.func(on))
            with transaction.atomic():
                total.add(_apply(kind, specs))
        except Exception:  # one broken producer must not stop the others, nor resolve its alerts
            logger.exception("alert producer %s failed on %s", kind, on)
            total.failed.append(kind)
    return total


def _org_paths(specs: list[AlertSpec]) -> dict[int, str]:
    from dangjian.core.models import Alert

    organization = Alert._meta.get_field("org").related_model  # core imports no app (the design notes)
    paths: dict[int, str] = {}
    missing = set()
    for spec in specs:
        if isinstance(spec.org, models.Model):
            paths[spec.org.pk] = spec.org.path
        else:
            missing.add(int(spec.org))
    missing -= set(paths)
    if missing:
        paths.update(organization._default_manager.filter(pk__in=missing).values_list("pk", "path"))
    return paths


def _pk(value: Any) -> int | None:
    if value is None:
        return None
    return value.pk if isinstance(value, models.Model) else int(value)


def _apply(kind: str, specs: list[AlertSpec | NotificationSpec]) -> RefreshResult:
    from dangjian.core.models import Alert

    result = RefreshResult()
    notes = [s for s in specs if isinstance(s, NotificationSpec)]
    alerts = [s for s in specs if isinstance(s, AlertSpec)]
    if notes:
        from dangjian.core.notifications import notify_many

        result.notified = notify_many(kind, notes)

    desired: dict[str, AlertSpec] = {}
    for spec in alerts:
        if spec.severity not in SEVERITIES:
            raise ValueError(f"{kind}: unknown severity {spec.severity!r}")
        desired[f"{kind}:{spec.key}"[:200]] = spec
    paths = _org_paths(list(desired.values()))
    now = timezone.now()

    # What is already there: open alerts, and dismissed ones whose condition has not cleared.
    live = {
        a.dedupe_key: a
        for a in Alert.objects.filter(kind=kind, resolved_at__isnull=True).filter(
            status__in=[Alert.Status.OPEN, Alert.Status.DISMISSED]
        )
    }
    content_types: dict[type, ContentType] = {}

    def values(spec: AlertSpec) -> dict[str, Any]:
        org_id = _pk(spec.org)
        subject = spec.subject
        row: dict[str, Any] = {
            "severity": spec.severity,
            "org_id": org_id,
            "org_path": paths[org_id],
            "member_id": _pk(spec.member),
            "due_date": spec.due_date,
            "message": spec.message,
            "url": spec.url[:300],
            "rule_ref": spec.rule_ref[:120],
            "subject_type_id": None,
            "subject_id": "",
            "subject_repr": "",
        }
        if subject is not None:
            model = type(subject)
            if model not in content_types:
                content_types[model] = ContentType.objects.get_for_model(model)
            row.update(
                subject_type_id=content_types[model].pk,
                subject_id=str(subject.pk),
                subject_repr=str(subject)[:200],
            )
        return row

    new: list[Alert] = []
    changed: list[Alert] = []
    fields = list(values(next(iter(desired.values()))).keys()) if desired else []
    for key, spec in desired.items():
        row = values(spec)
        current = live.get(key)
        if current is None:
            new.append(Alert(kind=kind, dedupe_key=key, status=Alert.Status.OPEN, **row))
        elif current.status == Alert.Status.OPEN and any(getattr(current, f) != v for f, v in row.items()):
            for f, v in row.items():
                setattr(current, f, v)
            current.updated_at = now
            changed.append(current)
        # A dismissed alert whose condition persists stays dismissed: nothing to do.
    if new:
        Alert.objects.bulk_create(new, batch_size=500)
    if changed:
        Alert.objects.bulk_update(changed, [*fields, "updated_at"], batch_size=500)
    gone = [a.pk for key, a in live.items() if key not in desired]
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        # An open alert is resolved; a dismissed one only records that its condition cleared.
        result.resolved += Alert.objects.filter(pk__in=chunk, status=Alert.Status.OPEN).update(
            status=Alert.Status.RESOLVED, resolved_at=now, updated_at=now
        )
        Alert.objects.filter(pk__in=chunk, status=Alert.Status.DISMISSED).update(resolved_at=now)
    result.created = len(new)
    result.updated = len(changed)
    return result
