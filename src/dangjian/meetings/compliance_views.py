"""The compliance page of organization life (三会一课落实情况): a red-amber-green table of the branches of
a subtree for a year, and its xlsx export.

- ``?kind=`` empty: the overview — columns are the months, then the quarters and the year where some
  kind is counted by quarter or year; each cell shows a small mark per kind counted in that period.
- ``?kind=<kind>``: one kind — columns are its periods (months, or quarters), one coloured cell each:
  green held, amber not yet (darker when the period closes within the warning days), red missed, grey not
  required. A held or missed cell links to the branch's meetings of that period, a not-yet cell to
  "plan a meeting" for that branch and kind.
- ``?only=missed`` keeps the branches with a red cell.

Thin: ``meetings.compliance`` computes (scoped to the user); this module lays it out. An organisation
outside the user's scope answers 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from dangjian.core import spreadsheets as xl
from dangjian.core.scoping import can
from dangjian.core.spreadsheets import XLSX_CONTENT_TYPE
from dangjian.meetings import compliance, rules
from dangjian.meetings import views as pages
from dangjian.meetings.compliance import HELD, MISSED, NOT_REQUIRED, NOT_YET

PAGE_SIZE = 50
# One character per kind for the overview's marks (the legend names them in full).
KIND_MARKS = {
    "general_meeting": _l("mark: general meeting"),
    "committee_meeting": _l("mark: committee meeting"),
    "group_meeting": _l("mark: group meeting"),
    "party_lecture": _l("mark: party lecture"),
    "theme_day": _l("mark: theme day"),
    "life_meeting": _l("mark: life meeting"),
    "democratic_appraisal": _l("mark: democratic appraisal"),
}
ONLY = {"missed": _l("Branches with a missed meeting"), "not_yet": _l("Branches with meetings still to hold")}
XLSX_FILLS = {
    HELD: PatternFill("solid", fgColor="C6EFCE"),
    NOT_YET: PatternFill("solid", fgColor="FFEB9C"),
    MISSED: PatternFill("solid", fgColor="FFC7CE"),
    NOT_REQUIRED: PatternFill("solid", fgColor="EDEDED"),
}
CLOSING_FILL = PatternFill("solid", fgColor="F4B183")


def _url(name: str, *args: Any, query: dict[str, Any] | None = None) -> str:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return url + ("?" + urlencode(query) if query else "")


def _params(request: HttpRequest) -> tuple[int, str, str, list[str]]:
    """Year, kind and filter from the query string; a year that cannot be read falls back to this year
    with a message (the page still answers)."""
    notes: list[str] = []
    today = timezone.localdate()
    raw = (request.GET.get("year") or "").strip()
    year = today.year
    if raw:
        try:
            year = compliance.check_year(raw)
        except ValueError as exc:
            notes.append(str(exc))
    kind = (request.GET.get("kind") or "").strip()
    if kind not in rules.BRANCH_KINDS:
        kind = ""
    only = (request.GET.get("only") or "").strip()
    if only not in ONLY:
        only = ""
    return year, kind, only, notes


def _table(request: HttpRequest, year: int) -> compliance.ComplianceTable:
    pages._require_officer(request.user)
    org = pages._pick_org(request)
    try:
        return compliance.compliance_table(request.user, org, year)
    except PermissionDenied:
        raise Http404 from None


def _css(cell: compliance.Cell) -> str:
    css = f"cc-{cell.status}"
    if cell.status == NOT_YET:
        if cell.closing_soon:
            css += " cc-closing"
        elif cell.future:
            css += " cc-future"
    return css


def _title(cell: compliance.Cell, branch_name: str, labels: dict[str, str], kinds: dict[str, str]) -> str:
    text = f"{branch_name} · {kinds.get(cell.kind, cell.kind)} · {rules.period_display(cell.period)}: "
    text += labels[cell.status]
    if cell.status == NOT_YET and cell.closing_soon:
        text += " · " + _("closes on %(end)s") % {"end": cell.period.end.isoformat()}
    if cell.kind == "group_meeting" and cell.status != NOT_REQUIRED:
        text += " · " + _("%(met)s of %(n)s groups met") % {"met": cell.count, "n": cell.needed}
    elif cell.count > 1:
        text += " · " + _("%(n)s meetings") % {"n": cell.count}
    if cell.rule_ref:
        text += f" · {cell.rule_ref}"
    return text


def _link(cell: compliance.Cell, branch: Any, year: int, may_plan: bool) -> str:
    if cell.status == NOT_YET and may_plan:
        # A group meeting is planned by one of the branch's groups: the form lets the secretary choose it.
        org = {} if cell.kind == "group_meeting" else {"org": branch.pk}
        return _url("meetings:create", query={**org, "kind": cell.kind})
    if cell.status in (HELD, MISSED, NOT_YET):
        query: dict[str, Any] = {"org": branch.pk, "kind": cell.kind, "year": year}
        if cell.period.kind == rules.MONTH:
            query["month"] = cell.period.start.month
        return _url("meetings:list", query=query)
    return ""


def _overview_columns(table: compliance.ComplianceTable) -> list[rules.Period]:
    """Months, then the quarters and the year when some kind is counted by them."""
    used = {c.period.kind for row in table.rows for cells in row.cells.values() for c in cells}
    columns = rules.periods_in_year(table.year, rules.MONTH)
    if rules.QUARTER in used:
        columns += rules.periods_in_year(table.year, rules.QUARTER)
    if rules.YEAR in used:
        columns += rules.periods_in_year(table.year, rules.YEAR)
    return columns


def _layout(
    request: HttpRequest, table: compliance.ComplianceTable, rows: list[compliance.BranchRow], kind: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Header columns and body rows for the template."""
    labels = compliance.status_labels()
    kinds = compliance.kind_labels()
    today = table.on
    periods = table.periods_of(kind) if kind else _overview_columns(table)
    columns = [
        {
            "period": p,
            "label": _column_label(p),
            "title": rules.period_display(p),
            "current": today in p,
            "group_start": p.kind != rules.MONTH and (p.kind != periods[i - 1].kind if i else True),
        }
        for i, p in enumerate(periods)
    ]
    body = []
    for row in rows:
        may_plan = can(request.user, "add", row.branch)
        cells_out: list[dict[str, Any]] = []
        if kind:
            for c in row.cells.get(kind, ()):
                span = sum(1 for p in periods if c.period.start <= p.start <= c.period.end) or 1
                cells_out.append(
                    {
                        "span": span,
                        "css": _css(c),
                        "title": _title(c, row.branch.name, labels, kinds),
                        "url": _link(c, row.branch, table.year, may_plan),
                        "cell": c,
                        "text": _cell_text(c),
                    }
                )
        else:
            by_label: dict[str, list[dict[str, Any]]] = {}
            for k in table.kinds:
                for c in row.cells.get(k, ()):
                    if c.status == NOT_REQUIRED:
                        continue
                    by_label.setdefault(c.period.label, []).append(
                        {
                            "css": _css(c),
                            "mark": KIND_MARKS.get(k, "?"),
                            "title": _title(c, row.branch.name, labels, kinds),
                            "url": _link(c, row.branch, table.year, may_plan),
                        }
                    )
            for col in columns:
                cells_out.append({"span": 1, "marks": by_label.get(col["period"].label, []), "column": col})
        counts = row.statuses(kind or None)
        body.append(
            {
                "branch": row.branch,
                "cells": cells_out,
                "held": counts[HELD],
                "missed": counts[MISSED],
                "not_yet": counts[NOT_YET],
                "branch_url": _url("meetings:compliance", query={"org": row.branch.pk, "year": table.year}),
            }
        )
    return columns, body


