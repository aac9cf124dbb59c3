"""Bank and payment-platform statements (issue 4): reading real exports, matching lines to members and
months, the treasurer's decisions, all-or-nothing confirmation, and never booking one line twice."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from openpyxl import Workbook, load_workbook

from dangjian.core.ledger import account_balance, verify_ledgers
from dangjian.core.models import AuditEntry
from dangjian.dues import statements as st
from dangjian.dues.models import (
    LEDGER,
    BillStatus,
    DuesBill,
    DuesPayment,
    DuesStatement,
    DuesStatementLine,
    member_account,
    org_account,
)
from dangjian.dues.payments import payment_record

D = dt.date
Match = DuesStatementLine.Match
Decision = DuesStatementLine.Decision
AUG, SEP, OCT = D(2026, 8, 1), D(2026, 9, 1), D(2026, 10, 1)
BANK_HEADERS = [
    "交易日期",
    "交易流水号",
    "摘要",
    "收入金额",
    "支出金额",
    "账户余额",
    "对方户名",
    "对方账号",
    "附言",
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _confirmed_in_november(today_is):
    """The October statements below are confirmed on 26 November 2026: payments check the back-payment
    limit and the payment date against the day they are booked."""
    today_is(D(2026, 11, 26))


def make_bill(member: Any, month: dt.date, amount: str = "30.00", **fields: Any) -> DuesBill:
    org = fields.pop("org", None) or member.org
    values = {
        "category": "employed",
        "base": Decimal("4000.00"),
        "rate": Decimal("0.01"),
        "standard_amount": Decimal(amount),
        "amount": Decimal(amount),
        "rule_ref": "dues@2008",
        **fields,
    }
    return DuesBill.objects.create(member=member, org=org, org_path=org.path, month=month, **values)


def bank_xlsx(lines: list[list[Any]], *, title: bool = True, headers: list[str] | None = None) -> bytes:
    """A bank export: title lines above the header row, one row per transaction, a 合计 row below."""
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append(["账户交易明细"])
        ws.append(["账号：6222020000000001  户名：第一党支部"])
        ws.append([])
    ws.append(headers or BANK_HEADERS)
    for line in lines:
        ws.append(line)
    ws.append(["合计", None, None, 999, 2])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def bank_line(
    day: dt.date, payer: str, amount: Any, memo: str = "党费", account: str = "", ref: str = ""
) -> list:
    return [day, ref or f"{day:%Y%m%d}{abs(hash((payer, str(amount), memo))) % 10**6:06d}", "转账存入",
            amount, None, 1000, payer, account, memo]  # fmt: skip


def upload(data: bytes, name: str = "流水.xlsx") -> ContentFile:
    return ContentFile(data, name=name)


def do_import(actor: Any, org: Any, data: bytes, name: str = "流水.xlsx") -> DuesStatement:
    return st.statement_import(actor=actor, org=org, file=upload(data, name))


def lines_by_payer(statement: DuesStatement) -> dict[str, DuesStatementLine]:
    return {f"{line.payer}:{line.amount}": line for line in statement.lines.all()}


@pytest.fixture
def people_a(tree, member_factory):
    """Members of branch_a with open bills for Aug–Oct 2026 (30 yuan a month; 李四 15)."""
    members = {
        "张三": member_factory(tree.branch_a, name="张三"),
        "李四": member_factory(tree.branch_a, name="李四"),
        "陈红": member_factory(tree.branch_a, name="陈红"),
        "王伟1": member_factory(tree.branch_a, name="王伟"),
        "王伟2": member_factory(tree.branch_a, name="王伟"),
        "赵六": member_factory(tree.branch_b, name="赵六"),
    }
    for key, m in members.items():
        for month in (AUG, SEP, OCT):
            make_bill(m, month, "15.00" if key == "李四" else "30.00")
    return members


# ── reading a file ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234.50", "1234.50"),
        ("¥1,234.50", "1234.50"),
        ("￥15.00", "15.00"),
        ("１２３．００", "123.00"),  # full-width digits, as typed with a Chinese input method
        ("１，２３４．５", "1234.50"),
        ("50.00元", "50.00"),
        ("RMB 30", "30.00"),
        ("(12.00)", "-12.00"),
        ("-12.00", "-12.00"),
        ("+30.00", "30.00"),
        (15.0, "15.00"),
        (30.000000000000004, "30.00"),  # binary noise of a float cell
        (45, "45.00"),
        ("", None),
        ("-", None),
        (None, None),
    ],
)
def test_amounts_as_banks_write_them(raw, expected):
    assert st.parse_amount(raw) == (Decimal(expected) if expected else None)


@pytest.mark.parametrize("raw", ["abc", "1.234", "12,3a", True])
def test_what_is_not_an_amount(raw):
    with pytest.raises(ValueError):
        st.parse_amount(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (dt.datetime(2026, 10, 5, 9, 30), D(2026, 10, 5)),
        (46300, D(2026, 10, 5)),  # an Excel serial in a cell not formatted as a date
        ("2026-10-05", D(2026, 10, 5)),
        ("2026/10/5", D(2026, 10, 5)),
        ("2026年10月5日", D(2026, 10, 5)),
        ("20261005", D(2026, 10, 5)),
        ("2026-10-05 09:30:12", D(2026, 10, 5)),
        ("2026-10-05T09:30:12", D(2026, 10, 5)),
        ("２０２６－１０－０５", D(2026, 10, 5)),
    ],
)
def test_dates_as_banks_write_them(raw, expected):
    assert st.parse_date(raw) == expected


def test_bank_xlsx_is_read_below_its_title_lines():
    parsed = st.read_statement(
        bank_xlsx(
            [
                bank_line(D(2026, 10, 5), "张三", 60, "张三8-9月党费", "6222 0200 1234 5678"),
                [D(2026, 10, 6), "R2", "手续费", None, 2, 998, "", "", "跨行手续费"],
            ]
        )
    )
    assert parsed.header_row == 4 and parsed.kind == "bank" and parsed.method == "bank_transfer"
    first, fee = parsed.lines  # the 合计 row is not a transaction
    assert (first.row, first.paid_on, first.amount, first.payer) == (
        5,
        D(2026, 10, 5),
        Decimal("60.00"),
        "张三",
    )
    assert first.account_no == "6222020012345678" and first.memo == "转账存入 张三8-9月党费"
    assert first.bookable
    assert fee.amount == Decimal("-2.00") and not fee.bookable and "支出" in fee.note


CSV_TEXT = (
    "交易日期,交易金额,借贷标志,对方户名,对方账号,用途,交易流水号\n"
    '2026-10-05,"1,060.00",贷,张三,6222000011112222,党费,A1\n'
    "2026/10/06,30.00,借,李四,6222000033334444,退款,A2\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_in_the_encodings_banks_use(encoding):
    parsed = st.read_statement(CSV_TEXT.encode(encoding))
    credit, debit = parsed.lines
    assert (credit.amount, credit.payer, credit.reference, credit.memo) == (
        Decimal("1060.00"),
        "张三",
        "A1",
        "党费",
    )
    assert debit.amount == Decimal("-30.00") and not debit.bookable  # 借 = money going out


def test_tab_separated_text_saved_as_xls_is_read():
    text = "交易时间\t金额(元)\t收/支\t交易对方\t商品\t交易单号\t当前状态\n"
    text += "2026-10-05 10:12:00\t30.00\t收入\t张三\t党费\t\t支付成功\n"
    text += "2026-10-06 11:00:00\t30.00\t收入\t李四\t党费\tW2\t已全额退款\n"
    text += "2026-10-07 11:00:00\t5.00\t不计收支\t李四\t转入零钱\tW3\t支付成功\n"
    parsed = st.read_statement(text.encode("gb18030"))
    paid, refunded, neutral = parsed.lines
    assert parsed.kind == "platform" and parsed.method == "online"
    assert paid.bookable and paid.payer == "张三"
    assert not refunded.bookable and "已全额退款" in refunded.note
    assert not neutral.bookable


def test_platform_csv_with_notes_above_the_header():
    text = "支付宝交易记录明细查询\n账号:[xxx@example.com]\n起始日期:[2026-10-01]\n" + "-" * 20 + "\n"
    text += "交易号,商户订单号,交易创建时间,付款时间,交易对方,商品名称,金额（元）,收/支,交易状态\n"
    text += '="2026100522001",="T1",2026-10-05 10:00:00,2026-10-05 10:00:05,张三,党费,30.00,收入,交易成功\n'
    text += "2026100622002,T2,2026-10-06 10:00:00,,李四,党费,15.00,收入,交易关闭\n"
    parsed = st.read_statement(text.encode("gbk"))
    assert parsed.kind == "platform"
    ok, closed = parsed.lines
    assert ok.reference == "2026100522001" and ok.amount == Decimal("30.00") and ok.bookable
    assert not closed.bookable


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        ("姓名,身份证号,电话\n张三,1101,138\n".encode(), "missing_columns"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "wrong_type"),  # an old .xls
        (b"PK\x03\x04 broken", "corrupt"),
        (b"<html><table><tr><td>x</td></tr></table></html>", "wrong_type"),  # a web page named .xls
        (b"\x00\x01\x02binary", "wrong_type"),
    ],
)
def test_unreadable_files_are_refused_and_nothing_is_stored(data, code, tree, secretary_a):
    with pytest.raises(ValidationError) as exc:
        do_import(secretary_a, tree.branch_a, data)
    error = exc.value.error_dict["file"][0]
    assert error.code == code and error.messages[0]
    assert not DuesStatement.objects.exists() and not DuesStatementLine.objects.exists()


def test_no_recognisable_columns_names_the_headers_expected(tree, secretary_a):
    wb = Workbook()
    wb.active.append(["序号", "姓名", "钱"])
    wb.active.append([1, "张三", 30])
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(ValidationError) as exc:
        do_import(secretary_a, tree.branch_a, out.getvalue())
    message = exc.value.message_dict["file"][0]
    for header in ("交易日期", "金额", "对方户名", "摘要"):
        assert header in message
    assert DuesStatement.objects.count() == 0


def test_a_row_that_cannot_be_read_is_shown_not_booked(tree, secretary_a, people_a):
    data = bank_xlsx([bank_line(D(2026, 10, 5), "张三", "三十元"), bank_line(D(2026, 10, 5), "李四", 15)])
    statement = do_import(secretary_a, tree.branch_a, data)
    bad = statement.lines.get(payer="张三")
    assert bad.amount is None and bad.decision == Decision.IGNORE and "三十元" in bad.match_note
    with pytest.raises(ValidationError):
        st.statement_line_set(
            actor=secretary_a, line=bad, member=people_a["张三"], months=["2026-08"], decision="book"
        )


def test_line_keys_recognise_the_same_line_and_keep_equal_lines_apart():
    one = st.RawLine(row=5, paid_on=D(2026, 10, 5), amount=Decimal("30.00"), payer="张三", memo="党费")
    moved = st.RawLine(row=9, paid_on=D(2026, 10, 5), amount=Decimal("30.00"), payer=" 张 三", memo="党费")
    a, b = st.line_keys([one, one])
    assert a != b  # two equal payments on one day are two payments
    assert st.line_keys([moved])[0] == a  # the same line at another row of another export


# ── matching ──────────────────────────────────────────────────────────────────────────────────────


def test_lines_are_matched_to_members_and_oldest_months(tree, secretary_a, people_a):
    data = bank_xlsx(
        [
            bank_line(D(2026, 10, 8), "张三", 60, "张三党费"),  # Aug + Sep
            bank_line(D(2026, 10, 9), "张三", 30, "党费"),  # then Oct: months are never claimed twice
            bank_line(D(2026, 10, 10), "李四", 65, "党费"),  # 3 months (45) + 20: extra dues?
            bank_line(D(2026, 10, 11), "王伟", 30, "党费"),  # two members of that name
            bank_line(D(2026, 10, 12), "陈秀英", 30, "代陈红交党费"),  # a relative; the memo names the member
            bank_line(D(2026, 10, 13), "赵六", 30, "党费"),  # a member of another branch
            bank_line(D(2026, 10, 14), "陈红", 10, "党费"),  # less than one month
        ]
    )
    statement = do_import(secretary_a, tree.branch_a, data)
    lines = lines_by_payer(statement)

    first, second = lines["张三:60.00"], lines["张三:30.00"]
    assert (first.match, first.months, first.decision) == (
        Match.MATCHED,
        ["2026-08", "2026-09"],
        Decision.BOOK,
    )
    assert (second.match, second.months) == (Match.MATCHED, ["2026-10"])
    assert first.member == people_a["张三"]

    extra = lines["李四:65.00"]
    assert (extra.match, extra.months, extra.decision) == (
        Match.AMBIGUOUS,
        ["2026-08", "2026-09", "2026-10"],
        Decision.PENDING,
    )
    assert "20.00" in extra.match_note

    namesakes = lines["王伟:30.00"]
    assert namesakes.match == Match.AMBIGUOUS and namesakes.member is None
    assert {c["id"] for c in namesakes.candidates} == {people_a["王伟1"].pk, people_a["王伟2"].pk}

    proxy = lines["陈秀英:30.00"]
    assert (proxy.match, proxy.member, proxy.months) == (Match.MATCHED, people_a["陈红"], ["2026-08"])

    outside = lines["赵六:30.00"]
    assert (outside.match, outside.member, outside.decision) == (Match.UNMATCHED, None, Decision.PENDING)

    short = lines["陈红:10.00"]
    assert (short.match, short.member, short.months) == (Match.AMBIGUOUS, people_a["陈红"], [])
    assert st.statement_summary(statement)["to_decide"] == 4
    assert not DuesPayment.objects.exists()  # nothing is booked until confirmed


def test_namesakes_are_told_apart_when_only_one_owes_the_amount(tree, secretary_a, people_a):
    DuesBill.objects.filter(member=people_a["王伟2"]).update(amount=Decimal("12.00"), standard_amount=12)
    statement = do_import(secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "王伟", 24)]))
    line = statement.lines.get()
    assert line.match == Match.AMBIGUOUS and line.member == people_a["王伟2"]
    assert line.months == ["2026-08", "2026-09"]
    assert [c["fits"] for c in line.candidates if c["id"] == people_a["王伟2"].pk] == [True]


def test_a_month_beyond_the_back_payment_limit_is_left_out(tree, secretary_a, people_a):
    old = make_bill(
        people_a["张三"], D(2026, 1, 1)
    )  # 9 months before October: more than 6 (规定: 补交≤6个月)
    statement = do_import(secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30)]))
    line = statement.lines.get()
    assert line.match == Match.MATCHED and line.months == ["2026-08"]
    assert f"{old.month:%Y-%m}" in line.match_note


def test_members_of_the_subtree_are_found_from_a_higher_committee(tree, org_manager, people_a):
    data = bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30), bank_line(D(2026, 10, 8), "赵六", 30)])
    statement = do_import(org_manager, tree.district_a, data)
    lines = lines_by_payer(statement)
    assert lines["张三:30.00"].match == Match.MATCHED
    assert lines["赵六:30.00"].match == Match.UNMATCHED  # 西城: not below 东城区委


# ── deciding and confirming ───────────────────────────────────────────────────────────────────────


def _decide_all(actor: Any, statement: DuesStatement, people: dict[str, Any]) -> dict[str, DuesStatementLine]:
    lines = lines_by_payer(statement)
    st.statement_line_set(actor=actor, line=lines["李四:65.00"], decision="book")  # as suggested: 20 extra
    st.statement_line_set(
        actor=actor, line=lines["王伟:30.00"], member=people["王伟1"], months=["2026-08"], decision="book"
    )
    st.statement_line_set(actor=actor, line=lines["赵六:30.00"], decision="ignore")
    return lines


def test_confirm_books_every_decided_line_once(tree, secretary_a, people_a):
    data = bank_xlsx(
        [
            bank_line(D(2026, 10, 8), "张三", 60, account="6222000011112222"),
            bank_line(D(2026, 10, 10), "李四", 65),
            bank_line(D(2026, 10, 11), "王伟", 30),
            bank_line(D(2026, 10, 12), "陈秀英", 30, "代陈红交党费"),
            bank_line(D(2026, 10, 13), "赵六", 30),
        ]
    )
    statement = do_import(secretary_a, tree.branch_a, data)
    with pytest.raises(ValidationError) as exc:
        st.statement_confirm(actor=secretary_a, statement=statement)
    assert "6, 7, 9" in exc.value.messages[0]  # the undecided rows
    _decide_all(secretary_a, statement, people_a)

    st.statement_confirm(actor=secretary_a, statement=statement)

    statement.refresh_from_db()
    assert statement.status == DuesStatement.Status.CONFIRMED and statement.confirmed_by == secretary_a
    payments = {p.member.name + str(p.total): p for p in DuesPayment.objects.select_related("member")}
    assert set(payments) == {"张三60.00", "李四65.00", "王伟30.00", "陈红30.00"}
    assert payments["李四65.00"].extra_amount == Decimal("20.00")
    assert payments["陈红30.00"].by_proxy and payments["陈红30.00"].proxy_name == "陈秀英"
    assert not payments["张三60.00"].by_proxy
    assert {p.method for p in payments.values()} == {"bank_transfer"}
    assert set(
        DuesBill.objects.filter(member=people_a["张三"], status=BillStatus.PAID).values_list(
            "month", flat=True
        )
    ) == {AUG, SEP}
    assert account_balance(LEDGER, member_account(people_a["张三"].pk)) == Decimal("60.00")
    assert account_balance(LEDGER, org_account(tree.branch_a.pk)) == Decimal("185.00")
    assert all(line.payment_id for line in statement.lines.filter(decision=Decision.BOOK))
    assert verify_ledgers().ok
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"dues.statement_imported", "dues.statement_line_set", "dues.statement_confirmed"} <= actions

    with pytest.raises(ValidationError):  # confirmed: closed to changes and to a second confirmation
        st.statement_confirm(actor=secretary_a, statement=statement)


def test_confirm_is_all_or_nothing_and_names_the_refused_row(tree, secretary_a, people_a):
    statement = do_import(
        secretary_a,
        tree.branch_a,
        bank_xlsx([bank_line(D(2026, 10, 8), "张三", 60), bank_line(D(2026, 10, 9), "陈红", 30)]),
    )
    # Between the import and the confirmation, 陈红's August is paid in cash.
    payment_record(
        actor=secretary_a, member=people_a["陈红"], months=[AUG], method="cash", paid_on=D(2026, 10, 9)
    )
    with pytest.raises(st.StatementLineRefused) as exc:
        st.statement_confirm(actor=secretary_a, statement=statement)
    assert exc.value.row == 6 and "2026-08" in exc.value.messages[0] and "陈红" in exc.value.messages[0]
    assert DuesPayment.objects.count() == 1  # only the cash payment: 张三's line was rolled back too
    assert DuesStatement.objects.get().status == DuesStatement.Status.PENDING
    assert DuesBill.objects.get(member=people_a["张三"], month=AUG).status == BillStatus.OPEN


def test_a_rule_refusal_names_the_row_and_the_article(tree, secretary_a, people_a):
    make_bill(people_a["张三"], D(2026, 1, 1))
    statement = do_import(secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30)]))
    line = statement.lines.get()
    with pytest.raises(ValidationError) as exc:  # refused when chosen: 9 months back
        st.statement_line_set(actor=secretary_a, line=line, months=["2026-01"], decision="book")
    assert "6" in exc.value.message_dict["months"][0]
    DuesStatementLine.objects.filter(pk=line.pk).update(
        months=["2026-01"]
    )  # as if chosen before a rule change
    with pytest.raises(st.StatementLineRefused) as refused:
        st.statement_confirm(actor=secretary_a, statement=statement)
    assert refused.value.violation is not None and refused.value.violation.code == "back_payment_too_old"
    assert refused.value.violation.article in refused.value.messages[0]
    assert not DuesPayment.objects.exists()


def test_line_choices_are_checked_when_made(tree, secretary_a, people_a):
    statement = do_import(secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "王伟", 30)]))
    line = statement.lines.get()
    cases = [
        ({"member": people_a["赵六"], "months": ["2026-08"]}, "member"),  # another branch
        ({"member": people_a["王伟1"], "months": ["2026-08", "2026-09"]}, "months"),  # 60 > 30 received
        ({"member": people_a["王伟1"], "months": ["2026-12"]}, "months"),  # no bill
        ({"member": people_a["王伟1"], "months": ["August"]}, "months"),
        ({"member": None, "months": []}, "member"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as exc:
            st.statement_line_set(actor=secretary_a, line=line, decision="book", **kwargs)
        assert field in exc.value.message_dict, kwargs
    with pytest.raises(ValidationError):
        st.statement_line_set(actor=secretary_a, line=line, decision="maybe")
    # Extra dues only: no month, the whole amount extra.
    st.statement_line_set(actor=secretary_a, line=line, member=people_a["王伟1"], months=[], decision="book")
    assert DuesStatementLine.objects.get().decision == Decision.BOOK


def test_choosing_a_member_alone_books_their_oldest_months_that_fit(tree, secretary_a, people_a):
    statement = do_import(secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "王伟", 60)]))
    line = statement.lines.get()
    assert st.suggest_months(line, people_a["王伟2"]) == ["2026-08", "2026-09"]
    st.statement_line_set(actor=secretary_a, line=line, member=people_a["王伟2"], decision="book")
    line.refresh_from_db()
    assert (line.member, line.months, line.decision) == (
        people_a["王伟2"],
        ["2026-08", "2026-09"],
        Decision.BOOK,
    )


def test_one_month_cannot_be_chosen_for_two_lines(tree, secretary_a, people_a):
    statement = do_import(
        secretary_a,
        tree.branch_a,
        bank_xlsx(
            [bank_line(D(2026, 10, 8), "张三", 30, "党费1"), bank_line(D(2026, 10, 9), "张三", 30, "党费2")]
        ),
    )
    first, second = statement.lines.order_by("row")
    assert (first.months, second.months) == (["2026-08"], ["2026-09"])
    with pytest.raises(ValidationError) as exc:
        st.statement_line_set(actor=secretary_a, line=second, months=["2026-08"], decision="book")
    assert "5" in exc.value.message_dict["months"][0]  # row 5 has it


def test_the_same_file_twice_is_refused_naming_the_earlier_import(tree, secretary_a, people_a):
    data = bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30)])
    first = do_import(secretary_a, tree.branch_a, data, "十月.xlsx")
    with pytest.raises(ValidationError) as exc:
        do_import(secretary_a, tree.branch_a, data, "十月（再次）.xlsx")
    message = exc.value.message_dict["file"][0]
    assert "十月.xlsx" in message and f"{first.uploaded_at.astimezone():%Y-%m-%d}" in message
    assert DuesStatement.objects.count() == 1
    # Another organisation's treasurer may import the same file for their own organisation.
    st.statement_discard(actor=secretary_a, statement=first, reason="传错了")
    again = do_import(secretary_a, tree.branch_a, data)
    assert again.status == DuesStatement.Status.PENDING and DuesStatement.objects.count() == 1


def test_an_overlapping_statement_books_only_the_new_lines(tree, secretary_a, people_a):
    shared = bank_line(D(2026, 10, 8), "张三", 30, ref="S1")
    first = do_import(secretary_a, tree.branch_a, bank_xlsx([shared]))
    st.statement_confirm(actor=secretary_a, statement=first)
    # The next export covers the same days again, with another title and one new line.
    second = do_import(
        secretary_a,
        tree.branch_a,
        bank_xlsx([bank_line(D(2026, 10, 20), "陈红", 30, ref="S2"), shared], title=False),
    )
    lines = lines_by_payer(second)
    assert lines["张三:30.00"].match == Match.DUPLICATE and lines["张三:30.00"].decision == Decision.IGNORE
    assert "流水.xlsx" in lines["张三:30.00"].match_note
    with pytest.raises(ValidationError):
        st.statement_line_set(actor=secretary_a, line=lines["张三:30.00"], decision="book")
    st.statement_confirm(actor=secretary_a, statement=second)
    assert DuesPayment.objects.count() == 2
    assert account_balance(LEDGER, member_account(people_a["张三"].pk)) == Decimal("30.00")


def test_a_line_booked_by_the_committee_above_is_a_duplicate_for_the_branch(
    tree, secretary_a, org_manager, people_a
):
    line = bank_line(D(2026, 10, 8), "张三", 30, ref="D1")
    above = do_import(org_manager, tree.district_a, bank_xlsx([line]))
    st.statement_confirm(actor=org_manager, statement=above)
    below = do_import(secretary_a, tree.branch_a, bank_xlsx([line], title=False))
    assert below.lines.get().match == Match.DUPLICATE
    assert DuesPayment.objects.count() == 1


def test_two_pending_statements_with_a_shared_line_book_it_once(tree, secretary_a, people_a):
    shared = bank_line(D(2026, 10, 8), "张三", 30, ref="S1")
    a = do_import(secretary_a, tree.branch_a, bank_xlsx([shared]))
    b = do_import(secretary_a, tree.branch_a, bank_xlsx([shared, bank_line(D(2026, 10, 9), "陈红", 30)]))
    assert (
        "流水.xlsx" in b.lines.get(payer="张三").match_note
    )  # also in the other import, awaiting confirmation
    st.statement_confirm(actor=secretary_a, statement=a)
    st.statement_confirm(actor=secretary_a, statement=b)
    line = b.lines.get(payer="张三")
    assert line.match == Match.DUPLICATE and line.payment is None
    assert DuesPayment.objects.filter(member=people_a["张三"]).count() == 1
    assert DuesPayment.objects.count() == 2


def test_the_payer_account_of_earlier_statements_identifies_the_member(tree, secretary_a, people_a):
    account = "6222000011112222"
    first = do_import(
        secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30, account=account)])
    )
    st.statement_confirm(actor=secretary_a, statement=first)
    second = do_import(
        secretary_a,
        tree.branch_a,
        bank_xlsx([bank_line(D(2026, 10, 28), "ZHANG SAN", 30, "转账", account=account)]),
    )
    line = second.lines.get()
    assert (line.match, line.member, line.months) == (Match.MATCHED, people_a["张三"], ["2026-09"])


def test_outsiders_cannot_import_decide_or_confirm(tree, secretary_a, secretary_b, auditor, people_a):
    data = bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30)])
    for actor in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            do_import(actor, tree.branch_a, data)
    statement = do_import(secretary_a, tree.branch_a, data)
    with pytest.raises(PermissionDenied):
        st.statement_line_set(actor=secretary_b, line=statement.lines.get(), decision="ignore")
    for service in (st.statement_confirm, st.statement_discard):
        with pytest.raises(PermissionDenied):
            service(actor=secretary_b, statement=statement)
    assert DuesStatement.objects.get().status == DuesStatement.Status.PENDING


def test_discarded_statement_books_nothing_and_cannot_be_confirmed(tree, secretary_a, people_a):
    statement = do_import(secretary_a, tree.branch_a, bank_xlsx([bank_line(D(2026, 10, 8), "张三", 30)]))
    st.statement_discard(actor=secretary_a, statement=statement, reason="重复上传")
    with pytest.raises(ValidationError):
        st.statement_confirm(actor=secretary_a, statement=statement)
    assert not DuesPayment.objects.exists()
    assert AuditEntry.objects.filter(action="dues.statement_discarded", changes__reason="重复上传").exists()


# ── the sample ────────────────────────────────────────────────────────────────────────────────────


def test_the_sample_statement_is_realistic_and_imports(tree, secretary_a, member_factory):
    members = [
        member_factory(tree.branch_a, name=n)
        for n in ("安宁", "白云", "常青", "丁香", "鄂林", "方圆", "葛亮")
    ]
    for m in members:
        make_bill(m, OCT)
    make_bill(members[0], SEP)  # 安宁 also owes September
    data = st.sample_statement(tree.branch_a, OCT, today=D(2026, 11, 26))
    ws = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in ws[5]] == st.SAMPLE_HEADERS

    statement = do_import(secretary_a, tree.branch_a, data, "样例流水.xlsx")
    summary = st.statement_summary(statement)
    assert summary["matched"] >= 4 and summary["ambiguous"] == 1 and summary["unmatched"] == 2
    first = statement.lines.get(payer="安宁")
    assert first.months == ["2026-09", "2026-10"] and first.amount == Decimal("60.00")
    proxy = statement.lines.get(memo__contains="代")  # a relative pays: the memo names the member
    assert (
        proxy.match == Match.MATCHED and proxy.member.name in proxy.memo and proxy.payer != proxy.member.name
    )
    for line in statement.lines.filter(decision=Decision.PENDING):
        st.statement_line_set(actor=secretary_a, line=line, decision="book" if line.member_id else "ignore")
    st.statement_confirm(actor=secretary_a, statement=statement)
    assert DuesPayment.objects.count() == summary["matched"] + 1
    assert not DuesBill.objects.filter(member__in=members, status=BillStatus.OPEN).exists()


def test_the_sample_without_bills_still_shows_the_format(tree):
    ws = load_workbook(io.BytesIO(st.sample_statement(tree.branch_b, OCT))).active
    rows = [r for r in ws.iter_rows(min_row=6, values_only=True) if r[0]]
    assert len(rows) == 3  # the unknown payer, the bank fee, the total
