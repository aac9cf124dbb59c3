"""Writes of organization life. For now: recording a vote (``vote_record``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.scoping import can
from dangjian.meetings import rules
from dangjian.meetings.models import Vote, VoteKind


def vote_record(
    *,
    actor: Any,
    org: Any,
    subject: models.Model | None,
    kind: str,
    date: dt.date,
    expected_voting: int,
    present_voting: int,
    full_members_expected: int,
    yes: int,
    no: int,
    abstain: int,
    written_opinions_yes: int = 0,
    written_opinions_no: int = 0,
    candidates: int = 1,
    rule_ref: str,
    quorum_more_than: float = 0.5,
    majority_more_than: float = 0.5,
    candidates_per_vote: int = 1,
    notes: str = "",
) -> Vote:
    """Record one vote; ``passed`` is computed by ``meetings.rules`` with the caller's thresholds.

    Inconsistent counts, a missing quorum and several candidates in one vote are refused
    (``ValidationError`` naming the field); a vote that misses the majority is recorded as not passed.
    """
    if kind not in VoteKind.values:
        raise ValidationError({"kind": _("Unknown motion.")})
    if not can(actor, "add", org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    counts = rules.VoteCounts(
        expected_voting=expected_voting,
        present_voting=present_voting,
        full_members_expected=full_members_expected,
        yes=yes,
        no=no,
        abstain=abstain,
        written_yes=written_opinions_yes,
        written_no=written_opinions_no,
        candidates=candidates,
    )
    result = rules.vote_result(
        counts,
        quorum_more_than=quorum_more_than,
        majority_more_than=majority_more_than,
        candidates_per_vote=candidates_per_vote,
    )
    if result.problems:
        errors: dict[str, list[str]] = {}
        for p in result.problems:
            errors.setdefault(p.field or "non_field_errors", []).append(p.message)
        raise ValidationError(errors)
    with transaction.atomic():
        vote = Vote.objects.create(
            org=org,
            subject_type=ContentType.objects.get_for_model(subject) if subject is not None else None,
            subject_id=subject.pk if subject is not None else None,
            kind=kind,
            date=date,
            expected_voting=expected_voting,
            present_voting=present_voting,
            full_members_expected=full_members_expected,
            yes=yes,
            no=no,
            abstain=abstain,
            written_opinions_yes=written_opinions_yes,
            written_opinions_no=written_opinions_no,
            quorum_met=result.quorum_met,
            passed=result.passed,
            rule_ref=rule_ref,
            notes=notes,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_log(
            actor=actor,
            action="vote.recorded",
            obj=vote,
            changes={"kind": kind, "yes": result.yes_total, "passed": result.passed, "rule": rule_ref},
        )
    return vote
