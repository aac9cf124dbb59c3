"""Votes taken at a meeting, with the counts read from the meeting's attendance record.

A secretary enters only the secret tallies (yes / no / abstain, and the written opinions of absent full
members handed in before the meeting); who should attend and who attended with a vote come from the
``Attendee`` rows of the meeting (checked in by QR, video, device or marked by hand). The thresholds are
the ``meetings`` rule in force on the meeting's date for its organisation, and the vote stores that
rule's reference and the meeting.

Which meetings vote on what (decided here, RULES.md §1 and §3):

- A **branch general meeting** (支部党员大会) votes on elections (one vote per candidate, ``title`` = the
  candidate's name: 细则 第二十一条 asks for one at a time; a candidate is not voted on twice at one
  meeting), decisions and other motions. Quorum: voting members present > ``quorum_more_than`` (half) of
  the voting members who should attend; passed: yes votes with written yes opinions > ``majority_more_than``
  (half) of the full members who should attend (细则 第二十条、第二十一条; 支部工作条例 第十四条).
- A **branch committee meeting** (支委会) votes on its own decisions (``decision``, ``other``) only. Quorum:
  committee members present > ``committee_quorum_more_than`` (half) of the committee (支部工作条例 第十四条:
  须有半数以上委员到会); passed: yes > half of the committee members who should attend (少数服从多数,
  counted on the whole committee as for the general meeting).
- Admission (step 15), full membership, extension and cancellation of the probation (step 23) are
  recorded on the recruitment case, naming the general meeting: the recruitment rule (细则) judges them
  and the case moves on in the same transaction. This module refuses them with that advice, so that a
  decision about a person is never entered twice. ``meeting_vote_basis`` is what recruitment reads.

Only members with a vote count: full members of the branch (``Attendee.can_vote``, fixed from the
register when the meeting is planned). Probationary members (党章 第七条) and flowing members hosted by
the branch (role ``guest``: RULES.md §4, no vote at the host) may attend and are in none of the numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.scoping import can
from dangjian.meetings import rules, services
from dangjian.meetings.models import (
    AttendanceStatus,
    Attendee,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Vote,
    VoteKind,
)

RULE_KEY = "meetings"
VOTING_KINDS = (MeetingKind.GENERAL_MEETING, MeetingKind.COMMITTEE_MEETING)
# Decisions about a person in recruitment: recorded on the case (steps 15 and 23), never here.
CASE_KINDS = (VoteKind.ADMISSION, VoteKind.FULL_MEMBERSHIP, VoteKind.EXTENSION, VoteKind.CANCELLATION)
KINDS_BY_MEETING = {
    MeetingKind.GENERAL_MEETING: (VoteKind.ELECTION, VoteKind.DECISION, VoteKind.OTHER),
    MeetingKind.COMMITTEE_MEETING: (VoteKind.DECISION, VoteKind.OTHER),
}


@dataclass(frozen=True)
class VoteBasis:
    """The numbers a vote is judged on, from the meeting's attendance record."""

    expected_voting: int  # 应到会有表决权人数
    present_voting: int  # 实到会有表决权人数
    full_members_expected: int  # the base of the majority
    quorum_more_than: float
    majority_more_than: float
    rule_ref: str
    committee: bool = False  # a committee meeting: the quorum is of committee members

    @property
    def quorum_needed(self) -> int:
        return rules.least_more_than(self.expected_voting, self.quorum_more_than)

    @property
    def yes_needed(self) -> int:
        return rules.least_more_than(self.full_members_expected, self.majority_more_than)

    @property
    def quorum_met(self) -> bool:
        return rules.quorum_met(self.expected_voting, self.present_voting, self.quorum_more_than)


