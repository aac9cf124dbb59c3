"""A member's annual dues statement (党费缴纳明细 / 年度对账单) as a Word document and as a PDF, and the
plain-words explanation of how a dues amount is computed (the pages and the phone use it too).

The statement is read through ``dues.selectors.member_dues`` (the actor's scope applies: a member gets
only their own) and lists every month of the year with what was due and paid, every payment, the totals
and what is still owed. The PDF uses reportlab's built-in Chinese CID font STSong-Light: no font file is
shipped or downloaded, and PDF readers supply the glyphs.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dangjian.dues import rules, selectors
from dangjian.dues.models import BillStatus, DuesPayment
from dangjian.members.choices import DuesCategory

PDF_FONT = "STSong-Light"
ZERO = Decimal("0.00")


def _yuan(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def category_label(category: str) -> str:
    return str(DuesCategory(category).label) if category in DuesCategory.values else category


def how_computed(bill: Any) -> str:
    """A bill's amount in one line: "在职 · 基数 3,500.00 × 1% = 35.00", "学生 · 固定 0.20" …"""
    category = category_label(bill.category)
    if bill.rate is not None and bill.base is not None:
        text = _("%(category)s · base %(base)s × %(rate)s = %(amount)s") % {
            "category": category,
            "base": _yuan(bill.base),
            "rate": _percent(bill.rate),
            "amount": f"{bill.standard_amount:.2f}",
        }
    elif bill.category == DuesCategory.FARMER:
        text = _("%(category)s · chosen amount %(amount)s") % {
            "category": category,
            "amount": f"{bill.standard_amount:.2f}",
        }
    else:
        text = _("%(category)s · fixed amount %(amount)s") % {
            "category": category,
            "amount": f"{bill.standard_amount:.2f}",
        }
    if bill.status == BillStatus.WAIVED:
        text += " · " + _("waived (hardship)")
    elif bill.amount != bill.standard_amount:
        text += " · " + _("reduced to %(amount)s (hardship)") % {"amount": f"{bill.amount:.2f}"}
    return text


def _band_words(above: Decimal | None, up_to: Decimal | None) -> str:
    if above is None and up_to is not None:
        return _("up to %(up_to)s yuan (included)") % {"up_to": _yuan(up_to)}
    if above is not None and up_to is not None:
        return _("above %(above)s and up to %(up_to)s yuan (included)") % {
            "above": _yuan(above),
            "up_to": _yuan(up_to),
        }
    if above is not None:
        return _("above %(above)s yuan") % {"above": _yuan(above)}
    return _("any amount")


def explain(computed: Any, standard: dict[str, Any] | None = None) -> list[str]:
    """How a monthly amount is computed, in plain words, sentence by sentence (``computed``: a
    ``dues.rules.DuesAmount``; ``standard``: ``rules.band_table`` for the farmers' range)."""
    if computed is None:
        return []
    category = computed.category
    label = category_label(category)
    lines: list[str] = []
    if computed.rate is not None and computed.base is not None:
        base_kind = (
            _("the total pension") if category == DuesCategory.RETIREE else _("the monthly pay after tax")
        )
        lines.append(
            _("Your dues base is %(base)s yuan a month (%(kind)s).")
            % {"base": _yuan(computed.base), "kind": base_kind}
        )
        lines.append(
            _("For %(category)s members, a base of %(band)s pays %(rate)s.")
            % {
                "category": label,
                "band": _band_words(computed.band_above, computed.band_up_to),
                "rate": _percent(computed.rate),
            }
        )
        lines.append(_("The rate applies to the whole base, not in steps."))
        lines.append(
            _("So you pay %(base)s × %(rate)s = %(amount)s yuan a month.")
            % {
                "base": _yuan(computed.base),
                "rate": _percent(computed.rate),
                "amount": f"{computed.amount:.2f}",
            }
        )
    elif category == DuesCategory.FARMER:
        farmer = (standard or {}).get("farmer") or {}
        lines.append(
            _(
                "Farmer members choose an amount between %(min)s and %(max)s yuan a month; you chose %(amount)s yuan."
            )
            % {
                "min": farmer.get("min", "0.20"),
                "max": farmer.get("max", "1.00"),
                "amount": f"{computed.amount:.2f}",
            }
        )
    else:
        lines.append(
            _("%(category)s members pay a fixed %(amount)s yuan a month.")
            % {"category": label, "amount": f"{computed.amount:.2f}"}
        )
    if computed.article:
        lines.append(_("Rule: %(article)s") % {"article": computed.article})
    lines.append(_("Rule version: %(ref)s") % {"ref": rules.rule_label(computed.rule_ref)})
    return lines


