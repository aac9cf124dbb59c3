"""Member import from xlsx (issue 2, "Member register"): the template, every import error as a table,
all-or-nothing, the error file, real-world cell formats, formulas, scope, jobs and the pages."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from openpyxl import Workbook, load_workbook

from dangjian.core.models import AuditEntry, Job
from dangjian.members.idnumbers import make_id_number
from dangjian.members.imports import COLUMNS, ERROR_HEADER, SAMPLE_ID, member_import
from dangjian.members.models import Member, MemberStatusChange

HEADERS = [c.header for c in COLUMNS]
URL = "/api/v1/members/import/"
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def new_id(birth: dt.date = dt.date(1985, 5, 20), male: bool = True) -> str:
    n = next(_seq)
    return make_id_number("110102", birth, 100 + n * 2 + (1 if male else 0))


def row(tree, **overrides) -> dict:
    """A valid row keyed by the template's Chinese headers (values as a party worker types them)."""
    values = {
        "姓名": "王小明",
        "性别": "男",
        "民族": "汉族",
        "出生日期": "1985-05-20",
        "公民身份号码": new_id(),
        "手机号码": "13912345678",
        "学历": "大学本科",
        "学位": "学士",
        "职业类别": "专业技术人员",
        "工作单位": "示范市第一中学",
        "职务": "教师",
        "籍贯": "北京市",
        "居住地址": "示范市东城区人民路1号",
        "入党日期": "2010-07-01",
        "转正日期": "2011-07-01",
        "党员状态": "正式党员",
        "所在支部编码": tree.branch_a.code,
        "党小组编码": "",
        "党费类别": "在职",
    }
    values.update(overrides)
    return values


def xlsx(rows: list[dict], headers: list[str] | None = None, above: list[list] | None = None) -> bytes:
    """A workbook as a user would make it: optional lines above the header, then header and rows.
    Values are written as given, so "=..." becomes a real formula cell."""
    headers = headers or HEADERS
    wb = Workbook()
    ws = wb.active
    ws.title = "党员信息"
    for line in above or []:
        ws.append(line)
    ws.append(headers)
    for r in rows:
        ws.append([r.get(h) if r else None for h in headers])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "members.xlsx", lang: str = "en", **extra):
    body = {"file": SimpleUploadedFile(name, data), **extra}
    return client.post(URL, body, format="multipart", HTTP_ACCEPT_LANGUAGE=lang)


def row_errors(resp) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = {}
    for e in resp.json()["errors"]:
        grouped.setdefault(e["row"], []).append(e)
    return grouped


# --- the template ---------------------------------------------------------------------------------


def test_template_has_chinese_headers_sample_row_dropdowns_and_instructions(tree, secretary_a, api):
    resp = api(secretary_a).get("/api/v1/members/import/template/")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(resp.content))
    ws = wb["党员信息"]
    assert [c.value for c in ws[1]] == HEADERS
    assert HEADERS[:5] == ["姓名", "性别", "民族", "出生日期", "公民身份号码"]
    sample = {h: c.value for h, c in zip(HEADERS, ws[2], strict=True)}
    assert sample["公民身份号码"] == SAMPLE_ID
    assert sample["所在支部编码"] == tree.branch_a.code  # a real code from the user's scope
    assert sample["学历"] == "大学本科"
    validated = {str(dv.sqref).split(":")[0][:-1] for dv in ws.data_validations.dataValidation}
    letter = {h: chr(ord("A") + i) for i, h in enumerate(HEADERS)}
    for header in ("性别", "民族", "学历", "学位", "职业类别", "党员状态", "党费类别", "所在支部编码"):
        assert letter[header] in validated, header
    assert wb["选项"].sheet_state == "hidden"
    options = {c.value for col in wb["选项"].iter_cols() for c in col}
    assert "正式党员" in options and "流动党员" not in options  # flowing is not a status to choose
    assert len(wb.sheetnames) == 3  # data, instructions, options
    assert ws.column_dimensions["E"].number_format == "@"  # ID numbers as text: Excel must not round them


def test_template_as_uploaded_has_only_the_sample_row(tree, secretary_a, api):
    template = api(secretary_a).get("/api/v1/members/import/template/").content
    resp = upload(api(secretary_a), template)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "no_rows"
    assert Member.objects.count() == 0


