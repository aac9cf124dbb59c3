"""QR check-in: a code on the meeting screen that changes every ``checkin_token_seconds`` (30 s).

A token is ``<meeting id>.<window>.<nonce>.<signature>`` — the meeting id and the window number in base
36, a random nonce (base64url) and a truncated HMAC-SHA256 of the first three parts, keyed from
``SECRET_KEY`` with a salt of its own (``django.utils.crypto.salted_hmac``). About 40 characters, so the
phone URL it travels in (``/m/meetings/checkin/<token>/``) makes a small, easily scanned QR code.

``token_check`` accepts the current window and ``checkin_token_grace_windows`` previous ones (a code
scanned a few seconds before the screen changed still works) and refuses, each with its own code and a
message a member understands: a bad signature (``bad_signature``), a code of another meeting
(``wrong_meeting``), an expired code (``expired``), a cancelled meeting (``cancelled``), check-in not open
yet (``not_open``) or closed (``closed``), and a code the same member already used (``replay``, a
``CheckinTokenUse`` row). Check-in opens ``checkin_open_minutes_before`` the start and closes
``checkin_close_minutes_after`` the end — or 3 hours after the start when no end is planned (rule
``meetings``, local practice of the platform, not a national rule).

The phone page shows a confirm screen on GET and checks in on POST only (a link prefetch must never
record attendance). Between the scan and the press of the button — or a login in between — the page
carries a signed *scan proof* (``scan_proof``): the token is judged at the time it was scanned, for at
most ``SCAN_PROOF_SECONDS``, so that a member who had to log in first is not told the code expired.

Every channel records attendance through ``services.checkin_record`` (channel ``qr`` here).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.meetings.models import (
    AttendanceChannel,
    AttendanceStatus,
    Attendee,
    CheckinTokenUse,
    Meeting,
    MeetingStatus,
)

TOKEN_SALT = "dangjian.meetings.checkin.token"
SCAN_SALT = "dangjian.meetings.checkin.scan"
SIGNATURE_BYTES = 12  # 96 bits of HMAC-SHA256: ample for a code that lives a minute
NONCE_BYTES = 6
# How long a scan proof carries a scanned code through the confirm screen (and a login) on the phone.
SCAN_PROOF_SECONDS = 120
# Without a planned end, check-in closes this long after the start.
NO_END_CLOSE = dt.timedelta(hours=3)
RULE_KEY = "meetings"

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def _sign(body: str) -> str:
    digest = salted_hmac(TOKEN_SALT, body, algorithm="sha256").digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class TokenData:
    """What a well-signed token says."""

    meeting_id: int
    window: int
    nonce: str


@dataclass(frozen=True)
class Params:
    """The check-in figures of the rule ``meetings`` for one meeting."""

    seconds: int
    grace_windows: int
    open_before: dt.timedelta
    close_after: dt.timedelta
    rule_ref: str


def refusal(code: str, message: str) -> ValidationError:
    """A refusal of a check-in: ``ValidationError({"token": message})`` whose error carries ``code``."""
    return ValidationError({"token": [ValidationError(message, code=code)]})


def refusal_code(exc: ValidationError) -> str | None:
    """The code of a check-in refusal (ours or ``services.checkin_record``'s), or None."""
    if hasattr(exc, "error_dict"):
        for errors in exc.error_dict.values():
            for error in errors:
                if getattr(error, "code", None):
                    return error.code
        return None
    if hasattr(exc, "error_list"):
        for error in exc.error_list:
            if getattr(error, "code", None):
                return error.code
    return getattr(exc, "code", None)


def refusal_message(exc: ValidationError) -> str:
    """The first message of a refusal, for a page or a log line."""
    messages = exc.messages
    return str(messages[0]) if messages else ""


def params_for(meeting: Meeting) -> Params:
    on = meeting.date if meeting.date else timezone.localdate(meeting.starts_at)
    # A meeting recorded from before the first version (2018): judged by the first one, as the votes
    # and the compliance table do (review: the meeting page of a 2015 meeting answered 500).
    on = max(on, rulebook.versions(RULE_KEY)[0].effective_from)
    version = rulebook.rule(RULE_KEY, on=on, org=meeting.org)
    return Params(
        seconds=max(int(version["checkin_token_seconds"]), 5),
        grace_windows=max(int(version["checkin_token_grace_windows"]), 0),
        open_before=dt.timedelta(minutes=int(version["checkin_open_minutes_before"])),
        close_after=dt.timedelta(minutes=int(version["checkin_close_minutes_after"])),
        rule_ref=version.ref,
    )


def checkin_window(meeting: Meeting, params: Params | None = None) -> tuple[dt.datetime, dt.datetime]:
    """When check-in opens and closes (rule ``meetings``: checkin_open_minutes_before /
    checkin_close_minutes_after; without a planned end, 3 hours after the start)."""
    params = params or params_for(meeting)
    opens = meeting.starts_at - params.open_before
    closes = meeting.ends_at + params.close_after if meeting.ends_at else meeting.starts_at + NO_END_CLOSE
    return opens, closes


def checkin_is_open(meeting: Meeting, now: dt.datetime | None = None, params: Params | None = None) -> bool:
    """Whether the meeting takes check-ins at ``now`` (not cancelled, inside its check-in window)."""
    if meeting.status == MeetingStatus.CANCELLED:
        return False
    now = now or timezone.now()
    opens, closes = checkin_window(meeting, params)
    return opens <= now <= closes


def window_number(now: dt.datetime, seconds: int) -> int:
    return int(now.timestamp()) // seconds


def token_for(meeting: Meeting, now: dt.datetime | None = None) -> str:
    """The check-in token of the current window (a fresh nonce on every call)."""
    now = now or timezone.now()
    params = params_for(meeting)
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES)).decode("ascii").rstrip("=")
    body = f"{_b36(meeting.pk)}.{_b36(window_number(now, params.seconds))}.{nonce}"
    return f"{body}.{_sign(body)}"


