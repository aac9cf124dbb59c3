"""QR check-in (issue 5, "Attendance"): a code that changes every 30 seconds, signed and expiring;
replays and expired codes are refused. The figures come from rule ``meetings`` (local practice of the
platform: checkin_token_seconds 30, grace 1 window, open 30 minutes before, close 30 minutes after).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.scoping import Role
from dangjian.meetings import checkin
from dangjian.meetings.models import AttendanceStatus, Attendee, CheckinTokenUse, Meeting
from tests.conftest import make_member

T0 = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)  # a window boundary: 14:00:00 UTC
S = dt.timedelta(seconds=1)
MIN = dt.timedelta(minutes=1)


def make_meeting(
    org, *, starts_at, ends_at=None, members=(), status="planned", title="支部党员大会", **extra
):
    meeting = Meeting.objects.create(
        org=org,
        kind="general_meeting",
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        date=timezone.localdate(starts_at),
        status=status,
        cancel_reason="因故取消" if status == "cancelled" else "",
        **extra,
    )
    for m in members:
        Attendee.objects.create(meeting=meeting, member=m, expected=True, can_vote=True)
    return meeting


def member_with_login(org, username):
    user = User.objects.create_user(username=username, password="x", full_name=username)
    RoleAssignment.objects.create(user=user, org=org, role=Role.MEMBER)
    return make_member(org, user=user), user


@pytest.fixture
def branch_meeting(tree, member_a):
    """A meeting of branch_a from 14:00 to 16:00 with member_a expected."""
    return make_meeting(tree.branch_a, starts_at=T0, ends_at=T0 + 120 * MIN, members=[member_a.member])


def code(exc_info) -> str | None:
    return checkin.refusal_code(exc_info.value)


def test_token_is_compact_and_url_safe(branch_meeting):
    token = checkin.token_for(branch_meeting, T0)
    assert re.fullmatch(r"[0-9A-Za-z_.-]+", token)
    assert len(token) <= 60
    assert checkin.token_decode(token).meeting_id == branch_meeting.pk
    # A fresh nonce each time: two screens never show the same code.
    assert checkin.token_for(branch_meeting, T0) != token


# (why, seconds after T0 when the code was made, seconds after T0 when it is checked, refusal or None)
EXPIRY = [
    ("checked at once", 0, 1, None),
    ("same window, last second", 0, 29, None),
    ("one window later: the grace window", 0, 30, None),
    ("end of the grace window", 0, 59, None),
    ("two windows later: expired", 0, 60, "expired"),
    ("made late in its window, scanned just after the change", 29, 31, None),
    ("made late in its window, two changes later", 29, 60, "expired"),
    ("an hour old", 0, 3600, "expired"),
    ("from the future (forged clock) two windows ahead", 60, 0, "expired"),
    ("one window ahead: tolerated clock skew between servers", 30, 0, None),
]


@pytest.mark.parametrize(("why", "made", "checked", "refused"), EXPIRY, ids=[row[0] for row in EXPIRY])
def test_token_expiry_and_grace_window(branch_meeting, member_a, why, made, checked, refused):
    token = checkin.token_for(branch_meeting, T0 + made * S)
    if refused is None:
        assert checkin.token_check(token, member_a.member, T0 + checked * S) == branch_meeting
    else:
        with pytest.raises(checkin.ValidationError) as exc:
            checkin.token_check(token, member_a.member, T0 + checked * S)
        assert code(exc) == refused
        assert "30" in exc.value.messages[0]  # the message says how often the code changes


def _tamper(token: str, how: str, other_id: int) -> str:
    mid, window, nonce, sig = token.split(".")
    if how == "signature":
        return ".".join([mid, window, nonce, ("A" if sig[0] != "A" else "B") + sig[1:]])
    if how == "meeting id":
        return ".".join([checkin._b36(other_id), window, nonce, sig])
    if how == "window":
        return ".".join([mid, checkin._b36(int(window, 36) + 1), nonce, sig])
    if how == "nonce":
        return ".".join([mid, window, nonce[::-1] + "x", sig])
    if how == "truncated":
        return token[:-3]
    if how == "extra part":
        return token + ".x"
    if how == "signed with another key":
        body = ".".join([mid, window, nonce])
        import base64

        from django.utils.crypto import salted_hmac

        forged = salted_hmac("another.salt", body, algorithm="sha256").digest()[:12]
        return body + "." + base64.urlsafe_b64encode(forged).decode().rstrip("=")
    raise AssertionError(how)


TAMPERING = [
    "signature",
    "meeting id",
    "window",
    "nonce",
    "truncated",
    "extra part",
    "signed with another key",
]


@pytest.mark.parametrize("how", TAMPERING)
def test_tampered_token_is_refused(branch_meeting, member_a, tree, how):
    other = make_meeting(tree.branch_a, starts_at=T0, members=[member_a.member], title="另一个会")
    token = _tamper(checkin.token_for(branch_meeting, T0), how, other.pk)
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.token_check(token, member_a.member, T0)
    assert code(exc) == "bad_signature"
    assert "无效" in exc.value.messages[0] or "not valid" in exc.value.messages[0]


@pytest.mark.parametrize("garbage", ["", "abc", "....", "a.b.c.d", "x" * 500, "1.2.3.4.5"])
def test_garbage_is_a_bad_signature(branch_meeting, member_a, garbage):
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.token_check(garbage, member_a.member, T0)
    assert code(exc) == "bad_signature"


def test_code_of_another_meeting_is_refused(branch_meeting, member_a, tree):
    other = make_meeting(tree.branch_a, starts_at=T0, members=[member_a.member], title="另一个会")
    token = checkin.token_for(other, T0)
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.token_check(token, member_a.member, T0, meeting=branch_meeting)
    assert code(exc) == "wrong_meeting"


# (why, start offset, planned length in minutes or None, check time offset, refusal or None).
# Open 30 minutes before the start; close 30 minutes after the end, or 3 hours after a start without end.
WINDOW = [
    ("31 minutes before the start", 0, 120, -31 * 60, "not_open"),
    ("30 minutes before the start: open", 0, 120, -30 * 60, None),
    ("during the meeting", 0, 120, 60 * 60, None),
    ("29 minutes after the end", 0, 120, (120 + 29) * 60, None),
    ("31 minutes after the end", 0, 120, (120 + 31) * 60, "closed"),
    ("no end: 2h59 after the start", 0, None, (2 * 60 + 59) * 60, None),
    ("no end: 3h01 after the start", 0, None, (3 * 60 + 1) * 60, "closed"),
]


@pytest.mark.parametrize(("why", "start", "length", "at", "refused"), WINDOW, ids=[r[0] for r in WINDOW])
def test_checkin_window(tree, member_a, why, start, length, at, refused):
    starts = T0 + start * S
    meeting = make_meeting(
        tree.branch_a,
        starts_at=starts,
        ends_at=starts + length * MIN if length else None,
        members=[member_a.member],
    )
    now = T0 + at * S
    token = checkin.token_for(meeting, now)
    if refused is None:
        assert checkin.token_check(token, member_a.member, now) == meeting
    else:
        with pytest.raises(checkin.ValidationError) as exc:
            checkin.token_check(token, member_a.member, now)
        assert code(exc) == refused
        assert re.search(r"\d{2}:\d{2}", exc.value.messages[0])  # says when


def test_cancelled_meeting_refuses(tree, member_a):
    meeting = make_meeting(tree.branch_a, starts_at=T0, members=[member_a.member], status="cancelled")
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.token_check(checkin.token_for(meeting, T0), member_a.member, T0)
    assert code(exc) == "cancelled"


def test_checkin_by_token_records_qr_attendance(branch_meeting, member_a):
    token = checkin.token_for(branch_meeting, T0)
    attendee = checkin.checkin_by_token(user=member_a, token=token, now=T0 + 5 * S)
    assert attendee.checkin_created is True
    row = Attendee.objects.get(meeting=branch_meeting, member=member_a.member)
    assert (row.status, row.channel, row.checked_in_at) == ("present", "qr", T0 + 5 * S)
    assert CheckinTokenUse.objects.filter(meeting=branch_meeting, member=member_a.member).count() == 1


def test_same_code_again_while_present_is_a_friendly_answer(branch_meeting, member_a):
    token = checkin.token_for(branch_meeting, T0)
    checkin.checkin_by_token(user=member_a, token=token, now=T0)
    again = checkin.checkin_by_token(user=member_a, token=token, now=T0 + 2 * S)
    assert again.checkin_created is False
    assert again.checked_in_at == T0
    # Even an expired code: the member is told they are in, not that the code expired.
    late = checkin.checkin_by_token(user=member_a, token=token, now=T0 + 10 * MIN)
    assert late.checkin_created is False


def test_replay_of_a_used_code_is_refused(branch_meeting, member_a):
    """The secretary corrects a member who left to absent; the old code (still in its grace window)
    cannot check them back in."""
    token = checkin.token_for(branch_meeting, T0)
    checkin.checkin_by_token(user=member_a, token=token, now=T0)
    Attendee.objects.filter(meeting=branch_meeting, member=member_a.member).update(
        status=AttendanceStatus.ABSENT, checked_in_at=None
    )
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.checkin_by_token(user=member_a, token=token, now=T0 + 20 * S)
    assert code(exc) == "replay"
    assert "已使用" in exc.value.messages[0] or "already been used" in exc.value.messages[0]
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.token_check(token, member_a.member, T0 + 20 * S)
    assert code(exc) == "replay"
    # A new code works.
    fresh = checkin.checkin_by_token(
        user=member_a, token=checkin.token_for(branch_meeting, T0 + 30 * S), now=T0 + 31 * S
    )
    assert fresh.checkin_created is True


def test_one_code_serves_every_member_in_the_room(branch_meeting, tree):
    people = [member_with_login(tree.branch_a, f"room{i}") for i in range(3)]
    for member, _user in people:
        Attendee.objects.create(meeting=branch_meeting, member=member, expected=True)
    token = checkin.token_for(branch_meeting, T0)
    for _member, user in people:
        assert checkin.checkin_by_token(user=user, token=token, now=T0 + S).checkin_created
    assert Attendee.objects.filter(meeting=branch_meeting, status="present").count() == 3


def test_member_not_expected_is_refused(branch_meeting, tree):
    member, user = member_with_login(tree.branch_a, "notinvited")
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.checkin_by_token(user=user, token=checkin.token_for(branch_meeting, T0), now=T0)
    assert code(exc) == "not_expected"
    assert not Attendee.objects.filter(meeting=branch_meeting, member=member).exists()
    assert not CheckinTokenUse.objects.filter(member=member).exists()  # rolled back with the refusal


def test_member_of_another_branch_is_refused(branch_meeting, tree):
    _member, user = member_with_login(tree.branch_b, "xicheng")
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.checkin_by_token(user=user, token=checkin.token_for(branch_meeting, T0), now=T0)
    assert code(exc) == "not_expected"


def test_login_without_member_record_is_refused(branch_meeting, secretary_a):
    with pytest.raises(checkin.ValidationError) as exc:
        checkin.checkin_by_token(user=secretary_a, token=checkin.token_for(branch_meeting, T0), now=T0)
    assert code(exc) == "no_member"


def test_refusals_before_open_and_after_close_record_nothing(tree, member_a):
    meeting = make_meeting(tree.branch_a, starts_at=T0, ends_at=T0 + 60 * MIN, members=[member_a.member])
    for now in (T0 - 31 * MIN, T0 + 91 * MIN):
        with pytest.raises(checkin.ValidationError):
            checkin.checkin_by_token(user=member_a, token=checkin.token_for(meeting, now), now=now)
    assert Attendee.objects.get(meeting=meeting, member=member_a.member).status == "pending"
    assert not CheckinTokenUse.objects.exists()


# --- the scan proof: a code scanned before a login (or a slow confirm) is judged at the scan ----------


def test_scan_proof_carries_a_scanned_code_through_login(branch_meeting, member_a):
    token = checkin.token_for(branch_meeting, T0)
    proof = checkin.scan_proof(token, T0 + 10 * S)
    later = T0 + 100 * S  # the code alone has expired by now
    with pytest.raises(checkin.ValidationError):
        checkin.token_check(token, member_a.member, later)
    scanned = checkin.scan_time(proof, token, later)
    assert scanned == T0 + 10 * S
    attendee = checkin.checkin_by_token(user=member_a, token=token, now=later, scanned_at=scanned)
    assert attendee.checkin_created and attendee.checked_in_at == later


@pytest.mark.parametrize(
    ("why", "proof_at", "now", "same_token", "valid"),
    [
        ("recent", 0, 119, True, True),
        ("too old", 0, 121, True, False),
        ("for another code", 0, 10, False, False),
        ("from the future", 60, 0, True, False),
    ],
)
def test_scan_proof_limits(branch_meeting, why, proof_at, now, same_token, valid):
    token = checkin.token_for(branch_meeting, T0)
    other = checkin.token_for(branch_meeting, T0)
    proof = checkin.scan_proof(token if same_token else other, T0 + proof_at * S)
    assert (checkin.scan_time(proof, token, T0 + now * S) is not None) is valid


def test_forged_scan_proof_is_ignored(branch_meeting):
    token = checkin.token_for(branch_meeting, T0)
    proof = checkin.scan_proof(token, T0)
    assert checkin.scan_time(proof[:-2] + "xx", token, T0) is None
    assert checkin.scan_time("garbage", token, T0) is None


# --- the API ---------------------------------------------------------------------------------------


@pytest.fixture
def live_meeting(tree, member_a):
    """A meeting going on now (the API and pages use the real clock)."""
    now = timezone.now()
    return make_meeting(
        tree.branch_a, starts_at=now - 10 * MIN, ends_at=now + 60 * MIN, members=[member_a.member]
    )


def test_api_gives_the_secretary_the_current_code(live_meeting, secretary_a, api):
    resp = api(secretary_a).get(f"/api/v1/meetings/{live_meeting.pk}/checkin/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["state"] == "open"
    assert checkin.token_decode(body["token"]).meeting_id == live_meeting.pk
    assert body["url"].endswith(f"/m/meetings/checkin/{body['token']}/")
    assert body["url"].startswith("http")
    assert body["svg"].startswith("<svg") and "viewBox" in body["svg"]
    assert 1 <= body["expires_in"] <= 30
    assert (body["expected"], body["present"]) == (1, 0)
    assert resp["Cache-Control"] == "no-store"


def test_api_gives_no_code_outside_the_window(tree, secretary_a, api):
    later = timezone.now() + dt.timedelta(days=2)
    meeting = make_meeting(tree.branch_a, starts_at=later)
    body = api(secretary_a).get(f"/api/v1/meetings/{meeting.pk}/checkin/").json()
    assert body["state"] == "not_open" and body["token"] is None and body["svg"] is None


@pytest.mark.parametrize(("persona", "status"), [("member_a", 403), ("auditor", 403), ("secretary_b", 404)])
def test_api_code_is_only_for_those_who_run_the_meeting(live_meeting, people, api, persona, status):
    assert api(people[persona]).get(f"/api/v1/meetings/{live_meeting.pk}/checkin/").status_code == status


def test_api_member_checks_in_once(live_meeting, member_a, api):
    client = api(member_a)
    token = checkin.token_for(live_meeting)
    first = client.post(f"/api/v1/meetings/{live_meeting.pk}/checkin/", {"token": token}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["created"] is True and first.json()["status"] == "present"
    second = client.post(f"/api/v1/meetings/{live_meeting.pk}/checkin/", {"token": token}, format="json")
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert "已" in second.json()["message"] or "already" in second.json()["message"]


@pytest.mark.parametrize("case", ["wrong meeting", "tampered", "expired", "missing"])
def test_api_refusals_are_400_with_the_field(live_meeting, member_a, tree, api, case):
    other = make_meeting(
        tree.branch_a, starts_at=live_meeting.starts_at, members=[member_a.member], title="另一个会"
    )
    token = {
        "wrong meeting": checkin.token_for(other),
        "tampered": checkin.token_for(live_meeting)[:-1] + "A",
        "expired": checkin.token_for(live_meeting, timezone.now() - 5 * MIN),
        "missing": None,
    }[case]
    resp = api(member_a).post(
        f"/api/v1/meetings/{live_meeting.pk}/checkin/",
        {} if token is None else {"token": token},
        format="json",
    )
    assert resp.status_code == 400
    assert "token" in resp.json()["error"]["fields"]
    expected_code = {"wrong meeting": "wrong_meeting", "tampered": "bad_signature", "expired": "expired"}.get(
        case
    )
    if expected_code:
        assert resp.json()["error"]["code"] == expected_code
    assert Attendee.objects.get(meeting=live_meeting, member=member_a.member).status == "pending"


# --- the pages -------------------------------------------------------------------------------------


def test_screen_page_shows_a_qr_code_and_the_counts(live_meeting, secretary_a, web):
    resp = web(secretary_a).get(reverse("meetings:checkin_screen", args=[live_meeting.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "<svg" in html and 'data-testid="checkin-qr"' in html
    assert reverse("api:meeting-checkin", kwargs={"pk": live_meeting.pk}) in html
    assert 'data-testid="present">0<' in html and 'data-testid="expected">1<' in html


@pytest.mark.parametrize(("persona", "status"), [("member_a", 403), ("secretary_b", 404), ("auditor", 403)])
def test_screen_page_is_for_those_who_run_the_meeting(live_meeting, people, web, persona, status):
    assert (
        web(people[persona]).get(reverse("meetings:checkin_screen", args=[live_meeting.pk])).status_code
        == status
    )


def test_phone_get_shows_a_confirm_button_and_records_nothing(live_meeting, member_a, web):
    token = checkin.token_for(live_meeting)
    resp = web(member_a).get(reverse("mobile_meetings:checkin", args=[token]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-testid="checkin-confirm"' in html and 'method="post"' in html
    assert live_meeting.title in html
    assert Attendee.objects.get(meeting=live_meeting, member=member_a.member).status == "pending"


def test_phone_post_checks_in_and_shows_success(live_meeting, member_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_a)
    url = reverse("mobile_meetings:checkin", args=[checkin.token_for(live_meeting)])
    page = client.get(url)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    proof = re.search(r'name="s" value="([^"]+)"', page.content.decode()).group(1)
    assert client.post(url, {"s": proof}).status_code == 403  # no CSRF token: refused
    resp = client.post(url, {"csrfmiddlewaretoken": csrf, "s": proof})
    assert resp.status_code == 302
    assert resp["Location"] == reverse("mobile_meetings:checkin_done", args=[live_meeting.pk]) + "?new=1"
    assert Attendee.objects.get(meeting=live_meeting, member=member_a.member).status == "present"
    done = client.get(resp["Location"])
    assert done.status_code == 200
    assert 'data-present="1"' in done.content.decode()
    # Scanning again later goes straight to "already checked in".
    again = client.get(reverse("mobile_meetings:checkin", args=[checkin.token_for(live_meeting)]))
    assert again.status_code == 302 and "checkin/done" in again["Location"]


def test_phone_not_logged_in_goes_to_login_and_back(live_meeting, client):
    token = checkin.token_for(live_meeting)
    url = reverse("mobile_meetings:checkin", args=[token])
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp["Location"].startswith(reverse("web:login"))
    from urllib.parse import parse_qs, urlsplit

    back = parse_qs(urlsplit(resp["Location"]).query)["next"][0]
    assert back.startswith(url + "?s=")
    proof = parse_qs(urlsplit(back).query)["s"][0]
    assert checkin.scan_time(proof, token) is not None
    assert not Attendee.objects.filter(status="present").exists()


@pytest.mark.parametrize(
    ("case", "error_code"),
    [
        ("expired", "expired"),
        ("tampered", "bad_signature"),
        ("not expected", "not_expected"),
        ("no member", "no_member"),
    ],
)
def test_phone_errors_are_explained(live_meeting, member_a, secretary_a, tree, web, case, error_code):
    user = member_a
    token = checkin.token_for(live_meeting)
    if case == "expired":
        token = checkin.token_for(live_meeting, timezone.now() - 5 * MIN)
    elif case == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif case == "not expected":
        _member, user = member_with_login(tree.branch_a, "zhaoren")
    elif case == "no member":
        user = secretary_a
    resp = web(user).get(reverse("mobile_meetings:checkin", args=[token]))
    assert resp.status_code == 400
    html = resp.content.decode()
    assert f'data-code="{error_code}"' in html
    assert 'data-testid="checkin-confirm"' not in html


def test_checkin_state_lists_who_checked_in(branch_meeting, member_a):
    checkin.checkin_by_token(user=member_a, token=checkin.token_for(branch_meeting, T0), now=T0)
    state = checkin.checkin_state(branch_meeting, T0)
    assert state["state"] == "open"
    assert (state["expected"], state["present"]) == (1, 1)
    assert state["checked_in"][0]["name"] == "张党员"
    assert state["checked_in"][0]["channel"] == "qr"
    assert state["rule_ref"].startswith("meetings@")
