"""Check-in devices (issue 5, "Attendance"): signed messages record attendance for the meeting in
progress at the device's place; unknown devices, bad signatures, unknown people, duplicates and
malformed messages are logged and dropped — ``handle_message`` never raises."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.translation import gettext
from openpyxl import load_workbook

from dangjian.core.crypto import blind_index, decrypt
from dangjian.meetings import devices
from dangjian.meetings.models import Attendee, CheckinCard, CheckinDevice, DeviceMessage
from tests.meetings.test_checkin import make_meeting

OUT = DeviceMessage.Outcome
MIN = dt.timedelta(minutes=1)
T0 = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)  # 14:00 in Beijing
CARD = "0012345678"


@pytest.fixture
def site(tree, admin_user, member_a):
    """A place of branch_a with a registered reader, member_a's card, and a meeting there at T0."""
    place = devices.place_create(actor=admin_user, org=tree.branch_a, name="党员活动室")
    device, secret = devices.device_register(
        actor=admin_user, org=tree.branch_a, place=place, device_id="room-101-reader", name="活动室刷卡机"
    )
    devices.card_register(actor=admin_user, member=member_a.member, card_number=CARD)
    meeting = make_meeting(
        tree.branch_a, starts_at=T0, ends_at=T0 + 90 * MIN, members=[member_a.member], venue=place
    )

    class Site:
        pass

    s = Site()
    s.place, s.device, s.secret, s.meeting, s.member = place, device, secret, meeting, member_a.member
    return s


def message(secret: str, *, ts: dt.datetime = T0, nonce: str = "n-1", sig: str | None = None, **who) -> bytes:
    fields = {**(who or {"card": CARD}), "ts": int(ts.timestamp()), "nonce": nonce}
    fields["sig"] = sig if sig is not None else devices.sign(fields, secret)
    return json.dumps(fields).encode()


TOPIC = "dangjian/checkin/room-101-reader"


def test_register_device_shows_the_secret_once_and_keeps_it_encrypted(site):
    assert len(site.secret) == 64 and int(site.secret, 16) >= 0
    device = CheckinDevice.objects.get(device_id="room-101-reader")
    assert site.secret not in device.secret_encrypted
    assert decrypt(device.secret_encrypted) == site.secret


def test_register_device_refusals(site, tree, admin_user, secretary_b):
    with pytest.raises(ValidationError) as exc:
        devices.device_register(
            actor=admin_user, org=tree.branch_a, place=site.place, device_id="room-101-reader", name="x"
        )
    assert "device_id" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        devices.device_register(
            actor=admin_user, org=tree.branch_a, place=site.place, device_id="bad/id", name="x"
        )
    assert "device_id" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        devices.device_register(
            actor=secretary_b, org=tree.branch_a, place=site.place, device_id="other-1", name="x"
        )
    with pytest.raises(PermissionDenied):  # a place the secretary cannot see
        devices.device_register(
            actor=secretary_b, org=tree.branch_b, place=site.place, device_id="other-2", name="x"
        )


def test_secret_reset_invalidates_the_old_secret(site, admin_user):
    new = devices.device_secret_reset(actor=admin_user, device=site.device)
    assert new != site.secret
    old_msg = devices.handle_message(TOPIC, message(site.secret), now=T0)
    assert old_msg.outcome == OUT.BAD_SIGNATURE
    assert devices.handle_message(TOPIC, message(new, nonce="n-2"), now=T0).outcome == OUT.RECORDED


def test_card_is_kept_as_blind_index_and_masked(site):
    card = CheckinCard.objects.get(member=site.member)
    assert card.card_index == blind_index(CARD, "checkin_card")
    assert card.card_masked == "****5678"
    assert CARD not in json.dumps([str(v) for v in CheckinCard.objects.values().get().values()])


def test_card_of_another_member_is_refused_until_handed_back(site, tree, admin_user, member_factory):
    other = member_factory(tree.branch_a)
    with pytest.raises(ValidationError):
        devices.card_register(actor=admin_user, member=other, card_number="00 1234 5678")  # same card, spaced
    devices.card_deactivate(actor=admin_user, card=CheckinCard.objects.get(member=site.member))
    card = devices.card_register(actor=admin_user, member=other, card_number=CARD)
    assert card.member == other and card.active
    assert CheckinCard.objects.count() == 1


def test_card_register_needs_scope(site, tree, secretary_b, member_factory):
    with pytest.raises(PermissionDenied):
        devices.card_register(actor=secretary_b, member=member_factory(tree.branch_a), card_number="99887766")
    with pytest.raises(ValidationError):
        devices.card_register(actor=secretary_b, member=member_factory(tree.branch_b), card_number="12")


# --- handle_message: every outcome --------------------------------------------------------------


