"""Reads of the core plumbing: the rules in force for an organisation, and alerts within a user's scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.alerts import kind_label
from dangjian.core.models import Alert, RuleOverride
from dangjian.core.scoping import path_prefix_q

TOP_ALERTS = 10


# --- rules --------------------------------------------------------------------------------------------


@dataclass
class ParamRow:
    """One parameter of a rule as it applies to an organisation."""

    name: str
    label: str
    value: Any
    national: Any
    local_org: Any = None  # the organisation whose override sets it, if any
    spec: rulebook.OverridableParam | None = None

    @property
    def is_local(self) -> bool:
        return self.local_org is not None

    @property
    def value_display(self) -> str:
        return display_value(self.value)

    @property
    def national_display(self) -> str:
        return display_value(self.national)


def display_value(value: Any) -> str:
    """A rule parameter as a party worker reads it: 是/否, lists joined, mappings as ``key: value``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, list | tuple):
        return "、".join(display_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}: {display_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class HistoryRow:
    """A national version or a local override in the history of a rule, as seen from one organisation."""

    date: dt.date
    kind: str  # "national", "local" or "end"
    in_force: bool = False
    future: bool = False
    version: rulebook.RuleVersion | None = None
    override: RuleOverride | None = None
    # A local version's values as (label, value) for display.
    values: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RuleInForce:
    """A rule family as it applies to an organisation on a date (the page and the API render this)."""

    current: rulebook.RuleVersion
    national: rulebook.RuleVersion
    layers: list[RuleOverride]
    own: RuleOverride | None  # the organisation's own override in force, if any
    params: list[ParamRow]
    history: list[HistoryRow]
    overridable: list[rulebook.OverridableParam] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.national.key

    @property
    def anchor(self) -> str:
        """The HTML id of the rule on the page (``rule-org-terms``)."""
        return "rule-" + self.key.replace(".", "-")

    @property
    def nearest(self) -> RuleOverride | None:
        return self.layers[-1] if self.layers else None

    def as_dict(self) -> dict[str, Any]:
        def override(row: RuleOverride | None) -> dict[str, Any] | None:
            if row is None:
                return None
            return {
                "id": row.pk,
                "org": row.org_id,
                "org_name": row.org.name,
                "kind": row.kind,
                "effective_from": row.effective_from,
                "params": row.params,
                "reason": row.reason,
                "set_by": row.created_by.display_name if row.created_by else "",
                "set_at": row.created_at,
            }

        def version(v: rulebook.RuleVersion) -> dict[str, Any]:
            return {
                "version": v.version,
                "effective_from": v.effective_from,
                "source": v.source,
                "confidence": v.confidence,
                "pending_confirmation": v.pending_confirmation,
            }

        return {
            "key": self.key,
            "title": self.current.title,
            "ref": self.current.ref,
            "version": self.current.version,
            "effective_from": self.current.effective_from,
            "source": self.current.source,
            "confidence": self.current.confidence,
            "pending_confirmation": self.current.pending_confirmation,
            "params": self.current.params,
            "local_params": list(self.current.local_params),
            "national": {**version(self.national), "params": self.national.params},
            "local": [override(row) for row in self.layers],
            "overridable": [p.as_dict() for p in self.overridable],
            "history": [
                {
                    "date": h.date,
                    "kind": h.kind,
                    "in_force": h.in_force,
                    **(version(h.version) if h.version else {}),
                    **({"override": override(h.override)} if h.override else {}),
                }
                for h in self.history
            ],
        }


def rules_in_force(org: Any | None, on: dt.date | None = None) -> list[RuleInForce]:
    """Every rule family with the version in force for ``org`` on ``on`` (national only without org).

    One query for the overrides of the organisation and its ancestors, whatever the number of rules.
    """
    on = on or timezone.localdate()
    rows = rulebook.overrides_for(org) if org is not None else []
    result = []
    for key in rulebook.rule_keys():
        try:
            national = rulebook.national_rule(key, on)
        except rulebook.RuleNotFound:
            continue  # a family whose first version starts later: not in force yet
        layers = rulebook.active_layers(rows, key, on)
        current = rulebook.apply_layers(national, layers)
        specs = {p.name: p for p in national.overridable}
        setters: dict[str, Any] = {}
        for layer in layers:
            for name in layer.params or {}:
                if name in national.params:
                    setters[name] = layer.org
        params = [
            ParamRow(
                name=name,
                label=(specs[name].label if name in specs and specs[name].label else None)
                or national.labels.get(name)
                or name,
                value=current.params[name],
                national=national.params[name],
                local_org=setters.get(name),
                spec=specs.get(name),
            )
            for name in national.params
            if name != "articles"  # article citations are shown with the decisions, not as numbers
        ]
        own = layers[-1] if layers and org is not None and layers[-1].org_id == org.pk else None
        result.append(
            RuleInForce(
                current=current,
                national=national,
                layers=layers,
                own=own,
                params=params,
                history=_history(key, rows, layers, national, on),
                overridable=list(national.overridable),
            )
        )
    return result


def _history(
    key: str,
    rows: list[RuleOverride],
    layers: list[RuleOverride],
    national: rulebook.RuleVersion,
    on: dt.date,
) -> list[HistoryRow]:
    history = [
        HistoryRow(
            date=v.effective_from,
            kind="national",
            version=v,
            in_force=v.version == national.version,
            future=v.effective_from > on,
        )
        for v in rulebook.versions(key)
    ]
    active = {row.pk for row in layers}
    labels = {p.name: p.label or p.name for p in national.overridable}
    history += [
        HistoryRow(
            date=row.effective_from,
            kind="end" if row.is_end else "local",
            override=row,
            in_force=row.pk in active,
            future=row.effective_from > on,
            values=[(labels.get(k, k), display_value(v)) for k, v in (row.params or {}).items()],
        )
        for row in rows
        if row.key == key
    ]
    history.sort(key=lambda h: (h.date, h.kind != "national"), reverse=True)
    return history


# --- alerts -------------------------------------------------------------------------------------------


def alerts_for(user: Any) -> QuerySet[Alert]:
    """Every alert the user may see (their subtrees), any status."""
    return Alert.objects.restrict(user, "view")


def alerts_in_subtree(user: Any, org: Any) -> QuerySet[Alert]:
    """The alerts of ``org``'s subtree that the user may see."""
    return alerts_for(user).filter(path_prefix_q("org_path", org.path))


def alert_filter(qs: QuerySet[Alert], params: dict[str, Any]) -> QuerySet[Alert]:
    """Narrow alerts by kind, severity and status (``status`` defaults to open; ``all`` for every one)."""
    if params.get("kind"):
        qs = qs.filter(kind=params["kind"])
    if params.get("severity"):
        qs = qs.filter(severity=params["severity"])
    status = params.get("status") or Alert.Status.OPEN
    if status != "all":
        qs = qs.filter(status=status)
    return qs


@dataclass(frozen=True)
class AlertSummary:
    """Counts of open alerts by severity and the most urgent ones, for a card."""

    counts: dict[str, int]
    top: list[Alert]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def alert_summary(qs: QuerySet[Alert], limit: int = TOP_ALERTS) -> AlertSummary:
    """Two queries: the counts by severity, and the ``limit`` most urgent open alerts."""
    open_alerts = qs.filter(status=Alert.Status.OPEN)
    counts = open_alerts.aggregate(**{s: Count("id", filter=Q(severity=s)) for s in Alert.Severity.values})
    top = list(open_alerts.by_severity().select_related("org")[:limit])
    for alert in top:
        alert.kind_label = kind_label(alert.kind)
    return AlertSummary({s: counts[s] or 0 for s in Alert.Severity.values}, top)


def alert_kinds(qs: QuerySet[Alert]) -> list[tuple[str, str]]:
    """The kinds to offer in a filter: every registered producer, and any kind present in ``qs``."""
    from dangjian.core.alerts import producers

    registered = {k for k, p in producers().items() if not p.notifications_only}
    kinds = registered | set(qs.order_by().values_list("kind", flat=True).distinct())
    return sorted(((k, kind_label(k)) for k in kinds), key=lambda kv: kv[1])
