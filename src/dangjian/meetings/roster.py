"""Who is expected at a meeting (应到人员), derived from the register for the meeting's kind and date.

- General meeting, theme party day, party lecture, organization life meeting, democratic appraisal and
  "other" at a branch, joint branch or general branch: the branch's full and probationary members on
  the register on that date (members.choices.CURRENT_STATUSES; suspended, departed and deceased members
  are not expected). Only full members with their rights have a vote (members.selectors.voting_members:
  党章 第七条 probationary members have none; 第三十九条 留党察看 without restored rights has none).
  Flowing members hosted by the branch (an active 流动党员活动证 naming it as host) attend as guests
  without a vote (RULES.md §4); a member of this branch who is away flowing stays on its roster and
  keeps their vote here.
- Branch committee meeting: the positions of the current committee term (支部工作条例 第十四条), each
  with a vote. A branch with fewer full members than the rule's ``committee_required_full_members`` (7,
  RULES.md §3) has no committee: no term on record, no committee meeting.
- Party group meeting: the members assigned to the group (``Member.group``).
- A committee or working committee may hold a party lecture (党委书记讲党课) or an "other" meeting: its
  current committee is expected; the secretary adds the others.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.meetings.models import Attendee, MeetingKind
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.members.selectors import voting_members
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgType

# Which organisations hold which kinds (MEETINGS.md "Which org holds which kind").
BRANCH_LIKE = (OrgType.BRANCH, OrgType.JOINT_BRANCH, OrgType.GENERAL_BRANCH)
COMMITTEE_LIKE = (OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE)
BRANCH_KINDS = (
    MeetingKind.GENERAL_MEETING,
    MeetingKind.COMMITTEE_MEETING,
    MeetingKind.PARTY_LECTURE,
    MeetingKind.THEME_DAY,
    MeetingKind.LIFE_MEETING,
    MeetingKind.DEMOCRATIC_APPRAISAL,
    MeetingKind.OTHER,
)
GROUP_KINDS = (MeetingKind.GROUP_MEETING,)
COMMITTEE_KINDS = (MeetingKind.PARTY_LECTURE, MeetingKind.OTHER)


@dataclass(frozen=True)
class RosterEntry:
    """One person expected at a meeting: why (``Attendee.Role``) and whether they have a vote there."""

    member: Member
    role: str
    can_vote: bool


def kinds_for(org: Any) -> tuple[str, ...]:
    """The meeting kinds an organisation of this type holds."""
    if org.org_type in BRANCH_LIKE:
        return BRANCH_KINDS
    if org.org_type == OrgType.GROUP:
        return GROUP_KINDS
    if org.org_type in COMMITTEE_LIKE:
        return COMMITTEE_KINDS
    return ()


def check_kind(org: Any, kind: str) -> None:
    """Refuse a kind the organisation does not hold, saying which organisation holds it."""
    if kind not in MeetingKind.values:
        raise ValidationError({"kind": _("Choose a kind of meeting from the list.")})
    if kind in kinds_for(org):
        return
    if kind == MeetingKind.GROUP_MEETING:
        message = _("A party group meeting is held by a party group: choose the group, not %(org)s.")
    elif org.org_type == OrgType.GROUP:
        message = _("A party group holds only party group meetings; hold a %(kind)s at its branch.")
    elif org.org_type in COMMITTEE_LIKE:
        message = _(
            "A party committee holds only its secretary's party lecture and other meetings here; a "
            "%(kind)s is held by a branch."
        )
    else:
        message = _("%(org)s cannot hold a %(kind)s.")
    raise ValidationError({"kind": message % {"org": org.name, "kind": MeetingKind(kind).label}})


def branch_of(org: Any) -> Any:
    """The branch whose register a meeting of ``org`` draws on: the org itself, or a group's branch."""
    if org.org_type == OrgType.GROUP:
        parent = getattr(org, "_roster_branch", None)
        if parent is None:
            parent = Organization.objects.get(path=org.path[: -Organization.steplen])
            org._roster_branch = parent
        return parent
    return org


