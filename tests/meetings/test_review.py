"""Adversarial review of organization life (issue 5): scope holes, rules, check-in, validation, numbers
that must agree, queries per list. Every bug fixed in the review has its regression test here.

The scope matrix: for every desktop, phone and API URL of the module that names an object, the
secretary of branch B asking for branch A's object gets 404 (forbidden and missing look alike), and a
member (role member) gets no secretary page (403, 404, or a redirect to their own phone pages).
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.meetings import appraisal, devices, services, transcripts, votes
from dangjian.meetings.models import AttendanceStatus, Attendee, Meeting, MeetingKind
from dangjian.members.choices import MemberStatus

TZ = timezone.get_current_timezone()
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def at(days: int, hour: int = 14) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)), TZ)


def plan(actor, org, *, kind=MeetingKind.GENERAL_MEETING, days=3, title="支部党员大会", **kw):
    kw.setdefault("ends_at", at(days, 16))
    return services.meeting_create(actor=actor, org=org, kind=kind, title=title, starts_at=at(days), **kw)


class World:
    """Objects of branch A (and a few of branch B) of every kind the module's URLs name."""


def _build(tree, secretary, org, member_factory, prefix: str, with_user=None) -> World:
    from django.core.files.uploadedfile import SimpleUploadedFile

    w = World()
    w.members = [member_factory(org, name=f"{prefix}{n}") for n in ("甲", "乙", "丙")]
    if with_user is not None:
        w.members.append(with_user)
    w.probationary = member_factory(
        org, name=f"{prefix}预备", status=MemberStatus.PROBATIONARY, full_date=None
    )
    # a held general meeting yesterday, three present
    w.held = plan(secretary, org, days=-1, title=f"{prefix}党员大会")
    services.attendance_mark(
        actor=secretary,
        meeting=w.held,
        marks={m.pk: AttendanceStatus.PRESENT for m in w.members[:3]},
    )
    w.held.refresh_from_db()
    w.upcoming = plan(secretary, org, days=2, title=f"{prefix}下次大会")
    w.attendee = Attendee.objects.get(meeting=w.upcoming, member=w.members[0])
    services.leave_request(actor=secretary, meeting=w.upcoming, member=w.members[1], reason="出差")
    w.leave_attendee = Attendee.objects.get(meeting=w.upcoming, member=w.members[1])
    w.attachment = services.attachment_add(
        actor=secretary,
        meeting=w.held,
        upload=SimpleUploadedFile("photo.png", PNG, content_type="image/png"),
        kind="photo",
    )
    w.vote = votes.meeting_vote_record(
        actor=secretary, meeting=w.held, kind="decision", title="决议", yes=3, no=0, abstain=0
    )
    w.life = plan(secretary, org, kind=MeetingKind.LIFE_MEETING, days=-2, title=f"{prefix}组织生活会")
    w.note = appraisal.life_note_add(
        actor=secretary, meeting=w.life, member=w.members[0], kind="self_criticism", text="自我批评"
    )
    w.talk = appraisal.talk_record(
        actor=secretary,
        org=org,
        initiator=w.members[0],
        partner=w.members[1],
        date=timezone.localdate() - dt.timedelta(days=1),
        topic="谈心",
    )
    appraisal.appraisal_open(actor=secretary, org=org, year=timezone.localdate().year)
    from dangjian.meetings.models import Appraisal

    w.appraisal = Appraisal.objects.filter(org=org).order_by("id").first()
    w.transcript = transcripts.transcript_from_text(
        actor=secretary, meeting=w.held, text="主持人：同志们好。\n张三：坚持三会一课制度。"
    )
    w.place = devices.place_create(actor=secretary, org=org, name=f"{prefix}活动室")
    w.device, w.secret = devices.device_register(
        actor=secretary, org=org, place=w.place, device_id=f"dev-{ord(prefix[0])}", name="读卡器"
    )
    w.card = devices.card_register(actor=secretary, member=w.members[0], card_number=f"1234{ord(prefix[0])}")
    w.org = org
    return w


@pytest.fixture
def world_a(tree, secretary_a, member_factory, member_a):
    from dangjian.members.models import Member

    me = Member.objects.get(user=member_a)
    return _build(tree, secretary_a, tree.branch_a, member_factory, "东", with_user=me)


@pytest.fixture
def world_b(tree, secretary_b, member_factory):
    # secretary_b is also a member of branch B (a secretary usually is): the phone pages answer them
    me = member_factory(tree.branch_b, name="西书记", user=secretary_b)
    return _build(tree, secretary_b, tree.branch_b, member_factory, "西", with_user=me)


def _object_urls(w: World) -> list[tuple[str, str]]:
    """(name, url) of every object URL of the module, pointing at ``w``'s objects."""
    m, life = w.held.pk, w.life.pk
    r = reverse
    urls = [
        ("meetings:life", r("meetings:life", args=[life])),
        ("meetings:life_export", r("meetings:life_export", args=[life])),
        ("meetings:talk_edit", r("meetings:talk_edit", args=[w.talk.pk])),
        ("meetings:detail", r("meetings:detail", args=[m])),
        ("meetings:edit", r("meetings:edit", args=[w.upcoming.pk])),
        ("meetings:cancel", r("meetings:cancel", args=[w.upcoming.pk])),
        ("meetings:held", r("meetings:held", args=[m])),
        ("meetings:attendance", r("meetings:attendance", args=[m])),
        ("meetings:attendance_export", r("meetings:attendance_export", args=[m])),
        ("meetings:attendee_add", r("meetings:attendee_add", args=[m])),
        ("meetings:member_options", r("meetings:member_options", args=[m])),
        ("meetings:attendee_remove", r("meetings:attendee_remove", args=[w.attendee.pk])),
        ("meetings:leave_decide", r("meetings:leave_decide", args=[w.leave_attendee.pk])),
        ("meetings:minutes", r("meetings:minutes", args=[m])),
        ("meetings:attachment_upload", r("meetings:attachment_upload", args=[m])),
        ("meetings:attachment", r("meetings:attachment", args=[w.attachment.pk])),
        ("meetings:attachment_delete", r("meetings:attachment_delete", args=[w.attachment.pk])),
        ("meetings:settings", r("meetings:settings", args=[w.org.pk])),
        ("meetings:checkin_screen", r("meetings:checkin_screen", args=[m])),
        ("meetings:video_join", r("meetings:video_join", args=[m])),
        ("meetings:vote_new", r("meetings:vote_new", args=[m])),
        ("meetings:transcript", r("meetings:transcript", args=[m])),
        ("meetings:transcript_status", r("meetings:transcript_status", args=[m])),
        ("meetings:transcript_retry", r("meetings:transcript_retry", args=[w.transcript.pk])),
        ("meetings:transcript_delete", r("meetings:transcript_delete", args=[w.transcript.pk])),
        ("meetings:transcript_file", r("meetings:transcript_file", args=[w.transcript.pk])),
        ("meetings:report_draft", r("meetings:report_draft", args=[m])),
        ("mobile_meetings:detail", r("mobile_meetings:detail", args=[w.upcoming.pk])),
        ("mobile_meetings:leave", r("mobile_meetings:leave", args=[w.upcoming.pk])),
        ("mobile_meetings:checkin_done", r("mobile_meetings:checkin_done", args=[m])),
        ("api:appraisal-detail", r("api:appraisal-detail", args=[w.appraisal.pk])),
        ("api:appraisal-rate", r("api:appraisal-rate", args=[w.appraisal.pk])),
        ("api:life-note-list", r("api:life-note-list", args=[life])),
        ("api:meeting-votes", r("api:meeting-votes", args=[m])),
        ("api:meeting-detail", r("api:meeting-detail", args=[m])),
        ("api:meeting-cancel", r("api:meeting-cancel", args=[w.upcoming.pk])),
        ("api:meeting-attendance", r("api:meeting-attendance", args=[m])),
        ("api:meeting-leave", r("api:meeting-leave", args=[w.upcoming.pk])),
        ("api:meeting-leave-decide", r("api:meeting-leave-decide", args=[w.upcoming.pk])),
        ("api:meeting-checkin", r("api:meeting-checkin", args=[m])),
        ("api:meeting-transcript", r("api:meeting-transcript", args=[m])),
        ("api:meeting-keywords", r("api:meeting-keywords", args=[m])),
    ]
    return urls


