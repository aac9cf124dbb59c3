"""The votes panel of the meeting page: ``{% load meeting_votes %}{% votes_panel meeting %}``.

Lists the meeting's votes (those the user may see) with their tallies, the quorum and the yes votes the
rule required, whether each passed and the rule that judged it; a vote on a recruitment case (steps 15
and 23) links to the case. For a held general or committee meeting, a user who may add there gets the
"record a vote" button. Renders nothing for a meeting of a kind that does not vote and has no votes.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import mark_safe

from dangjian.core.scoping import can
from dangjian.meetings import votes
from dangjian.meetings.models import MeetingStatus

register = template.Library()

CASE_MODEL = "recruitment.recruitmentcase"


def _case_url(pk: int) -> str:
    try:
        return reverse("recruitment:case", args=[pk])
    except NoReverseMatch:
        return ""


def panel_context(user: Any, meeting: Any) -> dict[str, Any] | None:
    voting = meeting.kind in votes.VOTING_KINDS
    rows = []
    cache: dict[Any, Any] = {}
    for vote in votes.votes_of(user, meeting).select_related("org").prefetch_related("subject"):
        subject = None
        model = vote.subject_type.model_class() if vote.subject_type_id else None
        if model is not None and model._meta.label_lower == CASE_MODEL and vote.subject is not None:
            subject = {"name": str(vote.subject), "url": _case_url(vote.subject_id)}
        rows.append({"vote": vote, "needed": votes.needed_for(vote, meeting, cache), "case": subject})
    if not voting and not rows:
        return None
    basis = votes.meeting_vote_basis(meeting) if voting else None
    may_add = (
        voting and meeting.status == MeetingStatus.HELD and user is not None and can(user, "add", meeting.org)
    )
    return {
        "meeting": meeting,
        "rows": rows,
        "basis": basis,
        "may_add": may_add,
        "held": meeting.status == MeetingStatus.HELD,
        "new_url": reverse("meetings:vote_new", args=[meeting.pk]) if may_add else "",
    }


@register.simple_tag(takes_context=True)
def votes_panel(context: Any, meeting: Any) -> str:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    data = panel_context(user, meeting)
    if data is None:
        return mark_safe("")  # noqa: S308
    return render_to_string("meetings/_votes_panel.html", data, request=request)


@register.simple_tag(takes_context=True)
def case_vote_meetings(context: Any, case: Any, limit: int = 30) -> list[dict[str, Any]]:
    """The held general meetings of a recruitment case's branch the user may see, latest first: the
    choices of the "general meeting" field of steps 15 and 23 (``{% case_vote_meetings case as m %}``)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    meetings = list(votes.meetings_for_case_vote(user, case.org)[:limit])
    counts = votes.voting_counts_many([m.pk for m in meetings])
    return [
        {
            "id": m.pk,
            "date": m.date.isoformat(),
            "label": f"{m.date:%Y-%m-%d} {m.title}",
            "expected": counts[m.pk][0],
            "present": counts[m.pk][1],
        }
        for m in meetings
    ]