def test_signed_card_message_records_attendance(site):
    msg = devices.handle_message(TOPIC, message(site.secret), now=T0 + 2 * MIN)
    assert msg.outcome == OUT.RECORDED, msg.detail
    assert (msg.device, msg.meeting, msg.member) == (site.device, site.meeting, site.member)
    attendee = Attendee.objects.get(meeting=site.meeting, member=site.member)
    assert (attendee.status, attendee.channel, attendee.checked_in_at) == ("present", "device", T0 + 2 * MIN)
    site.device.refresh_from_db()
    assert site.device.last_seen_at == T0 + 2 * MIN
    assert CARD not in msg.payload and "****5678" in msg.payload


def test_identity_index_message_records_attendance(site):
    msg = devices.handle_message(TOPIC, message(site.secret, id_index=site.member.id_number_index), now=T0)
    assert msg.outcome == OUT.RECORDED, msg.detail
    assert site.member.id_number_index not in msg.payload


def _deactivate(site):
    site.device.active = False
    site.device.save()


def _other_place(site):
    from dangjian.meetings.models import MeetingPlace

    elsewhere = MeetingPlace.objects.create(org=site.place.org, name="会议室二")
    site.meeting.venue = elsewhere
    site.meeting.save(update_fields=["venue"])


def _not_expected(site):
    Attendee.objects.filter(meeting=site.meeting).delete()


def _cancel(site):
    site.meeting.status, site.meeting.cancel_reason = "cancelled", "改期"
    site.meeting.save()


# (why, topic, payload builder, when, setup, outcome)
CASES = [
    ("unknown device", "dangjian/checkin/nobody", lambda s: message(s.secret), T0, None, OUT.UNKNOWN_DEVICE),
    ("device not in use", TOPIC, lambda s: message(s.secret), T0, _deactivate, OUT.UNKNOWN_DEVICE),
    ("topic outside the tree", "other/topic/x/y", lambda s: message(s.secret), T0, None, OUT.MALFORMED),
    ("forged: signed with another secret", TOPIC, lambda s: message("0" * 64), T0, None, OUT.BAD_SIGNATURE),
    (
        "forged: card changed after signing",
        TOPIC,
        lambda s: message(s.secret).replace(CARD.encode(), b"0099999999"),
        T0,
        None,
        OUT.BAD_SIGNATURE,
    ),
    ("signature not hex", TOPIC, lambda s: message(s.secret, sig="zz" * 32), T0, None, OUT.MALFORMED),
    ("not JSON", TOPIC, lambda s: b"\x00\xffnot json", T0, None, OUT.MALFORMED),
    ("control characters in the topic", "dangjian/checkin/a\x00b", lambda s: b"{}", T0, None, OUT.MALFORMED),
    ("a JSON list", TOPIC, lambda s: b"[1, 2, 3]", T0, None, OUT.MALFORMED),
    (
        "no signature",
        TOPIC,
        lambda s: json.dumps({"card": CARD, "ts": 1, "nonce": "x"}).encode(),
        T0,
        None,
        OUT.MALFORMED,
    ),
    ("over 4 KB", TOPIC, lambda s: message(s.secret, nonce="n" * 5000), T0, None, OUT.MALFORMED),
    (
        "both card and identity (signed)",
        TOPIC,
        lambda s: message(s.secret, card=CARD, id_index="abc"),
        T0,
        None,
        OUT.MALFORMED,
    ),
    (
        "ts as text (signed)",
        TOPIC,
        lambda s: _signed(s.secret, {"card": CARD, "ts": "1767225600", "nonce": "x"}),
        T0,
        None,
        OUT.MALFORMED,
    ),
    ("stale: 6 minutes old", TOPIC, lambda s: message(s.secret, ts=T0 - 6 * MIN), T0, None, OUT.STALE),
    ("stale: 6 minutes ahead", TOPIC, lambda s: message(s.secret, ts=T0 + 6 * MIN), T0, None, OUT.STALE),
    ("4 minutes old is fine", TOPIC, lambda s: message(s.secret, ts=T0 - 4 * MIN), T0, None, OUT.RECORDED),
    ("unknown card", TOPIC, lambda s: message(s.secret, card="555566667777"), T0, None, OUT.UNKNOWN_PERSON),
    ("unknown identity", TOPIC, lambda s: message(s.secret, id_index="f" * 64), T0, None, OUT.UNKNOWN_PERSON),
    ("meeting in another room", TOPIC, lambda s: message(s.secret), T0, _other_place, OUT.NO_MEETING),
    (
        "before check-in opens",
        TOPIC,
        lambda s: message(s.secret, ts=T0 - 40 * MIN),
        T0 - 40 * MIN,
        None,
        OUT.NO_MEETING,
    ),
    (
        "after check-in closed",
        TOPIC,
        lambda s: message(s.secret, ts=T0 + 125 * MIN),
        T0 + 125 * MIN,
        None,
        OUT.NO_MEETING,
    ),
    ("meeting cancelled", TOPIC, lambda s: message(s.secret), T0, _cancel, OUT.NO_MEETING),
    ("not expected", TOPIC, lambda s: message(s.secret), T0, _not_expected, OUT.NOT_EXPECTED),
]


