"""A branch general meeting in the browser, from the plan to the report draft (issue 5, "tried as a new
user would").

shuji1 opens 组织生活 from the sidebar, plans a 支部党员大会 starting in a few minutes on the create form
and lands on the meeting page with the expected attendees derived from the roster (the branch's full and
probationary members; a vote for full members only — 支部工作条例 第十四条, RULES.md §3). The secretary
puts the check-in QR code on the screen; the code stands for a phone address that the page's own poll of
``api:meeting-checkin`` returns. Two members check in on their phones (390×844): dangyuan1, already
logged in, and 李明, who scans first and logs in on the way. Opening the same address again says they are
already checked in and records nothing twice; a member of another branch with the same code is refused.
The screen's present count rises without a reload.

The meeting begins: instead of waiting for the planned start, the secretary moves the start to this
minute on the edit form (a transcript is taken only once a meeting has started), marks it held and
completes the attendance by hand (one member on leave, one absent). Then the secretary uploads the
shipped sample transcript, sees the party-affairs keywords, and downloads the report draft, which
python-docx reads back: the topic, host and recorder, the attendance figures and names, the agenda, a
keyword.

Set ``DANGJIAN_E2E_SHOTS=<dir>`` to keep a screenshot of every step and the downloaded draft.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.scoping import Role
from dangjian.meetings.models import (
    AttendanceChannel,
    AttendanceStatus,
    Attendee,
    CheckinTokenUse,
    Meeting,
    MeetingKind,
)
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).resolve().parents[2] / "src/dangjian/meetings/data/sample_transcript.srt"
SHOTS = os.environ.get("DANGJIAN_E2E_SHOTS", "")
AGENDA = "一、专题学习党的基层组织建设有关论述\n二、讨论发展党员工作\n三、部署下一阶段三会一课和主题党日"
# Terms the sample transcript is about (tests/meetings/test_keywords.py checks the analysis itself).
PARTY_TERMS = ("三会一课", "主题党日", "组织生活会", "预备党员")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the uploaded transcript


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the header
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _log_in(page: Any, base_url: str | None, user: User) -> None:
    """Log in on the login page (``base_url``: open it first; None: the browser is already on it)."""
    if base_url is not None:
        page.goto(base_url + reverse("web:login"))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert reverse("web:login") not in page.url, page.content()[:500]


def _no_error(page: Any) -> None:
    problems = page.locator(".alert-danger, .invalid-feedback").all_inner_texts()
    assert not problems, problems


def _totals(page: Any) -> dict[str, str]:
    """The meeting page's attendance totals, {label: figure}."""
    boxes = page.locator("[data-testid=totals] .mt-stat")
    return {
        boxes.nth(i).locator(".l").inner_text().strip(): re.sub(
            r"\s", "", boxes.nth(i).locator(".v").inner_text()
        )
        for i in range(boxes.count())
    }


def _member_login(org: Any, username: str, name: str) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, full_name=name)
    RoleAssignment.objects.create(user=user, org=org, role=Role.MEMBER)
    return user


def _docx_text(data: bytes) -> tuple[str, dict[str, str]]:
    """The document's paragraphs as text, and its facts table as {label: value} (pairs of cells)."""
    import docx

    document = docx.Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    facts: dict[str, str] = {}
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            for label, value in zip(cells[::2], cells[1::2], strict=False):
                facts.setdefault(label, value)
    return text, facts