def test_template_page_download(tree, secretary_a, web):
    resp = web(secretary_a).get("/members/import/template/")
    assert resp.status_code == 200
    assert "attachment" in resp["Content-Disposition"]


# --- a good import --------------------------------------------------------------------------------


def test_import_saves_members_status_history_and_one_audit_row(tree, secretary_a, api):
    rows = [row(tree, 姓名=f"党员{i}") for i in range(3)]
    rows[1].update(
        {"党员状态": "预备党员", "转正日期": "", "党小组编码": tree.group_a.code, "入党日期": "2024-07-01"}
    )
    resp = upload(api(secretary_a), xlsx(rows))
    assert resp.status_code == 201, resp.json()
    assert resp.json()["imported"] == 3
    members = Member.objects.order_by("name")
    assert [m.name for m in members] == ["党员0", "党员1", "党员2"]
    probationary = members.get(name="党员1")
    assert probationary.status == "probationary" and probationary.group == tree.group_a
    assert probationary.org_path == tree.branch_a.path
    assert probationary.education == "bachelor" and probationary.degree == "bachelor"
    assert probationary.occupation == "professional" and probationary.dues_category == "employed"
    assert probationary.decrypted_phone() == "13912345678"
    assert MemberStatusChange.objects.count() == 3
    first = MemberStatusChange.objects.get(member__name="党员0")
    assert (first.from_status, first.to_status, first.date) == ("", "full", dt.date(2011, 7, 1))
    assert first.actor == secretary_a
    audit = AuditEntry.objects.get(action="members.imported")
    assert audit.changes["count"] == 3
    assert audit.changes["by_branch"] == {tree.branch_a.code: 3}
    assert audit.org == tree.branch_a
    assert not AuditEntry.objects.filter(action="member.created").exists()  # one row, not one per member


def test_codes_and_english_labels_are_accepted_in_choice_columns(tree, secretary_a, api):
    r = row(
        tree,
        性别="male",
        学历="Master's",
        学位="master",
        职业类别="worker",
        党员状态="full",
        党费类别="retiree",
    )
    r["民族"] = "蒙古"  # without 族
    resp = upload(api(secretary_a), xlsx([r]))
    assert resp.status_code == 201, resp.json()
    m = Member.objects.get()
    assert (m.gender, m.education, m.degree, m.occupation, m.status, m.dues_category, m.ethnicity) == (
        "male", "master", "master", "worker", "full", "retiree", "蒙古族",
    )  # fmt: skip


def test_birth_date_and_gender_come_from_the_id_number_when_empty(tree, secretary_a, api):
    r = row(tree, 出生日期=None, 性别=None, 公民身份号码=new_id(dt.date(1979, 2, 3), male=False))
    assert upload(api(secretary_a), xlsx([r])).status_code == 201
    m = Member.objects.get()
    assert (m.birth_date, m.gender) == (dt.date(1979, 2, 3), "female")


# --- real-world spreadsheets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "2020-01-05",
        "2020/1/5",
        "2020.1.5",
        "20200105",
        20200105,
        "2020年1月5日",
        "２０２０年１月５日",
        " 2020-01-05 ",
        43835,  # the Excel serial number of 2020-01-05
        "43835",
        dt.datetime(2020, 1, 5),
        dt.date(2020, 1, 5),
    ],
)
def test_date_formats(tree, secretary_a, api, cell):
    r = row(tree, 入党日期=cell, 转正日期=None, 党员状态="预备党员")
    resp = upload(api(secretary_a), xlsx([r]))
    assert resp.status_code == 201, resp.json()
    assert Member.objects.get().join_date == dt.date(2020, 1, 5)


def test_full_width_digits_spaces_and_lower_case_x(tree, secretary_a, api):
    number = make_id_number("110101", dt.date(1985, 5, 20), 7)
    assert number.endswith("X")
    fullwidth = number[:-1].translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"}) + "ｘ"
    r = row(
        tree,
        姓名="\u3000王 小明 ",
        公民身份号码=f" {fullwidth}\u3000",
        手机号码="１３９ １２３４ ５６７８",
        所在支部编码=f"\u3000{tree.branch_a.code.translate({ord(c): chr(ord(c) + 0xFEE0) for c in tree.branch_a.code})} ",
        学历=" 大学本科\u3000",
    )
    resp = upload(api(secretary_a), xlsx([r]))
    assert resp.status_code == 201, resp.json()
    m = Member.objects.get()
    assert m.name == "王小明"
    assert m.decrypted_id_number() == number
    assert m.decrypted_phone() == "13912345678"


