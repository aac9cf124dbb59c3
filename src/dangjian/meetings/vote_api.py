"""Votes of a meeting over the API (issue 5's contract).

- ``GET /api/v1/meetings/{id}/votes/`` → the meeting's votes (``results``), each with its tallies, the
  counts from the attendance record, the quorum and yes votes needed, ``passed`` and ``rule_ref``; and
  ``basis``: what a new vote at this meeting would be judged on (voting members expected and present,
  quorum needed, yes needed, the rule) — ``null`` for a meeting that does not vote.
- ``POST /api/v1/meetings/{id}/votes/`` ``{"kind": "election" | "decision" | "other", "title": "<the
  candidate or the motion>", "yes": n, "no": n, "abstain": n, "written_opinions_yes": n,
  "written_opinions_no": n, "notes": ""}`` → 201 with the vote. The counts of who should attend and who
  attended are never sent: they come from the attendance. Admission and full membership are recorded on
  the recruitment case (steps 15 and 23) naming the meeting; asking for them here is a 400 saying so.

A meeting outside the caller's scope is 404; a caller who sees it but may not add (an auditor) gets 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core.scoping import can
from dangjian.meetings import votes
from dangjian.meetings.models import Meeting, Vote


def subject_json(vote: Vote) -> dict[str, Any] | None:
    if vote.subject_type_id is None or vote.subject_id is None:
        return None
    model = vote.subject_type.model_class() if vote.subject_type else None
    url = ""
    if model is not None and model._meta.label_lower == "recruitment.recruitmentcase":
        try:
            url = reverse("recruitment:case", args=[vote.subject_id])
        except NoReverseMatch:
            url = ""
    return {
        "type": vote.subject_type.model if vote.subject_type else "",
        "id": vote.subject_id,
        "url": url,
    }


def vote_json(
    vote: Vote, meeting: Meeting | None = None, cache: dict[Any, Any] | None = None
) -> dict[str, Any]:
    needed = votes.needed_for(vote, meeting, cache)
    return {
        "id": vote.pk,
        "meeting": vote.meeting_id,
        "kind": vote.kind,
        "kind_display": vote.get_kind_display(),
        "title": vote.title,
        "date": vote.date.isoformat(),
        "expected_voting": vote.expected_voting,
        "present_voting": vote.present_voting,
        "full_members_expected": vote.full_members_expected,
        "yes": vote.yes,
        "no": vote.no,
        "abstain": vote.abstain,
        "written_opinions_yes": vote.written_opinions_yes,
        "written_opinions_no": vote.written_opinions_no,
        "yes_total": vote.yes_total,
        "quorum_met": vote.quorum_met,
        "passed": vote.passed,
        "quorum_needed": needed.quorum if needed else None,
        "yes_needed": needed.yes if needed else None,
        "rule_ref": vote.rule_ref,
        "subject": subject_json(vote),
        "notes": vote.notes,
        "recorded_at": vote.recorded_at.isoformat() if vote.recorded_at else None,
    }


def basis_json(meeting: Meeting) -> dict[str, Any] | None:
    if meeting.kind not in votes.VOTING_KINDS:
        return None
    b = votes.meeting_vote_basis(meeting)
    return {
        "expected_voting": b.expected_voting,
        "present_voting": b.present_voting,
        "full_members_expected": b.full_members_expected,
        "quorum_needed": b.quorum_needed,
        "quorum_met": b.quorum_met,
        "yes_needed": b.yes_needed,
        "committee": b.committee,
        "kinds": list(votes.KINDS_BY_MEETING.get(meeting.kind, ())),
        "rule_ref": b.rule_ref,
    }


class VoteInput(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    yes = serializers.IntegerField(min_value=0)
    no = serializers.IntegerField(min_value=0)
    abstain = serializers.IntegerField(min_value=0)
    written_opinions_yes = serializers.IntegerField(min_value=0, required=False, default=0)
    written_opinions_no = serializers.IntegerField(min_value=0, required=False, default=0)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class MeetingVotesView(APIView):
    """The votes of one meeting; POST records one (tallies only, counts from the attendance)."""

    def _meeting(self, request: Request, pk: int) -> Meeting:
        return get_object_or_404(Meeting.objects.restrict(request.user, "view").select_related("org"), pk=pk)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        meeting = self._meeting(request, pk)
        cache: dict[Any, Any] = {}
        rows = [
            vote_json(v, meeting, cache) for v in votes.votes_of(request.user, meeting).select_related("org")
        ]
        return Response({"meeting": meeting.pk, "basis": basis_json(meeting), "results": rows})

    @extend_schema(request=VoteInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        meeting = self._meeting(request, pk)
        if not can(request.user, "add", meeting.org):
            raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
        data = VoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        vote = votes.meeting_vote_record(actor=request.user, meeting=meeting, **data.validated_data)
        return Response(vote_json(vote, meeting), status=status.HTTP_201_CREATED)
