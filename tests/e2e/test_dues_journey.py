"""Closing a month's dues from a bank statement in the browser, then a member's dues on the phone.

shuji1 opens the month's collection on /dues/ (nobody has paid yet), imports the bank's statement (an
xlsx from ``dues.statements.sample_statement``) on /dues/statements/, reviews the tabs 已匹配 / 待确认 /
未匹配 with their counts, books or ignores the lines left to decide with the page's own buttons and
confirms; back on /dues/ the collection rate is higher and the members paid for the month show 已交.
The same file uploaded again is refused naming the earlier import, and nothing is booked twice.

dangyuan1 declared from three months ago, so the statement's line for them paid their three oldest months
and they still owe this one: on a phone (390×844) /m/dues/ shows what they owe, how the amount is
computed (the band, the rate and the rule version) and the PDF statement.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.core.ledger import verify_ledgers
from dangjian.dues import rules, services, statements
from dangjian.dues.models import BillStatus, DuesBill, DuesPayment, DuesStatement, DuesStatementLine
from dangjian.members.models import Member
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

Match = DuesStatementLine.Match
Decision = DuesStatementLine.Decision
# Employed members of 第一党支部 and their monthly pay after tax (one or two in each band of the standard).
# Their surnames sort after 张 (dangyuan1's 张党员) by code point and by pinyin alike, so that dangyuan1's
# line in the sample statement is a plain transfer of the oldest months owed (sample_statement varies the
# 4th and 6th payers: a relative pays, extra dues are added).
BASES = {"赵明": "2800.00", "郑芳": "4200.00", "朱伟": "8000.00", "钟洋": "12000.00", "祝静": "3000.00", "邹帆": "5000.00"}  # fmt: skip
MY_BASE = "3500.00"  # dangyuan1: over 3000 up to 5000, 1% → 35.00 a month


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the imported statement files


def _log_in(page: Any, base_url: str, user: Any) -> None:
    page.goto(base_url + reverse("web:login"))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert reverse("web:login") not in page.url, page.content()[:500]


def _rate(page: Any) -> Decimal:
    """The collection rate (percent) shown in the month's totals."""
    value = page.locator("[data-testid=dues-totals] .dj-stat-value").last.inner_text()
    number = re.search(r"\d+(\.\d+)?", value)
    assert number, value
    return Decimal(number.group())


def _status(page: Any, member: Member) -> str:
    return page.locator(f"table[data-testid=bills] tr[data-member='{member.pk}'] td .badge").last.inner_text()


def _no_error(page: Any) -> None:
    problems = page.locator(".alert-danger").all_inner_texts()
    assert not problems, problems


