"""Organization life as xlsx: the meeting list (one row per meeting, with its attendance counts) and one
meeting's sign-in sheet. The pages hand over what they read through the selectors (already restricted to
the user's scope); this module only lays it out. No personal numbers are written (names only), and text
cells can never become formulas (core/spreadsheets.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from dangjian.core import spreadsheets as xl

_BOLD = Font(bold=True)
_GREY = Font(color="666666")
_TAGS = re.compile(r"<[^>]+>")


def _sheet(wb: Workbook, title: str, headers: list[str], widths: dict[str, int] | None = None) -> Any:
    ws = wb.active
    ws.title = title[:31]
    ws.append(xl.header_cells(ws, headers, widths=widths))
    ws.freeze_panes = "A2"
    return ws


def _title_rows(ws: Any, lines: list[str]) -> None:
    """A title above the table: inserted rows, so the header stays a plain header row below them."""
    ws.insert_rows(1, amount=len(lines) + 1)
    for i, line in enumerate(lines, start=1):
        # set_cell: an organisation named "=..." must stay text, not become a formula.
        xl.set_cell(ws.cell(row=i, column=1), line).font = _BOLD if i == 1 else _GREY
    ws.freeze_panes = f"A{len(lines) + 3}"


def _local(value: Any) -> Any:
    return timezone.localtime(value).replace(tzinfo=None) if value is not None else None


def _name(member: Any) -> str:
    return member.name if member is not None else ""


def minutes_text(html: str) -> str:
    """The minutes without their formatting, for a spreadsheet cell."""
    text = re.sub(r"<(br|/p|/li|/h3|/div)\s*/?>", "\n", html or "", flags=re.I)
    text = _TAGS.sub("", text)
    for entity, char in (
        ("&nbsp;", " "),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&#39;", "'"),
        ("&amp;", "&"),
    ):
        text = text.replace(entity, char)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def meetings_xlsx(meetings: Iterable[Any], *, actor: Any, org: Any = None) -> bytes:
    """会议台账: date, time, organisation, kind, topic, place, host, recorder, lecturer, status, expected,
    present, whether minutes were recorded. ``meetings`` carry ``t_expected``/``t_present`` (selectors.with_totals) annotations."""
    wb = Workbook()
    headers = [
        _("Date"),
        _("Starts at"),
        _("Ends at"),
        _("Organization"),
        _("Kind"),
        _("Topic"),
        _("Place"),
        _("Host"),
        _("Recorder"),
        _("Lecturer"),
        _("Status"),
        _("Expected"),
        _("Present"),
        _("Minutes recorded"),
        _("Reason for cancelling"),
    ]
    widths = {_("Organization"): 24, _("Topic"): 36, _("Place"): 20, _("Reason for cancelling"): 24}
    ws = _sheet(wb, _("Meetings"), headers, widths)
    count = 0
    for m in meetings:
        count += 1
        starts, ends = _local(m.starts_at), _local(m.ends_at)
        lecturer = _name(m.lecturer) or m.lecturer_name
        has_minutes = bool((m.minutes or "").strip()) or bool(getattr(m, "has_final_minutes", False))
        ws.append(
            xl.safe_row(
                ws,
                [
                    m.date,
                    starts.strftime("%H:%M"),
                    ends.strftime("%H:%M") if ends else "",
                    m.org.name,
                    m.get_kind_display(),
                    m.title,
                    m.venue.name if getattr(m, "venue", None) and not m.place else m.place,
                    _name(m.host),
                    _name(m.recorder),
                    lecturer,
                    m.get_status_display(),
                    getattr(m, "t_expected", None),
                    getattr(m, "t_present", None),
                    _("Yes") if has_minutes else _("No"),
                    m.cancel_reason,
                ],
            )
        )
    lines = [_("Meetings") + (f" · {org.name}" if org is not None else "")]
    lines.append(
        _("%(n)d meetings · exported %(when)s by %(who)s")
        % {
            "n": count,
            "when": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            "who": getattr(actor, "display_name", "") or getattr(actor, "username", ""),
        }
    )
    _title_rows(ws, lines)
    return xl.workbook_bytes(wb)


def attendance_xlsx(meeting: Any, attendees: Iterable[Any], totals: Any, *, actor: Any) -> bytes:
    """签到表 of one meeting: one row per person (expected or not), with the totals above."""
    wb = Workbook()
    headers = [
        _("No."),
        _("Name"),
        _("Party group"),
        _("Why expected"),
        _("Expected"),
        _("Has a vote"),
        _("Attendance"),
        _("Checked in by"),
        _("Checked in at"),
        _("Leave request"),
        _("Reason for leave"),
        _("Reason for the adjustment"),
    ]
    ws = _sheet(wb, _("Attendance"), headers, {_("Reason for leave"): 24, _("Reason for the adjustment"): 24})
    for n, a in enumerate(attendees, start=1):
        ws.append(
            xl.safe_row(
                ws,
                [
                    n,
                    a.member.name,
                    a.member.group.name if getattr(a.member, "group", None) else "",
                    a.get_role_display(),
                    _("Yes") if a.expected else _("No"),
                    _("Yes") if a.can_vote else _("No"),
                    a.get_status_display(),
                    a.get_channel_display() if a.channel else "",
                    _local(a.checked_in_at),
                    a.get_leave_status_display() if a.leave_status else "",
                    a.leave_reason,
                    a.adjust_reason,
                ],
            )
        )
    for row in ws.iter_rows(min_row=2, min_col=9, max_col=9):
        for cell in row:
            cell.number_format = "yyyy-mm-dd hh:mm"
    starts = _local(meeting.starts_at)
    lines = [
        f"{meeting.org.name} · {meeting.get_kind_display()} · {meeting.title}",
        _("%(when)s · %(place)s")
        % {"when": starts.strftime("%Y-%m-%d %H:%M"), "place": meeting.place or "—"},
        _(
            "Expected %(expected)d · present %(present)d · on leave %(leave)d · absent %(absent)d · "
            "voting members present %(voting_present)d of %(voting_expected)d"
        )
        % {
            "expected": totals.expected,
            "present": totals.present,
            "leave": totals.leave,
            "absent": totals.absent,
            "voting_present": totals.voting_present,
            "voting_expected": totals.voting_expected,
        },
    ]
    _title_rows(ws, lines)
    for i in range(1, len(lines) + 1):
        ws.cell(row=i, column=1).alignment = Alignment(wrap_text=False)
    return xl.workbook_bytes(wb)