def _bodies(w_target: World) -> list[dict]:
    """POST bodies that name the target's objects (a form and an API would both accept these keys)."""
    member = w_target.members[0].pk
    return [
        {},
        {
            "reason": "x",
            "member": member,
            f"status_{member}": "present",
            "decision": "approve",
            "html": "<p>篡改</p>",
            "kind": "decision",
            "title": "t",
            "yes": 1,
            "no": 0,
            "abstain": 0,
            "text": "文本",
            "theme_day": 5,
            "rating": "excellent",
            "action": "note",
        },
    ]


def _request(client, method: str, url: str, data: dict, api: bool):
    if method == "get":
        return client.get(url)
    if api:
        return client.post(url, data=json.dumps(data), content_type="application/json")
    return client.post(url, data=data)


def test_scope_matrix_secretary_b_gets_404_for_branch_a_objects(world_a, world_b, secretary_b, web, api):
    """Every object URL of the module, GET and POST, as the secretary of another branch: 404."""
    from dangjian.meetings.models import Meeting

    before = {
        "minutes": Meeting.objects.get(pk=world_a.held.pk).minutes,
        "status": list(Attendee.objects.filter(meeting=world_a.held).values_list("status", flat=True)),
    }
    page = web(secretary_b)
    client = api(secretary_b)
    wrong: list[str] = []
    for name, url in _object_urls(world_a):
        is_api = name.startswith("api:")
        c = client if is_api else page
        for method in ("get", "post"):
            for data in _bodies(world_a) if method == "post" else [{}]:
                resp = _request(c, method, url, data, is_api)
                # 405: the URL has no such method (nothing done, nothing revealed)
                if resp.status_code not in (404, 405):
                    wrong.append(f"{method.upper()} {name} {url} → {resp.status_code}")
    assert not wrong, "\n".join(wrong)
    assert Meeting.objects.get(pk=world_a.held.pk).minutes == before["minutes"]
    assert (
        list(Attendee.objects.filter(meeting=world_a.held).values_list("status", flat=True))
        == before["status"]
    )


def test_scope_matrix_own_objects_answer(world_a, secretary_a, web, api):
    """The same URLs answer their own secretary (so the 404s above are about scope, not broken URLs)."""
    page = web(secretary_a)
    client = api(secretary_a)
    missing = []
    for name, url in _object_urls(world_a):
        is_api = name.startswith("api:")
        resp = (client if is_api else page).get(url)
        if resp.status_code == 404:
            missing.append(f"GET {name} {url} → 404")
    # Pages whose GET is not theirs to answer 404 by design: video without a server, a member's own
    # phone pages and check-in result (the secretary is not a member), the appraisal rating (POST only).
    allowed = {
        "meetings:video_join",
        "mobile_meetings:detail",
        "mobile_meetings:leave",
        "mobile_meetings:checkin_done",
    }
    assert [m for m in missing if m.split()[1] not in allowed] == []


@pytest.mark.parametrize("persona", ["member_a", "resident", "outsider"])
def test_scope_matrix_member_gets_no_secretary_page(persona, request, world_a, web, api):
    """A member (role member, expected at branch A's meetings), a resident and a login without a role
    reach no secretary action; the member keeps their own phone pages and their own rows."""
    user = request.getfixturevalue(persona)
    page = web(user)
    client = api(user)
    member_pages_ok = {
        # their own phone pages and check-in result
        "mobile_meetings:detail",
        "mobile_meetings:leave",
        "mobile_meetings:checkin_done",
        # reads a member may make of a meeting they are expected at (API): their own attendance row
        "api:meeting-detail",
        "api:meeting-attendance",
        "api:meeting-leave",
        "api:appraisal-detail",
        "api:appraisal-rate",
        "api:meeting-votes",
        "api:meeting-keywords",
        "api:meeting-transcript",
        # their own QR check-in (400 here: no token sent)
        "api:meeting-checkin",
    }
    wrong = []
    for name, url in _object_urls(world_a):
        if name in member_pages_ok:
            continue
        is_api = name.startswith("api:")
        c = client if is_api else page
        for method in ("get", "post"):
            resp = _request(c, method, url, _bodies(world_a)[1] if method == "post" else {}, is_api)
            ok = resp.status_code in (403, 404, 405) or (
                resp.status_code == 302 and resp["Location"].startswith("/m/")
            )
            if not ok:
                wrong.append(f"{method.upper()} {name} {url} → {resp.status_code}")
    assert not wrong, "\n".join(wrong)