def voting_counts(meeting: Meeting) -> tuple[int, int]:
    """(voting members expected, voting members present) of a meeting, in one query.

    Voting expected: rows still expected (``expected=True``) with a vote; voting present: those of them
    marked present. Hosted flowing members (role ``guest``) never count, even if a row says otherwise.
    """
    try:  # the one definition of the attendance totals, when the meetings selectors provide it
        from dangjian.meetings.selectors import attendance_totals  # type: ignore[attr-defined]
    except ImportError:
        attendance_totals = None
    if attendance_totals is not None:
        totals = attendance_totals(meeting)
        guests = Attendee.objects.filter(
            meeting=meeting, expected=True, can_vote=True, role=Attendee.Role.GUEST
        ).aggregate(expected=Count("id"), present=Count("id", filter=Q(status=AttendanceStatus.PRESENT)))
        return (
            int(totals.voting_expected) - guests["expected"],
            int(totals.voting_present) - guests["present"],
        )
    row = (
        Attendee.objects.filter(meeting=meeting, expected=True, can_vote=True)
        .exclude(role=Attendee.Role.GUEST)
        .aggregate(expected=Count("id"), present=Count("id", filter=Q(status=AttendanceStatus.PRESENT)))
    )
    return int(row["expected"]), int(row["present"])


def voting_counts_many(meeting_ids: list[int]) -> dict[int, tuple[int, int]]:
    """``voting_counts`` for several meetings in one grouped query: meeting id → (expected, present)."""
    rows = (
        Attendee.objects.filter(meeting_id__in=meeting_ids, expected=True, can_vote=True)
        .exclude(role=Attendee.Role.GUEST)
        .values("meeting_id")
        .annotate(expected=Count("id"), present=Count("id", filter=Q(status=AttendanceStatus.PRESENT)))
        .order_by()
    )
    found = {r["meeting_id"]: (int(r["expected"]), int(r["present"])) for r in rows}
    return {pk: found.get(pk, (0, 0)) for pk in meeting_ids}


def voting_rights_refresh(meeting: Meeting) -> int:
    """Re-judge who has a vote at ``meeting`` from the register on its date; the rows changed.

    ``Attendee.can_vote`` is set when the meeting is planned; a member who became a full member before
    the meeting (党章 第七条) gains the vote, one placed under 留党察看 loses it (党章 第三十九条). Guests
    (hosted flowing members) and members added by the secretary never vote; a committee meeting's
    members keep their committee vote. Called when the meeting is recorded as held and before a vote is
    counted, so the vote basis always follows the register.
    """
    from dangjian.meetings import roster
    from dangjian.meetings.models import MeetingKind

    if meeting.kind == MeetingKind.COMMITTEE_MEETING:
        return 0
    try:
        entries = roster.expected_attendees(meeting.org, meeting.kind, meeting.date)
    except ValidationError:  # the organisation can no longer hold this kind: leave the record as it is
        return 0
    voting = {e.member.pk for e in entries if e.can_vote and e.role == Attendee.Role.ROSTER}
    changed = 0
    for row in Attendee.objects.filter(meeting=meeting).only("id", "member_id", "role", "can_vote"):
        should = row.role == Attendee.Role.ROSTER and row.member_id in voting
        if should != row.can_vote:
            Attendee.objects.filter(pk=row.pk).update(can_vote=should)
            changed += 1
    return changed


def meeting_rule(meeting: Meeting) -> rulebook.RuleVersion:
    """The ``meetings`` rule in force on the meeting's date for its organisation."""
    first = rulebook.versions(RULE_KEY)[0].effective_from
    return rulebook.rule(RULE_KEY, on=max(meeting.date, first), org=meeting.org)


def meeting_vote_basis(meeting: Meeting) -> VoteBasis:
    """Counts and thresholds of a vote at ``meeting`` (a general or committee meeting)."""
    expected, present = voting_counts(meeting)
    r = meeting_rule(meeting)
    committee = meeting.kind == MeetingKind.COMMITTEE_MEETING
    return VoteBasis(
        expected_voting=expected,
        present_voting=present,
        # Only full members have a vote (Attendee.can_vote), so the voting members who should attend
        # are the full members who should attend (细则 第二十一条: the base of the majority).
        full_members_expected=expected,
        quorum_more_than=float(r["committee_quorum_more_than"] if committee else r["quorum_more_than"]),
        majority_more_than=float(r["majority_more_than"]),
        rule_ref=r.ref,
        committee=committee,
    )


