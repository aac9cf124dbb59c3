"""The dues lists as xlsx (the month's collection, arrears, the report): they open with openpyxl, hold
the rows the page shows within the exporter's scope, never turn text into formulas, and are audited."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from dangjian.core.models import AuditEntry
from tests.dues.test_views import THIS_MONTH, make_world, months_ago


@pytest.fixture
def world(tree, admin_user, member_a, member_factory):
    return make_world(tree, admin_user, member_a, member_factory)


def _workbook(resp):
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    return load_workbook(io.BytesIO(b"".join(resp.streaming_content)))


def _rows(ws):
    return [list(row) for row in ws.iter_rows(values_only=True)]


def _header_index(rows, first):
    return next(i for i, row in enumerate(rows) if row and row[0] == first)


def test_collection_export_has_the_months_bills(web, tree, secretary_a, world):
    wb = _workbook(web(secretary_a).get("/dues/export/", {"month": f"{THIS_MONTH:%Y-%m}"}))
    rows = _rows(wb.active)
    h = _header_index(rows, "姓名")
    header, body = rows[h], rows[h + 1 :]
    assert "计算基数（元）" in header and "应交金额（元）" in header
    names = [r[0] for r in body[:-1]]
    assert sorted(names) == sorted(["张党员", "李欠费"])
    assert body[-1][0] == "合计"
    due = header.index("应交金额（元）")
    assert Decimal(str(body[-1][due])) == Decimal("95.00")
    assert AuditEntry.objects.filter(action="dues.collection_exported").exists()


def test_collection_export_keeps_to_the_scope(web, tree, secretary_a, world):
    assert web(secretary_a).get("/dues/export/", {"org": tree.branch_b.pk}).status_code == 404
    wb = _workbook(web(secretary_a).get("/dues/export/"))
    assert "王远方" not in str(_rows(wb.active))


def test_collection_export_never_writes_formulas(web, tree, secretary_a, member_factory, admin_user, world):
    from dangjian.dues.services import declaration_create

    tricky = member_factory(tree.branch_a, name='=HYPERLINK("x")')
    declaration_create(actor=admin_user, member=tricky, category="student", effective_month=THIS_MONTH)
    wb = _workbook(web(secretary_a).get("/dues/export/"))
    cells = [c for row in wb.active.iter_rows() for c in row if c.value == '=HYPERLINK("x")']
    assert cells and all(c.data_type == "s" for c in cells)


def test_arrears_export(web, secretary_a, world):
    wb = _workbook(web(secretary_a).get("/dues/arrears/export/"))
    rows = _rows(wb.active)
    h = _header_index(rows, "姓名")
    body = {r[0]: r for r in rows[h + 1 :]}
    assert body["李欠费"][4] == 6  # consecutive ended months owed
    assert f"{months_ago(6):%Y-%m}" in body["李欠费"][2]
    assert Decimal(str(body["李欠费"][5])) == Decimal("360.00")


def test_report_export_by_org_and_category(web, tree, org_manager, world):
    resp = web(org_manager).get(
        "/dues/reports/export/",
        {"org": tree.city.pk, "from": f"{months_ago(6):%Y-%m}", "to": f"{THIS_MONTH:%Y-%m}"},
    )
    wb = _workbook(resp)
    assert wb.sheetnames == ["合计", "按党组织", "按党员类别"]
    by_org = _rows(wb["按党组织"])
    assert [r[0] for r in by_org[1:]] == [tree.district_a.name, tree.district_b.name]
    by_category = _rows(wb["按党员类别"])
    assert {r[0] for r in by_category[1:]} == {"在职", "离退休", "学生"}
    rate = by_org[0].index("收缴率")
    assert all(r[rate] is None or 0 <= r[rate] <= 1 for r in by_org[1:])


def test_exports_are_for_officers(web, member_a, world):
    for path in ("/dues/export/", "/dues/arrears/export/", "/dues/reports/export/"):
        assert web(member_a).get(path).status_code == 403