def test_scope_matrix_auditor_writes_nothing(world_a, auditor, web, api):
    """The auditor (read-only on the city) reads branch A's pages, and every write is refused: no audit
    entry, no change."""
    from dangjian.core.models import AuditEntry
    from dangjian.meetings.models import Meeting

    page = web(auditor)
    client = api(auditor)
    before = AuditEntry.objects.count()
    minutes = Meeting.objects.get(pk=world_a.held.pk).minutes
    wrong = []
    for name, url in _object_urls(world_a):
        is_api = name.startswith("api:")
        c = client if is_api else page
        for data in _bodies(world_a):
            resp = _request(c, "post", url, data, is_api)
            # read-only pages answer POST like GET (200): the audit log below is the proof nothing changed
            if resp.status_code >= 500:
                wrong.append(f"POST {name} {url} → {resp.status_code}")
    assert not wrong, "\n".join(wrong)
    new = list(AuditEntry.objects.order_by("id")[before:].values_list("action", flat=True))
    assert new == []
    assert Meeting.objects.get(pk=world_a.held.pk).minutes == minutes


# --- no server error on odd query parameters ------------------------------------------------------------

ODD_QUERIES = [
    "year=abc",
    "year=-5",
    "year=99999999999999999999999",
    "year=0",
    "month=13",
    "month=0",
    "month=-1",
    "month=abc",
    "org=999999",
    "org=abc",
    "org=-1",
    "org=0",
    "org=99999999999999999999999",
    "org=9223372036854775808",
    "page=-1",
    "page=abc",
    "page=999999",
    "page=99999999999999999999999",
    "kind=<script>alert(1)</script>",
    "kind=general_meeting,nope",
    "status=held,xx",
    "q=" + "长" * 3000,
    "q=%00",
    "date_from=2025-13-01&date_to=2025-01-01",
    "date_from=2026-01-02&date_to=2025-01-01",
    "descendants=maybe",
    "mine=yes",
    "mine=maybe",
    "tab=messages&day=2025-02-30&outcome=zzz&device=%00",
    "tab=messages&export=xlsx&day=bad",
    "tab=cards&q=%00",
    "only=missed&kind=theme_day",
    "refresh=1&kind=party_lecture&org=abc&date=bad&start_time=25:99",
    "year=2025&org=1&kind=general_meeting&month=2",
    "inline=1",
]
LIST_URLS = [
    "/meetings/",
    "/meetings/export/",
    "/meetings/calendar/",
    "/meetings/plan/",
    "/meetings/new/",
    "/meetings/compliance/",
    "/meetings/compliance/export/",
    "/meetings/devices/",
    "/meetings/talks/",
    "/meetings/talks/export/",
    "/meetings/appraisals/",
    "/meetings/appraisals/export/",
    "/m/meetings/",
    "/m/meetings/appraisal/",
    "/api/v1/meetings/",
    "/api/v1/meetings/compliance/",
    "/api/v1/meetings/talks/",
    "/api/v1/meetings/appraisals/",
]


@pytest.mark.parametrize("persona", ["secretary_a", "org_manager", "auditor", "member_a"])
def test_odd_query_parameters_never_cause_a_server_error(persona, request, world_a, web, api):
    user = request.getfixturevalue(persona)
    page = web(user)
    client = api(user)
    errors = []
    for url in LIST_URLS:
        c = client if url.startswith("/api/") else page
        for q in ODD_QUERIES:
            try:
                resp = c.get(f"{url}?{q}")
            except Exception as exc:  # noqa: BLE001 - the test client re-raises the view's exception
                errors.append(f"{url}?{q[:60]} raised {type(exc).__name__}: {exc}"[:300])
                continue
            if resp.status_code >= 500:
                errors.append(f"{url}?{q[:60]} → {resp.status_code}")
    assert not errors, "\n".join(errors)


# --- regressions of the bugs fixed in the review ---------------------------------------------------------


def test_appraisal_export_of_a_subtree_and_of_a_rated_branch(tree, world_a, org_manager, secretary_a, web):
    """Bug: the labels of the ratings were lazy translations, which openpyxl cannot write: the
    subtree export (and a branch export with a rated member) answered 500."""
    from openpyxl import load_workbook

    appraisal.appraisal_rate(actor=secretary_a, appraisal=world_a.appraisal, rating="excellent")
    year = timezone.localdate().year
    for user, org in ((org_manager, tree.city), (secretary_a, world_a.org)):
        resp = web(user).get(f"/meetings/appraisals/export/?org={org.pk}&year={year}")
        assert resp.status_code == 200
        ws = load_workbook(io.BytesIO(b"".join(resp.streaming_content))).active
        text = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
        assert any("优秀" in t for t in text)


@pytest.mark.parametrize(
    "date, start",
    [("0001-01-01", "00:00"), ("9999-12-31", "23:59"), ("1900-06-01", "09:00"), ("2101-01-01", "09:00")],
)
def test_page_refuses_a_date_out_of_range_beside_the_date(date, start, tree, secretary_a, web):
    """Bug: year 1 overflowed on its way to UTC (500); year 9999 was saved and then broke the check-in
    window arithmetic. Now a field error beside the date, nothing saved."""
    from dangjian.meetings.models import Meeting

    resp = web(secretary_a).post(
        "/meetings/new/",
        {
            "kind": "general_meeting",
            "org": tree.branch_a.pk,
            "title": "大会",
            "date": date,
            "start_time": start,
        },
    )
    assert resp.status_code == 400
    assert "1921" in resp.context["form"].errors["date"][0]
    assert not Meeting.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("starts_at", "0001-01-01T00:00:00"),
        ("starts_at", "0001-01-01T08:00:00+08:00"),
        ("starts_at", "9999-12-31T20:00:00+08:00"),
        ("ends_at", "2150-01-01T10:00:00+08:00"),
    ],
)
def test_api_refuses_a_date_out_of_range(field, value, tree, secretary_a, api):
    from dangjian.meetings.models import Meeting

    body = {"org": tree.branch_a.pk, "kind": "general_meeting", "title": "大会"}
    body["starts_at"] = "2026-05-05T09:00:00+08:00"
    body[field] = value
    resp = api(secretary_a).post("/api/v1/meetings/", data=json.dumps(body), content_type="application/json")
    assert resp.status_code == 400
    assert field in resp.json()["error"]["fields"]
    assert not Meeting.objects.exists()


def test_service_refuses_a_date_out_of_range(tree, secretary_a, world_a):
    from django.core.exceptions import ValidationError

    far = timezone.make_aware(dt.datetime(9999, 12, 31, 20, 0), TZ)
    with pytest.raises(ValidationError) as exc:
        services.meeting_update(actor=secretary_a, meeting=world_a.upcoming, starts_at=far, ends_at=None)
    assert "starts_at" in exc.value.message_dict


