"""The draft report of a meeting (会议记录草稿) as a Word document, for the recorder to edit.

``report_draft(meeting) -> bytes`` builds a docx in code (python-docx, no template file): the title
(organisation, kind of meeting, date), a table of the facts (time, place, host, recorder, lecturer,
attendance expected / present / on leave / absent with the names of those absent and on leave), the
agenda, the summary and keywords of the latest ready transcript (meetings.keywords), the votes taken
(motion, yes / no / abstain, passed, the rule version that decided), the minutes (the sanitised HTML
turned into plain paragraphs) and the signature lines. The recorder edits it and uploads it back as the
meeting's final minutes (``MeetingAttachment`` kind ``final_minutes``).

Chinese text is set in 宋体 (SimSun) through ``w:eastAsia`` — Word ignores a Latin font name for CJK
characters — and headings in 黑体 (SimHei); Latin text and digits in Times New Roman. The caller checks
that the user may see the meeting; this module reads what it needs without a scope of its own.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from dangjian.meetings.models import AttendanceStatus, Attendee, Meeting, MeetingKind, Transcript

BODY_FONT, BODY_FONT_EAST_ASIA = "Times New Roman", "宋体"
HEADING_FONT_EAST_ASIA = "黑体"
KEYWORDS_SHOWN = 12
FREQUENT_SHOWN = 15


# ------------------------------------------------------------------------------------ minutes HTML


class _PlainText(HTMLParser):
    """Sanitised minutes HTML as paragraphs: block elements and <br> end a paragraph; list items get a
    bullet or their number."""

    BLOCKS = {
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "tr",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._buf: list[str] = []
        self._lists: list[list[Any]] = []  # [kind, counter] per open list

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        if text:
            self.paragraphs.append(text)
        self._buf = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._flush()
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists.append([tag, 0])
        elif tag in self.BLOCKS:
            self._flush()
            if tag == "li" and self._lists:
                kind = self._lists[-1]
                kind[1] += 1
                self._buf.append(f"{kind[1]}. " if kind[0] == "ol" else "• ")
        elif tag in ("td", "th") and self._buf:
            self._buf.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        if tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_paragraphs(html: str) -> list[str]:
    parser = _PlainText()
    parser.feed(html or "")
    parser.close()
    return parser.paragraphs


# ----------------------------------------------------------------------------------------- facts


def _date(value: Any) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def _time_range(meeting: Meeting) -> str:
    start = timezone.localtime(meeting.starts_at)
    text = f"{_date(start.date())} {start:%H:%M}"
    if meeting.ends_at:
        end = timezone.localtime(meeting.ends_at)
        text += f"–{end:%H:%M}" if end.date() == start.date() else f" – {_date(end.date())} {end:%H:%M}"
    return text


def _attendance(meeting: Meeting) -> dict[str, Any]:
    """The totals (meetings.selectors: pending counts as absent once the meeting is over) and the names
    of those absent and on leave."""
    from dangjian.meetings import selectors

    totals = selectors.attendance_totals(meeting)
    over = selectors.meeting_is_over(meeting)
    absent_statuses = [AttendanceStatus.ABSENT] + ([AttendanceStatus.PENDING] if over else [])
    rows = (
        Attendee.objects.filter(meeting=meeting, expected=True)
        .filter(status__in=[AttendanceStatus.LEAVE, *absent_statuses])
        .select_related("member")
        .order_by("member__name", "id")
    )
    leave, absent = [], []
    for a in rows:
        if a.status == AttendanceStatus.LEAVE:
            leave.append(a.member.name + (f"（{a.leave_reason}）" if a.leave_reason else ""))
        else:
            absent.append(a.member.name)
    return {"totals": totals, "leave": leave, "absent": absent}


def _person(member: Any, fallback: str = "") -> str:
    return member.name if member is not None else fallback


def _ready_transcript(meeting: Meeting) -> Transcript | None:
    return (
        Transcript.objects.filter(meeting=meeting, status=Transcript.Status.READY)
        .order_by("-uploaded_at", "-id")
        .first()
    )


# ------------------------------------------------------------------------------------------- docx


def _set_fonts(rpr_owner: Any, latin: str, east_asia: str) -> None:
    """Set the Latin and East Asian fonts of a style or run, dropping theme fonts that would override."""
    from docx.oxml.ns import qn

    rpr = rpr_owner.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def _setup(document: Any) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Cm, Pt, RGBColor

    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4
    section.top_margin = section.bottom_margin = Cm(2.54)
    section.left_margin = section.right_margin = Cm(2.8)
    normal = document.styles["Normal"]
    normal.font.size = Pt(12)  # 小四
    _set_fonts(normal.element, BODY_FONT, BODY_FONT_EAST_ASIA)
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.ONE_POINT_FIVE
    normal.paragraph_format.space_after = Pt(0)
    for name, size in (("Title", 18), ("Heading 1", 14), ("Heading 2", 12)):
        style = document.styles[name]
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.italic = False
        style.font.color.rgb = RGBColor(0, 0, 0)
        _set_fonts(style.element, BODY_FONT, HEADING_FONT_EAST_ASIA)
        style.paragraph_format.space_before = Pt(12 if name != "Title" else 0)
        style.paragraph_format.space_after = Pt(6)
    # The Title style of the default template draws a blue rule under the title: not in party documents.
    title_ppr = document.styles["Title"].element.get_or_add_pPr()
    for border in title_ppr.findall("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}pBdr"):
        title_ppr.remove(border)


def _paragraph(document: Any, text: str, *, indent: bool = True, note: bool = False) -> Any:
    from docx.shared import Pt, RGBColor

    p = document.add_paragraph()
    if indent:
        p.paragraph_format.first_line_indent = Pt(24)  # two characters, as Chinese paragraphs are set
    run = p.add_run(text)
    if note:
        run.font.size = Pt(10.5)
        run.font.color.rgb = RGBColor(0x6C, 0x75, 0x7D)
    return p


def _cell(cell: Any, text: str, *, bold: bool = False, center: bool = False) -> None:
    from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    cell.text = ""
    p = cell.paragraphs[0]
    p.paragraph_format.first_line_indent = None
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = bold
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def _facts_table(document: Any, meeting: Meeting, attendance: dict[str, Any]) -> None:
    from docx.shared import Cm

    totals = attendance["totals"]
    lecturer = _person(meeting.lecturer, meeting.lecturer_name)
    place = meeting.place or (meeting.venue.name if meeting.venue_id else "")
    pairs: list[tuple[str, str, str, str]] = [
        (_("Topic"), meeting.title, "", ""),
        (_("Time"), _time_range(meeting), _("Place"), place or "—"),
        (_("Host"), _person(meeting.host) or "—", _("Recorder"), _person(meeting.recorder) or "—"),
    ]
    if meeting.kind == MeetingKind.PARTY_LECTURE or lecturer:
        pairs.append((_("Lecturer"), lecturer or "—", "", ""))
    pairs += [
        (_("Expected (number)"), str(totals.expected), _("Present (number)"), str(totals.present)),
        (_("On leave (number)"), str(totals.leave), _("Absent (number)"), str(totals.absent)),
        (_("On leave (names)"), "、".join(attendance["leave"]) or _("none"), "", ""),
        (_("Absent (names)"), "、".join(attendance["absent"]) or _("none"), "", ""),
    ]
    table = document.add_table(rows=len(pairs), cols=4)
    table.style = "Table Grid"
    widths = (Cm(3.0), Cm(4.7), Cm(3.0), Cm(4.7))
    for row, (k1, v1, k2, v2) in zip(table.rows, pairs, strict=True):
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width
        _cell(row.cells[0], k1, bold=True, center=True)
        if k2:
            _cell(row.cells[1], v1)
            _cell(row.cells[2], k2, bold=True, center=True)
            _cell(row.cells[3], v2)
        else:
            merged = row.cells[1].merge(row.cells[3])
            _cell(merged, v1)


def _votes_table(document: Any, votes: list[Any]) -> None:
    headers = (_("Motion"), _("In favour"), _("Against"), _("Abstained"), _("Result"), _("Rule applied"))
    table = document.add_table(rows=1 + len(votes), cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        _cell(cell, text, bold=True, center=True)
    for row, vote in zip(table.rows[1:], votes, strict=True):
        motion = vote.get_kind_display()
        if vote.title:
            motion = f"{motion}：{vote.title}"
        written = ""
        if vote.written_opinions_yes or vote.written_opinions_no:
            written = _(" (written opinions: %(yes)d for, %(no)d against)") % {
                "yes": vote.written_opinions_yes,
                "no": vote.written_opinions_no,
            }
        _cell(row.cells[0], motion + written)
        _cell(row.cells[1], str(vote.yes), center=True)
        _cell(row.cells[2], str(vote.no), center=True)
        _cell(row.cells[3], str(vote.abstain), center=True)
        result = _("Carried") if vote.passed else (_("Not carried") if vote.quorum_met else _("No quorum"))
        _cell(row.cells[4], result, center=True)
        _cell(row.cells[5], vote.rule_ref)


def _title(meeting: Meeting) -> str:
    return _("%(org)s %(kind)s minutes") % {"org": meeting.org.name, "kind": meeting.get_kind_display()}


def report_filename(meeting: Meeting) -> str:
    """第一党支部支部党员大会会议记录-20260509-草稿.docx (a gettext call inside an f-string would not be
    found by makemessages)."""
    draft = _("draft")
    day = timezone.localtime(meeting.starts_at)
    return f"{_title(meeting)}-{day:%Y%m%d}-{draft}.docx".replace(" ", "")


def report_draft(meeting: Meeting) -> bytes:
    """The draft report of ``meeting`` as docx bytes (the caller has checked that the user may see it)."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    meeting = Meeting.objects.select_related("org", "host", "recorder", "lecturer", "venue").get(
        pk=meeting.pk
    )
    attendance = _attendance(meeting)
    transcript = _ready_transcript(meeting)
    analysis = (transcript.analysis or {}) if transcript else {}
    votes = list(meeting.votes.order_by("id"))

    document = docx.Document()
    _setup(document)
    core = document.core_properties
    core.title = _title(meeting)
    core.subject = meeting.title
    core.author = ""  # no personal name in the file's properties; the recorder signs below

    title = document.add_paragraph(_title(meeting), style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = document.add_paragraph()
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub_run = sub.add_run(f"{meeting.title}　{_date(timezone.localtime(meeting.starts_at).date())}")
    sub_run.font.size = Pt(12)
    draft = document.add_paragraph()
    draft.alignment = WD_ALIGN_PARAGRAPH.CENTER
    note = draft.add_run(_("(Draft generated by the platform: check and complete it before signing.)"))
    note.font.size = Pt(10.5)
    note.italic = True

    document.add_heading(_("1. The meeting"), level=1)
    _facts_table(document, meeting, attendance)

    document.add_heading(_("2. Agenda"), level=1)
    agenda = [line.strip() for line in (meeting.agenda or "").splitlines() if line.strip()]
    if agenda:
        numbered = all(line[:1].isdigit() or line[:1] in "一二三四五六七八九十（(" for line in agenda)
        for i, line in enumerate(agenda, 1):
            _paragraph(document, line if numbered else f"{i}. {line}")
    else:
        _paragraph(document, _("(No agenda was recorded.)"), note=True)

    document.add_heading(_("3. Summary"), level=1)
    summary = analysis.get("summary") or []
    if summary:
        _paragraph(
            document,
            _("Extracted from the transcript “%(name)s”; edit it into the summary of the meeting.")
            % {"name": transcript.original_name if transcript else ""},
            indent=False,
            note=True,
        )
        for sentence in summary:
            _paragraph(document, sentence)
    else:
        _paragraph(document, _("(No transcript yet: write the summary of the meeting here.)"), note=True)

    document.add_heading(_("4. Keywords"), level=1)
    keywords = [w for w, _weight in (analysis.get("tfidf") or [])[:KEYWORDS_SHOWN]]
    frequent = (analysis.get("frequent") or [])[:FREQUENT_SHOWN]
    if keywords:
        _paragraph(document, _("Keywords: %(words)s") % {"words": "、".join(keywords)})
    if frequent:
        _paragraph(
            document,
            _("Most frequent words: %(words)s") % {"words": "、".join(f"{w}（{n}）" for w, n in frequent)},
        )
    if not keywords and not frequent:
        _paragraph(document, _("(No transcript yet.)"), note=True)

    document.add_heading(_("5. Decisions and votes"), level=1)
    if votes:
        _votes_table(document, votes)
    else:
        _paragraph(document, _("No vote was recorded at this meeting."), note=True)

    document.add_heading(_("6. Minutes"), level=1)
    paragraphs = html_paragraphs(meeting.minutes)
    if paragraphs:
        for text in paragraphs:
            _paragraph(document, text)
    else:
        _paragraph(document, _("(The minutes have not been written yet.)"), note=True)

    document.add_paragraph()
    sign = document.add_paragraph()
    sign.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    sign.add_run(_("Recorder (signature): ____________    Host (signature): ____________"))
    when = document.add_paragraph()
    when.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    when.add_run(_("Date: ________________"))

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
