"""The bank-statement import pages (/dues/statements/) and API (/api/v1/dues/statements/): upload with a
sample to download, review in four tabs with counts, fix a line, confirm, discard; scope and refusals."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from dangjian.dues import statements as st
from dangjian.dues.models import BillStatus, DuesBill, DuesPayment, DuesStatement, DuesStatementLine
from tests.dues.test_statements import AUG, OCT, SEP, bank_line, bank_xlsx, make_bill

D = dt.date
Match = DuesStatementLine.Match
LIST = "/dues/statements/"
API = "/api/v1/dues/statements/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _confirmed_in_november(today_is):
    """The October statements below are confirmed on 26 November 2026: payments check the back-payment
    limit and the payment date against the day they are booked."""
    today_is(D(2026, 11, 26))


@pytest.fixture
def members(tree, member_factory):
    found = {n: member_factory(tree.branch_a, name=n) for n in ("张三", "李四", "王伟")}
    found["王伟2"] = member_factory(tree.branch_a, name="王伟")
    for m in found.values():
        for month in (AUG, SEP, OCT):
            make_bill(m, month)
    return found


_STATEMENT: list[bytes] = []


def statement_file(name: str = "十月流水.xlsx") -> SimpleUploadedFile:
    # Built once: a workbook saved a second later carries another timestamp, so other bytes (another file).
    if not _STATEMENT:
        _STATEMENT.append(
            bank_xlsx(
                [
                    bank_line(D(2026, 10, 8), "张三", 60, account="6222000011112222"),  # matched
                    bank_line(D(2026, 10, 9), "李四", 80),  # ambiguous: 2 months + 20
                    bank_line(D(2026, 10, 10), "王伟", 30),  # ambiguous: two members of that name
                    bank_line(D(2026, 10, 11), "路人甲", 30),  # unmatched
                ]
            )
        )
    return SimpleUploadedFile(name, _STATEMENT[0])


@pytest.fixture
def imported(tree, secretary_a, members):
    return st.statement_import(actor=secretary_a, org=tree.branch_a, file=statement_file())


# ── pages ─────────────────────────────────────────────────────────────────────────────────────────


def test_upload_page_offers_the_sample_and_lists_imports(tree, secretary_a, web, imported):
    resp = web(secretary_a).get(LIST)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-testid="upload-form"' in html and "/dues/statements/sample.xlsx" in html
    assert "十月流水.xlsx" in html and "对方户名" in html


def test_the_sample_downloads_as_a_workbook(tree, secretary_a, web, members):
    resp = web(secretary_a).get(f"{LIST}sample.xlsx?org={tree.branch_a.pk}&month=2026-10")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(resp.content)).active
    payers = {row[6] for row in ws.iter_rows(min_row=6, values_only=True) if row[6]}
    assert {"张三", "李四"} <= payers


def test_upload_matches_and_opens_the_review(tree, secretary_a, web, members):
    resp = web(secretary_a).post(LIST + f"?org={tree.branch_a.pk}", {"file": statement_file()})
    statement = DuesStatement.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"{LIST}{statement.pk}/"
    assert statement.org == tree.branch_a and statement.uploaded_by == secretary_a
    assert not DuesPayment.objects.exists()


def test_a_file_without_statement_columns_is_refused_on_the_page(tree, secretary_a, web):
    bad = SimpleUploadedFile("名单.csv", "姓名,电话\n张三,138\n".encode("gbk"))
    resp = web(secretary_a).post(LIST + f"?org={tree.branch_a.pk}", {"file": bad})
    assert resp.status_code == 400
    assert "交易日期" in resp.content.decode()
    assert not DuesStatement.objects.exists()


def test_the_same_file_twice_is_refused_on_the_page(tree, secretary_a, web, imported):
    resp = web(secretary_a).post(LIST + f"?org={tree.branch_a.pk}", {"file": statement_file("再传一次.xlsx")})
    assert resp.status_code == 400 and "十月流水.xlsx" in resp.content.decode()
    assert f'href="{LIST}{imported.pk}/" data-testid="earlier-import"' in resp.content.decode()
    assert DuesStatement.objects.count() == 1


def test_review_shows_four_tabs_with_counts(tree, secretary_a, web, imported, django_assert_max_num_queries):
    client = web(secretary_a)
    with django_assert_max_num_queries(40):
        resp = client.get(f"{LIST}{imported.pk}/")
    html = resp.content.decode()
    assert resp.status_code == 200
    for key in ("matched", "ambiguous", "unmatched", "duplicate"):
        assert f'data-testid="tab-{key}"' in html
    assert 'data-testid="line-6"' in html  # the first line to decide (李四) opens by default
    assert 'data-testid="confirm"' not in html  # 3 lines still to decide: the button is disabled
    matched = client.get(f"{LIST}{imported.pk}/?tab=matched").content.decode()
    assert "张三" in matched and "6222****2222" in matched and "6222000011112222" not in matched


def test_the_review_page_does_not_query_per_line(
    tree, secretary_a, web, members, django_assert_max_num_queries
):
    lines = [bank_line(D(2026, 10, 1) + dt.timedelta(days=i % 20), "张三", 30, f"党费{i}") for i in range(40)]
    statement = st.statement_import(
        actor=secretary_a, org=tree.branch_a, file=SimpleUploadedFile("长.xlsx", bank_xlsx(lines))
    )
    with django_assert_max_num_queries(40):
        assert web(secretary_a).get(f"{LIST}{statement.pk}/?tab=ambiguous").status_code == 200


def test_fix_a_line_in_the_dialog_then_confirm(tree, secretary_a, web, imported, members):
    client = web(secretary_a)
    namesake = imported.lines.get(payer="王伟")
    url = f"{LIST}{imported.pk}/lines/{namesake.pk}/"
    dialog = client.get(url, {"member": members["王伟2"].pk}, HTTP_HX_REQUEST="true")
    assert dialog.status_code == 200 and "<html" not in dialog.content.decode()
    assert 'value="2026-08"' in dialog.content.decode()
    resp = client.post(
        url, {"decision": "book", "member": members["王伟2"].pk, "months": ["2026-08"], "months_sent": "1"}
    )
    assert resp.status_code == 302 and f"#row-{namesake.row}" in resp["Location"]
    client.post(f"{LIST}{imported.pk}/lines/{imported.lines.get(payer='李四').pk}/", {"decision": "book"})
    client.post(f"{LIST}{imported.pk}/lines/{imported.lines.get(payer='路人甲').pk}/", {"decision": "ignore"})
    assert 'data-testid="confirm"' in client.get(f"{LIST}{imported.pk}/").content.decode()

    resp = client.post(f"{LIST}{imported.pk}/confirm/", follow=True)

    assert resp.status_code == 200 and "statement-status" in resp.content.decode()
    imported.refresh_from_db()
    assert imported.status == DuesStatement.Status.CONFIRMED
    assert DuesPayment.objects.count() == 3
    assert DuesBill.objects.get(member=members["王伟2"], month=AUG).status == BillStatus.PAID
    assert DuesPayment.objects.get(member=members["李四"]).extra_amount == Decimal("20.00")


def test_a_refused_choice_is_shown_in_the_form(tree, secretary_a, web, imported, members):
    line = imported.lines.get(payer="王伟")
    resp = web(secretary_a).post(
        f"{LIST}{imported.pk}/lines/{line.pk}/",
        {
            "decision": "book",
            "member": members["王伟"].pk,
            "months": ["2026-08", "2026-09"],
            "months_sent": "1",
        },
    )
    assert resp.status_code == 400 and "60.00" in resp.content.decode()
    assert DuesStatementLine.objects.get(pk=line.pk).decision == "pending"


def test_confirm_with_undecided_lines_says_which(tree, secretary_a, web, imported):
    resp = web(secretary_a).post(f"{LIST}{imported.pk}/confirm/", follow=True)
    assert resp.status_code == 200
    assert "6, 7, 8" in resp.content.decode()
    assert DuesStatement.objects.get().status == DuesStatement.Status.PENDING


def test_discard_from_the_page(tree, secretary_a, web, imported):
    resp = web(secretary_a).post(f"{LIST}{imported.pk}/discard/")
    assert resp.status_code == 302
    assert DuesStatement.objects.get().status == DuesStatement.Status.DISCARDED


def test_scope_on_the_pages(tree, secretary_b, auditor, member_a, web, imported, client):
    line = imported.lines.first()
    for path in (f"{LIST}{imported.pk}/", f"{LIST}{imported.pk}/lines/{line.pk}/"):
        assert web(secretary_b).get(path).status_code == 404
    assert web(secretary_b).post(f"{LIST}{imported.pk}/confirm/").status_code == 404
    client.logout()
    reader = web(auditor)
    html = reader.get(f"{LIST}{imported.pk}/").content.decode()
    assert 'data-testid="confirm-bar"' not in html and 'data-testid="discard"' not in html
    assert reader.post(f"{LIST}{imported.pk}/confirm/").status_code == 403
    assert reader.post(f"{LIST}{imported.pk}/lines/{line.pk}/", {"decision": "ignore"}).status_code == 403
    assert (
        reader.post(LIST + f"?org={tree.branch_a.pk}", {"file": statement_file("x.xlsx")}).status_code == 403
    )
    client.logout()
    assert web(member_a).get(LIST).status_code == 403
    client.logout()
    assert client.get(LIST).status_code == 302  # to the login page


# ── API ───────────────────────────────────────────────────────────────────────────────────────────


def test_api_upload_decide_and_confirm(tree, secretary_a, api, members):
    client = api(secretary_a)
    resp = client.post(API, {"org": tree.branch_a.pk, "file": statement_file()}, format="multipart")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["summary"]["matched"] == 1 and body["summary"]["to_decide"] == 3
    assert [line["row"] for line in body["lines"]] == [5, 6, 7, 8]
    first = body["lines"][0]
    assert first["member_name"] == "张三" and first["months"] == ["2026-08", "2026-09"]
    assert first["account_no"] == "6222****2222" and first["amount"] == "60.00"
    pk = body["id"]

    refused = client.post(f"{API}{pk}/confirm/")
    assert refused.status_code == 400 and "6, 7, 8" in refused.json()["error"]["message"]

    bad = client.patch(
        f"{API}{pk}/lines/",
        {"row": 7, "decision": "book", "member": members["王伟"].pk, "months": ["2026-13"]},
        format="json",
    )
    assert bad.status_code == 400 and "months" in bad.json()["error"]["fields"]
    ok = client.patch(
        f"{API}{pk}/lines/",
        {"row": 7, "decision": "book", "member": members["王伟"].pk, "months": ["2026-08"]},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["decision"] == "book" and ok.json()["member_name"] == "王伟"
    assert (
        client.patch(f"{API}{pk}/lines/", {"row": 99, "decision": "ignore"}, format="json").status_code == 400
    )
    client.patch(f"{API}{pk}/lines/", {"row": 6, "decision": "book"}, format="json")
    client.patch(f"{API}{pk}/lines/", {"row": 8, "decision": "ignore"}, format="json")

    done = client.post(f"{API}{pk}/confirm/")
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    assert done.json()["summary"]["booked"] == 3 and done.json()["summary"]["booked_total"] == "170.00"
    assert DuesPayment.objects.count() == 3

    listed = client.get(API, {"org": tree.branch_a.pk}).json()
    assert [row["id"] for row in listed["results"]] == [pk] and "lines" not in listed["results"][0]
    assert client.get(API, {"org": tree.branch_b.pk}).json()["results"] == []


def test_api_refused_line_names_the_row_and_the_rule(tree, secretary_a, api, members):
    make_bill(members["张三"], D(2026, 1, 1))
    statement = st.statement_import(
        actor=secretary_a,
        org=tree.branch_a,
        file=SimpleUploadedFile("a.xlsx", bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30)])),
    )
    DuesStatementLine.objects.filter(statement=statement).update(months=["2026-01"], decision="book")
    resp = api(secretary_a).post(f"{API}{statement.pk}/confirm/")
    error = resp.json()["error"]
    assert resp.status_code == 400 and error["row"] == 5
    assert (
        error["code"] == "rule_violation"
        and error["violation"] == "back_payment_too_old"
        and error["article"]
    )
    assert not DuesPayment.objects.exists()


def test_api_refuses_a_file_twice_and_a_foreign_org(tree, secretary_a, api, members):
    client = api(secretary_a)
    assert (
        client.post(API, {"org": tree.branch_a.pk, "file": statement_file()}, format="multipart").status_code
        == 201
    )
    again = client.post(
        API, {"org": tree.branch_a.pk, "file": statement_file("again.xlsx")}, format="multipart"
    )
    assert again.status_code == 400 and "file" in again.json()["error"]["fields"]
    foreign = client.post(
        API, {"org": tree.branch_b.pk, "file": statement_file("b.xlsx")}, format="multipart"
    )
    assert foreign.status_code in (400, 403)
    assert DuesStatement.objects.count() == 1