def _signed(secret: str, fields: dict) -> bytes:
    return json.dumps({**fields, "sig": devices.sign(fields, secret)}).encode()


@pytest.mark.parametrize(
    ("why", "topic", "build", "when", "setup", "outcome"), CASES, ids=[c[0] for c in CASES]
)
def test_message_outcomes(site, why, topic, build, when, setup, outcome):
    if setup:
        setup(site)
    msg = devices.handle_message(topic, build(site), now=when)
    assert msg.pk is not None  # every message is logged
    assert msg.outcome == outcome, msg.detail
    status = (
        Attendee.objects.filter(meeting=site.meeting, member=site.member)
        .values_list("status", flat=True)
        .first()
    )
    assert (status == "present") is (outcome == OUT.RECORDED)
    assert CARD not in msg.payload
    assert len(msg.payload) <= 1000


def test_duplicates_are_logged_and_dropped(site):
    first = devices.handle_message(TOPIC, message(site.secret, nonce="a"), now=T0)
    assert first.outcome == OUT.RECORDED
    replayed = devices.handle_message(TOPIC, message(site.secret, nonce="a"), now=T0 + MIN)
    assert replayed.outcome == OUT.DUPLICATE and replayed.detail == gettext(
        "nonce already used by this device"
    )
    again = devices.handle_message(TOPIC, message(site.secret, nonce="b"), now=T0 + MIN)
    assert again.outcome == OUT.DUPLICATE and again.detail == gettext("already present")
    assert Attendee.objects.get(meeting=site.meeting, member=site.member).checked_in_at == T0
    assert DeviceMessage.objects.count() == 3


def test_nonce_differing_only_in_case_is_a_new_message(site, tree, admin_user, member_factory):
    other = member_factory(tree.branch_a)
    Attendee.objects.create(meeting=site.meeting, member=other, expected=True)
    devices.card_register(actor=admin_user, member=other, card_number="77778888")
    assert devices.handle_message(TOPIC, message(site.secret, nonce="AbC"), now=T0).outcome == OUT.RECORDED
    second = devices.handle_message(TOPIC, message(site.secret, nonce="abc", card="77778888"), now=T0)
    assert second.outcome == OUT.RECORDED


def test_back_to_back_meetings_pick_the_one_the_member_is_expected_at(site, tree):
    later = make_meeting(tree.branch_a, starts_at=T0 + 100 * MIN, venue=site.place, title="支委会")
    # At T0+95 both windows are open (first closes at T0+120, second opens at T0+70).
    msg = devices.handle_message(TOPIC, message(site.secret, ts=T0 + 95 * MIN), now=T0 + 95 * MIN)
    assert msg.outcome == OUT.RECORDED and msg.meeting == site.meeting
    assert not Attendee.objects.filter(meeting=later).exists()


def test_handle_message_never_raises(site, monkeypatch, caplog):
    from dangjian.meetings import services

    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "checkin_record", broken)
    msg = devices.handle_message(TOPIC, message(site.secret), now=T0)
    assert msg.pk is not None
    assert msg.outcome == OUT.MALFORMED and "RuntimeError" in msg.detail
    assert Attendee.objects.get(meeting=site.meeting, member=site.member).status == "pending"
    assert any("could not be processed" in r.getMessage() for r in caplog.records)


def test_every_message_is_a_log_line(site, caplog):
    caplog.set_level("INFO", logger="dangjian.meetings.devices")
    devices.handle_message("dangjian/checkin/ghost", b"{}", now=T0)
    devices.handle_message(TOPIC, message(site.secret), now=T0)
    lines = [r.getMessage() for r in caplog.records if r.name == "dangjian.meetings.devices"]
    assert any("unknown_device from ghost" in line for line in lines)
    assert any("recorded from room-101-reader" in line for line in lines)


@pytest.mark.parametrize("payload", [None, "", "text", b"\xff" * 10, 12345])
def test_odd_payload_types_are_malformed_not_errors(site, payload):
    msg = devices.handle_message(TOPIC, payload, now=T0)
    assert msg.outcome == OUT.MALFORMED


