"""QR check-in over the API: ``/api/v1/meetings/{id}/checkin/`` (name ``api:meeting-checkin``).

- ``GET`` — for those who may change the meeting (its secretary, committee members, org managers): the
  current code (``token``), the phone address it stands for (``url``), the QR code as inline SVG
  (``svg``), seconds until the next code (``expires_in``), the window number (``window``), whether
  check-in is open (``state``: open / not_open / closed / cancelled, with ``opens_at``/``closes_at``)
  and the live attendance (``present``, ``expected``, ``checked_in``: names, times, channels). Outside the
  check-in window there is no code (``token`` null). A read-only role (auditor) and members get 403: the
  code is the proof of being in the room.
- ``POST {"token": "..."}`` — the logged-in member checks in (200 with ``created`` false when they were
  already present). Refusals are 400 with ``fields.token`` and ``code`` (``expired``, ``replay``,
  ``wrong_meeting``, ``bad_signature``, ``not_open``, ``closed``, ``cancelled``, ``not_expected``). A
  login without a member record gets 403.

The meeting is looked up among those the caller may see (404 for missing and forbidden alike).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.meetings import checkin
from dangjian.meetings.models import Meeting


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG that scales to its container (``segno``, made here)."""
    import segno

    return segno.make(text, error="m").svg_inline(scale=1, border=2, omitsize=True, dark="#111")


def phone_url(request: Any, token: str) -> str:
    return request.build_absolute_uri(reverse("mobile_meetings:checkin", kwargs={"token": token}))


def may_run_checkin(user: Any, meeting: Meeting) -> bool:
    return Meeting.objects.restrict(user, "change").filter(pk=meeting.pk).exists()


def screen_payload(request: Any, meeting: Meeting, now: Any = None) -> dict[str, Any]:
    """What the secretary's screen needs (shared by the API and the screen page)."""
    now = now or timezone.now()
    state = checkin.checkin_state(meeting, now)
    token = url = svg = None
    if state["state"] == "open":
        token = checkin.token_for(meeting, now)
        url = phone_url(request, token)
        svg = qr_svg(url)
    return {
        "meeting": meeting.pk,
        "state": state["state"],
        "opens_at": state["opens_at"],
        "closes_at": state["closes_at"],
        "token": token,
        "url": url,
        "svg": svg,
        "window": checkin.window_number(now, state["seconds"]),
        "window_seconds": state["seconds"],
        "expires_in": checkin.token_expires_in(meeting, now),
        "expected": state["expected"],
        "present": state["present"],
        "leave": state["leave"],
        "checked_in": [
            {
                "name": row["name"],
                "at": timezone.localtime(row["at"]).strftime("%H:%M:%S") if row["at"] else "",
                "channel": row["channel"],
                "channel_label": row["channel_label"],
            }
            for row in state["checked_in"]
        ],
        "rule": state["rule_ref"],
    }


class CheckinSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)


class MeetingCheckinView(APIView):
    """The meeting's QR check-in: the current code for the screen (GET), a member's check-in (POST)."""

    def _meeting(self, request: Request, pk: int) -> Meeting:
        return get_object_or_404(Meeting.objects.restrict(request.user, "view").select_related("org"), pk=pk)

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        meeting = self._meeting(request, pk)
        if not may_run_checkin(request.user, meeting):
            raise exceptions.PermissionDenied(
                _("Only those who run this meeting can show its check-in code.")
            )
        response = Response(screen_payload(request, meeting))
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        request=CheckinSerializer,
        responses={
            200: inline_serializer(
                "CheckinResult",
                {
                    "meeting": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "checked_in_at": serializers.DateTimeField(),
                    "created": serializers.BooleanField(),
                    "message": serializers.CharField(),
                },
            ),
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        meeting = self._meeting(request, pk)
        if checkin.member_of(request.user) is None:
            raise exceptions.PermissionDenied(
                _(
                    "Your login is not linked to a party member in the register, so you cannot check in. Ask your branch secretary."
                )
            )
        body = CheckinSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            attendee = checkin.checkin_by_token(
                user=request.user, token=body.validated_data["token"], meeting=meeting
            )
        except ValidationError as exc:
            return Response(
                {
                    "error": {
                        "code": checkin.refusal_code(exc) or "invalid",
                        "message": checkin.refusal_message(exc),
                        "fields": {"token": [str(m) for m in exc.messages]},
                    }
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        at = timezone.localtime(attendee.checked_in_at) if attendee.checked_in_at else None
        if attendee.checkin_created:
            message = _("Checked in. Welcome!")
        else:
            message = _("You have already checked in at %(time)s.") % {
                "time": at.strftime("%H:%M") if at else ""
            }
        return Response(
            {
                "meeting": meeting.pk,
                "status": attendee.status,
                "checked_in_at": attendee.checked_in_at,
                "created": attendee.checkin_created,
                "message": message,
            }
        )
