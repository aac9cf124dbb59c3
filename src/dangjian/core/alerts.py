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

One matter may concern several organisations (a letter expiring concerns the sending and the receiving
branch): the producer yields one spec per organisation with the same ``key`` and a different ``side``
(``from``/``to``, ``home``/``host``). Each organisation's users see their own alert and can dismiss it;
a user who sees several sides sees the matter once (``matters``, ``matter_summary``, ``matter_of``).
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
# The sides of a matter raised for several organisations: a transfer's sending and receiving branch, a
# flowing member's home and host. A closed list, so that the matter is read back from the stored key.
SIDES = ("from", "to", "home", "host")


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
    # For a matter raised for several organisations: which one this is (one of SIDES), same ``key``.
    side: str = ""


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


def dedupe_key(kind: str, spec: AlertSpec) -> str:
    """The stored condition key: ``<kind>:<key>``, and ``:<side>`` for one side of a shared matter."""
    if spec.side and spec.side not in SIDES:
        raise ValueError(f"{kind}: unknown side {spec.side!r} (one of {', '.join(SIDES)})")
    if not spec.side and any(spec.key.endswith(f":{side}") for side in SIDES):
        raise ValueError(f"{kind}: key {spec.key!r} ends like a side; pass side= instead")
    key = f"{kind}:{spec.key}" + (f":{spec.side}" if spec.side else "")
    if len(key) > 200:
        raise ValueError(f"{kind}: key {spec.key!r} is too long")
    return key


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
        desired[dedupe_key(kind, spec)] = spec
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


# --- reading: one matter once -------------------------------------------------------------------------
#
# The sides of a matter are separate alerts (each organisation's own, scoped and dismissed like any
# other). A list groups them: the alerts of one matter with the same status and the same resolution time
# (the sides are resolved by the same refresh) make one row, which names every organisation it concerns.


def matter_of(key: str) -> str:
    """The matter of a stored ``dedupe_key``: the key without its side."""
    for side in SIDES:
        if key.endswith(f":{side}"):
            return key[: -len(side) - 1]
    return key


def _matter_expression() -> models.Expression:
    """``matter_of(dedupe_key)`` in SQL (the same on SQLite and PostgreSQL)."""
    from django.db.models.functions import Length, Substr

    whens = [
        models.When(
            dedupe_key__endswith=f":{side}",
            then=Substr("dedupe_key", 1, Length("dedupe_key") - len(side) - 1),
        )
        for side in SIDES
    ]
    return models.Case(*whens, default=models.F("dedupe_key"), output_field=models.CharField())


def _rank() -> models.Expression:
    from dangjian.core.models import Alert

    return models.Case(
        *(models.When(severity=s, then=models.Value(i)) for i, s in enumerate(Alert.SEVERITY_ORDER)),
        default=models.Value(len(Alert.SEVERITY_ORDER)),
        output_field=models.IntegerField(),
    )


def matters(qs: models.QuerySet) -> models.QuerySet:
    """One row per matter of ``qs`` (a queryset of alerts, already scoped and filtered), the most urgent
    first: ``matter``, ``status``, ``resolved_at``, ``sides`` (how many alerts). Paginate it, then
    ``expand`` a page into Matter objects. The same order as ``AlertQuerySet.by_severity``."""
    return (
        qs.annotate(matter=_matter_expression(), matter_rank=_rank())
        .values("matter", "status", "resolved_at")
        .annotate(
            rank=models.Min("matter_rank"),
            due=models.Min("due_date"),
            first_raised=models.Min("created_at"),
            first_id=models.Min("id"),
            sides=models.Count("id"),
        )
        .order_by("rank", models.F("due").asc(nulls_last=True), "first_raised", "first_id")
    )


class Matter:
    """One matter as a list shows it: the most urgent of its alerts (whose fields it answers with), and
    every alert of it the user sees, one per organisation (``alerts``, ``orgs``)."""

    def __init__(self, alerts: list[Any]) -> None:
        order = {s: i for i, s in enumerate(("danger", "warning", "info"))}
        self.alerts = sorted(
            alerts, key=lambda a: (order.get(a.severity, 9), a.due_date or dt.date.max, a.pk)
        )
        self.first = self.alerts[0]

    def __getattr__(self, name: str) -> Any:  # the fields of the first alert (message, url, severity...)
        return getattr(self.__dict__["first"], name)

    @property
    def pk(self) -> int:
        return self.first.pk

    @property
    def orgs(self) -> list[Any]:
        """The organisations the matter concerns, among those the user sees, in tree order."""
        return sorted({a.org_id: a.org for a in self.alerts}.values(), key=lambda o: o.path)

    @property
    def ids(self) -> list[int]:
        return [a.pk for a in self.alerts]


def expand(qs: models.QuerySet, rows: Iterable[dict[str, Any]]) -> list[Matter]:
    """The Matter objects of ``rows`` (from ``matters(qs)``, e.g. one page), in the same order: one
    query for all their alerts, with their organisations (and members, when ``qs`` selects them)."""
    rows = list(rows)
    if not rows:
        return []
    keys = {(r["matter"], r["status"], r["resolved_at"]) for r in rows}
    found: dict[tuple[str, str, Any], list[Any]] = {}
    alerts = qs.annotate(matter=_matter_expression()).filter(matter__in={r["matter"] for r in rows})
    for alert in alerts.select_related("org").order_by("id"):
        key = (alert.matter, alert.status, alert.resolved_at)
        if key in keys:
            alert.kind_label = kind_label(alert.kind)
            found.setdefault(key, []).append(alert)
    return [
        Matter(found[k]) for k in ((r["matter"], r["status"], r["resolved_at"]) for r in rows) if k in found
    ]


def matter_summary(qs: models.QuerySet, limit: int = 10) -> Any:
    """Counts of the open matters by severity and the ``limit`` most urgent, for a card (the home page):
    like ``core.selectors.alert_summary``, each matter once whatever the number of its sides."""
    from dangjian.core.models import Alert
    from dangjian.core.selectors import AlertSummary

    open_alerts = qs.filter(status=Alert.Status.OPEN)
    counts = open_alerts.annotate(matter=_matter_expression()).aggregate(
        **{
            s: models.Count("matter", distinct=True, filter=models.Q(severity=s))
            for s in Alert.Severity.values
        }
    )
    top = expand(open_alerts, matters(open_alerts)[:limit])
    return AlertSummary({s: counts[s] or 0 for s in Alert.Severity.values}, top)


def siblings(qs: models.QuerySet, alert: Any) -> models.QuerySet:
    """The other open alerts of ``alert``'s matter within ``qs`` (the other sides the user sees)."""
    from dangjian.core.models import Alert

    return (
        qs.annotate(matter=_matter_expression())
        .filter(matter=matter_of(alert.dedupe_key), status=Alert.Status.OPEN)
        .exclude(pk=alert.pk)
    )