def test_export_title_rows_cannot_become_formulas(tree, secretary_a, world_a, web):
    """The title rows above the tables (organisation, meeting topic) are written as text."""
    from openpyxl import load_workbook

    from dangjian.orgs.models import Organization

    Organization.objects.filter(pk=tree.branch_a.pk).update(name='=HYPERLINK("http://x","y")')
    resp = web(secretary_a).get(f"/meetings/{world_a.held.pk}/attendance.xlsx")
    ws = load_workbook(io.BytesIO(resp.content)).active
    cell = ws.cell(row=1, column=1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    resp = web(secretary_a).get(f"/meetings/export/?org={tree.branch_a.pk}")
    ws = load_workbook(io.BytesIO(resp.content)).active
    assert ws.cell(row=1, column=1).data_type == "s"


# --- device messages: odd payloads (meetings/devices.py) ------------------------------------------------


@pytest.fixture
def reader(world_a):
    return world_a.device, world_a.secret


def _signed(secret: str, **fields) -> bytes:
    fields["sig"] = devices.sign(fields, secret)
    return json.dumps(fields).encode()


@pytest.mark.parametrize("ts", [-99_999_999_999, -62_135_596_801, 99_999_999_999])
def test_device_timestamp_before_year_one_is_stale_not_a_crash(reader, ts, caplog):
    """Bug: a signed ``ts`` before year 1 raised inside fromtimestamp: logged as an exception and
    recorded as "could not be processed" instead of stale."""
    device, secret = reader
    msg = devices.handle_message(
        f"dangjian/checkin/{device.device_id}", _signed(secret, card="12344", ts=ts, nonce="n1")
    )
    assert msg.outcome == "stale"
    assert not any(r.levelname == "ERROR" for r in caplog.records)


def test_device_topic_longer_than_a_device_id_is_not_that_device(reader):
    """Bug: the topic was cut to 64 characters before it was checked, so ``<device id>`` followed by
    anything (65+ characters) was taken for the device."""
    from dangjian.meetings.models import CheckinDevice, CheckinTokenUse  # noqa: F401

    device, secret = reader
    long_id = "a" * 64
    CheckinDevice.objects.filter(pk=device.pk).update(device_id=long_id)
    now = timezone.now()
    msg = devices.handle_message(
        f"dangjian/checkin/{long_id}EXTRA",
        _signed(secret, card="12344", ts=int(now.timestamp()), nonce="n2"),
    )
    assert msg.outcome == "malformed" and msg.device_id is None
    msg = devices.handle_message(
        f"dangjian/checkin/{long_id}\n", _signed(secret, card="12344", ts=int(now.timestamp()), nonce="n3")
    )
    assert msg.outcome == "malformed"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sig":"' + b"a" * 64 + b'","x":' + b"[" * 980 + b"1" + b"]" * 980 + b"}",
        b"[" * 2040 + b"]" * 2040,
        b'{"card":"\\ud800","ts":1,"nonce":"\\udfff","sig":"' + b"a" * 64 + b'"}',
        b"\xef\xbb\xbf{}",
        b"\x00" * 100,
        b"{" + b" " * 5000 + b"}",
    ],
)
def test_device_odd_payloads_are_logged_never_raised(reader, payload):
    device, _secret = reader
    msg = devices.handle_message(f"dangjian/checkin/{device.device_id}", payload)
    assert msg.pk is not None and msg.outcome in ("malformed", "bad_signature")
    assert "\ud800" not in msg.payload and "\x00" not in msg.payload


def test_device_lone_surrogate_nonce_is_kept_printable(reader):
    """A nonce holding a lone surrogate (JSON's "\\ud800", plain ASCII on the wire): logged with the
    character replaced (no database stores it; PostgreSQL refused the row), never raised."""
    device, _secret = reader
    now = timezone.now()
    payload = json.dumps({"card": "12344", "ts": int(now.timestamp()), "nonce": "\ud800", "sig": "b" * 64})
    msg = devices.handle_message(f"dangjian/checkin/{device.device_id}", payload.encode())
    assert msg.pk is not None and msg.outcome == "malformed" and "UTF-8" in msg.detail
    assert "\ud800" not in msg.payload


# --- numbers that must agree ------------------------------------------------------------------------------


def test_attendance_totals_agree_everywhere(tree, secretary_a, member_factory, web, api):
    """One past general meeting with every kind of row: full members present, on leave, absent, not
    checked in (absent once over), a probationary member present, a member of another branch added
    (present, no vote) and a removed member. The meeting page, the list, the API list, detail and
    attendance, the sign-in sheet, the report draft and the vote basis give the same numbers."""
    from openpyxl import load_workbook

    from dangjian.meetings import documents, selectors

    full = [member_factory(tree.branch_a, name=f"正式{i}") for i in range(6)]
    prob = member_factory(tree.branch_a, name="预备甲", status=MemberStatus.PROBATIONARY, full_date=None)
    visitor = member_factory(tree.branch_b, name="外支部")
    meeting = plan(secretary_a, tree.branch_a, days=-1, title="核对大会")
    services.attendee_add(actor=secretary_a, meeting=meeting, member=visitor, reason="列席")
    removed = Attendee.objects.get(meeting=meeting, member=full[5])
    services.attendee_remove(actor=secretary_a, attendee=removed, reason="长期外出")
    services.attendance_mark(
        actor=secretary_a,
        meeting=meeting,
        marks={
            full[0].pk: "present",
            full[1].pk: "present",
            full[2].pk: "leave",
            full[3].pk: "absent",
            prob.pk: "present",
            visitor.pk: "present",
        },
    )  # full[4]: not checked in → absent, the meeting being over
    want = {
        "expected": 7,  # six full members less the removed one, the probationary one, the visitor
        "present": 4,
        "leave": 1,
        "absent": 2,
        "pending": 0,
        "voting_expected": 5,
        "voting_present": 2,
    }
    meeting.refresh_from_db()
    assert selectors.attendance_totals(meeting).as_dict() == {**want, "rate": round(400 / 7, 1)}
    # the meeting page
    resp = web(secretary_a).get(f"/meetings/{meeting.pk}/")
    assert {k: getattr(resp.context["totals"], k) for k in want} == want
    # the list (annotated) and the API list, detail and attendance
    listed = selectors.with_totals(Meeting.objects.filter(pk=meeting.pk)).get()
    assert {k: getattr(selectors.totals_of(listed), k) for k in want} == want
    client = api(secretary_a)
    row = next(r for r in client.get("/api/v1/meetings/").json()["results"] if r["id"] == meeting.pk)
    assert {k: row["totals"][k] for k in want} == want
    detail = client.get(f"/api/v1/meetings/{meeting.pk}/").json()
    assert {k: detail["totals"][k] for k in want} == want
    att = client.get(f"/api/v1/meetings/{meeting.pk}/attendance/").json()
    assert {k: att["totals"][k] for k in want} == want
    # the list page shows present / expected
    text = web(secretary_a).get("/meetings/").content.decode()
    assert "4</span> / 7" in text
    # the sign-in sheet's title row
    ws = load_workbook(
        io.BytesIO(web(secretary_a).get(f"/meetings/{meeting.pk}/attendance.xlsx").content)
    ).active
    title = " ".join(str(ws.cell(row=i, column=1).value) for i in range(1, 4))
    for n in ("7", "4", "1", "2", "5"):
        assert n in title
    # the report draft
    import docx

    doc = docx.Document(io.BytesIO(documents.report_draft(meeting)))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    assert "7" in cells and "4" in cells and "2" in cells
    # the vote basis: only full members with a vote, the removed one and the visitor left out
    basis = votes.meeting_vote_basis(meeting)
    assert (basis.expected_voting, basis.present_voting) == (5, 2)
    assert basis.quorum_needed == 3 and not basis.quorum_met


