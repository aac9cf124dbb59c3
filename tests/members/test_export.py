"""Member export to xlsx (issue 2): the list's filters, scope, masking unless the exporter may reveal,
an audit row for every export, and text that can never turn into a formula."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.utils import translation
from openpyxl import load_workbook

from dangjian.accounts.models import RoleAssignment
from dangjian.core.models import AuditEntry, Job
from dangjian.core.scoping import Role
from dangjian.members.exports import member_export

URL = "/api/v1/members/export/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def sheet(content: bytes) -> tuple[list[str], list[dict]]:
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    headers = list(rows[0])
    return headers, [dict(zip(headers, r, strict=True)) for r in rows[1:]]


def export(client, lang="zh-hans", **params):
    resp = client.get(URL, params, HTTP_ACCEPT_LANGUAGE=lang)
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    return sheet(resp.content)


def test_secretary_exports_only_own_branch(tree, secretary_a, api, member_factory):
    mine = member_factory(tree.branch_a, name="本支部")
    member_factory(tree.branch_b, name="别的支部")
    _headers, rows = export(api(secretary_a))
    assert [r["姓名"] for r in rows] == ["本支部"]
    assert rows[0]["所在支部编码"] == tree.branch_a.code and rows[0]["所在支部"] == tree.branch_a.name
    assert rows[0]["入党日期"] == dt.datetime.combine(mine.join_date, dt.time())
    # Asking for the other branch by id gives nothing, not its members.
    _headers, rows = export(api(secretary_a), org=tree.branch_b.pk)
    assert rows == []


def test_export_headers_match_the_import_template(tree, secretary_a, api, member_factory):
    from dangjian.members.imports import COLUMNS

    member_factory(tree.branch_a)
    headers, rows = export(api(secretary_a))
    assert [h for h in headers if h in {c.header for c in COLUMNS}] == [c.header for c in COLUMNS]
    assert {"党龄", "所在支部", "党小组"} <= set(headers)
    assert rows[0]["党员状态"] == "正式党员" and rows[0]["学历"] == "大学本科"


def test_export_in_english(tree, secretary_a, api, member_factory):
    member_factory(tree.branch_a)
    headers, rows = export(api(secretary_a), lang="en")
    assert "Name" in headers and "ID number" in headers
    assert rows[0]["Status"] == "Full member"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"甲", "乙", "丙", "丁"}),
        ({"status": "probationary"}, {"乙"}),
        ({"status": "probationary,full"}, {"甲", "乙", "丁"}),
        ({"gender": "female"}, {"丙"}),
        ({"education": "master"}, {"丁"}),
        ({"join_year": "2020"}, {"乙"}),
        ({"age_min": "60"}, {"丙"}),
        ({"age_max": "30"}, {"乙"}),
        ({"q": "丁"}, {"丁"}),
        ({"q": "实验中学"}, {"甲"}),
        ("branch_b", {"丁"}),
        ("district_a", {"甲", "乙", "丙"}),
        ("district_a_only", set()),
        ("branch_a_only", {"甲", "乙", "丙"}),
    ],
)
def test_export_respects_the_list_filters(tree, org_manager, api, member_factory, params, expected):
    today = dt.date.today()
    born = dt.date(1980, 3, 1)
    member_factory(tree.branch_a, name="甲", gender="male", work_unit="实验中学", birth_date=born)
    member_factory(
        tree.branch_a,
        name="乙",
        gender="male",
        birth_date=today.replace(year=today.year - 25) - dt.timedelta(days=10),
        join_date=dt.date(2020, 5, 1),
        full_date=None,
        status="probationary",
    )
    member_factory(
        tree.branch_a,
        name="丙",
        gender="female",
        birth_date=dt.date(1950, 1, 1),
        status="left",
        full_date=dt.date(2006, 7, 1),
    )
    member_factory(tree.branch_b, name="丁", gender="male", education="master", birth_date=born)
    if isinstance(params, str):
        org = getattr(tree, params.removesuffix("_only"))
        params = {"org": org.pk, **({"descendants": "false"} if params.endswith("_only") else {})}
    _headers, rows = export(api(org_manager), **params)
    assert {r["姓名"] for r in rows} == expected


def test_masked_for_a_role_that_cannot_reveal(tree, auditor, api, member_factory):
    m = member_factory(tree.branch_a, phone="13812345678")
    _headers, (row,) = export(api(auditor))
    assert row["公民身份号码"] == m.id_number_masked and "*" in row["公民身份号码"]
    assert row["手机号码"] == "138****5678"
    audit = AuditEntry.objects.get(action="members.exported")
    assert audit.actor == auditor and audit.changes["count"] == 1 and audit.changes["revealed"] is False
    assert not AuditEntry.objects.filter(action="pii.revealed").exists()


def test_export_is_masked_unless_full_numbers_are_asked_for(tree, org_manager, api, member_factory):
    member_factory(tree.branch_a)
    _headers, (row,) = export(api(org_manager))
    assert "*" in row["公民身份号码"]
    assert AuditEntry.objects.get(action="members.exported").changes["revealed"] is False
    assert not AuditEntry.objects.filter(action="pii.revealed").exists()


def test_org_manager_export_reveals_and_is_audited_as_a_reveal(tree, org_manager, api, member_factory):
    a = member_factory(tree.branch_a, phone="13812345678")
    member_factory(tree.branch_b)
    _headers, rows = export(api(org_manager), status="full", reveal=1)
    assert {r["公民身份号码"] for r in rows} >= {a.decrypted_id_number()}
    assert "13812345678" in {r["手机号码"] for r in rows}
    exported = AuditEntry.objects.get(action="members.exported")
    assert exported.changes["revealed"] is True
    assert exported.changes["filters"] == {"status": "full", "reveal": "1"}
    revealed = AuditEntry.objects.get(action="pii.revealed")
    assert revealed.actor == org_manager
    assert revealed.changes["count"] == 2 and revealed.changes["via"] == "export"
    assert revealed.org == tree.city


def test_reveal_needs_the_right_for_every_exported_member(tree, secretary_a, api, member_factory):
    # A secretary of branch A (may reveal there) who is also an auditor of the city (view only).
    RoleAssignment.objects.create(user=secretary_a, org=tree.city, role=Role.AUDITOR)
    a = member_factory(tree.branch_a)
    member_factory(tree.branch_b)
    _headers, rows = export(api(secretary_a), reveal=1)
    assert len(rows) == 2 and all("*" in r["公民身份号码"] for r in rows)
    # Only branch A: every member may be revealed.
    _headers, rows = export(api(secretary_a), org=tree.branch_a.pk, reveal=1)
    assert [r["公民身份号码"] for r in rows] == [a.decrypted_id_number()]


def test_every_export_is_audited_even_when_empty(tree, outsider, api):
    _headers, rows = export(api(outsider))
    assert rows == []
    assert AuditEntry.objects.filter(action="members.exported", actor=outsider).count() == 1


def test_anonymous_export_is_401(tree, api):
    assert api().get(URL).status_code == 401


def test_text_that_looks_like_a_formula_is_neutralised(tree, secretary_a, api, member_factory):
    dangerous = {
        "name": '=HYPERLINK("http://x","y")',
        "work_unit": "+1+2",
        "position": "-3",
        "native_place": "@SUM(A1)",
        "address": "#N/A",
    }
    member_factory(tree.branch_a, **dangerous)
    resp = api(secretary_a).get(URL)
    content = resp.content
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    headers = [c.value for c in ws[1]]
    cells = dict(zip(headers, ws[2], strict=True))
    for header, value in zip(
        ["姓名", "工作单位", "职务", "籍贯", "居住地址"], dangerous.values(), strict=True
    ):
        cell = cells[header]
        assert cell.value == value  # the same text comes back ...
        assert cell.data_type == "s"  # ... as a string, not a formula or an error
    for header in ("姓名", "工作单位", "职务", "籍贯"):
        assert cells[header].quotePrefix  # Excel's own "typed with a leading apostrophe" flag
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        xml = z.read(next(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))).decode()
    assert "<f>" not in xml and "<f " not in xml
    assert 't="e"' not in xml


def test_export_page_downloads_with_the_list_filters(tree, secretary_a, web, member_factory):
    member_factory(tree.branch_a, name="甲", status="full")
    member_factory(tree.branch_a, name="乙", status="probationary", full_date=None)
    resp = web(secretary_a).get("/members/export/?status=probationary")
    assert resp.status_code == 200
    assert "attachment" in resp["Content-Disposition"]
    _headers, rows = sheet(resp.content)
    assert [r["姓名"] for r in rows] == ["乙"]


def test_large_export_page_runs_as_a_job(
    tree, secretary_a, web, member_factory, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_JOB_THRESHOLD = 1
    for name in ("甲", "乙", "丙"):
        member_factory(tree.branch_a, name=name)
    client = web(secretary_a)
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.get("/members/export/?q=乙")
    assert resp.status_code == 200  # only one member matches: no job needed
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.get("/members/export/")
    assert resp.status_code == 302
    job = Job.objects.get(kind="members.export")
    assert resp["Location"] == f"/members/jobs/{job.pk}/"
    assert job.status == "succeeded" and job.result["count"] == 3 and job.progress == 3
    page = client.get(resp["Location"])
    assert f"/members/jobs/{job.pk}/file/".encode() in page.content
    download = client.get(f"/members/jobs/{job.pk}/file/")
    _headers, rows = sheet(b"".join(download.streaming_content))
    assert {r["姓名"] for r in rows} == {"甲", "乙", "丙"}


def test_member_export_function(tree, secretary_a, member_factory):
    member_factory(tree.branch_a)
    with translation.override("en"):
        result = member_export(actor=secretary_a, params={})
        assert result.count == 1 and result.revealed is False  # masked unless asked for
        result = member_export(actor=secretary_a, params={"reveal": "1"})
    assert result.count == 1 and result.revealed is True  # a secretary may reveal in the own branch