def band_rows(computed: Any, standard: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rate table of the member's category (``rules.band_table``), the member's own band marked; empty
    for the fixed and chosen amounts."""
    if computed is None or computed.rate is None or not standard:
        return []
    table = standard.get("retiree" if computed.category == DuesCategory.RETIREE else "employed") or []
    rows = []
    for band in table:
        above = None if band["above"] is None else Decimal(band["above"])
        up_to = None if band["up_to"] is None else Decimal(band["up_to"])
        rows.append(
            {
                "words": _band_words(above, up_to),
                "percent": band["percent"],
                "mine": above == computed.band_above and up_to == computed.band_up_to,
            }
        )
    return rows


# --- the statement -----------------------------------------------------------------------------------


@dataclass
class StatementMonth:
    month: dt.date
    how: str
    due: Decimal
    paid: Decimal
    status: str
    paid_on: dt.date | None = None
    method: str = ""


@dataclass
class Statement:
    """What the annual statement shows, read once and laid out twice (docx and PDF)."""

    member_name: str
    org_name: str
    year: int
    category: str
    months: list[StatementMonth]
    payments: list[dict[str, Any]]
    due: Decimal
    paid: Decimal
    outstanding: Decimal
    extra: Decimal
    owed: Decimal
    owed_months: list[dt.date]
    explanation: list[str] = field(default_factory=list)
    generated_at: dt.datetime = field(default_factory=timezone.localtime)

    @property
    def title(self) -> str:
        return _("Party dues statement %(year)s") % {"year": self.year}


def statement_data(*, actor: Any, member: Any, year: int) -> Statement:
    """The statement of ``member`` for ``year`` as ``actor`` may read it (selectors.member_dues)."""
    data = selectors.member_dues(actor=actor, member=member, year=year)
    settled: dict[int, DuesPayment] = {}
    payments: list[dict[str, Any]] = []
    for p in data["payments"]:
        months = sorted(pm.bill.month for pm in p.months.all())
        if p.status == DuesPayment.Status.BOOKED:
            for pm in p.months.all():
                settled[pm.bill_id] = p
        payments.append(
            {
                "paid_on": p.paid_on,
                "months": "、".join(f"{m:%Y-%m}" for m in months) or "—",
                "dues": p.dues_amount,
                "extra": p.extra_amount,
                "method": p.get_method_display(),
                "proxy": p.proxy_name if p.by_proxy else "",
                "reference": p.reference,
                "status": p.get_status_display(),
                "reversed": p.status == DuesPayment.Status.REVERSED,
            }
        )
    months = []
    for b in data["bills"]:
        p = settled.get(b.pk)
        months.append(
            StatementMonth(
                month=b.month,
                how=how_computed(b),
                due=ZERO if b.status == BillStatus.WAIVED else b.amount,
                paid=b.paid_amount,
                status=b.get_status_display(),
                paid_on=p.paid_on if p else None,
                method=p.get_method_display() if p else "",
            )
        )
    return Statement(
        member_name=member.name,
        org_name=member.org.name,
        year=year,
        category=category_label(data["category"]),
        months=months,
        payments=payments,
        due=data["due"],
        paid=data["paid"],
        outstanding=data["outstanding"],
        extra=data["extra"],
        owed=data["owed"],
        owed_months=list(data["owed_months"]),
        explanation=explain(data["computed"], data.get("standard")),
    )


def _month_headers() -> list[str]:
    return [
        _("Month"),
        _("How it is computed"),
        _("Due (yuan)"),
        _("Paid (yuan)"),
        _("Paid on"),
        _("Method"),
        _("Status"),
    ]


def _payment_headers() -> list[str]:
    return [
        _("Paid on"),
        _("Months"),
        _("Dues (yuan)"),
        _("Extra (yuan)"),
        _("Method"),
        _("Paid by proxy"),
        _("Reference"),
        _("Status"),
    ]


def _month_row(m: StatementMonth) -> list[str]:
    return [
        f"{m.month:%Y-%m}",
        m.how,
        _yuan(m.due),
        _yuan(m.paid),
        f"{m.paid_on:%Y-%m-%d}" if m.paid_on else "",
        m.method,
        m.status,
    ]


def _payment_row(p: dict[str, Any]) -> list[str]:
    return [
        f"{p['paid_on']:%Y-%m-%d}",
        p["months"],
        _yuan(p["dues"]),
        _yuan(p["extra"]),
        p["method"],
        p["proxy"],
        p["reference"],
        p["status"],
    ]


def _summary_lines(s: Statement) -> list[str]:
    lines = [
        _("Due in %(year)s: %(due)s yuan; paid: %(paid)s yuan; unpaid: %(outstanding)s yuan.")
        % {"year": s.year, "due": _yuan(s.due), "paid": _yuan(s.paid), "outstanding": _yuan(s.outstanding)},
    ]
    if s.extra:
        lines.append(_("Voluntary extra dues paid: %(extra)s yuan.") % {"extra": _yuan(s.extra)})
    if s.owed:
        lines.append(
            _("Owed on %(date)s (all years): %(owed)s yuan for %(months)s.")
            % {
                "date": f"{s.generated_at:%Y-%m-%d}",
                "owed": _yuan(s.owed),
                "months": "、".join(f"{m:%Y-%m}" for m in s.owed_months),
            }
        )
    else:
        lines.append(_("Nothing is owed on %(date)s.") % {"date": f"{s.generated_at:%Y-%m-%d}"})
    return lines


def _info_lines(s: Statement) -> list[str]:
    return [
        _("Name: %(name)s") % {"name": s.member_name},
        _("Branch: %(org)s") % {"org": s.org_name},
        _("Dues category: %(category)s") % {"category": s.category},
    ]


def _footer(s: Statement) -> str:
    return _(
        "Generated by the party building platform on %(when)s; the ledger of dues payments is tamper-evident."
    ) % {"when": f"{s.generated_at:%Y-%m-%d %H:%M}"}


# --- Word ----------------------------------------------------------------------------------------------


def statement_docx(s: Statement) -> bytes:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.left_margin = section.right_margin = Cm(1.8)
    style = document.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(10.5)
    # East Asian text takes the eastAsia font (Word ignores style.font.name for CJK).
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")

    p = document.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(s.title)
    run.bold = True
    run.font.size = Pt(18)
    run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)
    sub = document.add_paragraph(_("Annual statement"))
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in _info_lines(s):
        document.add_paragraph(line)

    def table(headers: list[str], rows: list[list[str]], widths: list[float]) -> None:
        t = document.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(t.rows[0].cells, headers, strict=True):
            cell.text = ""
            r = cell.paragraphs[0].add_run(text)
            r.bold = True
            r.font.size = Pt(9)
        for values in rows:
            cells = t.add_row().cells
            for cell, text in zip(cells, values, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(text).font.size = Pt(9)
        for row in t.rows:
            for cell, width in zip(row.cells, widths, strict=True):
                cell.width = Cm(width)

    heading = document.add_paragraph()
    heading.add_run(_("Month by month")).bold = True
    rows = [_month_row(m) for m in s.months]
    rows.append([pgettext("dues", "Total"), "", _yuan(s.due), _yuan(s.paid), "", "", ""])
    table(_month_headers(), rows, [1.6, 6.2, 1.8, 1.8, 2.2, 1.8, 1.6])
    heading = document.add_paragraph()
    heading.add_run(_("Payments")).bold = True
    if s.payments:
        table(
            _payment_headers(),
            [_payment_row(p) for p in s.payments],
            [2.2, 3.6, 1.7, 1.7, 1.7, 1.7, 2.4, 1.7],
        )
    else:
        document.add_paragraph(_("No payment recorded in this year."))
    heading = document.add_paragraph()
    heading.add_run(_("Totals of the year")).bold = True
    for line in _summary_lines(s):
        document.add_paragraph(line)
    if s.explanation:
        heading = document.add_paragraph()
        heading.add_run(_("How the monthly amount is computed")).bold = True
        for line in s.explanation:
            document.add_paragraph(line)
    foot = document.add_paragraph(_footer(s))
    foot.runs[0].font.size = Pt(8)
    foot.runs[0].font.color.rgb = RGBColor(0x80, 0x80, 0x80)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- PDF -----------------------------------------------------------------------------------------------


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


def statement_pdf(s: Statement) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    red = colors.HexColor("#B00000")
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10.5)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=24, alignment=TA_CENTER, textColor=red)
    subtitle = ParagraphStyle("subtitle", parent=body, alignment=TA_CENTER, textColor=colors.grey)
    heading = ParagraphStyle(
        "heading", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4, textColor=red
    )

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    def table(headers: list[str], rows: list[list[str]], widths: list[float]) -> Table:
        data = [[para(h, cell) for h in headers]] + [[para(v, cell) for v in row] for row in rows]
        t = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BFBFBF")),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#FBE9E9")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return t

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=s.title,
        author=s.org_name,
        subject=s.member_name,
    )
    story: list[Any] = [para(s.title, title), para(_("Annual statement"), subtitle), Spacer(1, 4 * mm)]
    story += [para(line) for line in _info_lines(s)]
    story.append(para(_("Month by month"), heading))
    rows = [_month_row(m) for m in s.months]
    rows.append([pgettext("dues", "Total"), "", _yuan(s.due), _yuan(s.paid), "", "", ""])
    story.append(table(_month_headers(), rows, [16, 62, 18, 18, 22, 22, 22]))
    story.append(para(_("Payments"), heading))
    if s.payments:
        story.append(
            table(_payment_headers(), [_payment_row(p) for p in s.payments], [21, 38, 17, 17, 19, 20, 28, 20])
        )
    else:
        story.append(para(_("No payment recorded in this year.")))
    story.append(para(_("Totals of the year"), heading))
    story += [para(line) for line in _summary_lines(s)]
    if s.explanation:
        story.append(para(_("How the monthly amount is computed"), heading))
        story += [para(line) for line in s.explanation]
    story += [Spacer(1, 6 * mm), para(_footer(s), small)]
    doc.build(story)
    return buffer.getvalue()
