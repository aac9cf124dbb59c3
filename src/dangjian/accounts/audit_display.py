"""How audit rows read on the log page: the recorded ``changes`` as "field: old → new" lines.

The audit log stores codes and ids (``{"status": ["full", "suspended"], "parent": [3, 7]}``); the page
shows field names, choice labels and organisation names instead. Personal data is never in the log
(services record "***" or only which field was revealed), so nothing here decrypts anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dangjian.core.scoping import Role
from dangjian.orgs.models import CommitteePosition, OrgType

# Keys that services write into ``changes`` and that are not model fields of the audited object.
FIELD_LABELS: dict[str, Any] = {
    "name": gettext_lazy("Name"),
    "org_type": gettext_lazy("Type"),
    "status": gettext_lazy("Status"),
    "parent": gettext_lazy("Parent organisation"),
    "into": gettext_lazy("Merged into"),
    "merged_from": gettext_lazy("Merged from"),
    "to": gettext_lazy("Moved to"),
    "org": gettext_lazy("Organisation"),
    "group": gettext_lazy("Party group"),
    "count": gettext_lazy("Number"),
    "members_moved": gettext_lazy("Members moved"),
    "term_years": gettext_lazy("Term (years)"),
    "rule": gettext_lazy("Rule applied"),
    "positions": gettext_lazy("Positions"),
    "user": gettext_lazy("Username"),
    "username": gettext_lazy("Username"),
    "role": gettext_lazy("Role"),
    "date": gettext_lazy("Date"),
    "reason": gettext_lazy("Reason"),
    "field": gettext_lazy("Field"),
    "fields": gettext_lazy("Fields"),
    "via": gettext_lazy("Through"),
    "filters": gettext_lazy("Filters"),
    "revealed": gettext_lazy("Full numbers"),
    "file": gettext_lazy("File"),
    "by_branch": gettext_lazy("By branch"),
    "because": gettext_lazy("Because of"),
    "reopened": gettext_lazy("Opened again"),
    "roles_ended": gettext_lazy("Roles ended"),
    "id_number": gettext_lazy("ID number"),
    "phone": gettext_lazy("Phone"),
}
# Keys whose values are organisation ids.
ORG_KEYS = frozenset({"parent", "into", "merged_from", "to", "org", "group"})
# Choice labels of keys that are not fields of the audited model (or whose model is not known).
CHOICES: dict[str, dict[str, Any]] = {
    "org_type": dict(OrgType.choices),
    "role": dict(Role.choices),
    "field": {"id_number": FIELD_LABELS["id_number"], "phone": FIELD_LABELS["phone"]},
    "fields": {"id_number": FIELD_LABELS["id_number"], "phone": FIELD_LABELS["phone"]},
}


def _model_field(model: Any, name: str) -> Any | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _scalar(key: str, value: Any, field: Any, orgs: dict[str, str]) -> str:
    if value is None or value == "" or value == "None":
        return "—"
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if key in ORG_KEYS or (field is not None and getattr(field, "related_model", None) is not None):
        name = orgs.get(str(value))
        if name:
            return name
    if key == "rule":
        from dangjian.orgs.rules import rule_label

        return rule_label(str(value))
    choices = dict(field.flatchoices) if field is not None and field.choices else CHOICES.get(key, {})
    label = choices.get(value, choices.get(str(value)))
    return str(label) if label is not None else str(value)


def _value(key: str, value: Any, field: Any, orgs: dict[str, str]) -> str:
    if key == "positions" and isinstance(value, list):
        titles = dict(CommitteePosition.Title.choices)
        return "、".join(str(titles.get(p[0], p[0])) for p in value if isinstance(p, list) and p)
    if isinstance(value, dict):
        return "；".join(
            f"{k}: {_scalar(str(k), v, None, orgs)}" for k, v in value.items() if v not in ("", None)
        )
    if isinstance(value, list):
        return "、".join(_scalar(key, v, field, orgs) for v in value) or "—"
    return _scalar(key, value, field, orgs)


def _is_change(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and not any(isinstance(v, list | dict) for v in value)


def _org_ids(entries: Iterable[Any]) -> set[int]:
    ids: set[int] = set()
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        for key, value in (entry.changes or {}).items():
            field = _model_field(model, key)
            is_org = key in ORG_KEYS or (
                field is not None and getattr(field.related_model, "__name__", "") == "Organization"
            )
            if not is_org:
                continue
            for v in value if isinstance(value, list) else [value]:
                if str(v).isdigit():
                    ids.add(int(v))
    return ids


def describe_changes(entries: Iterable[Any]) -> None:
    """Set ``change_rows`` — a list of (label, text) — on each audit entry (one query for the page)."""
    from dangjian.orgs.models import Organization

    entries = list(entries)
    ids = _org_ids(entries)
    orgs = {str(pk): name for pk, name in Organization.objects.filter(pk__in=ids).values_list("pk", "name")}
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        rows = []
        for key, value in (entry.changes or {}).items():
            field = _model_field(model, key)
            label = FIELD_LABELS.get(key) or (capfirst(field.verbose_name) if field is not None else key)
            if _is_change(value):
                text = f"{_scalar(key, value[0], field, orgs)} → {_scalar(key, value[1], field, orgs)}"
            else:
                text = _value(key, value, field, orgs)
            rows.append((str(label), text))
        entry.change_rows = rows