def token_expires_in(meeting: Meeting, now: dt.datetime | None = None) -> int:
    """Seconds until the screen should show the next code (the end of the current window)."""
    now = now or timezone.now()
    seconds = params_for(meeting).seconds
    left = seconds - (int(now.timestamp()) % seconds)
    return max(left, 1)


def _bad() -> ValidationError:
    return refusal(
        "bad_signature", _("This check-in code is not valid. Scan the code on the meeting screen again.")
    )


def token_decode(token: str) -> TokenData:
    """The meeting, window and nonce of a well-signed token; ``bad_signature`` otherwise."""
    if not isinstance(token, str) or len(token) > 120:
        raise _bad()
    parts = token.strip().split(".")
    if len(parts) != 4 or not all(parts):
        raise _bad()
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(body), parts[3]):
        raise _bad()
    try:
        meeting_id, window = int(parts[0], 36), int(parts[1], 36)
    except ValueError as exc:  # cannot happen for a token we signed
        raise _bad() from exc
    return TokenData(meeting_id=meeting_id, window=window, nonce=parts[2])


def _when(moment: dt.datetime, now: dt.datetime) -> str:
    local = timezone.localtime(moment)
    if local.date() == timezone.localtime(now).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def token_check(
    token: str,
    member: Any,
    now: dt.datetime | None = None,
    *,
    meeting: Meeting | None = None,
    scanned_at: dt.datetime | None = None,
) -> Meeting:
    """The meeting a token checks ``member`` into, or ``ValidationError`` (see ``refusal_code``).

    ``meeting``: the meeting the code must belong to (the API's URL). ``scanned_at``: when the phone
    page first saw the code (a verified scan proof); the code's age and the check-in window are judged
    at that moment, which is never later than ``now``.
    """
    now = now or timezone.now()
    at = min(scanned_at, now) if scanned_at is not None else now
    data = token_decode(token)
    if meeting is not None and data.meeting_id != meeting.pk:
        raise refusal("wrong_meeting", _("This check-in code belongs to another meeting."))
    found = meeting or Meeting.objects.select_related("org").filter(pk=data.meeting_id).first()
    if found is None:
        raise refusal("wrong_meeting", _("This meeting no longer exists."))
    params = params_for(found)
    current = window_number(at, params.seconds)
    # One window ahead is tolerated: several web servers whose clocks differ by a second or two.
    if data.window > current + 1 or data.window < current - params.grace_windows:
        raise refusal(
            "expired",
            _(
                "This check-in code has expired. Scan the code on the screen again; it changes every %(seconds)s seconds."
            )
            % {"seconds": params.seconds},
        )
    if found.status == MeetingStatus.CANCELLED:
        raise refusal("cancelled", _("This meeting has been cancelled."))
    opens, closes = checkin_window(found, params)
    if at < opens:
        raise refusal(
            "not_open", _("Check-in for this meeting opens at %(time)s.") % {"time": _when(opens, now)}
        )
    if at > closes:
        raise refusal(
            "closed", _("Check-in for this meeting closed at %(time)s.") % {"time": _when(closes, now)}
        )
    if (
        member is not None
        and CheckinTokenUse.objects.filter(meeting=found, member=member, nonce=data.nonce).exists()
    ):
        raise refusal("replay", _("This code has already been used. Scan the code on the screen again."))
    return found