def test_lower_case_x_check_digit(tree, secretary_a, api):
    number = make_id_number("110101", dt.date(1985, 5, 20), 7)
    resp = upload(api(secretary_a), xlsx([row(tree, 公民身份号码=number.lower())]))
    assert resp.status_code == 201, resp.json()
    assert Member.objects.get().decrypted_id_number() == number


def test_empty_rows_are_skipped_extra_columns_ignored_columns_in_any_order(tree, secretary_a, api):
    headers = ["备注", *reversed(HEADERS), "序号"]
    rows = [row(tree, 姓名="甲"), {}, {"备注": "  "}, row(tree, 姓名="乙")]
    rows[0]["备注"] = "新调入"
    data = xlsx(rows, headers=headers, above=[["示范市党员信息登记表"], []])
    resp = upload(api(secretary_a), data)
    assert resp.status_code == 201, resp.json()
    assert resp.json()["imported"] == 2
    assert any("备注" in w and "序号" in w for w in resp.json()["warnings"])
    assert set(Member.objects.values_list("name", flat=True)) == {"甲", "乙"}


def test_headers_with_required_marks_and_english_names_match(tree, secretary_a, api):
    r = row(tree)
    headers = [f"*{h}" if h == "姓名" else h for h in HEADERS]
    headers[HEADERS.index("公民身份号码")] = "身份证号码"
    headers[HEADERS.index("党员状态")] = "status"
    data = xlsx([{headers[i]: r[h] for i, h in enumerate(HEADERS)}], headers=headers)
    assert upload(api(secretary_a), data).status_code == 201


def test_formula_cells_are_read_as_text_never_evaluated(tree, secretary_a, api):
    name = '=HYPERLINK("http://evil.example","点我")'
    r = row(tree, 姓名=name, 工作单位="=1+1", 职务="+SUM(1,2)", 籍贯="@北京", 居住地址="-1")
    resp = upload(api(secretary_a), xlsx([r]))
    assert resp.status_code == 201, resp.json()
    m = Member.objects.get()
    assert (m.name, m.work_unit, m.position, m.native_place, m.address) == (
        name.replace(" ", ""), "=1+1", "+SUM(1,2)", "@北京", "-1",
    )  # fmt: skip
    assert any("=" in w for w in resp.json()["warnings"])


def test_a_formula_in_a_date_cell_is_not_a_date(tree, secretary_a, api):
    resp = upload(api(secretary_a), xlsx([row(tree, 入党日期="=DATE(2020,1,5)")]))
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == "invalid_date"


# --- every import error, as a table -------------------------------------------------------------------

