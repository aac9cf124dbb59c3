"""Dues lists as xlsx: the month's collection of an organisation, the arrears list and the report of a
subtree and period. The pages hand over what they read through the selectors (already restricted to the
user's scope); this module only lays it out. Text cells can never become formulas (core/spreadsheets.py).
Every export writes an audit row: the dues base is a member's pay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Font

from dangjian.core import spreadsheets as xl
from dangjian.core.audit import audit_log
from dangjian.dues import rules
from dangjian.dues.documents import how_computed
from dangjian.orgs.models import Organization

_BOLD = Font(bold=True)
_MONEY = "#,##0.00"
_PERCENT = "0.0%"


def _sheet(wb: Workbook, title: str, headers: list[str], first: bool = False) -> Any:
    ws = wb.active if first else wb.create_sheet()
    ws.title = title[:31]
    ws.append(xl.header_cells(ws, headers))
    ws.freeze_panes = "A2"
    return ws


def _money_columns(ws: Any, columns: Iterable[int]) -> None:
    for col in columns:
        for row in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            for cell in row:
                if isinstance(cell.value, int | float | Decimal):
                    cell.number_format = _MONEY


def _title_rows(ws: Any, lines: list[str]) -> None:
    """A title above the table: inserted rows, so the header stays a plain header row below them."""
    ws.insert_rows(1, amount=len(lines) + 1)
    for i, line in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=line).font = _BOLD if i == 1 else Font(color="666666")
    ws.freeze_panes = f"A{len(lines) + 3}"


def _num(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def collection_xlsx(bills: Iterable[Any], *, actor: Any, org: Organization, month: dt.date) -> bytes:
    """党费收缴 of one month: one row per bill (member, branch, category, base, rate, amounts, status)."""
    wb = Workbook()
    headers = [
        pgettext("dues", "Name"),
        _("Branch"),
        _("Dues category"),
        _("Dues base (yuan)"),
        _("Rate"),
        _("Standard amount (yuan)"),
        _("Amount due (yuan)"),
        _("Amount paid (yuan)"),
        _("Status"),
        _("How it is computed"),
        _("Rule applied"),
    ]
    ws = _sheet(wb, _("Collection %(month)s") % {"month": f"{month:%Y-%m}"}, headers, first=True)
    count = 0
    due = paid = Decimal(0)
    for b in bills:
        count += 1
        due += b.amount
        paid += b.paid_amount
        ws.append(
            xl.safe_row(
                ws,
                [
                    b.member.name,
                    b.org.name,
                    b.get_category_display(),
                    _num(b.base),
                    None if b.rate is None else float(b.rate),
                    _num(b.standard_amount),
                    _num(b.amount),
                    _num(b.paid_amount),
                    b.get_status_display(),
                    how_computed(b),
                    rules.rule_label(b.rule_ref),
                ],
            )
        )
    ws.append(xl.safe_row(ws, [pgettext("dues", "Total"), "", "", None, None, None, due, paid, "", "", ""]))
    for cell in ws[ws.max_row]:
        cell.font = _BOLD
    _money_columns(ws, (4, 6, 7, 8))
    for row in ws.iter_rows(min_row=2, min_col=5, max_col=5):
        for cell in row:
            if cell.value is not None:
                cell.number_format = "0.0%"
    ws.column_dimensions["J"].width = 42
    _title_rows(
        ws,
        [
            _("%(org)s: party dues collection of %(month)s") % {"org": org.name, "month": f"{month:%Y-%m}"},
            _("Exported on %(date)s") % {"date": timezone.localdate()},
        ],
    )
    audit_log(
        actor=actor,
        action="dues.collection_exported",
        org=org,
        changes={"month": f"{month:%Y-%m}", "rows": count},
    )
    return xl.workbook_bytes(wb)


def arrears_xlsx(rows: Iterable[dict[str, Any]], *, actor: Any, org: Organization, on: dt.date) -> bytes:
    """欠缴: members owing dues, the months owed, the longest run of consecutive months and the amount."""
    wb = Workbook()
    headers = [
        pgettext("dues", "Name"),
        _("Branch"),
        _("Months owed"),
        _("Number of months"),
        _("Consecutive months"),
        _("Amount owed (yuan)"),
        _("Status"),
    ]
    ws = _sheet(wb, _("Arrears"), headers, first=True)
    count = 0
    for row in rows:
        count += 1
        member = row["member"]
        ws.append(
            xl.safe_row(
                ws,
                [
                    member.name,
                    member.org.name,
                    "、".join(f"{m:%Y-%m}" for m in row.get("months", [])),
                    len(row.get("months", [])),
                    row.get("consecutive", 0),
                    _num(row.get("amount")),
                    str(row.get("state_label", "")),
                ],
            )
        )
    _money_columns(ws, (6,))
    ws.column_dimensions["C"].width = 48
    _title_rows(ws, [_("%(org)s: dues arrears") % {"org": org.name}, _("As of %(date)s") % {"date": on}])
    audit_log(
        actor=actor, action="dues.arrears_exported", org=org, changes={"on": on.isoformat(), "rows": count}
    )
    return xl.workbook_bytes(wb)


def _report_sheet(
    wb: Workbook, title: str, first_header: str, rows: Iterable[dict[str, Any]], first: bool = False
) -> Any:
    headers = [
        first_header,
        _("Members billed"),
        _("Due (yuan)"),
        _("Paid (yuan)"),
        _("Outstanding (yuan)"),
        _("Collection rate"),
    ]
    ws = _sheet(wb, title, headers, first=first)
    for row in rows:
        rate = row.get("collection_rate")
        ws.append(
            xl.safe_row(
                ws,
                [
                    str(row.get("name", "")),
                    row.get("members"),
                    _num(row.get("due")),
                    _num(row.get("paid")),
                    _num(row.get("outstanding")),
                    None if rate is None else float(rate),
                ],
            )
        )
    _money_columns(ws, (3, 4, 5))
    for r in ws.iter_rows(min_row=2, min_col=6, max_col=6):
        for cell in r:
            if cell.value is not None:
                cell.number_format = _PERCENT
    ws.column_dimensions["A"].width = 30
    return ws


def report_xlsx(
    summary: dict[str, Any], *, actor: Any, org: Organization, period_start: dt.date, period_end: dt.date
) -> bytes:
    """The report of a subtree and period: the totals, then one sheet by organisation and one by category."""
    wb = Workbook()
    period = f"{period_start:%Y-%m} – {period_end:%Y-%m}"
    total = {**summary, "name": org.name}
    ws = _report_sheet(wb, _("Totals"), _("Organisation"), [total], first=True)
    _title_rows(
        ws,
        [_("%(org)s: party dues report") % {"org": org.name}, _("Period: %(period)s") % {"period": period}],
    )
    _report_sheet(wb, _("By organisation"), _("Organisation"), summary.get("by_org", []))
    _report_sheet(wb, _("By category"), _("Dues category"), summary.get("by_category", []))
    audit_log(
        actor=actor,
        action="dues.report_exported",
        org=org,
        changes={"from": f"{period_start:%Y-%m}", "to": f"{period_end:%Y-%m}"},
    )
    return xl.workbook_bytes(wb)