# --- queries per list: the same with 2 rows or 12 ----------------------------------------------------------

LIST_PAGES = [
    "/meetings/",
    "/meetings/export/",
    "/meetings/calendar/",
    "/meetings/plan/",
    "/meetings/compliance/",
    "/meetings/devices/",
    "/meetings/devices/?tab=places",
    "/meetings/devices/?tab=messages",
    "/meetings/devices/?tab=cards",
    "/meetings/talks/",
    "/meetings/appraisals/",
    "/api/v1/meetings/",
    "/api/v1/meetings/talks/",
    "/api/v1/meetings/appraisals/",
    "/api/v1/meetings/compliance/",
]


def _query_counts(web, api, user, urls):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page, client = web(user), api(user)
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            resp = (client if url.startswith("/api/") else page).get(url)
        assert resp.status_code == 200, url
        counts[url] = len(ctx)
    return counts


def test_lists_do_not_query_per_row(world_a, tree, secretary_a, member_a, member_factory, web, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    held = world_a.held
    per_meeting = [
        f"/meetings/{held.pk}/",
        f"/meetings/{held.pk}/attendance.xlsx",
        f"/api/v1/meetings/{held.pk}/attendance/",
        f"/api/v1/meetings/{held.pk}/votes/",
        f"/meetings/{world_a.life.pk}/life/",
    ]
    before = _query_counts(web, api, secretary_a, LIST_PAGES + per_meeting)
    with CaptureQueriesContext(connection) as ctx:
        web(member_a).get("/m/meetings/")
    mobile_before = len(ctx)
    for i in range(10):  # before the attendees grow (the quorum is of the expected)
        votes.meeting_vote_record(
            actor=secretary_a, meeting=held, kind="decision", title=f"决议{i}", yes=2, no=0, abstain=0
        )
    more = [member_factory(tree.branch_a, name=f"新{i}") for i in range(10)]
    for i in range(10):
        m = plan(secretary_a, tree.branch_a, days=-3 - i, title=f"第{i}次", host=more[i], recorder=more[i])
        services.attendance_mark(actor=secretary_a, meeting=m, marks={p.pk: "present" for p in more[:3]})
        services.attendee_add(actor=secretary_a, meeting=held, member=more[i], reason="补列")
        devices.card_register(actor=secretary_a, member=more[i], card_number=f"77{i:04d}")
        devices.place_create(actor=secretary_a, org=tree.branch_a, name=f"第{i}室")
        devices.handle_message(f"dangjian/checkin/ghost{i}", b"{}")
        if i < 9:
            appraisal.talk_record(
                actor=secretary_a,
                org=tree.branch_a,
                initiator=more[i],
                partner=more[i + 1],
                date=timezone.localdate(),
                topic="谈心",
            )
    appraisal.appraisal_open(actor=secretary_a, org=tree.branch_a, year=timezone.localdate().year)
    after = _query_counts(web, api, secretary_a, LIST_PAGES + per_meeting)
    assert {u: n for u, n in after.items() if n != before[u]} == {}
    with CaptureQueriesContext(connection) as ctx:
        web(member_a).get("/m/meetings/")
    assert len(ctx) == mobile_before


@pytest.mark.parametrize("persona", ["auditor", "member_a", "resident", "outsider", "secretary_b"])
def test_no_write_through_the_list_pages_outside_ones_scope(persona, request, world_a, tree, web, api):
    """The writes that are not about one object (plan a meeting, register a device or a card, record a
    talk, open an appraisal) with branch A's ids in the body: refused for read-only roles, members,
    residents, a login without a role and another branch's secretary — no audit entry at all."""
    from dangjian.core.models import AuditEntry

    user = request.getfixturevalue(persona)
    page, client = web(user), api(user)
    a = world_a
    year = timezone.localdate().year
    org = tree.branch_a.pk
    posts = [
        (
            "/meetings/new/",
            {
                "kind": "general_meeting",
                "org": org,
                "title": "x",
                "date": "2030-01-02",
                "start_time": "09:00",
            },
        ),
        ("/meetings/devices/", {"action": "place_add", "org": org, "name": "新室"}),
        ("/meetings/devices/", {"action": "device_add", "place": a.place.pk, "device_id": "zz", "name": "x"}),
        ("/meetings/devices/", {"action": "device_reset", "device": a.device.pk}),
        ("/meetings/devices/", {"action": "device_toggle", "device": a.device.pk}),
        ("/meetings/devices/", {"action": "card_add", "member": a.members[1].pk, "card_number": "55556666"}),
        ("/meetings/devices/", {"action": "card_deactivate", "card": a.card.pk}),
        (
            f"/meetings/talks/?org={org}",
            {
                "action": "add",
                "initiator": a.members[0].pk,
                "partner": a.members[2].pk,
                "date": "2020-01-01",
                "topic": "t",
            },
        ),
        (f"/meetings/appraisals/?org={org}&year={year}", {"action": "open"}),
        (
            f"/meetings/appraisals/?org={org}&year={year}",
            {"action": "rate", "appraisal": a.appraisal.pk, "rating": "unqualified", "notes": "x"},
        ),
        (f"/meetings/settings/{org}/", {"theme_day": 3}),
    ]
    api_posts = [
        (
            "/api/v1/meetings/",
            {"kind": "general_meeting", "org": org, "title": "x", "starts_at": "2030-01-02T09:00:00+08:00"},
        ),
        (
            "/api/v1/meetings/talks/",
            {
                "org": org,
                "initiator": a.members[0].pk,
                "partner": a.members[2].pk,
                "date": "2020-01-01",
                "topic": "t",
            },
        ),
        ("/api/v1/meetings/appraisals/", {"org": org, "year": year}),
    ]
    before = AuditEntry.objects.count()
    errors = []
    for url, data in posts:
        resp = page.post(url, data)
        if resp.status_code >= 500:
            errors.append(f"{url} {data.get('action', '')} → {resp.status_code}")
    for url, data in api_posts:
        resp = client.post(url, data=json.dumps(data), content_type="application/json")
        if resp.status_code not in (400, 403, 404):
            errors.append(f"{url} → {resp.status_code}")
    assert not errors, "\n".join(errors)
    assert list(AuditEntry.objects.order_by("id")[before:].values_list("action", flat=True)) == []


def test_member_removed_on_leave_and_added_back_is_still_on_leave(world_a, secretary_a):
    """Bug: removing an attendee resets the status; adding them back left the approved leave with the
    status "not checked in", so after the meeting they counted as absent."""
    from dangjian.meetings import selectors

    meeting, row = world_a.upcoming, world_a.leave_attendee
    services.leave_decide(actor=secretary_a, attendee=row, approve=True)
    services.attendee_remove(actor=secretary_a, attendee=row, reason="名单有误")
    services.attendee_add(actor=secretary_a, meeting=meeting, member=row.member, reason="恢复")
    row.refresh_from_db()
    assert (row.expected, row.status, row.leave_status) == (True, "leave", "approved")
    later = meeting.ends_at + dt.timedelta(days=1)
    totals = selectors.attendance_totals(meeting, now=later)
    assert totals.leave == 1


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_html_in_text_fields_is_escaped_on_every_page(tree, secretary_a, member_a, member_factory, web, api):
    """Topic, agenda, place, notes, lecturer, reasons, device and place names with HTML in them: shown
    as text on the desktop and phone pages; the minutes keep only the allowed formatting."""
    from dangjian.members.models import Member

    me = Member.objects.get(user=member_a)
    other = member_factory(tree.branch_a, name="李四")
    m = plan(
        secretary_a,
        tree.branch_a,
        kind=MeetingKind.PARTY_LECTURE,
        days=0,
        title=XSS[:190],
        agenda=XSS,
        place=XSS[:190],
        notes=XSS,
        lecturer_name=XSS[:50],
    )
    m.starts_at = timezone.now() - dt.timedelta(minutes=5)
    m.save(update_fields=["starts_at"])
    services.leave_request(actor=member_a, meeting=m, member=me, reason=XSS[:190])
    services.attendee_remove(
        actor=secretary_a, attendee=Attendee.objects.get(meeting=m, member=other), reason=XSS[:190]
    )
    services.minutes_save(
        actor=secretary_a, meeting=m, html="<p>好</p>" + XSS + '<a href="javascript:x">x</a>'
    )
    place = devices.place_create(actor=secretary_a, org=tree.branch_a, name=XSS[:90])
    devices.device_register(
        actor=secretary_a, org=tree.branch_a, place=place, device_id="xss-1", name=XSS[:90]
    )
    m.refresh_from_db()
    assert "<script" not in m.minutes and "onerror" not in m.minutes and "javascript:" not in m.minutes
    pages = [
        f"/meetings/{m.pk}/",
        f"/meetings/{m.pk}/edit/",
        "/meetings/",
        f"/meetings/calendar/?org={tree.branch_a.pk}",
        f"/meetings/plan/?org={tree.branch_a.pk}",
        f"/meetings/{m.pk}/checkin/",
        f"/meetings/{m.pk}/transcript/",
        "/meetings/devices/",
        "/meetings/devices/?tab=places",
    ]
    for url in pages:
        text = web(secretary_a).get(url).content.decode()
        assert "<script>alert" not in text and "<img src=x" not in text, url
    for url in (f"/m/meetings/{m.pk}/", "/m/meetings/"):
        text = web(member_a).get(url).content.decode()
        assert "<script>alert" not in text and "<img src=x" not in text, url


def test_meeting_from_before_the_first_rule_version_has_its_pages(world_a, tree, secretary_a, web, api):
    """Bug: a meeting recorded from before 2018-10-28 (the rule's first version) made the meeting page,
    the QR screen and the check-in API answer 500 (RuleNotFound in the check-in window); a committee
    meeting of that time was refused with a 500 instead of the field error."""
    from django.core.exceptions import ValidationError

    old = timezone.make_aware(dt.datetime(2015, 3, 1, 9), TZ)
    meeting = services.meeting_create(
        actor=secretary_a,
        org=tree.branch_a,
        kind=MeetingKind.GENERAL_MEETING,
        title="2015年一季度党员大会",
        starts_at=old,
        ends_at=old + dt.timedelta(hours=2),
    )
    for url in (f"/meetings/{meeting.pk}/", f"/meetings/{meeting.pk}/checkin/"):
        assert web(secretary_a).get(url).status_code == 200, url
    resp = api(secretary_a).get(f"/api/v1/meetings/{meeting.pk}/checkin/")
    assert resp.status_code == 200 and resp.json()["state"] == "closed"
    with pytest.raises(ValidationError) as exc:
        services.meeting_create(
            actor=secretary_a,
            org=tree.branch_a,
            kind=MeetingKind.COMMITTEE_MEETING,
            title="支委会",
            starts_at=old,
        )
    assert "kind" in exc.value.message_dict


# --- QR check-in, as an attacker -------------------------------------------------------------------------


@pytest.fixture
def live(world_a, secretary_a):
    """Branch A's upcoming meeting moved to now (check-in open), member_a expected at it."""
    m = world_a.upcoming
    m.starts_at = timezone.now() - dt.timedelta(minutes=5)
    m.ends_at = m.starts_at + dt.timedelta(hours=2)
    m.date = timezone.localdate(m.starts_at)
    m.save()
    return m


def _forge(token: str, **change) -> str:
    """The token with a part replaced, keeping the old signature over the changed body."""
    mid, window, nonce, sig = token.split(".")
    parts = {"mid": mid, "window": window, "nonce": nonce, "sig": sig, **change}
    return ".".join((parts["mid"], parts["window"], parts["nonce"], parts["sig"]))


@pytest.mark.parametrize(
    "why, make, code",
    [
        ("the meeting id changed", lambda t, other: _forge(t, mid=format(other.pk, "x")), "bad_signature"),
        ("the window moved on", lambda t, other: _forge(t, window="zzzz"), "bad_signature"),
        ("a nonce of one's own", lambda t, other: _forge(t, nonce="AAAAAAAA"), "bad_signature"),
        ("no signature", lambda t, other: t.rsplit(".", 1)[0] + ".", "bad_signature"),
        ("signature of another code", lambda t, other: t.rsplit(".", 1)[0] + "." + "A" * 16, "bad_signature"),
        ("huge", lambda t, other: t * 10, "invalid"),  # over the body's 200 characters
        ("code of another meeting", "other", "wrong_meeting"),
    ],
)
def test_forged_and_foreign_codes_are_refused_and_record_nothing(
    why, make, code, live, world_a, member_a, secretary_a, api
):
    from dangjian.meetings import checkin

    other = plan(secretary_a, world_a.org, days=0, title="另一个会")
    token = checkin.token_for(live)
    bad = checkin.token_for(other) if make == "other" else make(token, other)
    resp = api(member_a).post(f"/api/v1/meetings/{live.pk}/checkin/", data={"token": bad}, format="json")
    assert resp.status_code == 400, why
    assert resp.json()["error"]["code"] == code, why
    assert not Attendee.objects.filter(meeting=live, status="present").exists()


def test_checkin_refused_for_removed_member_and_cancelled_meeting(live, world_a, member_a, secretary_a, api):
    from dangjian.meetings import checkin
    from dangjian.members.models import Member

    me = Member.objects.get(user=member_a)
    row = Attendee.objects.get(meeting=live, member=me)
    services.attendee_remove(actor=secretary_a, attendee=row, reason="不在本支部参会")
    resp = api(member_a).post(
        f"/api/v1/meetings/{live.pk}/checkin/", data={"token": checkin.token_for(live)}, format="json"
    )
    assert resp.status_code == 404  # no longer expected: the meeting is not theirs to see
    services.attendee_add(actor=secretary_a, meeting=live, member=me, reason="恢复")
    services.meeting_cancel(actor=secretary_a, meeting=live, reason="改期")
    resp = api(member_a).post(
        f"/api/v1/meetings/{live.pk}/checkin/", data={"token": checkin.token_for(live)}, format="json"
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "cancelled"
    # the phone page too
    resp = web_client_for(member_a).post(f"/m/meetings/checkin/{checkin.token_for(live)}/")
    assert resp.status_code == 400
    assert not Attendee.objects.filter(meeting=live, status="present").exists()


def web_client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_used_code_is_refused_after_the_secretary_resets_the_attendance(
    live, world_a, member_a, secretary_a, api
):
    """Replay: a member checked in, the secretary corrects them to absent; the same code again is
    refused (it proves nothing about being in the room now)."""
    from dangjian.meetings import checkin
    from dangjian.members.models import Member

    me = Member.objects.get(user=member_a)
    token = checkin.token_for(live)
    client = api(member_a)
    assert client.post(f"/api/v1/meetings/{live.pk}/checkin/", data={"token": token}, format="json").json()[
        "created"
    ]
    services.attendance_mark(actor=secretary_a, meeting=live, marks={me.pk: "absent"})
    resp = client.post(f"/api/v1/meetings/{live.pk}/checkin/", data={"token": token}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "replay"
    assert Attendee.objects.get(meeting=live, member=me).status == "absent"


def test_page_refuses_an_over_long_agenda_as_the_api_does(tree, secretary_a, web):
    resp = web(secretary_a).post(
        "/meetings/new/",
        {
            "kind": "general_meeting",
            "org": tree.branch_a.pk,
            "title": "大会",
            "date": "2030-01-02",
            "start_time": "09:00",
            "agenda": "议" * 20001,
            "notes": "记" * 5001,
        },
    )
    assert resp.status_code == 400
    assert set(resp.context["form"].errors) == {"agenda", "notes"}
    assert not Meeting.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"card": 1234567890, "ts": 1, "nonce": "a"},
        {"card": ["1234567890"], "ts": 1, "nonce": "a"},
        {"card": "1234567890", "ts": 1, "nonce": "a", "idcard": "110101199003071234"},
        {"id_index": 1234567890123, "ts": 1, "nonce": "a"},
    ],
)
def test_device_log_masks_card_numbers_whatever_their_type(reader, fields):
    """Bug: a card number sent as a JSON number (or in a list), or an extra identity field, was kept
    unmasked in the message log."""
    device, secret = reader
    msg = devices.handle_message(f"dangjian/checkin/{device.device_id}", _signed(secret, **fields))
    assert msg.outcome in ("malformed", "stale")
    for secret_digits in ("1234567890", "110101199003071234", "1234567890123"):
        assert secret_digits not in msg.payload