def test_secretary_plans_a_general_meeting_members_check_in_by_qr_and_the_report_draft_reads_well(
    browser, page, live_server, tree, secretary_a, member_a, member_factory
):
    base = live_server.url
    dangyuan1 = Member.objects.get(user=member_a)  # 张党员, full member of 第一党支部
    li_user = _member_login(tree.branch_a, "liming", "李明")
    li = member_factory(tree.branch_a, name="李明", user=li_user)
    wang = member_factory(tree.branch_a, name="王芳")
    chen = member_factory(
        tree.branch_a,
        name="陈静",
        status=MemberStatus.PROBATIONARY,
        join_date=timezone.localdate() - dt.timedelta(days=120),
        full_date=None,
    )
    zhao_user = _member_login(tree.branch_b, "zhaoxc", "赵西城")
    other_branch = member_factory(tree.branch_b, name="赵西城", user=zhao_user)
    expected_names = {dangyuan1.name, li.name, wang.name, chen.name}

    # A meeting starting in a few minutes (check-in opens 30 minutes before: rule meetings).
    start = (timezone.localtime() + dt.timedelta(minutes=6)).replace(second=0, microsecond=0)
    end = start + dt.timedelta(minutes=90)
    quarter = "一二三四"[(start.month - 1) // 3]
    topic = f"{start.year}年第{quarter}季度支部党员大会"

    # (1) 组织生活 from the sidebar, then 计划会议.
    _log_in(page, base, secretary_a)
    with page.expect_navigation():
        page.locator("nav.dj-sidebar a.dj-nav-link", has_text="组织生活").first.click()
    assert page.url.split("?")[0] == base + reverse("meetings:list"), page.url
    page.wait_for_selector("table[data-testid=meetings]")
    _shot(page, "01-meetings-list")
    with page.expect_navigation():
        page.locator("[data-testid=plan-meeting]").click()
    assert page.url.split("?")[0] == base + reverse("meetings:create")
    form = page.locator("form#meeting-form")
    form.wait_for()
    # The secretary's branch is the only organisation holding a general meeting: chosen already.
    assert form.locator("select[name=kind]").input_value() == MeetingKind.GENERAL_MEETING
    assert form.locator("select[name=org]").input_value() == str(tree.branch_a.pk)
    form.locator("input[name=title]").fill(topic)
    form.locator("input[name=date]").fill(start.date().isoformat())
    form.locator("input[name=start_time]").fill(f"{start:%H:%M}")
    if end.date() == start.date():  # never across midnight: the form takes one date
        form.locator("input[name=end_time]").fill(f"{end:%H:%M}")
    form.locator("input[name=place]").fill("社区党群服务中心二楼会议室")
    form.locator("select[name=host]").select_option(label=li.name)
    form.locator("select[name=recorder]").select_option(label=wang.name)
    # No lecturer for a general meeting: those fields are hidden.
    assert not form.locator("select[name=lecturer]").is_visible()
    form.locator("textarea[name=agenda]").fill(AGENDA)
    _shot(page, "02-plan-form")
    with page.expect_navigation():
        form.locator("[data-testid=save]").click()
    _no_error(page)
    meeting = Meeting.objects.get(title=topic)
    assert page.url.split("#")[0] == base + reverse("meetings:detail", args=[meeting.pk]), page.url
    assert (meeting.org_id, meeting.kind) == (tree.branch_a.pk, MeetingKind.GENERAL_MEETING)
    assert timezone.localtime(meeting.starts_at) == start
    assert (meeting.host_id, meeting.recorder_id) == (li.pk, wang.pk)
    planned = page.locator(".alert-success").first.inner_text()
    assert topic in planned and "应到 4 人" in planned, planned

    # The attendees: the branch's full and probationary members, a vote for the full members only.
    rows = page.locator("table[data-testid=attendees] tbody tr[data-attendee]")
    assert rows.count() == len(expected_names)
    shown = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        shown[cells.nth(1).inner_text().strip()] = cells.nth(3).locator("i.bi-check-lg").count() == 1
    assert shown == {dangyuan1.name: True, li.name: True, wang.name: True, chen.name: False}, shown
    assert other_branch.name not in page.locator("table[data-testid=attendees]").inner_text()
    assert _totals(page) == {
        "应到": "4",
        "出席": "0",
        "请假": "0",
        "缺席": "0",
        "未签到": "4",
        "有表决权到会": "0/3",
    }
    assert "签到进行中" in page.locator("[data-testid=checkin-panel]").inner_text()
    _shot(page, "03-meeting-page")

    # (2) The check-in screen, from the meeting page's own button.
    with page.expect_navigation():
        page.locator("[data-testid=show-qr]").click()
    assert page.url == base + reverse("meetings:checkin_screen", args=[meeting.pk])
    screen = page.locator("[data-testid=checkin-screen][data-state=open]")
    screen.wait_for()
    page.wait_for_selector("[data-testid=checkin-qr] svg")
    assert page.locator("[data-testid=present]").inner_text().strip() == "0"
    assert page.locator("[data-testid=expected]").inner_text().strip() == "4"
    assert topic in page.locator(".ck-stage").inner_text()
    _shot(page, "04-checkin-screen")
    # What the screen polls for its code (its data-api, with its own session): the phone address.
    current = page.evaluate(
        """async () => {
            const api = document.querySelector("[data-testid=checkin-screen]").dataset.api;
            const r = await fetch(api, {credentials: "same-origin", headers: {Accept: "application/json"}});
            return {status: r.status, body: await r.json()};
        }"""
    )
    assert current["status"] == 200, current
    assert current["body"]["state"] == "open" and current["body"]["token"], current["body"]
    checkin_url = current["body"]["url"]
    path = reverse("mobile_meetings:checkin", kwargs={"token": current["body"]["token"]})
    assert checkin_url == base + path, (checkin_url, path)
    # The code on the screen is a QR code of such an address (same size: same version of QR code).
    box = re.compile(r'viewBox="([^"]+)"')
    on_screen = page.locator("[data-testid=checkin-qr] svg").first.get_attribute("viewBox")
    assert on_screen == box.search(current["body"]["svg"]).group(1)

    # (3) dangyuan1 on a phone, logged in first, opens the address of the code and confirms.
    phone = browser.new_context(locale="zh-CN", **PHONE)
    phone.set_default_timeout(15_000)
    second = browser.new_context(locale="zh-CN", **PHONE)
    second.set_default_timeout(15_000)
    third = browser.new_context(locale="zh-CN", **PHONE)
    third.set_default_timeout(15_000)
    try:
        mobile = phone.new_page()
        _log_in(mobile, base, member_a)
        mobile.goto(checkin_url)
        confirm = mobile.locator("form[data-testid=checkin-confirm]")
        confirm.wait_for()
        text = confirm.inner_text()
        assert topic in text and dangyuan1.name in text and "支部党员大会" in text, text
        assert not Attendee.objects.filter(meeting=meeting, status=AttendanceStatus.PRESENT).exists(), (
            "opening the address records nothing: only the confirmation does"
        )
        _shot(mobile, "05-phone-confirm")
        with mobile.expect_navigation():
            confirm.locator("[data-testid=confirm]").click()
        done = mobile.locator("[data-testid=checkin-done][data-present='1']")
        done.wait_for()
        assert "签到成功" in done.inner_text() and topic in done.inner_text(), done.inner_text()
        _shot(mobile, "06-phone-checked-in")
        mine = Attendee.objects.get(meeting=meeting, member=dangyuan1)
        assert (mine.status, mine.channel) == (AttendanceStatus.PRESENT, AttendanceChannel.QR)
        first_time = mine.checked_in_at

        # The same address again: already checked in, nothing recorded twice.
        mobile.goto(checkin_url)
        again = mobile.locator("[data-testid=checkin-done]")
        again.wait_for()
        assert "您已签到" in again.inner_text() and "签到成功" not in again.inner_text(), again.inner_text()
        _shot(mobile, "07-phone-replay")
        mine.refresh_from_db()
        assert mine.checked_in_at == first_time
        assert CheckinTokenUse.objects.filter(meeting=meeting, member=dangyuan1).count() == 1

        # 李明 scans the code before logging in: the login page, then the confirmation.
        scan = second.new_page()
        scan.goto(checkin_url)
        scan.wait_for_selector("input[name=username]")
        assert scan.url.startswith(base + reverse("web:login")), scan.url
        _shot(scan, "08-phone-login-after-scan")
        _log_in(scan, None, li_user)
        confirm2 = scan.locator("form[data-testid=checkin-confirm]")
        confirm2.wait_for()
        assert li.name in confirm2.inner_text()
        with scan.expect_navigation():
            confirm2.locator("[data-testid=confirm]").click()
        scan.locator("[data-testid=checkin-done][data-present='1']").wait_for()
        assert "签到成功" in scan.locator("[data-testid=checkin-done]").inner_text()
        _shot(scan, "09-phone-second-member")

        # A member of another branch with the same code: refused, nothing recorded.
        outsider = third.new_page()
        _log_in(outsider, base, zhao_user)
        outsider.goto(checkin_url)
        refused = outsider.locator("[data-testid=checkin-error][data-code=not_expected]")
        refused.wait_for()
        assert "不在" in refused.locator("[role=alert]").inner_text(), refused.inner_text()
        assert not outsider.locator("[data-testid=confirm]").count()
        _shot(outsider, "10-phone-not-expected")
        assert not Attendee.objects.filter(meeting=meeting, member=other_branch).exists()
    finally:
        phone.close()
        second.close()
        third.close()

    # (4) The screen counts them without a reload (it polls every few seconds).
    page.wait_for_function(
        "document.querySelector('[data-testid=present]').textContent.trim() === '2'", timeout=20_000
    )
    checked_in = page.locator("[data-testid=checked-in]").inner_text()
    assert dangyuan1.name in checked_in and li.name in checked_in and wang.name not in checked_in
    _shot(page, "11-checkin-screen-counted")
    page.goto(base + reverse("meetings:detail", args=[meeting.pk]))
    assert _totals(page) == {
        "应到": "4",
        "出席": "2",
        "请假": "0",
        "缺席": "0",
        "未签到": "2",
        "有表决权到会": "2/3",
    }

    # The meeting begins. Rather than wait for the planned start, the secretary moves it to this minute
    # on the edit form (a transcript is taken only once a meeting has started), marks it held and
    # completes the attendance: 王芳 on leave, 陈静 absent.
    with page.expect_navigation():
        page.locator("[data-testid=edit]").click()
    began = timezone.localtime().replace(second=0, microsecond=0)
    edit = page.locator("form#meeting-form")
    edit.locator("input[name=date]").fill(began.date().isoformat())
    edit.locator("input[name=start_time]").fill(f"{began:%H:%M}")
    if edit.locator("input[name=end_time]").input_value() and end.date() != began.date():
        edit.locator("input[name=end_time]").fill("")
    with page.expect_navigation():
        edit.locator("[data-testid=save]").click()
    _no_error(page)
    assert "会议已保存" in page.locator(".alert-success").first.inner_text()
    with page.expect_navigation():
        page.locator("[data-testid=mark-held]").click()
    _no_error(page)
    assert page.locator("[data-testid=status]").inner_text().strip() == "已召开"
    page.locator(f"select[name=status_{wang.pk}]").select_option(AttendanceStatus.LEAVE)
    page.locator(f"select[name=status_{chen.pk}]").select_option(AttendanceStatus.ABSENT)
    with page.expect_navigation():
        page.locator("[data-testid=save-attendance]").click()
    _no_error(page)
    assert "更新 2 人" in page.locator(".alert-success").first.inner_text()
    assert _totals(page) == {
        "应到": "4",
        "出席": "2",
        "请假": "1",
        "缺席": "1",
        "未签到": "0",
        "有表决权到会": "2/3",
    }
    _shot(page, "12-meeting-held")

    # (5) The transcript: upload the shipped sample from the meeting page's transcript box.
    with page.expect_navigation():
        page.locator("[data-testid=panel-open]").click()
    assert page.url == base + reverse("meetings:transcript", args=[meeting.pk])
    page.locator("[data-testid=upload-form] input[type=file]").set_input_files(str(SAMPLE))
    with page.expect_navigation():
        page.locator("[data-testid=upload]").click()
    _no_error(page)
    page.wait_for_selector("[data-testid=keywords]")
    assert SAMPLE.name in page.locator(".alert-success").first.inner_text()
    keywords = [w.strip() for w in page.locator("[data-testid=tfidf] li .fw-semibold").all_inner_texts()]
    found = [t for t in PARTY_TERMS if t in keywords]
    assert found, keywords
    assert page.locator("[data-testid=summary] li").count() >= 1
    assert page.locator("[data-testid=word-cloud] span[data-count]").count() >= 5
    assert "王建国" in page.locator("[data-testid=segments]").inner_text()
    _shot(page, "13-transcript-keywords")

    # (6) The report draft, downloaded from the page's button.
    with page.expect_download() as info:
        page.locator("[data-testid=report-draft]").click()
    download = info.value
    assert download.suggested_filename.endswith(".docx"), download.suggested_filename
    assert "第一党支部" in download.suggested_filename
    if SHOTS:
        download.save_as(Path(SHOTS) / download.suggested_filename)
    text, facts = _docx_text(Path(download.path()).read_bytes())
    assert topic in text and facts.get("主题") == topic, (facts, text[:300])
    figures = ("应到人数", "实到人数", "请假人数", "缺席人数")
    assert [facts.get(k) for k in figures] == ["4", "2", "1", "1"], facts
    assert (facts.get("请假人员"), facts.get("缺席人员")) == (wang.name, chen.name), facts
    assert facts.get("主持人") == li.name and facts.get("记录人") == wang.name, facts
    keyword_line = next((line for line in text.splitlines() if line.startswith("关键词：")), "")
    assert any(term in keyword_line for term in found), (keyword_line, found)
    assert "专题学习党的基层组织建设有关论述" in text  # the agenda
