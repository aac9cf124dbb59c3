"""Rules as versioned data (design: Rulebook).

``rules/*.yaml`` ship the national rules (the Party's official texts). Each file holds one rule family::

    key: transfers.letter
    title: 组织关系介绍信
    overridable:            # the parameters an organisation may set for its subtree, with their bounds
      - {name: letter_validity_days, type: int, min: 1, max: 90, label: 介绍信有效期（天）}
    versions:
      - version: "2019"
        effective_from: 2019-05-01
        source: 中国共产党党员教育管理工作条例 ...
        confidence: C       # C confirmed from the text · S secondary sources · U unconfirmed
        pending_confirmation: false   # true: shown as 待确认 until the text is confirmed
        params: {...}

An ``overridable`` entry may also be a bare name (its type is taken from the default value, numbers
then only need to be >= 0), and a version may list names under its own ``overridable``: the family's
list is the union, the same for every version (an organisation's override outlives a revision).

``labels:`` gives every parameter its display name, and ``value_labels:`` the display names of coded
values — the items of a list, the keys of a mapping, the choices of a ``choice`` parameter — so that a
party worker reads 党员推荐 rather than ``member_recommendation``::

    labels:
      approver_org_types: 有审批权的党组织类型
    value_labels:
      approver_org_types: {committee: 党委, working_committee: 党工委}

``display(version, name, value)`` renders a value with them (tests check every parameter has a label and
every choice a value label).

``rule(key, on=date, org=org)`` returns the version in force on that date. Local overrides
(``core.RuleOverride``, set by org managers through ``core.services.rule_override_set``) take
precedence for the overriding organisation's subtree; overrides on several levels stack, the nearest
organisation's value winning for each parameter. A decision stores ``RuleVersion.ref`` so a report can
say which rule made it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"

PARAM_TYPES = ("int", "float", "bool", "choice", "str")


class RuleNotFound(LookupError):
    pass


@dataclass(frozen=True)
class OverridableParam:
    """A parameter of a rule family that an organisation may set locally, with its type and bounds."""

    name: str
    type: str = "int"
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    label: str = ""
    # The display names of the choices (the family's ``value_labels`` for this parameter): code → label.
    choice_labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def choice_label(self, value: Any) -> str:
        return self.choice_labels.get(str(value), str(value))

    @classmethod
    def from_yaml(cls, data: dict[str, Any] | str, key: str, default: Any = None) -> OverridableParam:
        """One ``overridable`` entry. The full form is a mapping with type and bounds; a bare name is
        accepted too, its type taken from the default value (numbers then only need to be >= 0)."""
        if isinstance(data, str):
            data = {"name": data, "type": _type_of(default)}
            if data["type"] in ("int", "float"):
                data["min"] = 0
        kind = str(data.get("type") or _type_of(default))
        if kind not in PARAM_TYPES:
            raise ValueError(f"{key}: overridable {data.get('name')!r} has unknown type {kind!r}")
        return cls(
            name=str(data["name"]),
            type=kind,
            min=data.get("min"),
            max=data.get("max"),
            choices=tuple(data.get("choices", ())),
            label=str(data.get("label", "")),
        )

    def clean(self, value: Any) -> Any:
        """The value converted to the parameter's type; ValidationError naming the bound it breaks."""
        label = self.label or self.name
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes", "on"):
                return True
            if str(value).lower() in ("false", "0", "no", "off"):
                return False
            raise ValidationError(_("%(param)s: choose yes or no.") % {"param": label})
        if self.type == "choice":
            if value not in self.choices:
                raise ValidationError(
                    _("%(param)s: choose one of %(choices)s.")
                    % {"param": label, "choices": "、".join(self.choice_label(c) for c in self.choices)}
                )
            return value
        if self.type == "str":
            text = str(value).strip()
            if not text:
                raise ValidationError(_("%(param)s: enter a value.") % {"param": label})
            return text
        number: int | float
        try:
            if isinstance(value, bool):
                raise ValueError
            if self.type == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                number = int(str(value).strip()) if not isinstance(value, int | float) else int(value)
            else:
                number = float(value)
        except (TypeError, ValueError):
            message = (
                _("%(param)s: enter a whole number.")
                if self.type == "int"
                else _("%(param)s: enter a number.")
            )
            raise ValidationError(message % {"param": label}) from None
        if self.min is not None and number < self.min:
            raise ValidationError(
                _("%(param)s must be at least %(min)s.") % {"param": label, "min": _num(self.min)}
            )
        if self.max is not None and number > self.max:
            raise ValidationError(
                _("%(param)s must be at most %(max)s.") % {"param": label, "max": _num(self.max)}
            )
        return number

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices),
            "choice_labels": {str(c): self.choice_label(c) for c in self.choices},
            "label": self.label,
        }


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class RuleVersion:
    key: str
    version: str
    effective_from: dt.date
    params: dict[str, Any]
    source: str = ""
    confidence: str = "C"
    title: str = ""
    override_org_id: int | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # The text is not confirmed yet (e.g. the reported 2026 revision of the 细则): the UI shows 待确认.
    pending_confirmation: bool = False
    overridable: tuple[OverridableParam, ...] = ()
    # Display names of the parameters (the family's ``labels:``), for pages that list them.
    labels: dict[str, str] = field(default_factory=dict)
    # Display names of coded values per parameter (the family's ``value_labels:``): code → label.
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    # For a local version: the parameters whose values come from overrides, and the national version.
    local_params: tuple[str, ...] = ()
    national: RuleVersion | None = None

    @property
    def ref(self) -> str:
        """A short reference stored with each decision, e.g. ``org.structure@2018``."""
        suffix = f"+org{self.override_org_id}" if self.override_org_id else ""
        return f"{self.key}@{self.version}{suffix}"

    @property
    def is_local(self) -> bool:
        return self.override_org_id is not None

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@lru_cache(maxsize=1)
def _load() -> dict[str, list[RuleVersion]]:
    families: dict[str, list[RuleVersion]] = {}
    for path in sorted(RULES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        key = data["key"]
        overridable = _overridable(data, key)
        versions = []
        for v in data["versions"]:
            eff = v["effective_from"]
            if isinstance(eff, str):
                eff = dt.date.fromisoformat(eff)
            params = dict(v["params"])
            for p in overridable:
                if p.name not in params:
                    raise ValueError(f"{key}@{v['version']}: overridable {p.name!r} has no default value")
            versions.append(
                RuleVersion(
                    key=key,
                    version=str(v["version"]),
                    effective_from=eff,
                    params=params,
                    source=v.get("source", ""),
                    confidence=str(v.get("confidence", "C")),
                    title=data.get("title", key),
                    notes=v.get("notes", ""),
                    pending_confirmation=bool(v.get("pending_confirmation", False)),
                    overridable=overridable,
                    labels=dict(data.get("labels") or {}),
                    value_labels=_value_labels(data, key),
                )
            )
        versions.sort(key=lambda r: r.effective_from)
        if key in families:
            raise ValueError(f"rule family {key} is defined twice ({path.name})")
        families[key] = versions
    return families


def _value_labels(data: dict[str, Any], key: str) -> dict[str, dict[str, str]]:
    """The family's ``value_labels:``, parameter → {code: label} (codes as text: YAML keys may be numbers)."""
    raw = data.get("value_labels") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ValueError(f"{key}: value_labels maps each parameter to a mapping of code → label")
    return {
        str(name): {str(code): str(label) for code, label in codes.items()} for name, codes in raw.items()
    }


def display(version: RuleVersion, name: str, value: Any) -> str:
    """A parameter's value as a party worker reads it: coded values by their labels (``value_labels``),
    lists joined with 、, mappings as ``label: value``, yes/no for booleans."""
    labels = version.value_labels.get(name, {})

    def one(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, bool):
            return str(_("Yes") if v else _("No"))
        if isinstance(v, list | tuple):
            return "、".join(one(x) for x in v) or "—"
        if isinstance(v, dict):
            return "；".join(f"{labels.get(str(k), k)}: {one(x)}" for k, x in v.items()) or "—"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return labels.get(str(v), str(v))

    return one(value)


def _overridable(data: dict[str, Any], key: str) -> tuple[OverridableParam, ...]:
    """The family's overridable parameters: the family-level list, plus any names listed under a
    version (the same for the whole family: an organisation's override outlives a national revision)."""
    first = (data.get("versions") or [{}])[0].get("params", {})
    entries: list[Any] = list(data.get("overridable") or ())
    for v in data.get("versions") or ():
        entries += list(v.get("overridable") or ())
    found: dict[str, OverridableParam] = {}
    value_labels = _value_labels(data, key)
    for entry in entries:
        name = entry if isinstance(entry, str) else entry.get("name")
        if name in found and isinstance(entry, str):
            continue  # a bare name does not replace a full specification
        param = OverridableParam.from_yaml(entry, key, first.get(name))
        found[str(name)] = dataclasses.replace(param, choice_labels=value_labels.get(param.name, {}))
    return tuple(found.values())


def rule_keys() -> list[str]:
    return sorted(_load())


def versions(key: str) -> list[RuleVersion]:
    try:
        return list(_load()[key])
    except KeyError as exc:
        raise RuleNotFound(key) from exc


def overridable(key: str) -> dict[str, OverridableParam]:
    """The parameters of ``key`` an organisation may override, by name."""
    return {p.name: p for p in versions(key)[0].overridable}


def national_rule(key: str, on: dt.date | None = None) -> RuleVersion:
    """The national version in force on ``on`` (default today), without any local override."""
    on = on or timezone.localdate()
    national = [r for r in versions(key) if r.effective_from <= on]
    if not national:
        raise RuleNotFound(f"{key} has no version in force on {on}")
    return national[-1]


def rule(key: str, on: dt.date | None = None, org: Any | None = None) -> RuleVersion:
    """The version of ``key`` in force on ``on`` (default today), with the org's local overrides applied."""
    on = on or timezone.localdate()
    base = national_rule(key, on)
    if org is None:
        return base
    return apply_layers(base, active_layers(overrides_for(org, keys=[key]), key, on))


def overrides_for(org: Any, keys: Iterable[str] | None = None) -> list[Any]:
    """Every override row (all dates, set and ended) of the org and its ancestors, oldest first."""
    from dangjian.core.models import RuleOverride

    step = type(org).steplen
    paths = [org.path[: i * step] for i in range(1, len(org.path) // step + 1)]
    qs = RuleOverride.objects.filter(org__path__in=paths)
    if keys is not None:
        qs = qs.filter(key__in=list(keys))
    return list(qs.select_related("org", "created_by").order_by("effective_from", "id"))


def active_layers(rows: Iterable[Any], key: str, on: dt.date) -> list[Any]:
    """The overrides that apply on ``on``: each org's latest row up to that date, unless it ended the
    override; ordered from the highest organisation down to the nearest."""
    latest: dict[str, Any] = {}
    for row in rows:
        if row.key == key and row.effective_from <= on:
            current = latest.get(row.org.path)
            if current is None or (row.effective_from, row.pk) > (current.effective_from, current.pk):
                latest[row.org.path] = row
    layers = [row for row in latest.values() if not row.is_end]
    layers.sort(key=lambda row: len(row.org.path))
    return layers


def apply_layers(base: RuleVersion, layers: list[Any]) -> RuleVersion:
    """The national version with the overrides stacked on it (the nearest organisation last)."""
    params = dict(base.params)
    local: list[str] = []
    for layer in layers:
        for name, value in (layer.params or {}).items():
            # A parameter the national version no longer has (renamed in a revision) is not injected.
            if name in base.params:
                params[name] = value
                if name not in local:
                    local.append(name)
    if not local:
        return base
    nearest = layers[-1]
    return RuleVersion(
        key=base.key,
        version=f"{base.version}/local-{nearest.effective_from.isoformat()}",
        effective_from=max([base.effective_from, *(layer.effective_from for layer in layers)]),
        params=params,
        source=f"{nearest.org} — {nearest.reason}",
        confidence="local",
        title=base.title,
        override_org_id=nearest.org_id,
        notes=base.notes,
        pending_confirmation=base.pending_confirmation,
        overridable=base.overridable,
        local_params=tuple(local),
        national=base,
        labels=base.labels,
        value_labels=base.value_labels,
    )
