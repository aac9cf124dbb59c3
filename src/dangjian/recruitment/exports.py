"""The 发展党员纪实表: a docx record of a case, every step with its date, who did it and the rule applied."""

from __future__ import annotations

import io

from django.utils import timezone
from django.utils.translation import gettext as _
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from dangjian.recruitment import steps
from dangjian.recruitment.models import RecruitmentCase


def _font(document: Document) -> None:
    style = document.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(10.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")  # CJK text takes the East Asian font


def case_record_docx(case: RecruitmentCase) -> bytes:
    """Personal numbers stay masked: the record is a working paper, not the archive original."""
    document = Document()
    _font(document)
    title = document.add_heading(_("Record of developing a party member"), level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    info = document.add_table(rows=0, cols=4)
    info.style = "Table Grid"
    pairs = [
        (_("Name"), case.name, _("Gender"), case.get_gender_display()),
        (_("Ethnicity"), case.ethnicity, _("Birth date"), case.birth_date.isoformat()),
        (_("ID number"), case.id_number_masked, _("Education"), case.get_education_display()),
        (_("Work unit"), case.work_unit or "—", _("Branch"), case.org.name),
        (_("Stage"), str(steps.STAGE_TITLES[case.stage]), _("Status"), case.get_status_display()),
    ]
    for row in pairs:
        cells = info.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = str(text)

    document.add_paragraph()
    table = document.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    headers = [_("Step"), _("Procedure"), _("Date"), _("Handled by"), _("Outcome"), _("Rule applied")]
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = text
    for record in case.steps.select_related("vote", "actor").order_by("date", "id"):
        spec = steps.STEPS[record.step]
        outcome = str(steps.OUTCOME_LABELS.get(record.outcome, record.outcome))
        if record.vote is not None:
            v = record.vote
            outcome += _(" (expected %(e)d, present %(p)d, yes %(y)d, no %(n)d, abstain %(a)d)") % {
                "e": v.expected_voting,
                "p": v.present_voting,
                "y": v.yes_total,
                "n": v.no + v.written_opinions_no,
                "a": v.abstain,
            }
        signer = record.handled_by or (record.actor.full_name if record.actor else "")
        cells = table.add_row().cells
        for cell, text in zip(
            cells,
            [str(record.step), str(spec.title), record.date.isoformat(), signer, outcome, record.rule_ref],
            strict=True,
        ):
            cell.text = text
    introducers = "、".join(i.member.name for i in case.introducers.select_related("member"))
    if introducers:
        document.add_paragraph(_("Introducers: %(names)s") % {"names": introducers})
    document.add_paragraph(
        _("Printed on %(date)s.") % {"date": timezone.localdate().isoformat()}
    ).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