def _column_label(p: rules.Period) -> str:
    if p.kind == rules.MONTH:
        return _("%(month)s mo.") % {"month": p.start.month}
    if p.kind == rules.QUARTER:
        return _("Q%(quarter)s") % {"quarter": (p.start.month - 1) // 3 + 1}
    return _("Year")


def _cell_text(c: compliance.Cell) -> str:
    if c.status == NOT_REQUIRED:
        return "—"
    if c.kind == "group_meeting":
        return f"{c.count}/{c.needed}"
    if c.status == HELD:
        return "✓" if c.count == 1 else f"✓{c.count}"
    if c.status == MISSED:
        return "✗"
    return ""


def _filter_rows(rows: list[compliance.BranchRow], kind: str, only: str) -> list[compliance.BranchRow]:
    if not only:
        return rows
    wanted = MISSED if only == "missed" else NOT_YET
    out = []
    for row in rows:
        cells = row.cells.get(kind, ()) if kind else [c for cs in row.cells.values() for c in cs]
        if any(c.status == wanted for c in cells):
            out.append(row)
    return out


@login_required
def compliance_page(request: HttpRequest) -> HttpResponse:
    """三会一课落实情况: branches × periods, held / not yet / missed / not required."""
    year, kind, only, notes = _params(request)
    table = _table(request, year)
    for note in notes:
        messages.warning(request, note)
    rows = _filter_rows(table.rows, kind, only)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    columns, body = _layout(request, table, list(page.object_list), kind)
    labels = compliance.kind_labels()
    query = {"org": str(table.org.pk), "year": str(year), "kind": kind, "only": only}
    params = {k: v for k, v in query.items() if v}
    today = timezone.localdate()
    summary = [
        {
            "kind": k,
            "label": labels.get(k, k),
            "s": s,
            "url": "?" + urlencode({**params, "kind": k}),
            "active": k == kind,
        }
        for k, s in table.summary.items()
    ]
    warn = compliance.warn_days(table.org, today)
    context = {
        **pages._page_context(request, "compliance", table.org, query),
        "table": table,
        "year": year,
        "years": list(range(today.year + 1, today.year - 6, -1)),
        "kind": kind,
        "kind_label": labels.get(kind, ""),
        "kind_period": pages.PERIOD_LABELS.get(_main_period(table, kind), "") if kind else "",
        "only": only,
        "only_choices": list(ONLY.items()),
        "columns": columns,
        "rows": body,
        "page": page,
        "page_query": urlencode({k: v for k, v in params.items() if k != "page"}),
        "summary": summary,
        "kinds": [(k, labels.get(k, k), KIND_MARKS.get(k, "")) for k in table.kinds],
        "kind_choices": [(k, labels.get(k, k)) for k in table.kinds],
        "export_url": _url("meetings:compliance_export", query=params),
        "overview_url": "?" + urlencode({k: v for k, v in params.items() if k != "kind"}),
        "warn_days": warn,
        "row_count": len(rows),
    }
    return render(request, "meetings/compliance.html", context)


def _main_period(table: compliance.ComplianceTable, kind: str) -> str:
    counts: dict[str, int] = {}
    for row in table.rows:
        for c in row.cells.get(kind, ()):
            if c.status != NOT_REQUIRED:
                counts[c.period.kind] = counts.get(c.period.kind, 0) + 1
    return max(counts, key=counts.get) if counts else ""  # type: ignore[arg-type]


@login_required
def compliance_export(request: HttpRequest) -> HttpResponse:
    """The table as xlsx: a summary sheet (one row per branch), then one sheet per kind with its periods."""
    year, kind, only, _notes = _params(request)
    table = _table(request, year)
    rows = _filter_rows(table.rows, kind, only)
    data = compliance_xlsx(table, rows)
    name = f"三会一课落实情况-{table.org.name}-{year}.xlsx"
    return pages._file_response(data, name, XLSX_CONTENT_TYPE)


def compliance_xlsx(table: compliance.ComplianceTable, rows: list[compliance.BranchRow]) -> bytes:
    labels = compliance.status_labels()
    kinds = compliance.kind_labels()
    wb = Workbook()
    ws = wb.active
    ws.title = str(_("Summary"))[:31]
    headers = [str(_("Branch"))]
    for k in table.kinds:
        headers += [
            f"{kinds[k]} {_('held')}",
            f"{kinds[k]} {_('missed')}",
            f"{kinds[k]} {_('not yet')}",
        ]
    ws.append(xl.header_cells(ws, headers, widths={headers[0]: 30}))
    for row in rows:
        values: list[Any] = [row.branch.name]
        for k in table.kinds:
            cells = row.cells.get(k, ())
            values += [sum(1 for c in cells if c.status == s) for s in (HELD, MISSED, NOT_YET)]
        ws.append(xl.safe_row(ws, values))
    ws.freeze_panes = "B2"
    note = ws.cell(row=ws.max_row + 2, column=1)
    xl.set_cell(
        note,
        _("Rule: %(ref)s. Reference day: %(on)s.")
        % {"ref": ", ".join(table.rule_refs), "on": table.on.isoformat()},
    )
    note.font = Font(color="666666")
    for k in table.kinds:
        periods = table.periods_of(k)
        sheet = wb.create_sheet(str(kinds[k])[:31])
        heads = [str(_("Branch"))] + [rules.period_display(p) for p in periods]
        sheet.append(xl.header_cells(sheet, heads, widths={heads[0]: 30}))
        for r, row in enumerate(rows, start=2):
            xl.set_cell(sheet.cell(row=r, column=1), row.branch.name)
            for c in row.cells.get(k, ()):
                cols = [
                    i for i, p in enumerate(periods, start=2) if c.period.start <= p.start <= c.period.end
                ]
                if not cols:
                    continue
                text = labels[c.status]
                if k == "group_meeting" and c.status != NOT_REQUIRED:
                    text += f" {c.count}/{c.needed}"
                target = sheet.cell(row=r, column=cols[0])
                xl.set_cell(target, text)
                target.fill = CLOSING_FILL if c.closing_soon else XLSX_FILLS[c.status]
                target.alignment = Alignment(horizontal="center")
                if len(cols) > 1:
                    sheet.merge_cells(start_row=r, start_column=cols[0], end_row=r, end_column=cols[-1])
        sheet.freeze_panes = "B2"
    return xl.workbook_bytes(wb)
