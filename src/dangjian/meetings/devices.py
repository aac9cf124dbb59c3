"""Check-in devices: card readers and face terminals that publish over MQTT (``DANGJIAN_MQTT_URL``).

Registering
-----------
A device is registered at a place (``MeetingPlace``) by a secretary or an org manager of its
organisation (``device_register``); the platform makes a random secret, shows it **once** and keeps it
encrypted (``core.crypto``). A lost secret is replaced with ``device_secret_reset``. A member's card is
registered with ``card_register``: only its blind index (``blind_index(card, "checkin_card")``) and a
masked number (``****1234``) are kept.

Message format
--------------
Topic ``dangjian/checkin/<device_id>``, QoS 1, payload one UTF-8 JSON object of at most 4 KB::

    {"card": "0012345678", "ts": 1767225600, "nonce": "a1b2c3d4", "sig": "<64 hex digits>"}
    {"id_index": "<blind index of the member's ID number>", "ts": ..., "nonce": ..., "sig": ...}

- exactly one of ``card`` (the card number as read) and ``id_index`` (the member's ID-number blind
  index, as the platform gave it to a face terminal when the face was enrolled);
- ``ts``: when the person presented themselves, in whole Unix seconds; more than 5 minutes away from
  the listener's clock → ``stale``;
- ``nonce``: 1–64 characters, new for every message; a nonce the device already used → ``duplicate``;
- ``sig``: lower-case hex HMAC-SHA256, keyed with the device secret, of the *canonical JSON* of every
  other field: keys sorted, no spaces (separators ``,`` and ``:``), UTF-8 without escaping —
  ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. Example::

    body = '{"card":"0012345678","nonce":"a1b2c3d4","ts":1767225600}'
    sig = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()

What becomes of a message
-------------------------
``handle_message`` checks, in this order, and logs every message as a ``DeviceMessage`` with its
outcome (card numbers and identities masked, payload cut to a bounded length) and a Python log line:
unknown or inactive device, malformed (not JSON, missing or wrong fields, over 4 KB), bad signature
(constant-time comparison), stale, duplicate nonce, unknown person, no meeting in check-in at the
device's place (``Meeting.venue`` is the device's place, inside the meeting's check-in window of rule
``meetings``), not expected, already present (duplicate), recorded (``services.checkin_record`` with
channel ``device``). Nothing raises out of ``handle_message``: the listener (``dangjian mqtt_listen``)
must survive any message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.crypto import blind_index, decrypt, encrypt
from dangjian.core.scoping import ensure_can, ensure_in_scope
from dangjian.meetings.models import (
    AttendanceChannel,
    AttendanceStatus,
    Attendee,
    CheckinCard,
    CheckinDevice,
    DeviceMessage,
    Meeting,
    MeetingPlace,
    MeetingStatus,
)

logger = logging.getLogger("dangjian.meetings.devices")

TOPIC_PREFIX = "dangjian/checkin/"
MAX_PAYLOAD = 4096
STALE_AFTER = dt.timedelta(minutes=5)
# How far back a device's nonces are remembered: beyond it, a replayed message is stale anyway.
NONCE_MEMORY = dt.timedelta(minutes=15)
PAYLOAD_KEEP = 1000
CARD_INDEX_PURPOSE = "checkin_card"
_DEVICE_ID = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LONG_NUMBER = re.compile(r"\d{5,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Outcomes after which the message is known to come from the device (its nonce counts as used).
_AUTHENTIC = (
    DeviceMessage.Outcome.RECORDED,
    DeviceMessage.Outcome.DUPLICATE,
    DeviceMessage.Outcome.UNKNOWN_PERSON,
    DeviceMessage.Outcome.NO_MEETING,
    DeviceMessage.Outcome.NOT_EXPECTED,
    DeviceMessage.Outcome.STALE,
)
Outcome = DeviceMessage.Outcome


# --- registering -------------------------------------------------------------------------------------


def place_create(*, actor: Any, org: Any, name: str, address: str = "") -> MeetingPlace:
    """A room where ``org`` meets (devices are installed at places; meetings name their venue)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the place a name.")})
    ensure_can(actor, "add", org)
    if MeetingPlace.objects.filter(org=org, name=name).exists():
        raise ValidationError({"name": _("This organisation already has a place with this name.")})
    with transaction.atomic():
        place = MeetingPlace.objects.create(org=org, name=name, address=(address or "").strip()[:200])
        audit_log(actor=actor, action="meetings.place_created", obj=place, changes={"name": name})
        ensure_in_scope(actor, place, "change")
    return place


