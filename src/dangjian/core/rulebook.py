"""Rules as versioned data (ARCHITECTURE.md, "Rulebook").

``rules/*.yaml`` ship the national rules of RULES.md. Each file holds one rule family::

    key: org.structure
    title: ...
    versions:
      - version: "2018"
        effective_from: 2018-10-28
        source: 中国共产党支部工作条例(试行) 第五条 ...
        confidence: C
        params: {...}

``rule(key, on=date, org=org)`` returns the version in force on that date; an organisation's local
override (``core.RuleOverride``) takes precedence for its subtree. A decision stores
``RuleVersion.ref`` so a report can say which rule made it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


class RuleNotFound(LookupError):
    pass


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

    @property
    def ref(self) -> str:
        """A short reference stored with each decision, e.g. ``org.structure@2018``."""
        suffix = f"+org{self.override_org_id}" if self.override_org_id else ""
        return f"{self.key}@{self.version}{suffix}"

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@lru_cache(maxsize=1)
def _load() -> dict[str, list[RuleVersion]]:
    families: dict[str, list[RuleVersion]] = {}
    for path in sorted(RULES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        key = data["key"]
        versions = []
        for v in data["versions"]:
            eff = v["effective_from"]
            if isinstance(eff, str):
                eff = dt.date.fromisoformat(eff)
            versions.append(
                RuleVersion(
                    key=key,
                    version=str(v["version"]),
                    effective_from=eff,
                    params=dict(v["params"]),
                    source=v.get("source", ""),
                    confidence=v.get("confidence", "C"),
                    title=data.get("title", key),
                    notes=v.get("notes", ""),
                )
            )
        versions.sort(key=lambda r: r.effective_from)
        families[key] = versions
    return families


def rule_keys() -> list[str]:
    return sorted(_load())


def versions(key: str) -> list[RuleVersion]:
    try:
        return list(_load()[key])
    except KeyError as exc:
        raise RuleNotFound(key) from exc


def rule(key: str, on: dt.date | None = None, org: Any | None = None) -> RuleVersion:
    """The version of ``key`` in force on ``on`` (default today), with the org's local override applied."""
    on = on or dt.date.today()
    national = [r for r in versions(key) if r.effective_from <= on]
    if not national:
        raise RuleNotFound(f"{key} has no version in force on {on}")
    base = national[-1]
    if org is None:
        return base
    override = _override_for(key, on, org)
    if override is None:
        return base
    return RuleVersion(
        key=key,
        version=f"{base.version}/local-{override.effective_from.isoformat()}",
        effective_from=override.effective_from,
        params={**base.params, **override.params},
        source=f"{override.org} — {override.reason}",
        confidence="local",
        title=base.title,
        override_org_id=override.org_id,
    )


def _override_for(key: str, on: dt.date, org: Any) -> Any | None:
    from dangjian.core.models import RuleOverride

    candidates = (
        RuleOverride.objects.filter(key=key, effective_from__lte=on)
        .select_related("org")
        .order_by("-effective_from")
    )
    best = None
    for o in candidates:
        if org.path.startswith(o.org.path) and (best is None or len(o.org.path) > len(best.org.path)):
            best = o
    return best