def test_canonical_form_is_sorted_compact_utf8():
    assert devices.canonical({"ts": 1, "card": "12", "nonce": "签", "sig": "x"}) == (
        '{"card":"12","nonce":"签","ts":1}'.encode()
    )


# --- the devices page ---------------------------------------------------------------------------


def test_devices_page_lists_devices_places_messages_and_cards(site, secretary_a, web):
    devices.handle_message(TOPIC, message(site.secret), now=T0)
    devices.handle_message("dangjian/checkin/ghost", b"{}", now=T0)  # no org: not the secretary's
    client = web(secretary_a)
    html = client.get(reverse("meetings:devices")).content.decode()
    assert "room-101-reader" in html and "活动室刷卡机" in html
    assert site.secret not in html
    assert "党员活动室" in client.get(reverse("meetings:devices") + "?tab=places").content.decode()
    messages = client.get(reverse("meetings:devices") + "?tab=messages").content.decode()
    assert "张党员" in messages and "ghost" not in messages
    cards = client.get(reverse("meetings:devices") + "?tab=cards").content.decode()
    assert "****5678" in cards and CARD not in cards


def test_devices_page_filters_and_exports_messages(site, secretary_a, web):
    devices.handle_message(TOPIC, message(site.secret), now=T0)
    devices.handle_message(TOPIC, message("0" * 64, nonce="z"), now=T0)
    client = web(secretary_a)
    base = reverse("meetings:devices") + "?tab=messages"
    html = client.get(base + "&outcome=bad_signature").content.decode()
    assert html.count('data-testid="messages"') == 1
    assert "签名无效" in html or "Bad signature" in html
    assert "张党员" not in html
    resp = client.get(base + "&export=xlsx")
    assert resp.status_code == 200
    rows = list(load_workbook(io.BytesIO(resp.content)).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 3  # header + two messages
    assert all(CARD not in " ".join(str(c) for c in row) for row in rows)


def test_registering_a_device_on_the_page_shows_the_secret_once(site, secretary_a, web):
    client = web(secretary_a)
    resp = client.post(
        reverse("meetings:devices"),
        {"action": "device_add", "place": site.place.pk, "device_id": "hall-face-1", "name": "人脸终端"},
    )
    assert resp.status_code == 200
    html = resp.content.decode()
    device = CheckinDevice.objects.get(device_id="hall-face-1")
    secret = decrypt(device.secret_encrypted)
    assert secret in html and "dangjian/checkin/hall-face-1" in html
    assert device.org == site.place.org
    assert secret not in client.get(reverse("meetings:devices")).content.decode()


def test_page_form_errors_are_shown_next_to_the_field(site, secretary_a, web):
    resp = web(secretary_a).post(
        reverse("meetings:devices"),
        {"action": "device_add", "place": site.place.pk, "device_id": "room-101-reader", "name": "重复"},
    )
    assert resp.status_code == 400
    assert "invalid-feedback" in resp.content.decode()


def test_page_registers_and_deactivates_cards(site, tree, secretary_a, web, member_factory):
    other = member_factory(tree.branch_a)
    client = web(secretary_a)
    resp = client.post(
        reverse("meetings:devices"), {"action": "card_add", "member": other.pk, "card_number": "A1B2C3D4"}
    )
    assert resp.status_code == 302
    card = CheckinCard.objects.get(member=other)
    assert card.card_masked == "****C3D4"
    client.post(reverse("meetings:devices"), {"action": "card_deactivate", "card": card.pk})
    card.refresh_from_db()
    assert card.active is False


def test_page_adds_a_place(tree, secretary_a, web):
    from dangjian.meetings.models import MeetingPlace

    resp = web(secretary_a).post(
        reverse("meetings:devices"), {"action": "place_add", "org": tree.branch_a.pk, "name": "二楼会议室"}
    )
    assert resp.status_code == 302
    assert MeetingPlace.objects.filter(org=tree.branch_a, name="二楼会议室").exists()


@pytest.mark.parametrize(
    ("persona", "get", "post"), [("member_a", 403, 403), ("auditor", 200, 403), ("resident", 403, 403)]
)
def test_devices_page_permissions(site, people, web, persona, get, post):
    client = web(people[persona])
    assert client.get(reverse("meetings:devices")).status_code == get
    resp = client.post(reverse("meetings:devices"), {"action": "device_toggle", "device": site.device.pk})
    assert resp.status_code == post
    site.device.refresh_from_db()
    assert site.device.active


def test_stranger_cannot_touch_another_branchs_device(site, secretary_b, web):
    resp = web(secretary_b).post(
        reverse("meetings:devices"), {"action": "device_reset", "device": site.device.pk}
    )
    assert resp.status_code == 404
    assert decrypt(CheckinDevice.objects.get(pk=site.device.pk).secret_encrypted) == site.secret
