"""``{% load meeting_checkin %}{% checkin_panel meeting %}``: the attendance channels box of the meeting page.

For those who may change the meeting: the button to the QR check-in screen with the check-in window,
the video room (when a Jitsi server is configured and the meeting has a room) and the check-in devices
at the meeting's venue. For a member: their own check-in (or how to check in) and the video link.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dangjian.meetings import checkin, devices, video
from dangjian.meetings.models import AttendanceStatus, Attendee, Meeting, MeetingStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def checkin_panel(context: Any, meeting: Meeting) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    now = timezone.now()
    may_run = Meeting.objects.restrict(user, "change").filter(pk=meeting.pk).exists()
    opens, closes = checkin.checkin_window(meeting)
    cancelled = meeting.status == MeetingStatus.CANCELLED
    if cancelled:
        state = "cancelled"
    elif now < opens:
        state = "not_open"
    elif now > closes:
        state = "closed"
    else:
        state = "open"
    mine = (
        Attendee.objects.filter(meeting=meeting, member__user=user)
        .only("status", "checked_in_at", "channel")
        .first()
    )
    has_video = video.has_video(meeting) and not cancelled
    venue_devices = devices.devices_at(meeting.venue) if may_run and meeting.venue_id else []
    if not may_run and mine is None and not has_video:
        return ""
    return render_to_string(
        "meetings/_checkin_panel.html",
        {
            "meeting": meeting,
            "may_run": may_run,
            "state": state,
            "opens": opens,
            "closes": closes,
            "mine": mine,
            "mine_present": mine is not None and mine.status == AttendanceStatus.PRESENT,
            "has_video": has_video,
            "video_url": reverse("meetings:video_join", args=[meeting.pk]) if has_video else "",
            "screen_url": reverse("meetings:checkin_screen", args=[meeting.pk]),
            "devices_url": reverse("meetings:devices"),
            "devices": venue_devices,
        },
        request=request,
    )
