"""``{% load meeting_transcript %}{% transcript_panel meeting %}``: the transcript box of the meeting page.

The state of the latest transcript, the top 10 keywords of the latest ready one, and links to the
transcript page and the report draft. Shown only to those who may see the meeting's transcripts (the
party workers of its organisation), in two queries.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from dangjian.meetings import transcripts
from dangjian.meetings.models import Meeting, Transcript

register = template.Library()

PANEL_KEYWORDS = 10


@register.simple_tag(takes_context=True)
def transcript_panel(context: Any, meeting: Meeting) -> SafeString:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not transcripts.can_view(user, meeting):
        return mark_safe("")  # noqa: S308 (an empty string)
    from dangjian.meetings.transcript_views import STATUS_BADGES

    latest = transcripts.latest_transcript(user, meeting)
    ready = latest if latest is not None and latest.status == Transcript.Status.READY else None
    if latest is not None and ready is None:
        ready = transcripts.latest_ready(user, meeting)
    analysis = (ready.analysis or {}) if ready is not None else {}
    return render_to_string(
        "meetings/_transcript_panel.html",
        {
            "meeting": meeting,
            "latest": latest,
            "ready": ready,
            "badge": STATUS_BADGES.get(latest.status, "text-bg-secondary") if latest else "",
            "in_progress": latest is not None and transcripts.in_progress(latest),
            "message": transcripts.status_message(latest) if latest and transcripts.retryable(latest) else "",
            "keywords": [w for w, _weight in (analysis.get("tfidf") or [])[:PANEL_KEYWORDS]],
            "can_change": transcripts.can_change(user, meeting),
        },
        request=request,
    )
