"""A member's annual dues statement (党费缴纳明细 / 年度对账单) as docx and PDF: it lists the member's months,
payments and totals, carries Chinese text (the PDF with reportlab's built-in STSong-Light font), and is
downloadable only within the scope: the member's own, an officer's subtree."""

from __future__ import annotations

import base64
import io
import re
import zlib
from decimal import Decimal

import pytest
from django.utils import translation
from docx import Document

from dangjian.dues import documents, rules
from dangjian.dues.rules import dues_calculate
from tests.dues.test_views import THIS_MONTH, TODAY, make_world, months_ago


@pytest.fixture
def world(tree, admin_user, member_a, member_factory):
    return make_world(tree, admin_user, member_a, member_factory)


def _unescape(raw: bytes) -> bytes:
    """A PDF literal string's bytes (backslash escapes: octal, \\n…, and the escaped character)."""
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1 : i + 2]
        if nxt and nxt in b"01234567":
            j = i + 1
            k = j
            while k < len(raw) and k < j + 3 and raw[k : k + 1] in b"01234567":
                k += 1
            out.append(int(raw[j:k], 8) & 0xFF)
            i = k
            continue
        out.append({b"n": 10, b"r": 13, b"t": 9, b"b": 8, b"f": 12}.get(nxt, raw[i + 1]))
        i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text drawn in a reportlab PDF: content streams (ASCII85 + Flate) decoded, each ``(...) Tj``
    string read as UTF-16BE (the encoding of the CID font STSong-Light, UniGB-UCS2-H)."""
    texts = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = m.group(1).strip()
        if raw.endswith(b"~>"):
            raw = base64.a85decode(raw[:-2].replace(b"\n", b""))
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            continue
        for s in re.finditer(rb"\(((?:[^\\)]|\\.)*)\)\s*Tj", raw, re.S):
            value = _unescape(s.group(1))
            try:
                texts.append(value.decode("utf-16-be"))
            except UnicodeDecodeError:
                texts.append(value.decode("latin-1"))
    return "\n".join(texts)


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _statement(world, user, year=None):
    with translation.override("zh-hans"):
        return documents.statement_data(actor=user, member=world.me, year=year or THIS_MONTH.year)


def _months_in_year(world, year):
    return [m for m in rules.months_between(months_ago(4), THIS_MONTH) if m.year == year]


def test_statement_data_has_every_month_and_the_totals(world, secretary_a):
    s = _statement(world, secretary_a)
    year = THIS_MONTH.year
    assert [m.month for m in s.months] == _months_in_year(world, year)
    assert s.due == Decimal("35.00") * len(s.months)
    paid_months = [m for m in (months_ago(4), months_ago(3)) if m.year == year]
    assert s.paid == Decimal("35.00") * len(paid_months)
    assert s.owed == Decimal("105.00")  # three months, this one included
    assert any("3,500.00" in line and "1%" in line for line in s.explanation)


def test_docx_lists_months_payments_and_totals(world, secretary_a):
    s = _statement(world, secretary_a)
    with translation.override("zh-hans"):
        text = docx_text(documents.statement_docx(s))
    assert "张党员" in text and "党费缴纳明细" in text and "第一党支部" in text
    for m in s.months:
        assert f"{m.month:%Y-%m}" in text
    assert f"{s.due:,.2f}" in text and f"{s.paid:,.2f}" in text
    if s.payments:
        assert "R-001" in text
    assert "105.00" in text  # what is owed now
    assert "党费收缴标准（2008年版）" in text and "dues@" not in text  # the rule version, by its title


def test_pdf_starts_with_the_header_and_has_the_chinese_text(world, secretary_a):
    s = _statement(world, secretary_a)
    with translation.override("zh-hans"):
        data = documents.statement_pdf(s)
    assert data.startswith(b"%PDF")
    assert b"STSong-Light" in data  # the built-in CID font: no font file embedded or downloaded
    assert len(re.findall(rb"/Type /Page[^s]", data)) >= 1
    text = pdf_text(data)
    assert "张党员" in text and "党费缴纳明细" in text
    for m in s.months:
        assert f"{m.month:%Y-%m}" in text
    assert f"{s.due:,.2f}" in text and f"{s.paid:,.2f}" in text
    assert "105.00" in text


def test_a_long_year_runs_over_several_pages(world, secretary_a):
    s = _statement(world, secretary_a)
    s.months = s.months * 20  # a hundred rows: the table repeats its header on the next pages
    with translation.override("zh-hans"):
        data = documents.statement_pdf(s)
    assert len(re.findall(rb"/Type /Page[^s]", data)) >= 2


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_download_for_the_member_and_officers(web, world, member_a, secretary_a, org_manager, kind):
    url = f"/dues/members/{world.me.pk}/statement/{THIS_MONTH.year}.{kind}"
    for user in (member_a, secretary_a, org_manager):
        resp = web(user).get(url)
        assert resp.status_code == 200, user
        data = b"".join(resp.streaming_content)
        assert data.startswith(b"%PDF" if kind == "pdf" else b"PK")
        assert "attachment" in resp["Content-Disposition"]


def test_download_out_of_scope_is_404(web, world, member_a, secretary_b):
    assert (
        web(secretary_b).get(f"/dues/members/{world.me.pk}/statement/{THIS_MONTH.year}.pdf").status_code
        == 404
    )
    assert (
        web(member_a).get(f"/dues/members/{world.owing.pk}/statement/{THIS_MONTH.year}.pdf").status_code
        == 404
    )
    assert web(member_a).get(f"/dues/members/{world.me.pk}/statement/{TODAY.year + 1}.pdf").status_code == 404


def test_statement_of_a_year_without_bills(world, secretary_a):
    s = _statement(world, secretary_a, year=2010)
    assert s.months == [] and s.due == 0 and s.paid == 0
    with translation.override("zh-hans"):
        assert documents.statement_pdf(s).startswith(b"%PDF")
        assert "本年度无缴费记录" in docx_text(documents.statement_docx(s))


# How an amount is explained in plain words (RULES.md §2: the band includes its upper edge and the rate
# applies to the whole base).
@pytest.mark.parametrize(
    ("category", "base", "chosen", "expected"),
    [
        ("employed", "3000.00", None, ["3,000.00 元以下（含）", "0.5%", "= 15.00 元"]),
        ("employed", "3000.01", None, ["3,000.00 元以上至 5,000.00 元（含）", "1%", "= 30.00 元"]),
        ("employed", "10000.01", None, ["10,000.00 元以上", "2%"]),
        ("retiree", "5000.00", None, ["离退休费总额", "5,000.00 元以下（含）", "0.5%"]),
        ("student", None, None, ["每月固定交纳 0.20 元"]),
        ("farmer", None, "0.50", ["0.20 至 1.00 元", "您选择每月 0.50 元"]),
    ],
)
def test_explanation_in_plain_words(db, category, base, chosen, expected):
    computed = dues_calculate(category=category, base=base, chosen_amount=chosen, on=TODAY)
    r = rules.rule_for(TODAY)
    with translation.override("zh-hans"):
        text = "".join(documents.explain(computed, rules.band_table(r)))
    for piece in expected:
        assert piece in text, (piece, text)
    assert "规则版本：党费收缴标准（2008年版）" in text and "dues@" not in text


def test_band_rows_mark_the_members_band(db):
    computed = dues_calculate(category="employed", base="4000", on=TODAY)
    with translation.override("zh-hans"):
        rows = documents.band_rows(computed, rules.band_table(rules.rule_for(TODAY)))
    assert [r["percent"] for r in rows] == ["0.5%", "1%", "1.5%", "2%"]
    assert [r["mine"] for r in rows] == [False, True, False, False]