@pytest.mark.parametrize("data", [{"html": "<p>新记录\x00</p>"}, {}, {"other": "x"}])
def test_bad_minutes_post_keeps_the_recorded_minutes(data, world_a, secretary_a, web):
    """Bug: the minutes form's errors were ignored, so a NUL character (or a post without the field)
    saved empty minutes over the recorded ones."""
    services.minutes_save(actor=secretary_a, meeting=world_a.held, html="<p>原有记录</p>")
    resp = web(secretary_a).post(f"/meetings/{world_a.held.pk}/minutes/", data)
    assert resp.status_code == 302
    world_a.held.refresh_from_db()
    assert world_a.held.minutes == "<p>原有记录</p>"
    assert world_a.held.minutes_recorded_at is not None


def test_minutes_can_still_be_cleared_on_purpose(world_a, secretary_a, web):
    services.minutes_save(actor=secretary_a, meeting=world_a.held, html="<p>原有记录</p>")
    web(secretary_a).post(f"/meetings/{world_a.held.pk}/minutes/", {"html": ""})
    world_a.held.refresh_from_db()
    assert world_a.held.minutes == "" and world_a.held.minutes_recorded_at is None


NUL = "有\x00字"


def test_nul_characters_in_posted_text_never_cause_a_server_error(world_a, tree, secretary_a, member_a, web):
    """PostgreSQL cannot store NUL: every text a page passes on (appraisal notes, self-assessments,
    reasons, names, searches) is refused or cleaned, never a 500. (Run on PostgreSQL to mean it.)"""
    org = tree.branch_a.pk
    year = timezone.localdate().year
    a = world_a
    page = web(secretary_a)
    posts = [
        (
            f"/meetings/appraisals/?org={org}&year={year}",
            {"action": "rate", "appraisal": a.appraisal.pk, "rating": "unqualified", "notes": NUL},
        ),
        (
            f"/meetings/appraisals/?org={org}&year={year}",
            {"action": "self", "appraisal": a.appraisal.pk, "text": NUL},
        ),
        (f"/meetings/talks/?org={org}", {"action": "delete", "talk": a.talk.pk, "reason": NUL}),
        (f"/meetings/{a.life.pk}/life/", {"action": "delete_note", "note": a.note.pk, "reason": NUL}),
        (
            f"/meetings/{a.life.pk}/life/",
            {"action": "note", "member": a.members[0].pk, "kind": "self_criticism", "text": NUL},
        ),
        (f"/meetings/{a.upcoming.pk}/cancel/", {"reason": NUL}),
        (f"/meetings/attendees/{a.attendee.pk}/remove/", {"reason": NUL}),
        (f"/meetings/attendees/{a.leave_attendee.pk}/leave/", {"decision": "approve", "note": NUL}),
        (f"/meetings/{a.upcoming.pk}/attendees/add/", {"member": a.probationary.pk, "reason": NUL}),
        ("/meetings/devices/", {"action": "place_add", "org": org, "name": NUL}),
        ("/meetings/devices/", {"action": "card_add", "member": a.members[1].pk, "card_number": NUL}),
        (
            f"/meetings/{a.held.pk}/votes/new/",
            {"kind": "decision", "title": NUL, "yes": 1, "no": 0, "abstain": 0, "notes": NUL},
        ),
        (f"/meetings/{a.upcoming.pk}/edit/", {"title": NUL, "date": "2030-01-01", "start_time": "09:00"}),
    ]
    errors = []
    for url, data in posts:
        try:
            resp = page.post(url, data)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{url} {data.get('action', '')}: {type(exc).__name__} {exc}"[:200])
            continue
        if resp.status_code >= 500:
            errors.append(f"{url} → {resp.status_code}")
    for url in (f"/meetings/{a.upcoming.pk}/attendees/options/?q={NUL}", f"/meetings/?q={NUL}"):
        if page.get(url).status_code >= 500:
            errors.append(url)
    mobile = web(member_a)
    for url, data in [
        ("/m/meetings/appraisal/", {"action": "self", "text": NUL}),
        (f"/m/meetings/{a.upcoming.pk}/leave/", {"reason": NUL}),
    ]:
        try:
            resp = mobile.post(url, data)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{url}: {type(exc).__name__} {exc}"[:200])
            continue
        if resp.status_code >= 500:
            errors.append(f"{url} → {resp.status_code}")
    assert not errors, "\n".join(errors)


