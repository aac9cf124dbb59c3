"""Chart specifications for the statistics pages, built from ``orgs.selectors.org_stats``.

A spec is plain data (``id``, ``kind``, ``title``, ``items`` of name/value) handed to the page with
``json_script``; ``web/static/web/charts.js`` draws it with ECharts. Labels are translated here, so the
JavaScript carries no text of its own.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

# How many ethnic groups get their own slice before the rest become "Other".
ETHNICITY_TOP = 5


def _items(
    data: dict[str, int], labels: dict[str, str], order: list[str] | None = None
) -> list[dict[str, Any]]:
    keys = order if order is not None else list(data)
    return [{"name": str(labels.get(k, k)), "value": int(data.get(k, 0))} for k in keys]


def band_label(key: str) -> str:
    """``0-30`` → "≤30", ``31-35`` → "31–35", ``71+`` → "≥71" (the unit is in the chart title)."""
    if key.endswith("+"):
        return f"≥{key[:-1]}"
    lo, hi = key.split("-")
    return f"≤{hi}" if lo == "0" else f"{lo}–{hi}"


def ethnicity_items(by_ethnicity: dict[str, int], top: int = ETHNICITY_TOP) -> list[dict[str, Any]]:
    ranked = sorted(by_ethnicity.items(), key=lambda kv: -kv[1])
    items = [{"name": name, "value": n} for name, n in ranked[:top]]
    rest = sum(n for _name, n in ranked[top:])
    if rest:
        items.append({"name": _("Other"), "value": rest})
    return items


def member_charts(stats: dict[str, Any]) -> list[dict[str, Any]]:
    from dangjian.members.choices import Education, Gender, MemberStatus

    status_labels = dict(MemberStatus.choices)
    return [
        {
            "id": "status",
            "kind": "donut",
            "title": _("Members by status"),
            "items": [
                i
                for i in _items(stats.get("by_status", {}), status_labels, list(MemberStatus.values))
                if i["value"]
            ],
        },
        {
            "id": "gender",
            "kind": "donut",
            "title": _("Gender"),
            "items": _items(stats.get("by_gender", {}), dict(Gender.choices), list(Gender.values)),
        },
        {
            "id": "age",
            "kind": "bar",
            "title": _("Age (years)"),
            "items": [{"name": band_label(k), "value": v} for k, v in stats.get("by_age", {}).items()],
        },
        {
            "id": "ethnicity",
            "kind": "donut",
            "title": _("Ethnic group"),
            "items": ethnicity_items(stats.get("by_ethnicity", {})),
        },
        {
            "id": "education",
            "kind": "hbar",
            "title": _("Education"),
            "items": _items(stats.get("by_education", {}), dict(Education.choices), list(Education.values)),
        },
        {
            "id": "standing",
            "kind": "bar",
            "title": _("Years in the Party"),
            "items": [{"name": band_label(k), "value": v} for k, v in stats.get("by_standing", {}).items()],
        },
    ]


def org_charts(stats: dict[str, Any]) -> list[dict[str, Any]]:
    from dangjian.orgs.models import OrgType, Sector

    return [
        {
            "id": "org_types",
            "kind": "bar",
            "title": _("Organisations by type"),
            "items": [
                i
                for i in _items(stats.get("orgs_by_type", {}), dict(OrgType.choices), list(OrgType.values))
                if i["value"]
            ],
        },
        {
            "id": "sectors",
            "kind": "donut",
            "title": _("Organisations by sector"),
            "items": [
                i
                for i in _items(stats.get("orgs_by_sector", {}), dict(Sector.choices), list(Sector.values))
                if i["value"]
            ],
        },
    ]