def new_secret() -> str:
    return secrets.token_hex(32)


def device_register(
    *, actor: Any, org: Any, place: MeetingPlace, device_id: str, name: str
) -> tuple[CheckinDevice, str]:
    """Register a device of ``org`` at ``place``; returns the device and its secret, shown only now."""
    device_id = (device_id or "").strip()
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not _DEVICE_ID.fullmatch(device_id):
        errors["device_id"] = _(
            "Use 1 to 64 letters, digits, hyphens or underscores (it is the last part of the MQTT topic)."
        )
    elif CheckinDevice.objects.filter(device_id=device_id).exists():
        errors["device_id"] = _("A device with this id is already registered.")
    if not name:
        errors["name"] = _("Give the device a name (where it is, what it reads).")
    if errors:
        raise ValidationError(errors)
    ensure_can(actor, "add", org)
    if not MeetingPlace.objects.restrict(actor, "view").filter(pk=place.pk).exists():
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    secret = new_secret()
    with transaction.atomic():
        try:
            with transaction.atomic():
                device = CheckinDevice.objects.create(
                    device_id=device_id,
                    name=name[:100],
                    org=org,
                    place=place,
                    secret_encrypted=encrypt(secret),
                )
        except IntegrityError as exc:
            raise ValidationError({"device_id": _("A device with this id is already registered.")}) from exc
        audit_log(
            actor=actor,
            action="meetings.device_registered",
            obj=device,
            changes={"device_id": device_id, "place": place.name},
        )
        ensure_in_scope(actor, device, "change")
    return device, secret


def device_secret_reset(*, actor: Any, device: CheckinDevice) -> str:
    """A new secret for a device (the old one stops working at once); returned once."""
    ensure_can(actor, "change", device.org)
    secret = new_secret()
    with transaction.atomic():
        device.secret_encrypted = encrypt(secret)
        device.save(update_fields=["secret_encrypted"])
        audit_log(actor=actor, action="meetings.device_secret_reset", obj=device, changes={})
        ensure_in_scope(actor, device, "change")
    return secret


def device_set_active(*, actor: Any, device: CheckinDevice, active: bool) -> CheckinDevice:
    ensure_can(actor, "change", device.org)
    with transaction.atomic():
        device.active = bool(active)
        device.save(update_fields=["active"])
        audit_log(actor=actor, action="meetings.device_active", obj=device, changes={"active": device.active})
        ensure_in_scope(actor, device, "change")
    return device


def normalise_card(card_number: str) -> str:
    """Card numbers as readers send them: spaces and dashes dropped, letters upper-case."""
    return re.sub(r"[\s-]", "", str(card_number or "")).upper()


def mask_card(card: str) -> str:
    if len(card) <= 4:
        return "*" * len(card)
    return "****" + card[-4:]


def card_register(*, actor: Any, member: Any, card_number: str) -> CheckinCard:
    """Register a member's check-in card: only its blind index and a masked number are kept."""
    from dangjian.members.models import Member

    card = normalise_card(card_number)
    if not re.fullmatch(r"[0-9A-Z]{4,32}", card):
        raise ValidationError({"card_number": _("Enter the card number: 4 to 32 letters or digits.")})
    if not Member.objects.restrict(actor, "change").filter(pk=member.pk).exists():
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    index = blind_index(card, CARD_INDEX_PURPOSE)
    with transaction.atomic():
        existing = CheckinCard.objects.select_for_update().filter(card_index=index).first()
        if existing is not None and existing.active and existing.member_id != member.pk:
            raise ValidationError({"card_number": _("This card is already registered to another member.")})
        if existing is not None and existing.active:
            return existing
        if existing is not None:  # a card handed back and now given out again
            existing.member = member
            existing.active = True
            existing.card_masked = mask_card(card)
            existing.save(update_fields=["member", "active", "card_masked"])
            result = existing
        else:
            result = CheckinCard.objects.create(member=member, card_index=index, card_masked=mask_card(card))
        audit_log(
            actor=actor, action="meetings.card_registered", obj=result, changes={"card": result.card_masked}
        )
        ensure_in_scope(actor, result, "change")
    return result