def test_secretary_closes_the_month_from_a_bank_statement_and_the_member_sees_dues_on_the_phone(
    browser, page, live_server, tree, secretary_a, member_a, member_factory, tmp_path
):
    month = timezone.localdate().replace(day=1)
    members = [member_factory(tree.branch_a, name=name) for name in BASES]
    for member in members:
        services.declaration_create(
            actor=secretary_a,
            member=member,
            category="employed",
            base=BASES[member.name],
            effective_month=month,
        )
    me = Member.objects.get(user=member_a)
    services.declaration_create(
        actor=secretary_a,
        member=me,
        category="employed",
        base=MY_BASE,
        effective_month=rules.add_months(month, -3),
    )
    for back in range(3, -1, -1):  # what the monthly job does (the declarations already billed most)
        services.bills_generate(month=rules.add_months(month, -back), org=tree.branch_a, actor=secretary_a)
    everyone = [*members, me]
    assert DuesBill.objects.filter(month=month, status=BillStatus.OPEN).count() == len(everyone)
    assert DuesBill.objects.filter(member=me, status=BillStatus.OPEN).count() == 4
    statement_file = tmp_path / f"银行流水-{month:%Y-%m}.xlsx"
    statement_file.write_bytes(statements.sample_statement(tree.branch_a, month))

    # The month's collection: every bill unpaid.
    _log_in(page, live_server.url, secretary_a)
    page.goto(live_server.url + reverse("dues:collection"))
    page.wait_for_selector("table[data-testid=bills]")
    assert page.locator("table[data-testid=bills] tbody tr").count() == len(everyone)
    assert f"已交 0 / 应交 {len(everyone)} 笔" in page.locator("[data-testid=dues-totals]").inner_text()
    assert all(_status(page, m) == "未交" for m in everyone)
    rate_before = _rate(page)

    # To the statement import, from the collection page's own button.
    with page.expect_navigation():
        page.get_by_role("link", name="导入银行流水").click()
    assert page.url.startswith(live_server.url + reverse("dues_statements:list")), page.url
    page.locator("[data-testid=upload-form] input[type=file]").set_input_files(str(statement_file))
    with page.expect_navigation():
        page.get_by_role("button", name="上传并匹配").click()
    _no_error(page)
    statement = DuesStatement.objects.get()
    assert page.url.split("?")[0] == live_server.url + reverse("dues_statements:detail", args=[statement.pk])
    assert not DuesPayment.objects.exists(), "nothing is booked before confirmation"

    mine = statement.lines.get(member=me)
    assert (mine.match, mine.months) == (
        Match.MATCHED,
        [f"{rules.add_months(month, -n):%Y-%m}" for n in (3, 2, 1)],
    )

    # The review: the tabs with the counts of the import.
    counts = {key: statement.lines.filter(match=key).count() for key in Match.values}
    assert counts[Match.MATCHED] >= 4 and counts[Match.AMBIGUOUS] >= 1 and counts[Match.UNMATCHED] >= 1, (
        counts
    )
    for key, label in ((Match.MATCHED, "已匹配"), (Match.AMBIGUOUS, "待确认"), (Match.UNMATCHED, "未匹配")):
        tab = page.locator(f"[data-testid=tab-{key}]")
        assert label in tab.inner_text()
        assert tab.locator(".badge").first.inner_text().strip() == str(counts[key])
    assert int(page.locator("[data-testid=to-decide]").inner_text()) > 0

    # Decide every line left: book what the page shows with a member, ignore the rest.
    for key in (Match.AMBIGUOUS, Match.UNMATCHED, Match.MATCHED):
        with page.expect_navigation():
            page.locator(f"[data-testid=tab-{key}]").click()
        page.wait_for_selector("table[data-testid=lines]")
        while page.locator("table[data-testid=lines] tr.undecided").count():
            row = page.locator("table[data-testid=lines] tr.undecided").first
            number = row.get_attribute("data-testid").removeprefix("line-")
            book = row.locator(f"[data-testid=book-{number}]")
            button = book if book.count() else row.locator(f"[data-testid=ignore-{number}]")
            with page.expect_navigation():
                button.click()
            _no_error(page)
    assert page.locator("[data-testid=to-decide]").inner_text().strip() == "0"
    booked_lines = list(statement.lines.filter(decision=Decision.BOOK))
    ignored = statement.lines.filter(decision=Decision.IGNORE, match=Match.UNMATCHED).count()
    assert ignored == counts[Match.UNMATCHED], "the unknown payer (and the bank fee) ignored"
    assert len(booked_lines) == counts[Match.MATCHED] + counts[Match.AMBIGUOUS]

    # Confirm (the browser asks first) and see what was booked.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("[data-testid=confirm]").click()
    _no_error(page)
    statement.refresh_from_db()
    assert statement.status == DuesStatement.Status.CONFIRMED
    assert page.locator("[data-testid=statement-status]").inner_text().strip() == "已确认"
    assert f"已确认入账：共 {len(booked_lines)} 笔" in page.locator(".alert-success").first.inner_text()
    payments = DuesPayment.objects.count()
    assert payments == len(booked_lines)
    assert verify_ledgers().ok

    # Back on the collection: higher rate; those paid for the month show 已交, dangyuan1 still owes it.
    page.goto(live_server.url + reverse("dues:collection"))
    page.wait_for_selector("table[data-testid=bills]")
    assert _rate(page) > rate_before
    paid_for_month = {
        line.member_id
        for line in statement.lines.filter(payment__isnull=False)
        if f"{month:%Y-%m}" in line.months
    }
    assert paid_for_month and me.pk not in paid_for_month
    for member in everyone:
        assert _status(page, member) == ("已交" if member.pk in paid_for_month else "未交"), member.name

    # The same file again: refused, naming the earlier import; nothing booked twice.
    page.goto(live_server.url + reverse("dues_statements:list"))
    page.locator("[data-testid=upload-form] input[type=file]").set_input_files(str(statement_file))
    with page.expect_navigation():
        page.get_by_role("button", name="上传并匹配").click()
    refusal = page.locator("[data-testid=upload-form] [role=alert]").inner_text()
    assert "该文件已于" in refusal and statement_file.name in refusal and "已确认" in refusal, refusal
    earlier = page.locator("[data-testid=earlier-import]")
    assert earlier.get_attribute("href") == reverse("dues_statements:detail", args=[statement.pk])
    assert DuesStatement.objects.count() == 1
    assert DuesPayment.objects.count() == payments
    assert verify_ledgers().ok

    # dangyuan1 on a phone.
    phone = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone.set_default_timeout(15_000)
    try:
        mobile = phone.new_page()
        _log_in(mobile, live_server.url, member_a)
        mobile.goto(live_server.url + reverse("dues_mobile:home"))
        mobile.wait_for_selector("[data-testid=how]")
        owed = mobile.locator("[data-testid=owed-months]")
        assert "您还有 1 个月党费未交，共 35.00 元" in owed.inner_text(), owed.inner_text()
        assert f"{month:%Y-%m}" in owed.inner_text()
        assert mobile.locator("[data-testid=owed]").inner_text().strip() == "35.00"
        assert "35.00" in mobile.locator("[data-testid=dues-hero]").inner_text()
        how = mobile.locator("[data-testid=how]")
        assert "我的党费怎么算" in how.inner_text()
        assert "3,500.00" in how.inner_text() and "1%" in how.inner_text()
        band = how.locator(".d-bands .mine")  # the rate table, my band marked
        assert band.count() == 1 and re.findall(r"[\d,.]+%?", band.inner_text()) == [
            "3,000.00",
            "5,000.00",
            "1%",
        ]
        my_bill = DuesBill.objects.get(member=me, month=month)
        assert f"规则版本：{rules.rule_label(my_bill.rule_ref)}" in how.inner_text(), how.inner_text()
        # The three older months, paid from the statement, are in what I paid.
        paid = mobile.locator("[data-testid=payments]").inner_text()
        assert all(f"{rules.add_months(month, -n):%Y-%m}" in paid for n in (1, 2, 3)), paid
        # The statement as PDF.
        link = mobile.locator("[data-testid=statement]")
        assert link.is_visible()
        response = mobile.request.get(live_server.url + link.get_attribute("href"))
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/pdf")
        assert response.body().startswith(b"%PDF")
    finally:
        phone.close()