# (overrides of a valid row, expected code, fragment of the English message, the column it is reported on)
ERROR_CASES = [
    ({"姓名": ""}, "required", "required", "姓名"),
    ({"姓名": "名" * 51}, "max_length", "at most 50", "姓名"),
    ({"公民身份号码": ""}, "required", "required", "公民身份号码"),
    ({"公民身份号码": "110101198505200071"}, "check_digit", "check digit", "公民身份号码"),
    ({"公民身份号码": "110101850520007"}, "length", "15-digit", "公民身份号码"),
    ({"公民身份号码": "11010119850520"}, "length", "18 characters", "公民身份号码"),
    ({"公民身份号码": "110101198513200071"}, "birth_date", "not a real date", "公民身份号码"),
    ({"公民身份号码": 1.10101198505201e17}, "id_as_number", "stored as a number", "公民身份号码"),
    ({"出生日期": "1985-05-21"}, "invalid", "does not match the ID number", "出生日期"),
    ({"性别": "女"}, "invalid", "gender does not match", "性别"),
    ({"性别": "未知"}, "invalid_choice", "not one of the allowed values", "性别"),
    ({"民族": "火星族"}, "invalid_choice", "not one of the allowed values", "民族"),
    ({"学历": "博士后"}, "invalid_choice", "not one of the allowed values", "学历"),
    ({"学历": ""}, "required", "required", "学历"),
    ({"职业类别": "宇航员"}, "invalid_choice", "not one of the allowed values", "职业类别"),
    ({"党员状态": "积极分子"}, "invalid_choice", "not one of the allowed values", "党员状态"),
    # A flowing member stays full or probationary: being away is recorded by a flow certificate.
    ({"党员状态": "流动党员"}, "flowing", "issue a flow certificate", "党员状态"),
    ({"党费类别": "富豪"}, "invalid_choice", "not one of the allowed values", "党费类别"),
    ({"手机号码": "1391234"}, "invalid", "11-digit mobile", "手机号码"),
    ({"入党日期": "2020-13-45"}, "invalid_date", "is not a date", "入党日期"),
    ({"入党日期": "去年七月"}, "invalid_date", "is not a date", "入党日期"),
    ({"入党日期": ""}, "required", "required", "入党日期"),
    ({"入党日期": "2000-07-01"}, "invalid", "minimum age is 18", "入党日期"),
    ({"入党日期": "2099-07-01", "转正日期": ""}, "invalid", "cannot be in the future", "入党日期"),
    ({"转正日期": "2009-07-01"}, "invalid", "before the joining date", "转正日期"),
    ({"转正日期": ""}, "invalid", "needs the date of becoming a full member", "转正日期"),
    ({"党员状态": "预备党员"}, "invalid", "no full-membership date yet", "转正日期"),
    ({"所在支部编码": "NOPE"}, "unknown_org", "no branch with code “NOPE”", "所在支部编码"),
    ({"所在支部编码": ""}, "required", "required", "所在支部编码"),
    ({"党小组编码": "NOPE"}, "unknown_group", "no party group with code", "党小组编码"),
]


@pytest.mark.parametrize(
    ("overrides", "code", "fragment", "column"), ERROR_CASES, ids=[f"{c[1]}-{c[3]}" for c in ERROR_CASES]
)
def test_import_error_table(tree, secretary_a, api, overrides, code, fragment, column):
    good = row(tree, 姓名="正确")
    bad = row(tree, **overrides)
    resp = upload(api(secretary_a), xlsx([good, bad]))
    assert resp.status_code == 400, resp.json()
    body = resp.json()
    assert body["error"]["code"] == "import_invalid"
    errors = row_errors(resp)
    assert list(errors) == [3], errors  # the header is row 1, the good row 2
    matching = [e for e in errors[3] if e["code"] == code and e["column"] == column]
    assert matching, errors[3]
    assert fragment.lower() in matching[0]["message"].lower()
    assert body["error_file"].endswith(f"/api/v1/jobs/{body['job']}/file/")
    assert Member.objects.count() == 0


def test_id_number_already_in_the_register(tree, secretary_a, api, member_factory):
    existing = member_factory(tree.branch_b)  # even in a branch the importer cannot see
    resp = upload(api(secretary_a), xlsx([row(tree, 公民身份号码=existing.decrypted_id_number().lower())]))
    assert resp.status_code == 400
    (error,) = resp.json()["errors"]
    assert error["code"] == "duplicate"
    assert "already in the register" in error["message"]


def test_duplicate_id_numbers_in_the_file_flag_every_row_naming_the_others(tree, secretary_a, api):
    number = new_id()
    rows = [row(tree, 公民身份号码=number), row(tree), row(tree, 公民身份号码=f" {number.lower()} ")]
    resp = upload(api(secretary_a), xlsx(rows))
    assert resp.status_code == 400
    errors = row_errors(resp)
    assert sorted(errors) == [2, 4]
    assert errors[2][0]["code"] == "duplicate_in_file" and "row 4" in errors[2][0]["message"]
    assert errors[4][0]["code"] == "duplicate_in_file" and "row 2" in errors[4][0]["message"]


def test_one_bad_row_in_fifty_saves_nothing(tree, secretary_a, api):
    rows = [row(tree, 姓名=f"党员{i}") for i in range(50)]
    rows[37]["公民身份号码"] = "110101198505200071"  # wrong check digit
    resp = upload(api(secretary_a), xlsx(rows))
    assert resp.status_code == 400
    assert list(row_errors(resp)) == [39]
    assert Member.objects.count() == 0
    assert MemberStatusChange.objects.count() == 0
    assert not AuditEntry.objects.filter(action="members.imported").exists()


