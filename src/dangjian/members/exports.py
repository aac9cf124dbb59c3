"""Exporting the member list to xlsx: the list page's filters, the exporter's scope, masking by default.

ID and phone numbers are masked unless the exporter asks for full numbers (``reveal=1``) and may reveal
them for *every* exported member's branch ("exports mask unless the exporter may reveal"; asking keeps
full numbers out of routine exports); an export with full numbers is written to the audit log as a
reveal. Every export writes an audit row. The workbook is
written in openpyxl's write-only mode, so memory stays flat however many members are exported, and no
text cell can turn into a formula (core/spreadsheets.py).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook

from dangjian.core import spreadsheets as xl
from dangjian.core.audit import audit_log
from dangjian.core.scoping import can
from dangjian.members.forms import MemberForm
from dangjian.members.imports import COLUMNS, choice_label, common_org
from dangjian.members.models import Member
from dangjian.members.selectors import FILTER_KEYS, member_filter
from dangjian.orgs.models import Organization

CHOICE_FIELDS = {"gender", "ethnicity", "education", "degree", "occupation", "status", "dues_category"}


@dataclass
class Export:
    """An export's workbook bytes, how many members it holds and whether numbers were revealed."""

    data: bytes
    count: int
    revealed: bool


def export_filters(params: Any) -> dict[str, str]:
    """The member-list filters present in a query dict (the same names as the list page and the API),
    plus ``reveal`` (the exporter asks for full numbers)."""
    return {k: str(params.get(k)) for k in (*FILTER_KEYS, "reveal") if params.get(k) not in (None, "")}


def export_queryset(actor: Any, params: dict[str, Any]) -> QuerySet[Member]:
    """The members the list page would show the actor with these filters."""
    qs = Member.objects.restrict(actor, "view").select_related("org", "group")
    visible = Organization.objects.restrict(actor, "view")
    return member_filter(qs, params, visible_orgs=visible)


def may_reveal(actor: Any, qs: QuerySet[Member]) -> bool:
    """Whether the actor may reveal personal numbers for every branch in the export."""
    org_ids = set(qs.order_by().values_list("org_id", flat=True).distinct())
    if not org_ids:
        return False
    orgs = Organization.objects.filter(pk__in=org_ids).only("path")
    return all(can(actor, "reveal", org) for org in orgs)


def _headers() -> list[str]:
    chinese = (translation.get_language() or "").startswith("zh")

    def header(field: str, zh: str) -> str:
        if chinese:
            return zh
        return str(MemberForm.base_fields[field].label) if field in MemberForm.base_fields else zh

    headers: list[str] = []
    for col in COLUMNS:
        headers.append(header(col.field, col.header))
        if col.field == "full_date":
            headers.append("党龄" if chinese else _("Years of full membership"))
        elif col.field == "org":
            headers.append("所在支部" if chinese else _("Branch"))
        elif col.field == "group":
            headers.append("党小组" if chinese else _("Party group"))
    return headers


def _row(m: Member, reveal: bool, today: dt.date) -> list[Any]:
    values: list[Any] = []
    for col in COLUMNS:
        f = col.field
        if f == "id_number":
            values.append(m.decrypted_id_number() if reveal else m.id_number_masked)
        elif f == "phone":
            values.append((m.decrypted_phone() if reveal else m.phone_masked) or None)
        elif f == "org":
            values += [m.org.code, m.org.name]
        elif f == "group":
            values += [m.group.code if m.group else None, m.group.name if m.group else None]
        elif f in CHOICE_FIELDS:
            values.append(choice_label(f, getattr(m, f)))
        else:
            values.append(getattr(m, f) if getattr(m, f) not in ("",) else None)
        if f == "full_date":
            values.append(m.party_standing_years(today))
    return values


def member_export(*, actor: Any, params: dict[str, Any], progress: Any = None) -> Export:
    """The filtered member list as xlsx bytes; audited (and audited as a reveal when unmasked)."""
    params = export_filters(params)
    qs = export_queryset(actor, params)
    count = qs.count()
    # Masked by default; full numbers only when asked for AND allowed for every exported branch.
    wants_reveal = str(params.get("reveal", "")).lower() in ("1", "true", "yes")
    reveal = wants_reveal and count > 0 and may_reveal(actor, qs)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Party members")[:31])
    ws.freeze_panes = "B2"
    widths = {"公民身份号码": 22, "工作单位": 24, "居住地址": 30, "所在支部": 24}
    ws.append(xl.header_cells(ws, _headers(), widths=widths))
    today = timezone.localdate()
    paths: set[str] = set()
    for i, member in enumerate(qs.iterator(chunk_size=2000), start=1):
        ws.append(xl.safe_row(ws, _row(member, reveal, today)))
        paths.add(member.org_path)
        if progress is not None:
            progress(i, count)
    buffer = io.BytesIO()
    wb.save(buffer)
    org = common_org(paths)
    audit_log(
        actor=actor,
        action="members.exported",
        org=org,
        changes={"count": count, "filters": params, "revealed": reveal},
    )
    if reveal:
        audit_log(
            actor=actor,
            action="pii.revealed",
            org=org,
            changes={"fields": ["id_number", "phone"], "count": count, "via": "export", "filters": params},
        )
    return Export(data=buffer.getvalue(), count=count, revealed=reveal)


def export_filename(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now()
    stem = _("party-members")  # outside the f-string: xgettext does not look inside f-strings
    return f"{stem}-{now:%Y%m%d-%H%M}.xlsx"