# --- rules at the edges --------------------------------------------------------------------------------


def test_a_meeting_just_after_local_midnight_counts_in_the_local_quarter(tree, secretary_a, member_factory):
    """00:30 on 1 April in Beijing is still 31 March in UTC: the meeting counts for Q2 (支部工作条例
    第十四条: once a quarter), by its local date, whichever way the time was sent."""
    from dangjian.meetings import compliance

    member_factory(tree.branch_a, name="正式党员")
    starts = dt.datetime(2025, 3, 31, 16, 30, tzinfo=dt.UTC)
    m = services.meeting_create(
        actor=secretary_a, org=tree.branch_a, kind="general_meeting", title="二季度大会", starts_at=starts
    )
    assert m.date == dt.date(2025, 4, 1)
    services.meeting_mark_held(actor=secretary_a, meeting=m, now=starts + dt.timedelta(hours=1))
    row = compliance.branch_compliance(tree.branch_a, 2025, on=dt.date(2025, 7, 10))
    assert row.cell("general_meeting", dt.date(2025, 2, 1)).status == compliance.MISSED
    assert row.cell("general_meeting", dt.date(2025, 5, 1)).status == compliance.HELD


def test_dissolved_branch_gets_no_alert_for_a_period_it_will_not_close(tree):
    """Bug: a branch dissolved on 10 April was still asked (an alert, then a red cell) for the Q2
    general meeting and the year's organization life meeting."""
    from dangjian.meetings import alerts, compliance
    from dangjian.orgs.models import Organization

    Organization.objects.filter(pk=tree.branch_b.pk).update(
        status="dissolved", dissolved_on=dt.date(2025, 4, 10)
    )
    on = dt.date(2025, 6, 25)
    keys = [spec.key for spec in alerts.period_closing(on)]
    assert not [k for k in keys if k.startswith(f"b{tree.branch_b.pk}:")]
    assert [k for k in keys if k.startswith(f"b{tree.branch_a.pk}:general_meeting")]  # a live one is
    gone = compliance.branch_compliance(
        Organization.objects.get(pk=tree.branch_b.pk), 2025, on=dt.date(2026, 1, 5)
    )
    assert gone.cell("general_meeting", dt.date(2025, 2, 1)).status == compliance.MISSED  # Q1: it lived it
    assert gone.cell("general_meeting", dt.date(2025, 5, 1)).status == compliance.NOT_REQUIRED
    assert gone.cell("life_meeting", dt.date(2025, 5, 1)).status == compliance.NOT_REQUIRED