def test_several_errors_in_one_row_are_all_reported(tree, secretary_a, api):
    r = row(tree, 学历="博士后", 入党日期="不详", 所在支部编码="X1")
    errors = row_errors(upload(api(secretary_a), xlsx([r])))[2]
    assert {e["column"] for e in errors} == {"学历", "入党日期", "所在支部编码"}


# --- the error file -------------------------------------------------------------------------------------


def test_error_file_keeps_the_rows_as_uploaded_with_an_error_column(tree, secretary_a, api):
    formula = '=HYPERLINK("http://evil.example","x")'
    rows = [
        row(tree, 姓名="好人", 入党日期=dt.datetime(2010, 7, 1)),
        row(
            tree,
            姓名="坏人",
            公民身份号码="110101198505200071",
            工作单位=formula,
            入党日期=43835,
            转正日期=None,
        ),
        {},
        row(tree, 姓名="又一个", 学历="博士后"),
    ]
    client = api(secretary_a)
    resp = upload(client, xlsx(rows, above=[["党员信息登记表"]]))
    assert resp.status_code == 400
    download = client.get(resp.json()["error_file"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    wb = load_workbook(io.BytesIO(content))
    ws = wb.worksheets[0]
    # Row numbers match the upload: title line, header, then the data rows (blank row kept).
    assert ws["A1"].value == "党员信息登记表"
    header = [c.value for c in ws[2]]
    assert header[: len(HEADERS)] == HEADERS and header[len(HEADERS)] == ERROR_HEADER
    err_col = len(HEADERS) + 1
    col = {h: i + 1 for i, h in enumerate(HEADERS)}
    assert ws.cell(row=3, column=err_col).value in (None, "")  # the good row has no error
    assert ws.cell(row=3, column=col["入党日期"]).value == dt.datetime(2010, 7, 1)
    bad = ws.cell(row=4, column=err_col).value
    assert "公民身份号码" in bad and "check digit" in bad
    assert ws.cell(row=4, column=col["入党日期"]).value == 43835  # the serial as uploaded
    # The formula came back as text: still a string cell, never a formula.
    work_unit = ws.cell(row=4, column=col["工作单位"])
    assert work_unit.value == formula and work_unit.data_type == "s"
    assert ws.cell(row=4, column=1).fill.fgColor.rgb.endswith("FDE2E1")  # the row is highlighted
    assert ws.cell(row=4, column=col["公民身份号码"]).fill.fgColor.rgb.endswith("F8A5A0")  # and the cell
    assert all(c.value is None for c in ws[5])  # the blank row
    assert "学历" in ws.cell(row=6, column=err_col).value
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml
    # A second sheet lists every error.
    listed = [(r[0].value, r[1].value) for r in wb.worksheets[1].iter_rows(min_row=2)]
    assert (4, "公民身份号码") in listed and (6, "学历") in listed


def test_error_file_is_only_for_the_job_owner(tree, secretary_a, org_manager, api, web):
    resp = upload(api(secretary_a), xlsx([row(tree, 学历="博士后")]))
    job = resp.json()["job"]
    assert api(org_manager).get(f"/api/v1/jobs/{job}/file/").status_code == 404
    assert api(org_manager).get(f"/api/v1/jobs/{job}/").status_code == 404
    assert web(org_manager).get(f"/members/jobs/{job}/file/").status_code == 404
    assert api().get(f"/api/v1/jobs/{job}/file/").status_code == 401


def test_error_messages_follow_the_request_language(tree, secretary_a, api):
    resp = upload(api(secretary_a), xlsx([row(tree, 学历="博士后")]), lang="en")
    job = Job.objects.get(pk=resp.json()["job"])
    assert job.params["language"] == "en"
    resp = upload(api(secretary_a), xlsx([row(tree, 学历="博士后")]), lang="zh-hans")
    assert Job.objects.get(pk=resp.json()["job"]).params["language"] == "zh-hans"


# --- files that cannot be imported at all ---------------------------------------------------------------


def _bad_files(tree):
    good = xlsx([row(tree)])
    return [
        ("csv", "姓名,公民身份号码\n张三,110101\n".encode(), "wrong_type"),
        ("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "wrong_type"),
        ("truncated", good[: len(good) // 2], "corrupt"),
        ("zip-not-xlsx", _zip({"hello.txt": "hi"}), "corrupt"),
        ("empty", b"", "empty"),
        ("missing-columns", xlsx([{"姓名": "张三"}], headers=["姓名", "性别", "备注"]), "missing_columns"),
        ("no-header", xlsx([], headers=["随便", "什么"]), "missing_columns"),
    ]


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize("case", range(7))
def test_files_that_cannot_be_imported(tree, secretary_a, api, case):
    name, data, code = _bad_files(tree)[case]
    resp = upload(api(secretary_a), data, name=f"{name}.xlsx")
    assert resp.status_code == 400, (name, resp.json())
    error = resp.json()["error"]
    assert error["code"] == code, (name, error)
    assert error["message"]
    assert Member.objects.count() == 0


def test_missing_columns_are_named(tree, secretary_a, api):
    data = xlsx([{"姓名": "张三"}], headers=["姓名", "性别", "民族"])
    message = upload(api(secretary_a), data).json()["error"]["message"]
    assert "公民身份号码" in message and "所在支部编码" in message and "民族" not in message


def test_size_limit(tree, secretary_a, api, settings):
    settings.IMPORT_MAX_BYTES = 1000
    resp = upload(api(secretary_a), xlsx([row(tree)]))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "too_large"


def test_no_file(tree, secretary_a, api):
    resp = api(secretary_a).post(URL, {}, format="multipart")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "required"


# --- scope ---------------------------------------------------------------------------------------------


def test_secretary_cannot_import_into_another_branch_same_message_as_unknown(tree, secretary_a, api):
    resp = upload(
        api(secretary_a), xlsx([row(tree, 所在支部编码=tree.branch_b.code), row(tree, 所在支部编码="ZZ99")])
    )
    errors = row_errors(resp)
    assert errors[2][0]["code"] == errors[3][0]["code"] == "unknown_org"
    assert errors[2][0]["message"].replace(tree.branch_b.code, "ZZ99") == errors[3][0]["message"]
    assert Member.objects.count() == 0


def test_group_outside_scope_is_unknown(tree, secretary_b, api):
    r = row(tree, 所在支部编码=tree.branch_b.code, 党小组编码=tree.group_a.code)
    (error,) = upload(api(secretary_b), xlsx([r])).json()["errors"]
    assert error["code"] == "unknown_group"


def test_org_manager_imports_into_several_branches(tree, org_manager, api):
    rows = [row(tree), row(tree, 所在支部编码=tree.branch_b.code)]
    assert upload(api(org_manager), xlsx(rows)).status_code == 201
    assert sorted(Member.objects.values_list("org__code", flat=True)) == sorted(
        [tree.branch_a.code, tree.branch_b.code]
    )
    audit = AuditEntry.objects.get(action="members.imported")
    assert audit.org == tree.city  # the lowest organisation above both branches


def test_org_manager_group_must_belong_to_the_branch(tree, org_manager, api):
    r = row(tree, 所在支部编码=tree.branch_b.code, 党小组编码=tree.group_a.code)
    (error,) = upload(api(org_manager), xlsx([r])).json()["errors"]
    assert "must belong to the chosen branch" in error["message"]


def test_a_committee_code_is_not_a_branch(tree, org_manager, api):
    (error,) = upload(api(org_manager), xlsx([row(tree, 所在支部编码=tree.district_a.code)])).json()["errors"]
    assert error["code"] == "not_a_branch"


@pytest.mark.parametrize("persona", ["auditor", "member_a", "resident", "outsider"])
def test_roles_that_cannot_add_are_refused(tree, api, persona, request):
    user = request.getfixturevalue(persona)
    client = api(user)
    assert upload(client, xlsx([row(tree)])).status_code == 403
    assert client.get("/api/v1/members/import/template/").status_code == 403
    assert Member.objects.filter(org=tree.branch_a).exclude(user__isnull=False).count() == 0


def test_anonymous_is_401(tree, api):
    assert upload(api(), xlsx([row(tree)])).status_code == 401


# --- jobs ----------------------------------------------------------------------------------------------


def test_async_import_runs_as_a_job_with_progress(tree, secretary_a, api, django_capture_on_commit_callbacks):
    client = api(secretary_a)
    with django_capture_on_commit_callbacks(execute=True):
        resp = upload(client, xlsx([row(tree, 姓名=f"党员{i}") for i in range(5)]), **{"async": "true"})
    assert resp.status_code == 202, resp.json()
    job_id = resp.json()["job"]
    status = client.get(f"/api/v1/jobs/{job_id}/").json()
    assert status["status"] == "succeeded"
    assert status["progress"] == status["total"] == 5
    assert status["percent"] == 100
    assert status["result"]["imported"] == 5
    assert Member.objects.count() == 5
    job = Job.objects.get(pk=job_id)
    assert job.kind == "members.import" and job.finished_at and not job.input_file  # upload deleted


def test_large_imports_always_run_as_a_job(
    tree, secretary_a, api, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_JOB_THRESHOLD = 3
    client = api(secretary_a)
    rows = [row(tree, 姓名=f"党员{i}") for i in range(4)]
    rows[2]["学历"] = "博士后"
    with django_capture_on_commit_callbacks(execute=True):
        resp = upload(client, xlsx(rows))
    assert resp.status_code == 202
    status = client.get(resp.json()["status_url"]).json()
    assert status["status"] == "failed"
    assert status["result"]["error_rows"] == 1
    assert "1 row has errors" in status["message"]
    assert status["file_url"] == f"/api/v1/jobs/{status['id']}/file/"
    assert Member.objects.count() == 0


def test_job_progress_is_recorded_while_rows_are_checked(tree, secretary_a):
    from dangjian.members.imports import member_import

    calls = []
    data = xlsx([row(tree, 姓名=f"党员{i}") for i in range(4)])
    with translation.override("en"):
        outcome = member_import(actor=secretary_a, data=data, progress=lambda *a, **k: calls.append(a))
    assert outcome.ok and outcome.imported == 4
    assert [c[:2] for c in calls if c[0]][:4] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [c[2] for c in calls if len(c) > 2] == ["Reading the file", "Checking rows", "Saving"]


# --- pages ---------------------------------------------------------------------------------------------


def test_import_page_upload_redirects_to_the_job_page_with_the_result(tree, secretary_a, web):
    client = web(secretary_a)
    page = client.get("/members/import/")
    assert page.status_code == 200
    assert b"/members/import/template/" in page.content
    data = xlsx([row(tree, 姓名="页面导入")])
    resp = client.post("/members/import/", {"file": SimpleUploadedFile("m.xlsx", data)})
    assert resp.status_code == 302
    job = Job.objects.get()
    assert resp["Location"] == f"/members/jobs/{job.pk}/"
    result = client.get(resp["Location"])
    assert result.status_code == 200
    assert b"hx-trigger" not in result.content  # finished: no more polling
    assert b"/members/" in result.content
    assert Member.objects.get().name == "页面导入"


def test_import_page_shows_errors_and_the_error_file_link(tree, secretary_a, web):
    client = web(secretary_a)
    data = xlsx([row(tree, 学历="博士后")])
    resp = client.post("/members/import/", {"file": SimpleUploadedFile("m.xlsx", data)}, follow=True)
    job = Job.objects.get()
    assert job.status == "failed"
    assert f"/members/jobs/{job.pk}/file/".encode() in resp.content
    assert "博士后".encode() in resp.content
    download = client.get(f"/members/jobs/{job.pk}/file/")
    assert download.status_code == 200


def test_import_page_rejects_a_wrong_file_in_place(tree, secretary_a, web, settings):
    client = web(secretary_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the language switch
    resp = client.post("/members/import/", {"file": SimpleUploadedFile("m.csv", b"a,b\n1,2\n")})
    assert resp.status_code == 400
    assert b"not an Excel workbook" in resp.content
    assert not Job.objects.exists()


def test_background_import_page_polls_the_progress_fragment(tree, secretary_a, web):
    job = Job.objects.create(kind="members.import", created_by=secretary_a, total=200, progress=50)
    client = web(secretary_a)
    page = client.get(f"/members/jobs/{job.pk}/")
    assert b'hx-trigger="every 1s"' in page.content
    assert f'hx-get="/members/jobs/{job.pk}/progress/"'.encode() in page.content
    fragment = client.get(f"/members/jobs/{job.pk}/progress/")
    assert b"progress-bar" in fragment.content and b"25%" in fragment.content
    assert b"<html" not in fragment.content
    Job.objects.filter(pk=job.pk).update(status="succeeded", result={"imported": 200})
    done = client.get(f"/members/jobs/{job.pk}/progress/")
    assert b"hx-trigger" not in done.content and b"200" in done.content


def test_background_checkbox_on_the_page(tree, secretary_a, web, django_capture_on_commit_callbacks):
    client = web(secretary_a)
    data = xlsx([row(tree)])
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            "/members/import/", {"file": SimpleUploadedFile("m.xlsx", data), "background": "on"}
        )
    assert resp.status_code == 302
    assert Job.objects.get().status == "succeeded"


def test_import_page_is_refused_to_read_only_roles(tree, auditor, web):
    assert web(auditor).get("/members/import/").status_code == 403


def test_other_users_jobs_are_404_on_pages(tree, secretary_a, secretary_b, web):
    job = Job.objects.create(kind="members.import", created_by=secretary_a)
    assert web(secretary_b).get(f"/members/jobs/{job.pk}/").status_code == 404
    assert web(secretary_b).get(f"/members/jobs/{job.pk}/progress/").status_code == 404


def test_member_import_function_reports_file_problems(tree, secretary_a):
    with translation.override("en"):
        outcome = member_import(actor=secretary_a, data=b"not a workbook")
    assert not outcome.ok and outcome.code == "wrong_type" and "not an Excel workbook" in outcome.message


# --- one validation path ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides", [{}, *(c[0] for c in ERROR_CASES)], ids=["valid", *(f"{c[1]}-{c[3]}" for c in ERROR_CASES)]
)
def test_the_import_form_judges_rows_exactly_as_member_form(tree, org_manager, overrides):
    """ImportMemberForm only skips MemberForm's per-row queries: same verdict, same messages."""
    from dangjian.members.forms import MemberForm
    from dangjian.members.imports import _Context, _normalise, read_upload

    sheet = read_upload(xlsx([row(tree, **overrides)]))
    ctx = _Context(org_manager, sheet)
    data, _problems = _normalise(sheet.data_rows[0][1], sheet, ctx)
    plain = MemberForm(data, actor=org_manager)
    fast = ctx.form_class(data, actor=org_manager, choices=ctx.form_choices)
    assert plain.is_valid() == fast.is_valid()
    assert plain.errors.get_json_data() == fast.errors.get_json_data()


@pytest.mark.parametrize(
    ("org", "group"),
    [("branch_b", "group_a"), ("branch_a", "group_a"), ("district_a", None), ("group_a", None)],
)
def test_the_import_form_judges_branches_and_groups_as_member_form(tree, org_manager, org, group):
    from dangjian.members.forms import MemberForm
    from dangjian.members.imports import _Context, _normalise, read_upload

    r = row(tree, 所在支部编码=getattr(tree, org).code, 党小组编码=getattr(tree, group).code if group else "")
    sheet = read_upload(xlsx([r]))
    ctx = _Context(org_manager, sheet)
    data, _problems = _normalise(sheet.data_rows[0][1], sheet, ctx)
    data["org"] = getattr(tree, org).pk  # even where the import's own check would have stopped it
    plain = MemberForm(data, actor=org_manager)
    fast = ctx.form_class(data, actor=org_manager, choices=ctx.form_choices)
    assert plain.errors.get_json_data() == fast.errors.get_json_data()


def test_the_fixed_error_file_can_be_uploaded_again(tree, secretary_a, api):
    client = api(secretary_a)
    rows = [row(tree, 姓名="甲"), row(tree, 姓名="乙", 学历="博士后")]
    resp = upload(client, xlsx(rows, above=[["党员信息登记表"]]))
    content = b"".join(client.get(resp.json()["error_file"]).streaming_content)
    wb = load_workbook(io.BytesIO(content))
    ws = wb.worksheets[0]
    ws.cell(row=4, column=HEADERS.index("学历") + 1).value = "大学本科"  # the fix
    buffer = io.BytesIO()
    wb.save(buffer)
    again = upload(client, buffer.getvalue())
    assert again.status_code == 201, again.json()
    assert again.json()["warnings"] == []  # the 错误说明 column is expected, not "extra"
    assert set(Member.objects.values_list("name", flat=True)) == {"甲", "乙"}