def check_meeting(meeting: Meeting, *, kinds: tuple[str, ...] = VOTING_KINDS) -> None:
    """A vote needs a meeting of a voting kind that has been held (its attendance is the record)."""
    if meeting.kind not in kinds:
        raise ValidationError(
            {"meeting": _("Votes are taken at a branch general meeting or a branch committee meeting.")}
        )
    if meeting.status != MeetingStatus.HELD:
        raise ValidationError(
            {
                "meeting": _(
                    "The meeting has not been recorded as held: take the attendance first, then record "
                    "the votes."
                )
            }
        )


def _int(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: _("Enter a whole number of zero or more.")}) from None
    if number < 0:
        raise ValidationError({name: _("Enter a whole number of zero or more.")})
    return number


def meeting_vote_record(
    *,
    actor: Any,
    meeting: Meeting,
    kind: str,
    title: str = "",
    subject: Any = None,
    yes: int,
    no: int,
    abstain: int,
    written_opinions_yes: int = 0,
    written_opinions_no: int = 0,
    notes: str = "",
) -> Vote:
    """Record one vote of ``meeting``: the tallies from the secretary, every other number from the
    attendance record, judged by the ``meetings`` rule on the meeting's date (see the module doc).

    Raises ``PermissionDenied`` outside the actor's scope and ``ValidationError`` (naming the field) for
    a meeting that cannot vote on ``kind``, a missing candidate name, a candidate already voted on, tallies
    that do not add up, or a missing quorum. A vote that misses the majority is recorded as not passed.
    """
    if not can(actor, "add", meeting.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if kind not in VoteKind.values:
        raise ValidationError({"kind": _("Unknown motion.")})
    if kind in CASE_KINDS:
        raise ValidationError(
            {
                "kind": _(
                    "Admission and full membership are voted on the recruitment case (steps 15 and 23): "
                    "record the step there and name this meeting; the counts come from its attendance."
                )
            }
        )
    check_meeting(meeting)
    if kind not in KINDS_BY_MEETING.get(meeting.kind, ()):
        raise ValidationError({"kind": _("A branch committee meeting votes only on its own decisions.")})
    title = (title or "").strip()
    if kind == VoteKind.ELECTION:
        if not title:
            raise ValidationError({"title": _("Name the candidate: each candidate is voted on separately.")})
        if Vote.objects.filter(meeting=meeting, kind=VoteKind.ELECTION, title=title).exists():
            raise ValidationError(
                {"title": _("A vote on %(name)s is already recorded at this meeting.") % {"name": title}}
            )
    elif not title:
        raise ValidationError({"title": _("Say what the motion is.")})
    if len(title) > 200:
        raise ValidationError({"title": _("At most 200 characters.")})
    tallies = {
        "yes": _int(yes, "yes"),
        "no": _int(no, "no"),
        "abstain": _int(abstain, "abstain"),
        "written_opinions_yes": _int(written_opinions_yes, "written_opinions_yes"),
        "written_opinions_no": _int(written_opinions_no, "written_opinions_no"),
    }
    voting_rights_refresh(meeting)
    basis = meeting_vote_basis(meeting)
    if basis.committee and (tallies["written_opinions_yes"] or tallies["written_opinions_no"]):
        raise ValidationError(
            {"written_opinions_yes": _("Written opinions of absent members count only at a general meeting.")}
        )
    if basis.expected_voting < 1:
        raise ValidationError(
            {"meeting": _("Nobody with a vote is expected at this meeting: check its attendance list.")}
        )
    return services.vote_record(
        actor=actor,
        org=meeting.org,
        subject=subject,
        kind=kind,
        date=meeting.date,
        expected_voting=basis.expected_voting,
        present_voting=basis.present_voting,
        full_members_expected=basis.full_members_expected,
        rule_ref=basis.rule_ref,
        quorum_more_than=basis.quorum_more_than,
        majority_more_than=basis.majority_more_than,
        notes=(notes or "").strip(),
        meeting=meeting,
        title=title,
        **tallies,
    )


def votes_of(actor: Any, meeting: Meeting) -> Any:
    """The votes of a meeting the actor may see, in the order they were taken."""
    return (
        Vote.objects.restrict(actor, "view")
        .filter(meeting=meeting)
        .select_related("subject_type")
        .order_by("id")
    )


def meetings_for_case_vote(actor: Any, org: Any, on: dt.date | None = None) -> Any:
    """Held general meetings of ``org`` the actor may see, latest first (on ``on`` when given): the
    meetings a recruitment step 15 or 23 may name."""
    qs = Meeting.objects.restrict(actor, "view").filter(
        org=org, kind=MeetingKind.GENERAL_MEETING, status=MeetingStatus.HELD
    )
    if on is not None:
        qs = qs.filter(date=on)
    return qs.order_by("-date", "-id")


def case_meeting(actor: Any, org: Any, meeting_id: Any, on: dt.date) -> Meeting:
    """The general meeting a recruitment vote names: a held general meeting of the case's branch on the
    step's date, visible to the actor. ``ValidationError`` on ``meeting`` otherwise."""
    try:
        pk = int(meeting_id)
    except (TypeError, ValueError):
        raise ValidationError({"meeting": _("Unknown meeting.")}) from None
    meeting = Meeting.objects.restrict(actor, "view").filter(pk=pk).select_related("org").first()
    if meeting is None:
        raise ValidationError({"meeting": _("Unknown meeting.")})
    if meeting.kind != MeetingKind.GENERAL_MEETING or meeting.org_id != getattr(org, "pk", org):
        raise ValidationError({"meeting": _("Choose a general meeting of the case's branch.")})
    if meeting.status != MeetingStatus.HELD:
        raise ValidationError(
            {"meeting": _("The meeting has not been recorded as held: take its attendance first.")}
        )
    if meeting.date != on:
        raise ValidationError(
            {
                "meeting": _("The meeting was held on %(date)s: the step's date must be the meeting's date.")
                % {"date": meeting.date.isoformat()}
            }
        )
    return meeting


@dataclass(frozen=True)
class Needed:
    quorum: int
    yes: int


def needed_for(
    vote: Vote, meeting: Meeting | None = None, cache: dict[tuple[str, dt.date], Any] | None = None
) -> Needed | None:
    """The quorum and the yes votes a recorded vote needed, read from the rule it names (``meetings``
    for votes taken here, ``recruitment`` for steps 15 and 23) on its date: pages show them beside the
    tallies (pass one ``cache`` dict for the votes of one meeting). None when the rule cannot be read."""
    key = (vote.rule_ref or "").split("@", 1)[0]
    if not key:
        return None
    cache = {} if cache is None else cache
    r = cache.get((key, vote.date))
    if r is None:
        try:
            first = rulebook.versions(key)[0].effective_from
            r = cache[(key, vote.date)] = rulebook.rule(key, on=max(vote.date, first), org=vote.org)
        except (rulebook.RuleNotFound, KeyError, IndexError):
            return None
    meeting = meeting or vote.meeting
    committee = meeting is not None and meeting.kind == MeetingKind.COMMITTEE_MEETING
    quorum = r.params.get("committee_quorum_more_than" if committee else "quorum_more_than", 0.5)
    majority = r.params.get("majority_more_than", 0.5)
    return Needed(
        quorum=rules.least_more_than(vote.expected_voting, quorum),
        yes=rules.least_more_than(vote.full_members_expected, majority),
    )
