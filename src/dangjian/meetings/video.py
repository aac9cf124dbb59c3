"""Video meetings on a Jitsi Meet server (``DANGJIAN_JITSI_URL``).

Only when the server is configured: without it ``video_enabled()`` is False, the option is hidden on
every page and ``/meetings/<id>/video/`` answers 404. A meeting has a room when ``Meeting.video_room`` is
set (chosen when it is planned). Members join through the platform's link, which records who joined
and when (``VideoJoin``) and — inside the meeting's check-in window, for a member who is expected —
records attendance with the channel ``video`` (``services.checkin_record``), then sends the browser to
``<JITSI_URL>/<room>``.

Secured rooms: with ``DANGJIAN_JITSI_JWT_SECRET`` the link carries ``?jwt=`` — an HS256 JSON Web Token
as Jitsi's token authentication (prosody ``mod_auth_token``) expects: ``aud`` "jitsi", ``iss`` the app id
(``DANGJIAN_JITSI_APP_ID``, default "dangjian"), ``sub`` the server's host name, ``room``, ``exp``/``nbf``,
and ``context.user`` with the display name (moderator for those who may change the meeting). Written
with ``hmac`` and base64url; no JWT library is needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.utils import timezone

from dangjian.meetings.models import Meeting

TOKEN_LIFETIME = dt.timedelta(hours=4)


def jitsi_url() -> str:
    return (getattr(settings, "JITSI_URL", "") or "").strip().rstrip("/")


def video_enabled() -> bool:
    """Whether a Jitsi Meet server is configured (otherwise video is hidden everywhere)."""
    return bool(jitsi_url())


def has_video(meeting: Meeting) -> bool:
    """Whether this meeting offers its video room now (server configured and a room chosen)."""
    return video_enabled() and bool(meeting.video_room)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def jwt_encode(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JSON Web Token (RFC 7519) of ``claims``."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        for part in (header, claims)
    )
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def jwt_claims(
    meeting: Meeting, user: Any, now: dt.datetime | None = None, moderator: bool = False
) -> dict[str, Any]:
    now = now or timezone.now()
    name = (
        getattr(user, "display_name", "") or getattr(user, "full_name", "") or getattr(user, "username", "")
    )
    return {
        "aud": "jitsi",
        "iss": getattr(settings, "JITSI_APP_ID", "") or "dangjian",
        "sub": urlsplit(jitsi_url()).hostname or "",
        "room": meeting.video_room,
        "nbf": int(now.timestamp()) - 60,
        "exp": int((now + TOKEN_LIFETIME).timestamp()),
        "context": {"user": {"id": str(getattr(user, "pk", "")), "name": str(name), "moderator": moderator}},
    }


def join_url(meeting: Meeting, user: Any, *, now: dt.datetime | None = None, moderator: bool = False) -> str:
    """The address of the meeting's room for ``user`` ("" when video is off or the meeting has no room)."""
    if not has_video(meeting):
        return ""
    url = f"{jitsi_url()}/{quote(meeting.video_room, safe='')}"
    secret = getattr(settings, "JITSI_JWT_SECRET", "") or ""
    if secret:
        token = jwt_encode(jwt_claims(meeting, user, now, moderator=moderator), secret)
        url = f"{url}?{urlencode({'jwt': token})}"
    return url


def video_join_record(*, user: Any, meeting: Meeting, now: dt.datetime | None = None) -> tuple[Any, Any]:
    """Record that ``user`` joined the room (``VideoJoin``) and, inside the check-in window, their
    attendance (channel ``video``) when they are an expected member. Returns (video_join, attendee or
    None). Never refuses: joining the room is allowed to anyone who may see the meeting."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from dangjian.meetings import services
    from dangjian.meetings.checkin import checkin_is_open, expected_attendee, member_of
    from dangjian.meetings.models import AttendanceChannel, VideoJoin

    now = now or timezone.now()
    member = member_of(user)
    attendee = None
    with transaction.atomic():
        join = VideoJoin.objects.create(meeting=meeting, member=member, user=user)
        if member is not None and checkin_is_open(meeting, now) and expected_attendee(meeting, member):
            try:
                with transaction.atomic():
                    attendee, _created = services.checkin_record(
                        meeting=meeting, member=member, channel=AttendanceChannel.VIDEO, at=now, actor=user
                    )
            except ValidationError:  # refused by the one check-in path: the join is still recorded
                attendee = None
    return join, attendee