def scan_proof(token: str, now: dt.datetime | None = None) -> str:
    """A signed note that the phone page saw ``token`` at ``now`` (carried through confirm and login)."""
    now = now or timezone.now()
    return signing.dumps(
        {"s": token.rsplit(".", 1)[-1], "at": int(now.timestamp())}, salt=SCAN_SALT, compress=True
    )


def scan_time(proof: str, token: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When ``token`` was scanned, if ``proof`` is a valid, recent proof for it; None otherwise."""
    if not proof or not token:
        return None
    now = now or timezone.now()
    try:
        data = signing.loads(proof, salt=SCAN_SALT)
        at = dt.datetime.fromtimestamp(int(data["at"]), tz=dt.UTC)
        same = hmac.compare_digest(str(data["s"]), token.rsplit(".", 1)[-1])
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return None
    if not same or at > now + dt.timedelta(seconds=5) or now - at > dt.timedelta(seconds=SCAN_PROOF_SECONDS):
        return None
    return at


def member_of(user: Any) -> Any | None:
    """The register entry of a login (None for a party worker without one, or a resident)."""
    if not getattr(user, "is_authenticated", False):
        return None
    from dangjian.members.models import Member

    return Member.objects.filter(user=user).select_related("org").first()


def _no_member() -> ValidationError:
    return refusal(
        "no_member",
        _(
            "Your login is not linked to a party member in the register, so you cannot check in. Ask your branch secretary."
        ),
    )


def present_attendee(meeting_id: int, member: Any) -> Attendee | None:
    return (
        Attendee.objects.select_related("meeting", "meeting__org")
        .filter(meeting_id=meeting_id, member=member, status=AttendanceStatus.PRESENT)
        .first()
    )


def expected_attendee(meeting: Meeting, member: Any) -> Attendee | None:
    return Attendee.objects.filter(meeting=meeting, member=member, expected=True).first()


def checkin_by_token(
    *,
    user: Any,
    token: str,
    now: dt.datetime | None = None,
    meeting: Meeting | None = None,
    scanned_at: dt.datetime | None = None,
) -> Attendee:
    """Check the logged-in member in with a scanned code; returns the attendee row.

    ``attendee.checkin_created`` says whether this call checked them in (False: they were already
    present — a friendly answer, not an error). Refusals are ``ValidationError`` (``refusal_code``);
    ``not_expected`` comes from ``services.checkin_record``.
    """
    from dangjian.meetings import services

    now = now or timezone.now()
    member = member_of(user)
    if member is None:
        raise _no_member()
    data = token_decode(token)
    if meeting is not None and data.meeting_id != meeting.pk:
        raise refusal("wrong_meeting", _("This check-in code belongs to another meeting."))
    already = present_attendee(data.meeting_id, member)
    if already is not None:
        already.checkin_created = False
        return already
    with transaction.atomic():
        found = token_check(token, member, now, meeting=meeting, scanned_at=scanned_at)
        try:
            with transaction.atomic():
                CheckinTokenUse.objects.create(meeting=found, member=member, nonce=data.nonce)
        except IntegrityError as exc:
            raise refusal(
                "replay", _("This code has already been used. Scan the code on the screen again.")
            ) from exc
        attendee, created = services.checkin_record(
            meeting=found, member=member, channel=AttendanceChannel.QR, at=now, actor=user
        )
    attendee.checkin_created = created
    return attendee


def checkin_state(meeting: Meeting, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the secretary's screen shows: whether check-in is open, the counts and who checked in."""
    now = now or timezone.now()
    params = params_for(meeting)
    opens, closes = checkin_window(meeting, params)
    rows = list(
        Attendee.objects.filter(meeting=meeting)
        .select_related("member")
        .order_by(F("checked_in_at").desc(nulls_last=True), "id")
        .values("member__name", "status", "expected", "channel", "checked_in_at")
    )
    expected = sum(1 for r in rows if r["expected"])
    present = [r for r in rows if r["status"] == AttendanceStatus.PRESENT]
    channels = dict(AttendanceChannel.choices)
    if meeting.status == MeetingStatus.CANCELLED:
        state = "cancelled"
    elif now < opens:
        state = "not_open"
    elif now > closes:
        state = "closed"
    else:
        state = "open"
    return {
        "state": state,
        "opens_at": opens,
        "closes_at": closes,
        "expected": expected,
        "present": len(present),
        "leave": sum(1 for r in rows if r["expected"] and r["status"] == AttendanceStatus.LEAVE),
        "checked_in": [
            {
                "name": r["member__name"],
                "at": r["checked_in_at"],
                "channel": r["channel"],
                "channel_label": str(channels.get(r["channel"], "")),
            }
            for r in present
        ],
        "seconds": params.seconds,
        "rule_ref": params.rule_ref,
    }
