"""The introduction letter (介绍信) with its return slip (回执) as a Word document, for organisations that
file letters as .docx. The same contents as the print page (templates/transfers/letter.html)."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from dangjian.transfers.models import Transfer

_BLANK = "＿＿＿＿"
_DATE_BLANK = "　　年　　月　　日"


def _date(d: object) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else _DATE_BLANK  # type: ignore[attr-defined]


def _month(value: str) -> str:
    """``2026-03`` → 2026年3月; unknown → a blank line to fill in by hand."""
    if len(value) == 7 and value[4] == "-" and value[:4].isdigit() and value[5:].isdigit():
        return f"{value[:4]}年{int(value[5:])}月"
    return "＿＿＿＿年＿＿月"


def _font(document: Document) -> None:
    style = document.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(12)
    # East Asian text takes the eastAsia font, not the Latin name (Word ignores style.font.name for CJK).
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")


def _title(document: Document, text: str) -> None:
    p = document.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = True
    run.font.size = Pt(18)
    run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)


def _right(document: Document, text: str) -> None:
    p = document.add_paragraph(text)
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def letter_docx(transfer: Transfer) -> bytes:
    """The letter of ``transfer`` (issued) as .docx bytes: number, both organisations, the member's name
    and masked ID number, dues paid up to (or a blank line), validity, and the return slip."""
    t, member = transfer, transfer.member
    kind = "预备党员" if member.status == "probationary" else "正式党员"
    days = (t.valid_until - t.issued_on).days if t.valid_until and t.issued_on else None
    document = Document()
    _font(document)
    _title(document, "中国共产党党员组织关系介绍信")
    _right(document, f"编号：{t.letter_number}")
    document.add_paragraph(f"{t.to_name or _BLANK}：")
    document.add_paragraph(
        f"　　{member.name}同志（{member.get_gender_display()}，身份证号 {member.id_number_masked}，{kind}），"
        f"由{t.from_name or _BLANK}转去{t.to_name or _BLANK}，请转接组织关系。"
        f"该同志党费已交到{_month(t.dues_paid_until)}。转接原因：{t.reason}。"
    )
    validity = f"　　（有效期至 {_date(t.valid_until)}"
    document.add_paragraph(validity + (f"，共 {days} 天）" if days is not None else "）"))
    _right(document, f"{t.from_name}（盖章）")
    _right(document, _date(t.issued_on))
    if t.outside_org_address:
        document.add_paragraph(f"接收单位地址：{t.outside_org_address}")
    cut = document.add_paragraph("✂ －－－－－－－－ 沿此线剪下 · 回执 －－－－－－－－")
    cut.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _title(document, "回　执")
    _right(document, f"编号：{t.letter_number}")
    document.add_paragraph(f"{t.from_name or _BLANK}：")
    document.add_paragraph(f"　　{member.name}同志的党员组织关系已转达我处，特此回复。")
    _right(document, f"{t.to_name}（盖章）")
    _right(document, _DATE_BLANK)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