def card_deactivate(*, actor: Any, card: CheckinCard) -> CheckinCard:
    if not CheckinCard.objects.restrict(actor, "change").filter(pk=card.pk).exists():
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    with transaction.atomic():
        card.active = False
        card.save(update_fields=["active"])
        audit_log(
            actor=actor, action="meetings.card_deactivated", obj=card, changes={"card": card.card_masked}
        )
    return card


# --- messages ----------------------------------------------------------------------------------------


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes a device signs: the JSON of every field but ``sig``, keys sorted, no spaces, UTF-8."""
    body = {k: v for k, v in fields.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(fields: dict[str, Any], secret: str) -> str:
    """The ``sig`` of a message (what a device computes; used by tests and the simulator)."""
    return hmac.new(secret.encode("utf-8"), canonical(fields), hashlib.sha256).hexdigest()


def _mask_long_numbers(text: str) -> str:
    return _LONG_NUMBER.sub(lambda m: "*" * (len(m.group()) - 2) + m.group()[-2:], text)


def _mask_value(key: str, value: Any) -> Any:
    if key == "card":
        # A card sent as a JSON number or a list (malformed, but kept in the log) is masked too.
        return mask_card(normalise_card(value)) if isinstance(value, str) else "****"
    if key == "id_index":
        return value[:6] + "…" if isinstance(value, str) and len(value) > 6 else "…"
    if key == "sig" and isinstance(value, str):
        return value[:8] + "…"
    if key in ("ts", "nonce"):  # kept exactly: the duplicate check reads the nonce back
        return value
    # An unknown field (an "idcard" a misconfigured terminal adds): long digit runs masked, as in a
    # payload that is not a JSON object.
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _mask_long_numbers(text) if _LONG_NUMBER.search(text) else value


def _printable(text: str) -> str:
    """Control characters (NUL cannot even be stored by PostgreSQL) and lone surrogates (which no
    database encodes: JSON's "\\ud800" decodes to one) shown as U+FFFD."""
    text = text.encode("utf-8", errors="replace").decode("utf-8") if _SURROGATE.search(text) else text
    return _CONTROL.sub("\ufffd", text)


def _masked_payload(obj: Any, raw: bytes) -> str:
    """What is kept of a message: the JSON with card and identity masked, cut to a bounded length."""
    if isinstance(obj, dict):
        text = json.dumps(
            {str(k): _mask_value(str(k), v) for k, v in obj.items()},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )
    else:
        # Not a JSON object: keep a readable prefix with any long number masked.
        text = _printable(raw[:PAYLOAD_KEEP].decode("utf-8", errors="replace"))
        text = _mask_long_numbers(text)
    return _printable(text[:PAYLOAD_KEEP])


class _Outcome(Exception):
    """Internal: how a message ends (raised from the checks, turned into a DeviceMessage)."""

    def __init__(self, outcome: str, detail: str = "", *, meeting: Any = None, member: Any = None) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.meeting = meeting
        self.member = member


def _device_of(topic: str) -> str:
    if topic.startswith(TOPIC_PREFIX):
        return topic[len(TOPIC_PREFIX) :]
    return topic


def _person(obj: dict[str, Any]) -> Any | None:
    from dangjian.members.models import Member

    if "card" in obj:
        index = blind_index(normalise_card(obj["card"]), CARD_INDEX_PURPOSE)
        card = CheckinCard.objects.select_related("member").filter(card_index=index, active=True).first()
        return card.member if card else None
    return Member.objects.filter(id_number_index=obj["id_index"]).first()


def meetings_in_checkin(place: MeetingPlace, now: dt.datetime) -> list[Meeting]:
    """The meetings at ``place`` that take check-ins at ``now`` (rule ``meetings``: the window)."""
    from dangjian.meetings.checkin import checkin_is_open

    # A wide prefilter; each meeting's own window (its rule version) decides.
    candidates = (
        Meeting.objects.select_related("org")
        .filter(
            venue=place, starts_at__lte=now + dt.timedelta(hours=6), starts_at__gte=now - dt.timedelta(days=2)
        )
        .exclude(status=MeetingStatus.CANCELLED)
        .order_by("starts_at")
    )
    return [m for m in candidates if checkin_is_open(m, now)]


def _validate(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Outcome(Outcome.MALFORMED, _("not a JSON object"))
    sig = obj.get("sig")
    if not isinstance(sig, str) or not _HEX64.match(sig):
        raise _Outcome(Outcome.MALFORMED, _("sig missing or not 64 hex digits"))
    return obj


def _check_fields(obj: dict[str, Any]) -> None:
    extra = set(obj) - {"card", "id_index", "ts", "nonce", "sig"}
    if extra:
        raise _Outcome(
            Outcome.MALFORMED, _("unknown fields: %(fields)s") % {"fields": ", ".join(sorted(extra))[:100]}
        )
    if ("card" in obj) == ("id_index" in obj):
        raise _Outcome(Outcome.MALFORMED, _("exactly one of card and id_index is required"))
    who = obj.get("card", obj.get("id_index"))
    if not isinstance(who, str) or not 1 <= len(who) <= 128:
        raise _Outcome(Outcome.MALFORMED, _("card or id_index must be a string of 1-128 characters"))
    ts = obj.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise _Outcome(Outcome.MALFORMED, _("ts must be whole Unix seconds"))
    nonce = obj.get("nonce")
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= 64:
        raise _Outcome(Outcome.MALFORMED, _("nonce must be a string of 1-64 characters"))


def _nonce_seen(device: CheckinDevice, nonce: str) -> bool:
    fragment = json.dumps({"nonce": nonce}, separators=(",", ":"), ensure_ascii=False)[1:-1]
    # ``received_at`` is the wall clock of the listener (not the ``now`` a test may pass): the memory is
    # about when messages arrived. ``contains`` is case-insensitive on SQLite: the database narrows, Python compares exactly.
    payloads = DeviceMessage.objects.filter(
        device=device,
        outcome__in=_AUTHENTIC,
        received_at__gte=timezone.now() - NONCE_MEMORY,
        payload__contains=fragment,
    ).values_list("payload", flat=True)[:100]
    return any(fragment in p for p in payloads)


def _process(
    device_code: str, raw: bytes, now: dt.datetime, state: dict[str, Any]
) -> tuple[str, str, Any, Any]:
    """The checks, in order; returns (outcome, detail, meeting, member) or raises _Outcome."""
    from dangjian.meetings import services
    from dangjian.meetings.checkin import refusal_code

    if not _DEVICE_ID.fullmatch(device_code):
        raise _Outcome(Outcome.MALFORMED, _("topic is not dangjian/checkin/<device_id>"))
    device = CheckinDevice.objects.select_related("place").filter(device_id=device_code).first()
    if device is None:
        raise _Outcome(Outcome.UNKNOWN_DEVICE, _("no device with this id"))
    state["device"] = device
    if not device.active:
        raise _Outcome(Outcome.UNKNOWN_DEVICE, _("device is not in use"))
    if len(raw) > MAX_PAYLOAD:
        raise _Outcome(Outcome.MALFORMED, _("payload over %(size)s bytes") % {"size": MAX_PAYLOAD})
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Outcome(Outcome.MALFORMED, _("not UTF-8 JSON")) from None
    state["obj"] = obj
    obj = _validate(obj)
    try:
        body = canonical(obj)
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800" in the JSON): no device signs that
        raise _Outcome(Outcome.MALFORMED, _("not UTF-8 JSON")) from None
    expected_sig = hmac.new(
        decrypt(device.secret_encrypted).encode("utf-8"), body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected_sig, obj["sig"].lower()):
        raise _Outcome(Outcome.BAD_SIGNATURE, _("signature does not match the device secret"))
    # From here on the message is the device's own.
    state["authentic"] = True
    _check_fields(obj)
    try:
        sent = dt.datetime.fromtimestamp(obj["ts"], tz=dt.UTC) if abs(obj["ts"]) < 10**11 else None
    except (ValueError, OverflowError, OSError):  # before year 1: stale like any far-off time
        sent = None
    if sent is None or abs(now - sent) > STALE_AFTER:
        raise _Outcome(Outcome.STALE, _("timestamp more than 5 minutes from the listener's clock"))
    if _nonce_seen(device, obj["nonce"]):
        raise _Outcome(Outcome.DUPLICATE, _("nonce already used by this device"))
    member = _person(obj)
    if member is None:
        raise _Outcome(Outcome.UNKNOWN_PERSON, _("no active card or member with this identity"))
    meetings = meetings_in_checkin(device.place, now)
    if not meetings:
        raise _Outcome(
            Outcome.NO_MEETING,
            (_("no meeting in check-in at %(place)s") % {"place": device.place.name})[:300],
            member=member,
        )
    expected_ids = set(
        Attendee.objects.filter(meeting__in=meetings, member=member, expected=True).values_list(
            "meeting_id", flat=True
        )
    )
    mine = [m for m in meetings if m.pk in expected_ids]
    if not mine:
        raise _Outcome(
            Outcome.NOT_EXPECTED,
            _("not expected at the meeting in progress"),
            meeting=meetings[0],
            member=member,
        )
    # Back-to-back meetings in one room: the one whose start is nearest.
    meeting = min(mine, key=lambda m: abs(m.starts_at - now))
    if Attendee.objects.filter(meeting=meeting, member=member, status=AttendanceStatus.PRESENT).exists():
        raise _Outcome(Outcome.DUPLICATE, _("already present"), meeting=meeting, member=member)
    try:
        _attendee, created = services.checkin_record(
            meeting=meeting, member=member, channel=AttendanceChannel.DEVICE, at=now, actor=None
        )
    except ValidationError as exc:
        code = refusal_code(exc)
        outcome = Outcome.NOT_EXPECTED if code == "not_expected" else Outcome.NO_MEETING
        raise _Outcome(
            outcome, "; ".join(str(m) for m in exc.messages)[:300], meeting=meeting, member=member
        ) from None
    if not created:
        raise _Outcome(Outcome.DUPLICATE, _("already present"), meeting=meeting, member=member)
    return (
        Outcome.RECORDED,
        (_("checked in at %(place)s") % {"place": device.place.name})[:300],
        meeting,
        member,
    )


def handle_message(topic: str, payload: bytes, now: dt.datetime | None = None) -> DeviceMessage:
    """Judge one device message, record attendance when it is good, and log it (never raises)."""
    now = now or timezone.now()
    raw = payload if isinstance(payload, bytes | bytearray) else str(payload or "").encode("utf-8")
    raw = bytes(raw)
    # Cut for the log only once judged: a 65-character topic must not pass for its 64-character prefix.
    full_code = _printable(_device_of(str(topic or "")))
    device_code = full_code[:64]
    state: dict[str, Any] = {}
    meeting = member = None
    try:
        with transaction.atomic():
            outcome, detail, meeting, member = _process(full_code, raw, now, state)
    except _Outcome as end:
        outcome, detail, meeting, member = end.outcome, end.detail, end.meeting, end.member
    except Exception as exc:  # a bug or a database hiccup must not stop the listener
        logger.exception("device message from %s could not be processed", device_code)
        outcome, detail = (
            Outcome.MALFORMED,
            _("could not be processed: %(error)s") % {"error": type(exc).__name__},
        )
    device = state.get("device")
    try:
        payload_kept = _masked_payload(state.get("obj"), raw)
    except Exception:  # noqa: BLE001 - an object json cannot write back (too deep): keep the raw prefix
        payload_kept = _masked_payload(None, raw)
    message = DeviceMessage(
        device_code=device_code,
        device=device,
        outcome=outcome,
        detail=detail[:300],
        payload=payload_kept,
        meeting=meeting,
        member=member,
    )
    try:
        with transaction.atomic():
            message.save()
            if device is not None and state.get("authentic"):
                CheckinDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
    except Exception:
        logger.exception("device message from %s could not be logged", device_code)
    log = logger.info if outcome == Outcome.RECORDED else logger.warning
    log(
        "device message %s from %s: %s%s",
        outcome,
        device_code,
        detail,
        f" (meeting {meeting.pk}, member {member.pk})" if meeting is not None and member is not None else "",
    )
    return message


# --- reads -------------------------------------------------------------------------------------------


def devices_at(place: MeetingPlace | None) -> list[CheckinDevice]:
    if place is None:
        return []
    return list(CheckinDevice.objects.filter(place=place).order_by("device_id"))


def messages_for(actor: Any) -> Any:
    """The device messages the actor may see: those of devices in their scope (an unknown device's
    messages belong to no organisation: system administrators see them)."""
    return DeviceMessage.objects.select_related("device", "device__place", "meeting", "member").restrict(
        actor, "view"
    )


__all__ = [
    "Outcome",
    "canonical",
    "card_deactivate",
    "card_register",
    "device_register",
    "device_secret_reset",
    "device_set_active",
    "handle_message",
    "place_create",
    "sign",
]
