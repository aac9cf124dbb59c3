"""Video meetings on a Jitsi Meet server (issue 5, "Attendance"): members join through the platform's
link, which records who joined and when (and attendance inside the check-in window); with a JWT secret
the link carries a signed token; without a configured server the option is hidden, not broken."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from dangjian.meetings import video
from dangjian.meetings.models import Attendee, VideoJoin
from tests.meetings.test_checkin import make_meeting

JITSI = "https://meet.example.org"
MIN = dt.timedelta(minutes=1)


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
def now_meeting(tree, member_a):
    now = timezone.now()
    return make_meeting(
        tree.branch_a,
        starts_at=now - 5 * MIN,
        ends_at=now + 60 * MIN,
        members=[member_a.member],
        video_room="dangjian-0123456789abcdef",
    )


@override_settings(JITSI_URL="")
def test_without_a_server_video_is_off(now_meeting, member_a):
    assert video.video_enabled() is False
    assert video.has_video(now_meeting) is False
    assert video.join_url(now_meeting, member_a) == ""


@override_settings(JITSI_URL=JITSI + "/", JITSI_JWT_SECRET="")
def test_join_url_without_secret_is_the_room(now_meeting, member_a):
    assert video.video_enabled() is True
    assert video.join_url(now_meeting, member_a) == f"{JITSI}/dangjian-0123456789abcdef"


@pytest.mark.parametrize(("app_id", "iss"), [("", "dangjian"), ("party-meet", "party-meet")])
def test_join_url_with_secret_carries_a_valid_hs256_jwt(now_meeting, member_a, settings, app_id, iss):
    settings.JITSI_URL = JITSI
    settings.JITSI_JWT_SECRET = "s3cret-shared-with-prosody"
    settings.JITSI_APP_ID = app_id
    at = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
    url = video.join_url(now_meeting, member_a, now=at)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{JITSI}/dangjian-0123456789abcdef"
    token = parse_qs(parts.query)["jwt"][0]
    header_b64, claims_b64, sig_b64 = token.split(".")
    expected = hmac.new(
        b"s3cret-shared-with-prosody", f"{header_b64}.{claims_b64}".encode(), hashlib.sha256
    ).digest()
    assert _b64(sig_b64) == expected
    assert json.loads(_b64(header_b64)) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(_b64(claims_b64))
    assert claims["aud"] == "jitsi"
    assert claims["iss"] == iss
    assert claims["sub"] == "meet.example.org"
    assert claims["room"] == "dangjian-0123456789abcdef"
    assert claims["exp"] == int(at.timestamp()) + 4 * 3600
    assert claims["nbf"] <= int(at.timestamp())
    assert claims["context"]["user"]["name"] == member_a.display_name
    assert claims["context"]["user"]["moderator"] is False


def test_jwt_with_a_wrong_secret_does_not_verify(now_meeting, member_a, settings):
    settings.JITSI_URL = JITSI
    settings.JITSI_JWT_SECRET = "right"
    token = parse_qs(urlsplit(video.join_url(now_meeting, member_a)).query)["jwt"][0]
    head, claims, sig = token.rsplit(".", 2)
    wrong = hmac.new(b"wrong", f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert _b64(sig) != wrong


@override_settings(JITSI_URL="")
@pytest.mark.parametrize("method", ["get", "post"])
def test_video_join_is_404_without_a_server(now_meeting, member_a, web, method):
    resp = getattr(web(member_a), method)(reverse("meetings:video_join", args=[now_meeting.pk]))
    assert resp.status_code == 404
    assert not VideoJoin.objects.exists()


@override_settings(JITSI_URL=JITSI, JITSI_JWT_SECRET="")
def test_get_shows_a_join_button_and_records_nothing(now_meeting, member_a, web):
    resp = web(member_a).get(reverse("meetings:video_join", args=[now_meeting.pk]))
    assert resp.status_code == 200
    assert 'data-testid="video-join"' in resp.content.decode()
    assert not VideoJoin.objects.exists()
    assert Attendee.objects.get(meeting=now_meeting).status == "pending"


@override_settings(JITSI_URL=JITSI, JITSI_JWT_SECRET="")
def test_joining_records_who_and_when_and_attendance(now_meeting, member_a, web):
    before = timezone.now()
    resp = web(member_a).post(reverse("meetings:video_join", args=[now_meeting.pk]))
    assert resp.status_code == 302
    assert resp["Location"] == f"{JITSI}/dangjian-0123456789abcdef"
    join = VideoJoin.objects.get()
    assert (join.meeting, join.member, join.user) == (now_meeting, member_a.member, member_a)
    assert join.joined_at >= before
    attendee = Attendee.objects.get(meeting=now_meeting, member=member_a.member)
    assert (attendee.status, attendee.channel) == ("present", "video")
    # Joining again (a dropped connection) records the join; attendance stays as it was.
    web(member_a).post(reverse("meetings:video_join", args=[now_meeting.pk]))
    assert VideoJoin.objects.count() == 2
    attendee.refresh_from_db()
    assert attendee.checked_in_at <= VideoJoin.objects.order_by("joined_at").last().joined_at


@override_settings(JITSI_URL=JITSI, JITSI_JWT_SECRET="")
def test_joining_outside_the_window_records_the_join_only(tree, member_a, web):
    tomorrow = timezone.now() + dt.timedelta(days=1)
    meeting = make_meeting(tree.branch_a, starts_at=tomorrow, members=[member_a.member], video_room="room-x")
    assert web(member_a).post(reverse("meetings:video_join", args=[meeting.pk])).status_code == 302
    assert VideoJoin.objects.filter(meeting=meeting, member=member_a.member).count() == 1
    assert Attendee.objects.get(meeting=meeting).status == "pending"


@override_settings(JITSI_URL=JITSI, JITSI_JWT_SECRET="k")
def test_the_secretary_joins_as_moderator_without_attendance(now_meeting, secretary_a, web):
    resp = web(secretary_a).post(reverse("meetings:video_join", args=[now_meeting.pk]))
    assert resp.status_code == 302
    token = parse_qs(urlsplit(resp["Location"]).query)["jwt"][0]
    claims = json.loads(_b64(token.split(".")[1]))
    assert claims["context"]["user"]["moderator"] is True
    join = VideoJoin.objects.get()
    assert join.member is None and join.user == secretary_a
    assert not Attendee.objects.filter(status="present").exists()


@override_settings(JITSI_URL=JITSI)
@pytest.mark.parametrize(("persona", "status"), [("secretary_b", 404), ("outsider", 404)])
def test_video_join_of_a_meeting_out_of_scope_is_404(now_meeting, people, web, persona, status):
    assert (
        web(people[persona]).post(reverse("meetings:video_join", args=[now_meeting.pk])).status_code == status
    )
    assert not VideoJoin.objects.exists()


@override_settings(JITSI_URL=JITSI)
def test_meeting_without_a_room_has_no_video(tree, member_a, web):
    meeting = make_meeting(tree.branch_a, starts_at=timezone.now(), members=[member_a.member])
    assert web(member_a).get(reverse("meetings:video_join", args=[meeting.pk])).status_code == 404


@override_settings(JITSI_URL=JITSI)
def test_cancelled_meeting_does_not_join(tree, member_a, web):
    meeting = make_meeting(
        tree.branch_a, starts_at=timezone.now(), members=[member_a.member], video_room="r", status="cancelled"
    )
    resp = web(member_a).post(reverse("meetings:video_join", args=[meeting.pk]))
    assert resp.status_code == 200
    assert not VideoJoin.objects.exists()


def _panel(meeting, user, rf):
    from django.template import Context, Template

    request = rf.get("/")
    request.user = user
    return Template("{% load meeting_checkin %}{% checkin_panel meeting %}").render(
        Context({"meeting": meeting, "request": request})
    )


@pytest.mark.parametrize(("jitsi", "shown"), [("", False), (JITSI, True)])
def test_panel_shows_video_only_when_configured(
    now_meeting, member_a, secretary_a, rf, settings, jitsi, shown
):
    settings.JITSI_URL = jitsi
    for user in (member_a, secretary_a):
        html = _panel(now_meeting, user, rf)
        assert ('data-testid="join-video"' in html) is shown
        assert reverse("meetings:video_join", args=[now_meeting.pk]) in html or not shown


def test_panel_for_the_secretary_links_the_qr_screen_and_the_venue_devices(
    now_meeting, secretary_a, admin_user, rf
):
    from dangjian.meetings import devices

    place = devices.place_create(actor=admin_user, org=now_meeting.org, name="党员活动室")
    devices.device_register(
        actor=admin_user, org=now_meeting.org, place=place, device_id="reader-1", name="门口刷卡机"
    )
    now_meeting.venue = place
    now_meeting.save(update_fields=["venue"])
    html = _panel(now_meeting, secretary_a, rf)
    assert reverse("meetings:checkin_screen", args=[now_meeting.pk]) in html
    assert "门口刷卡机" in html


def test_panel_for_a_member_has_no_qr_screen(now_meeting, member_a, rf):
    html = _panel(now_meeting, member_a, rf)
    assert 'data-testid="checkin-panel"' in html
    assert reverse("meetings:checkin_screen", args=[now_meeting.pk]) not in html


def test_panel_is_empty_for_someone_with_nothing_to_do(now_meeting, auditor, rf, settings):
    settings.JITSI_URL = ""
    assert _panel(now_meeting, auditor, rf).strip() == ""