def committee_term(org: Any) -> CommitteeTerm | None:
    """The organisation's current committee term (the one without an end date, latest first); the
    positions held on the meeting's date are read from it (committee_members)."""
    return CommitteeTerm.objects.filter(org=org, end_date__isnull=True).order_by("-start_date", "-id").first()


def committee_members(org: Any, on: dt.date) -> list[Member]:
    """The members holding a position of the current term on ``on`` (one row per person)."""
    term = committee_term(org)
    if term is None:
        return []
    positions = (
        CommitteePosition.objects.filter(term=term)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=on))
        .filter(Q(start_date__isnull=True) | Q(start_date__lte=on))
        .filter(member__status__in=CURRENT_STATUSES)
        .select_related("member")
        .order_by("member__name", "member_id")
    )
    seen: dict[int, Member] = {}
    for position in positions:
        seen.setdefault(position.member_id, position.member)
    return list(seen.values())


def _current(qs: Any, on: dt.date) -> Any:
    return qs.filter(status__in=CURRENT_STATUSES, join_date__lte=on)


def hosted_flowing_members(org: Any, on: dt.date) -> Any:
    """Members of other branches hosted by ``org`` on ``on`` (an active 流动党员活动证 naming it as host).

    Read through the member register's relation to the certificates, as members.selectors does for
    "is flowing": the certificate (transfers.FlowCertificate) is the one record of it.
    """
    return (
        _current(Member.objects.all(), on)
        # One filter() call: every condition is about the same certificate.
        .filter(
            Q(flow_certificates__end__isnull=True) | Q(flow_certificates__end__gte=on),
            flow_certificates__status="active",
            flow_certificates__host_org=org,
            flow_certificates__start__lte=on,
        )
        .exclude(org=org)
        .distinct()
        .order_by("name", "id")
    )


def expected_attendees(org: Any, kind: str, on: dt.date) -> list[RosterEntry]:
    """The people expected at a meeting of ``kind`` held by ``org`` on ``on`` (see the module doc).

    Raises ``ValidationError`` for a kind the organisation does not hold, and for a committee meeting of
    a branch without a committee on record.
    """
    check_kind(org, kind)
    Role = Attendee.Role
    if kind == MeetingKind.COMMITTEE_MEETING:
        if committee_term(org) is None:
            first = rulebook.versions("meetings")[0].effective_from  # a meeting entered from before 2018
            needed = rulebook.rule("meetings", on=max(on, first), org=org)["committee_required_full_members"]
            raise ValidationError(
                {
                    "kind": _(
                        "%(org)s has no branch committee on record, so it holds no committee meetings. A "
                        "branch with %(n)d or more full members sets up a committee (支部工作条例); record "
                        "its election first."
                    )
                    % {"org": org.name, "n": needed}
                }
            )
        return [RosterEntry(m, Role.ROSTER, True) for m in committee_members(org, on)]
    if org.org_type in COMMITTEE_LIKE:
        return [RosterEntry(m, Role.ROSTER, True) for m in committee_members(org, on)]

    branch = branch_of(org)
    voting = set(voting_members(branch, on).values_list("pk", flat=True))
    if kind == MeetingKind.GROUP_MEETING:
        members = _current(Member.objects.filter(group=org), on).order_by("name", "id")
        return [RosterEntry(m, Role.ROSTER, m.pk in voting) for m in members]

    entries = [
        RosterEntry(m, Role.ROSTER, m.pk in voting)
        for m in _current(Member.objects.filter(org=org), on).order_by("name", "id")
    ]
    # 流动党员 at the host: they attend, without a vote (RULES.md §4).
    entries += [RosterEntry(m, Role.GUEST, False) for m in hosted_flowing_members(org, on)]
    return entries