def test_another_branchs_org_in_the_query_string(world_a, world_b, tree, secretary_b, web, api):
    """``?org=<branch A>`` on every list, calendar, plan, compliance, talk and appraisal page of the
    secretary of branch B: 404 on the pages; the API lists answer nothing of branch A."""
    org = tree.branch_a.pk
    page = web(secretary_b)
    for url in (
        "/meetings/",
        "/meetings/export/",
        "/meetings/calendar/",
        "/meetings/plan/",
        "/meetings/compliance/",
        "/meetings/compliance/export/",
        "/meetings/talks/",
        "/meetings/talks/export/",
        "/meetings/appraisals/",
        "/meetings/appraisals/export/",
    ):
        assert page.get(f"{url}?org={org}").status_code == 404, url
    client = api(secretary_b)
    assert client.get(f"/api/v1/meetings/compliance/?org={org}").status_code == 404
    for url in ("/api/v1/meetings/", "/api/v1/meetings/talks/", "/api/v1/meetings/appraisals/"):
        resp = client.get(f"{url}?org={org}")
        assert resp.status_code == 200 and resp.json()["results"] == [], url
    # and without the filter, nothing of branch A either
    ids = {r["id"] for r in client.get("/api/v1/meetings/").json()["results"]}
    assert ids and not ids & {world_a.held.pk, world_a.upcoming.pk, world_a.life.pk}
