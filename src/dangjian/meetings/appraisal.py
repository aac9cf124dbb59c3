"""谈心谈话, the 组织生活会's criticism notes and 民主评议党员 (RULES.md §3): services and selectors.

- 谈心谈话 (``TalkRecord``): at least once a year for every member (支部工作条例 第十六条; RULES.md §3).
  A talk is between two members of the branch, or between a member of a higher committee and the
  branch's secretary; ``talk_coverage`` says who has had a talk this year and who has not yet.
- 组织生活会 (``LifeMeetingNote``): what each member said at the meeting — self-criticism, criticism of
  another member (whom it is about is required), the rectification undertaken.
- 民主评议党员 (``Appraisal``, ``MutualRating``): once a year (支部工作条例 第十六条) every full and
  probationary member writes a self-assessment, the fellow members of the branch rate them in secret
  (only the tally per rating is ever shown), and the branch rates them 优秀 / 合格 / 基本合格 / 不合格.
  ``appraisal_results`` gives later indices member → rating.

Writes take ``actor``, check it with ``core.scoping``, run in one transaction and write one audit row.
A mutual rating's audit row names the rated member's appraisal, never the rating given, so that the
log cannot undo the secrecy of the mutual assessment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core import rulebook
from dangjian.core.audit import audit_log
from dangjian.core.scoping import can, ensure_can, ensure_in_scope, path_prefix_q
from dangjian.meetings.models import (
    Appraisal,
    AppraisalRating,
    Attendee,
    LifeMeetingNote,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MutualRating,
    TalkRecord,
)
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import CommitteePosition, Organization, OrgType

RULE_KEY = "meetings"
# The organisations that hold talks, life meetings and appraisals: a branch or a joint branch, and a
# general branch for its own members (MEETINGS.md: which org holds which kind).
BRANCH_LIKE = (OrgType.BRANCH, OrgType.JOINT_BRANCH, OrgType.GENERAL_BRANCH)
RATINGS: tuple[str, ...] = tuple(AppraisalRating.values)  # 优秀, 合格, 基本合格, 不合格 (RULES.md §3)
TEXT_MAX = 5000
TOPIC_MAX = 200
# Many localities cap 优秀 at a share of the members appraised (commonly one third). It is local
# practice, not a national rule: the platform warns above it and enforces nothing. A ``meetings`` rule
# version may set ``appraisal_excellent_warn_share`` to change the figure for a subtree.
EXCELLENT_WARN_SHARE = Fraction(1, 3)

UNQUALIFIED_HINT = _l(
    "A member rated unqualified is dealt with by the branch as set out in 《关于稳妥有序开展不合格党员"
    "组织处置工作的意见》 (education and a deadline to correct, persuading to leave, or removal, each "
    "decided by the branch and approved above). The platform records the rating only and starts nothing."
)
EXCELLENT_SHARE_NOTE = _l(
    "Many localities allow at most one third of the members appraised to be rated excellent. This is "
    "local practice, not a national rule: it is shown as a warning and not enforced."
)


def _today() -> dt.date:
    return timezone.localdate()


_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")


def _clean_text(value: Any) -> str:
    # Control characters dropped: PostgreSQL cannot store NUL, and the page forms pass raw POST text
    # here (review: a NUL in a self-assessment answered 500 on PostgreSQL).
    return str(value or "").translate(_CONTROLS).strip()


def _member_ids(members: Iterable[Any]) -> set[int]:
    return {getattr(m, "pk", m) for m in members}


def current_members(org: Any) -> QuerySet[Member]:
    """The branch's full and probationary members on the register (counted through the relation)."""
    return Member.objects.filter(org=org, status__in=CURRENT_STATUSES).order_by("name", "pk")


def own_member(user: Any) -> Member | None:
    """The login's own register entry while they are a current member (full or probationary)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Member.objects.filter(user=user, status__in=CURRENT_STATUSES).select_related("org", "group").first()
    )


def _branch_like(org: Any, field_name: str = "org") -> None:
    if org is None or org.org_type not in BRANCH_LIKE:
        raise ValidationError({field_name: _("Choose a branch (or a joint or general branch).")})


def _ancestor_paths(org: Organization) -> list[str]:
    step = Organization.steplen
    return [org.path[: i * step] for i in range(1, len(org.path) // step)]


def higher_committee_member_ids(org: Organization) -> set[int]:
    """Members holding a position on the current committee of an organisation above ``org``."""
    paths = _ancestor_paths(org)
    if not paths:
        return set()
    return set(
        CommitteePosition.objects.filter(
            term__org__path__in=paths, term__end_date__isnull=True, end_date__isnull=True
        ).values_list("member_id", flat=True)
    )


def branch_secretary_ids(org: Organization) -> set[int]:
    """The branch's secretary: the 书记 of its current committee, or the member whose login holds the
    secretary role on it (a small branch without a recorded committee)."""
    from dangjian.accounts.models import RoleAssignment

    ids = set(
        CommitteePosition.objects.filter(
            term__org=org,
            term__end_date__isnull=True,
            end_date__isnull=True,
            title=CommitteePosition.Title.SECRETARY,
        ).values_list("member_id", flat=True)
    )
    users = RoleAssignment.objects.filter(org=org, role="secretary", active=True).values("user_id")
    ids |= set(Member.objects.filter(user_id__in=users).values_list("pk", flat=True))
    return ids


# ── 谈心谈话 ─────────────────────────────────────────────────────────────────────────────────────────


def _talk_errors(
    *,
    actor: Any,
    org: Organization,
    initiator: Member | None,
    partner: Member | None,
    date: dt.date | None,
    topic: str,
    meeting: Meeting | None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if initiator is None:
        errors["initiator"] = _("Choose who held the talk.")
    if partner is None:
        errors["partner"] = _("Choose the member talked with.")
    if initiator is not None and partner is not None:
        visible = _member_ids(
            Member.objects.restrict(actor, "view").filter(pk__in=[initiator.pk, partner.pk])
        )
        for name, person in (("initiator", initiator), ("partner", partner)):
            if person.pk not in visible:
                errors[name] = _("Choose a member within the organisations you manage.")
        if initiator.pk == partner.pk:
            errors["partner"] = _("A talk is between two different members.")
        elif not errors:
            members = _member_ids(current_members(org).filter(pk__in=[initiator.pk, partner.pk]))
            both_members = members == {initiator.pk, partner.pk}
            higher = higher_committee_member_ids(org)
            secretaries = branch_secretary_ids(org)
            with_higher = (initiator.pk in higher and partner.pk in secretaries) or (
                partner.pk in higher and initiator.pk in secretaries
            )
            if not (both_members or with_higher):
                errors["partner"] = _(
                    "Both must be members of the branch, or a member of a higher committee talking with "
                    "the branch secretary."
                )
    if date is None:
        errors["date"] = _("Give the date of the talk.")
    elif date > _today():
        errors["date"] = _("The date of a talk cannot be in the future.")
    if not topic:
        errors["topic"] = _("Give the topic of the talk.")
    elif len(topic) > TOPIC_MAX:
        errors["topic"] = _("Keep the topic within %(n)s characters.") % {"n": TOPIC_MAX}
    if meeting is not None and (meeting.org_id != org.pk or meeting.kind != MeetingKind.LIFE_MEETING):
        errors["meeting"] = _("Link the talk to an organization life meeting of the same branch.")
    return errors


def talk_record(
    *,
    actor: Any,
    org: Organization,
    initiator: Member | None,
    partner: Member | None,
    date: dt.date | None,
    topic: str,
    notes: str = "",
    meeting: Meeting | None = None,
) -> TalkRecord:
    """Record a 谈心谈话 of the branch ``org`` (RULES.md §3: at least once a year for every member).

    Both people are members of the branch, or one sits on a higher committee and the other is the
    branch's secretary; both must be within the actor's scope; the date is not in the future.
    """
    ensure_can(actor, "add", org)
    _branch_like(org)
    topic = _clean_text(topic)
    notes = _clean_text(notes)
    errors = _talk_errors(
        actor=actor, org=org, initiator=initiator, partner=partner, date=date, topic=topic, meeting=meeting
    )
    if len(notes) > TEXT_MAX:
        errors["notes"] = _("Keep the text within %(n)s characters.") % {"n": TEXT_MAX}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        talk = TalkRecord.objects.create(
            org=org,
            meeting=meeting,
            date=date,
            initiator=initiator,
            partner=partner,
            topic=topic,
            notes=notes,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ensure_in_scope(actor, talk, "change")
        audit_log(
            actor=actor,
            action="meetings.talk_record",
            obj=talk,
            org=org,
            changes={"date": date, "initiator": initiator.pk, "partner": partner.pk, "topic": topic},  # type: ignore[union-attr]
        )
    return talk


TALK_FIELDS = ("date", "initiator", "partner", "topic", "notes", "meeting")


def talk_update(*, actor: Any, talk: TalkRecord, **fields: Any) -> TalkRecord:
    """Correct a recorded talk (date, people, topic, notes, linked meeting); the change is audited."""
    ensure_can(actor, "change", talk.org)
    unknown = set(fields) - set(TALK_FIELDS)
    if unknown:
        raise ValueError(f"talk_update: unknown fields {sorted(unknown)}")
    values = {name: getattr(talk, name) for name in TALK_FIELDS}
    values.update(fields)
    values["topic"] = _clean_text(values["topic"])
    values["notes"] = _clean_text(values["notes"])
    errors = _talk_errors(
        actor=actor,
        org=talk.org,
        initiator=values["initiator"],
        partner=values["partner"],
        date=values["date"],
        topic=values["topic"],
        meeting=values["meeting"],
    )
    if len(values["notes"]) > TEXT_MAX:
        errors["notes"] = _("Keep the text within %(n)s characters.") % {"n": TEXT_MAX}
    if errors:
        raise ValidationError(errors)
    changes: dict[str, Any] = {}
    for name in TALK_FIELDS:
        old, new = getattr(talk, name), values[name]
        if old != new:
            changes[name] = [getattr(old, "pk", old), getattr(new, "pk", new)]
            setattr(talk, name, new)
    if not changes:
        return talk
    with transaction.atomic():
        talk.save()
        ensure_in_scope(actor, talk, "change")
        audit_log(actor=actor, action="meetings.talk_update", obj=talk, org=talk.org, changes=changes)
    return talk


def talk_delete(*, actor: Any, talk: TalkRecord, reason: str) -> None:
    """Delete a talk recorded by mistake; the reason and what was deleted stay in the audit log."""
    ensure_can(actor, "change", talk.org)
    reason = _clean_text(reason)
    if not reason:
        raise ValidationError({"reason": _("Say why the record is deleted.")})
    with transaction.atomic():
        audit_log(
            actor=actor,
            action="meetings.talk_delete",
            obj=talk,
            org=talk.org,
            changes={
                "reason": reason,
                "date": talk.date,
                "initiator": talk.initiator_id,
                "partner": talk.partner_id,
                "topic": talk.topic,
            },
        )
        talk.delete()


def talks_for(actor: Any, action: str = "view") -> QuerySet[TalkRecord]:
    return TalkRecord.objects.restrict(actor, action).select_related(
        "org", "initiator", "partner", "meeting", "recorded_by"
    )


def talk_list(actor: Any, org: Organization, year: int | None = None) -> QuerySet[TalkRecord]:
    """The talks of ``org``'s subtree the actor may see, newest first, optionally of one year."""
    qs = talks_for(actor).filter(path_prefix_q("org__path", org.path))
    if year is not None:
        qs = qs.filter(date__year=year)
    return qs.order_by("-date", "-id")


@dataclass
class CoverageRow:
    member: Member
    talks: int = 0
    last: dt.date | None = None

    @property
    def covered(self) -> bool:
        return self.talks > 0


@dataclass
class TalkCoverage:
    """Who among the branch's members has had at least one talk in ``year`` (RULES.md §3)."""

    org: Organization
    year: int
    rows: list[CoverageRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rows if r.covered)

    @property
    def uncovered(self) -> list[Member]:
        return [r.member for r in self.rows if not r.covered]

    @property
    def percent(self) -> int:
        return round(100 * self.covered / self.total) if self.total else 0


def talk_coverage(org: Organization, year: int) -> TalkCoverage:
    """Every current member of ``org`` with their number of talks in ``year`` (in any organisation:
    a member who talked with a higher committee member counts too) and the date of the last one."""
    members = list(current_members(org))
    ids = [m.pk for m in members]
    stats: dict[int, CoverageRow] = {m.pk: CoverageRow(member=m) for m in members}
    talks = TalkRecord.objects.filter(date__year=year)
    for side in ("initiator", "partner"):
        rows = (
            talks.filter(**{f"{side}_id__in": ids})
            .values(f"{side}_id")
            .annotate(n=Count("id"), last=Max("date"))
            .order_by()
        )
        for row in rows:
            target = stats[row[f"{side}_id"]]
            target.talks += row["n"]
            if target.last is None or row["last"] > target.last:
                target.last = row["last"]
    return TalkCoverage(org=org, year=year, rows=list(stats.values()))


# ── 组织生活会 notes ─────────────────────────────────────────────────────────────────────────────────


def life_participants(meeting: Meeting) -> list[Member]:
    """The people of the organization life meeting: its expected attendees, or — for a meeting
    without an attendance list — the branch's current members."""
    attendees = list(
        Member.objects.filter(
            pk__in=Attendee.objects.filter(meeting=meeting, expected=True).values("member_id")
        ).order_by("name", "pk")
    )
    return attendees or list(current_members(meeting.org))


def life_note_add(
    *,
    actor: Any,
    meeting: Meeting,
    member: Member | None,
    kind: str,
    text: str,
    about: Member | None = None,
) -> LifeMeetingNote:
    """Record what ``member`` said at the organization life meeting: a self-criticism, a criticism of
    another member (``about`` required), or the rectification they undertake."""
    ensure_can(actor, "add", meeting.org)
    errors: dict[str, str] = {}
    if meeting.kind != MeetingKind.LIFE_MEETING:
        errors["meeting"] = _("Notes are kept for an organization life meeting.")
    elif meeting.status == MeetingStatus.CANCELLED:
        errors["meeting"] = _("The meeting was cancelled.")
    participants = _member_ids(life_participants(meeting))
    if member is None or member.pk not in participants:
        errors["member"] = _("Choose a member taking part in this meeting.")
    if kind not in LifeMeetingNote.Kind.values:
        errors["kind"] = _("Choose what kind of note this is.")
    text = _clean_text(text)
    if not text:
        errors["text"] = _("Write down what was said.")
    elif len(text) > TEXT_MAX:
        errors["text"] = _("Keep the text within %(n)s characters.") % {"n": TEXT_MAX}
    if kind == LifeMeetingNote.Kind.CRITICISM:
        if about is None:
            errors["about"] = _("Say whom the criticism is about.")
        elif member is not None and about.pk == member.pk:
            errors["about"] = _("Criticism of oneself is recorded as a self-criticism.")
        elif about.pk not in participants:
            errors["about"] = _("Choose a member taking part in this meeting.")
    else:
        about = None
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        note = LifeMeetingNote.objects.create(
            meeting=meeting,
            member=member,
            kind=kind,
            about=about,
            text=text,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ensure_in_scope(actor, note, "change")
        audit_log(
            actor=actor,
            action="meetings.life_note_add",
            obj=note,
            org=meeting.org,
            changes={"meeting": meeting.pk, "member": member.pk, "kind": kind},  # type: ignore[union-attr]
        )
    return note


def life_note_delete(*, actor: Any, note: LifeMeetingNote, reason: str = "") -> None:
    """Remove a note entered by mistake (the text and the reason stay in the audit log)."""
    ensure_can(actor, "change", note.meeting.org)
    with transaction.atomic():
        audit_log(
            actor=actor,
            action="meetings.life_note_delete",
            obj=note,
            org=note.meeting.org,
            changes={
                "reason": _clean_text(reason),
                "member": note.member_id,
                "kind": note.kind,
                "about": note.about_id,
                "text": note.text,
            },
        )
        note.delete()


def life_notes_for(actor: Any, action: str = "view") -> QuerySet[LifeMeetingNote]:
    return LifeMeetingNote.objects.restrict(actor, action).select_related("member", "about", "meeting")


@dataclass
class MemberNotes:
    member: Member
    self_criticism: list[LifeMeetingNote] = field(default_factory=list)
    criticism: list[LifeMeetingNote] = field(default_factory=list)
    criticised_by: list[LifeMeetingNote] = field(default_factory=list)
    rectification: list[LifeMeetingNote] = field(default_factory=list)


@dataclass
class LifeOverview:
    """Everything the life meeting page shows, read in a fixed number of queries."""

    meeting: Meeting
    participants: list[Member]
    groups: list[MemberNotes]
    missing_self_criticism: list[Member]
    rectifications: list[LifeMeetingNote]
    linked_talks: list[TalkRecord]
    year_talks: list[TalkRecord]
    coverage: TalkCoverage


def life_overview(actor: Any, meeting: Meeting) -> LifeOverview:
    participants = life_participants(meeting)
    notes = list(
        life_notes_for(actor).filter(meeting=meeting).order_by("member__name", "member_id", "kind", "id")
    )
    groups: dict[int, MemberNotes] = {m.pk: MemberNotes(member=m) for m in participants}
    for note in notes:
        group = groups.setdefault(note.member_id, MemberNotes(member=note.member))
        getattr(group, note.kind).append(note)
        if note.kind == LifeMeetingNote.Kind.CRITICISM and note.about_id:
            groups.setdefault(note.about_id, MemberNotes(member=note.about)).criticised_by.append(note)  # type: ignore[arg-type]
    year = meeting.date.year
    year_talks = list(talk_list(actor, meeting.org, year))
    return LifeOverview(
        meeting=meeting,
        participants=participants,
        groups=list(groups.values()),
        missing_self_criticism=[g.member for g in groups.values() if not g.self_criticism],
        rectifications=[n for n in notes if n.kind == LifeMeetingNote.Kind.RECTIFICATION],
        linked_talks=[t for t in year_talks if t.meeting_id == meeting.pk],
        year_talks=year_talks,
        coverage=talk_coverage(meeting.org, year),
    )


# ── 民主评议党员 ─────────────────────────────────────────────────────────────────────────────────────


def _min_year() -> int:
    return rulebook.versions(RULE_KEY)[0].effective_from.year


def _year_errors(year: Any) -> int:
    today = _today()
    try:
        year = int(year)
    except (TypeError, ValueError):
        year = 0
    if not _min_year() <= year <= today.year:
        raise ValidationError(
            {"year": _("Enter a year from %(min)s to %(max)s.") % {"min": _min_year(), "max": today.year}}
        )
    return year


def appraisal_rule(org: Organization, year: int) -> rulebook.RuleVersion:
    """The ``meetings`` rule in force for the year's appraisal: on 31 December, or today during it."""
    return rulebook.rule(RULE_KEY, on=min(dt.date(year, 12, 31), _today()), org=org)


def _mobile_url() -> str:
    try:
        return reverse("mobile_meetings:appraisal_mine")
    except NoReverseMatch:  # the phone page is not routed (a trimmed deployment)
        return ""


def appraisal_open(*, actor: Any, org: Organization, year: int, meeting: Meeting | None = None) -> int:
    """Open the year's 民主评议党员 in the branch: one ``Appraisal`` for every full and probationary
    member on the register who has none for the year yet. Idempotent: opening again adds only the
    members who joined since (and links the rows to ``meeting`` when given). Returns the rows created.
    The members are told on commit to write their self-assessment and rate their fellow members."""
    ensure_can(actor, "add", org)
    _branch_like(org)
    year = _year_errors(year)
    if meeting is not None and (
        meeting.org_id != org.pk
        or meeting.kind not in (MeetingKind.DEMOCRATIC_APPRAISAL, MeetingKind.LIFE_MEETING)
        or meeting.date.year != year
    ):
        raise ValidationError(
            {
                "meeting": _(
                    "Link a democratic appraisal (or organization life) meeting of the branch in that year."
                )
            }
        )
    rule_ref = appraisal_rule(org, year).ref
    with transaction.atomic():
        # Two secretaries opening at once: the second waits here and then finds the rows made.
        list(Organization.objects.select_for_update().filter(pk=org.pk).values_list("pk", flat=True))
        taken = Appraisal.objects.filter(year=year).values("member_id")
        members = list(current_members(org).exclude(pk__in=taken))
        Appraisal.objects.bulk_create(
            [Appraisal(org=org, year=year, member=m, meeting=meeting, rule_ref=rule_ref) for m in members],
            ignore_conflicts=True,
        )
        if meeting is not None:
            Appraisal.objects.filter(org=org, year=year, meeting__isnull=True).update(meeting=meeting)
        audit_log(
            actor=actor,
            action="meetings.appraisal_open",
            obj=org,
            org=org,
            changes={"year": year, "created": len(members), "rule_ref": rule_ref},
        )
        users = [m.user_id for m in members if m.user_id]
        if users:
            transaction.on_commit(lambda: _notify_opened(users, org, year))
    return len(members)


def _notify_opened(user_ids: list[int], org: Organization, year: int) -> None:
    from dangjian.core.alerts import NotificationSpec
    from dangjian.core.notifications import notify_many

    title = _("Democratic appraisal %(year)s has started") % {"year": year}
    body = _(
        "%(org)s has opened the democratic appraisal of members for %(year)s: write your self-assessment "
        "and rate your fellow members. Your ratings are secret."
    ) % {"org": org.display_name, "year": year}
    url = _mobile_url()
    notify_many(
        "meetings.appraisal",
        [NotificationSpec(key=f"{org.pk}:{year}", user=u, title=title, body=body, url=url) for u in user_ids],
    )


def is_own_appraisal(user: Any, appraisal: Appraisal) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and appraisal.member.user_id == user.pk


def self_assessment_save(*, actor: Any, appraisal: Appraisal, text: str) -> Appraisal:
    """Save the member's self-assessment: by the member through their own login (until the branch has
    rated them), or by the secretary / committee on their behalf."""
    own = is_own_appraisal(actor, appraisal)
    officer = can(actor, "change", appraisal.org)
    if not (own or officer):
        raise PermissionDenied(_("Only the member or the branch may write this self-assessment."))
    if own and not officer and appraisal.rating:
        raise ValidationError(
            {"self_assessment": _("The branch has already rated you; ask your secretary to change it.")}
        )
    text = _clean_text(text)
    if not text:
        raise ValidationError({"self_assessment": _("Write the self-assessment.")})
    if len(text) > TEXT_MAX:
        raise ValidationError(
            {"self_assessment": _("Keep the text within %(n)s characters.") % {"n": TEXT_MAX}}
        )
    if text == appraisal.self_assessment:
        return appraisal
    with transaction.atomic():
        had = bool(appraisal.self_assessment)
        appraisal.self_assessment = text
        appraisal.save(update_fields=["self_assessment"])
        audit_log(
            actor=actor,
            action="meetings.self_assessment_save",
            obj=appraisal,
            org=appraisal.org,
            changes={"by": "member" if own else "branch", "replaced": had},
        )
    return appraisal


def mutual_rate(*, actor: Any, appraisal: Appraisal, rating: str) -> MutualRating:
    """A fellow member's secret rating in the mutual assessment: by a current member of the same branch
    through their own login, never of themselves, one per rater (a second call changes it) until the
    branch has rated the member."""
    rater = own_member(actor)
    if rater is None or rater.org_id != appraisal.org_id:
        raise PermissionDenied(_("Only fellow members of the branch take part in the mutual assessment."))
    if rater.pk == appraisal.member_id:
        raise ValidationError({"rating": _("You cannot rate yourself; write your self-assessment instead.")})
    if rating not in RATINGS:
        raise ValidationError(
            {"rating": _("Choose excellent, qualified, basically qualified or unqualified.")}
        )
    with transaction.atomic():
        locked = Appraisal.objects.select_for_update().get(pk=appraisal.pk)
        if locked.rating:
            raise ValidationError(
                {"rating": _("The branch has already rated this member; the mutual assessment is closed.")}
            )
        row, created = MutualRating.objects.update_or_create(
            appraisal=locked, rater=rater, defaults={"rating": rating}
        )
        # Which rating was given is never written down outside MutualRating (the secret ballot).
        audit_log(
            actor=actor,
            action="meetings.mutual_rate",
            obj=locked,
            org=locked.org,
            changes={"year": locked.year, "changed": not created},
        )
    return row


def appraisal_rate(*, actor: Any, appraisal: Appraisal, rating: str, notes: str = "") -> Appraisal:
    """The branch's rating of a member (RULES.md §3: 优秀 / 合格 / 基本合格 / 不合格). 不合格 needs notes
    explaining why; what follows for an unqualified member is the branch's decision (UNQUALIFIED_HINT)
    and nothing is started here. Rating closes the member's mutual assessment."""
    ensure_can(actor, "change", appraisal.org)
    notes = _clean_text(notes)
    if rating not in RATINGS:
        raise ValidationError(
            {"rating": _("Choose excellent, qualified, basically qualified or unqualified.")}
        )
    if rating == AppraisalRating.UNQUALIFIED and not notes:
        raise ValidationError({"notes": _("Explain why the member is rated unqualified.")})
    if len(notes) > TEXT_MAX:
        raise ValidationError({"notes": _("Keep the text within %(n)s characters.") % {"n": TEXT_MAX}})
    if appraisal.rating == rating and appraisal.notes == notes:
        return appraisal
    old = {"rating": appraisal.rating, "notes": appraisal.notes}
    with transaction.atomic():
        appraisal.rating = rating
        appraisal.notes = notes
        appraisal.rated_at = timezone.now()
        appraisal.rated_by = actor if getattr(actor, "is_authenticated", False) else None
        appraisal.save(update_fields=["rating", "notes", "rated_at", "rated_by"])
        ensure_in_scope(actor, appraisal, "change")
        audit_log(
            actor=actor,
            action="meetings.appraisal_rate",
            obj=appraisal,
            org=appraisal.org,
            changes={"rating": [old["rating"], rating], "notes_changed": old["notes"] != notes},
        )
    return appraisal


# Selectors.


def appraisals_for(actor: Any, action: str = "view") -> QuerySet[Appraisal]:
    """Appraisals the actor may see: officers their subtree, a member only their own (scope_self_q)."""
    return Appraisal.objects.restrict(actor, action).select_related("org", "member", "meeting", "rated_by")


def sees_branch_detail(actor: Any, org: Organization) -> bool:
    """Whether the actor holds a subtree role over ``org`` (secretary, committee, auditor, org manager):
    only they see others' self-assessments and the mutual tallies."""
    return can(actor, "view", org)


def mutual_tally(appraisal_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """The count of each rating per appraisal — the only thing ever shown of the mutual assessment."""
    ids = list(appraisal_ids)
    tally: dict[int, dict[str, int]] = {pk: dict.fromkeys(RATINGS, 0) for pk in ids}
    if not ids:
        return tally
    rows = (
        MutualRating.objects.filter(appraisal_id__in=ids)
        .values("appraisal_id", "rating")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        tally[row["appraisal_id"]][row["rating"]] = row["n"]
    return tally


def appraisal_rows(actor: Any, org: Organization, year: int) -> list[Appraisal]:
    """The branch's appraisals of the year, each with ``tally`` (counts per rating) and ``raters``."""
    rows = list(appraisals_for(actor).filter(org=org, year=year).order_by("member__name", "member_id"))
    tally = mutual_tally(r.pk for r in rows)
    for r in rows:
        r.tally = tally[r.pk]  # type: ignore[attr-defined]
        r.raters = sum(r.tally.values())  # type: ignore[attr-defined]
    return rows


@dataclass
class AppraisalSummary:
    """The year's appraisal of a branch (or of a subtree): counts per rating and the excellent share."""

    year: int
    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))
    self_done: int = 0
    warn_share: Fraction = EXCELLENT_WARN_SHARE

    @property
    def rated(self) -> int:
        return sum(self.counts.values())

    @property
    def unrated(self) -> int:
        return self.total - self.rated

    @property
    def excellent_percent(self) -> float:
        return round(100 * self.counts[AppraisalRating.EXCELLENT] / self.total, 1) if self.total else 0.0

    @property
    def warn_percent(self) -> float:
        return round(float(self.warn_share) * 100, 1)

    @property
    def excellent_over_share(self) -> bool:
        """More than the local-practice share of the members appraised is rated excellent (a warning)."""
        return (
            bool(self.total)
            and Fraction(self.counts[AppraisalRating.EXCELLENT], self.total) > self.warn_share
        )

    def rows(self) -> list[dict[str, Any]]:
        labels = dict(AppraisalRating.choices)
        return [
            {
                "rating": r,
                "label": labels[r],
                "count": self.counts[r],
                "percent": round(100 * self.counts[r] / self.total, 1) if self.total else 0.0,
            }
            for r in RATINGS
        ]


def _warn_share(org: Organization, year: int) -> Fraction:
    try:
        value = appraisal_rule(org, year).params.get("appraisal_excellent_warn_share")
    except rulebook.RuleNotFound:
        value = None
    # The rule writes shares as decimals (0.3333 for one third): read them as the nearest simple fraction.
    return Fraction(str(value)).limit_denominator(100) if value else EXCELLENT_WARN_SHARE


def appraisal_summary(org: Organization, year: int) -> AppraisalSummary:
    """Counts per rating for the appraisals of ``org``'s subtree in ``year`` (one query)."""
    summary = AppraisalSummary(year=year, warn_share=_warn_share(org, year))
    qs = Appraisal.objects.filter(path_prefix_q("org__path", org.path), year=year)
    for row in (
        qs.values("rating")
        .annotate(n=Count("id"), done=Count("id", filter=~Q(self_assessment="")))
        .order_by()
    ):
        summary.total += row["n"]
        summary.self_done += row["done"]
        if row["rating"]:
            summary.counts[row["rating"]] += row["n"]
    return summary


def appraisal_branch_summaries(actor: Any, org: Organization, year: int) -> list[dict[str, Any]]:
    """One line per branch of ``org``'s subtree that opened the year's appraisal (for a higher org)."""
    qs = (
        appraisals_for(actor)
        .filter(path_prefix_q("org__path", org.path), year=year)
        .values("org_id", "org__name", "org__short_name", "rating")
        .annotate(n=Count("id"))
        .order_by("org__path")
    )
    share = _warn_share(org, year)
    lines: dict[int, dict[str, Any]] = {}
    for row in qs:
        line = lines.setdefault(
            row["org_id"],
            {
                "org_id": row["org_id"],
                "name": row["org__short_name"] or row["org__name"],
                "total": 0,
                "counts": dict.fromkeys(RATINGS, 0),
            },
        )
        line["total"] += row["n"]
        if row["rating"]:
            line["counts"][row["rating"]] += row["n"]
    for line in lines.values():
        rated = sum(line["counts"].values())
        line["unrated"] = line["total"] - rated
        excellent = line["counts"][AppraisalRating.EXCELLENT]
        line["excellent_percent"] = round(100 * excellent / line["total"], 1) if line["total"] else 0.0
        line["over"] = bool(line["total"]) and Fraction(excellent, line["total"]) > share
    return list(lines.values())


def appraisal_results(org: Organization, year: int) -> dict[int, str]:
    """member id → the branch's rating for ``year`` in ``org``'s subtree (rated members only); for the
    indices and reports that read the appraisal."""
    return dict(
        Appraisal.objects.filter(path_prefix_q("org__path", org.path), year=year)
        .exclude(rating="")
        .values_list("member_id", "rating")
    )


@dataclass
class MyAppraisal:
    """The phone page of a member: their own appraisal and the fellow members they may rate."""

    member: Member
    year: int
    own: Appraisal | None
    fellows: list[Appraisal]
    given: dict[int, str]  # appraisal id → the rating this member gave (their own choice, shown to them)


def my_appraisal(user: Any, year: int | None = None) -> MyAppraisal | None:
    """For the logged-in member: the appraisal of ``year`` (default: the latest their branch opened)."""
    member = own_member(user)
    if member is None:
        return None
    branch = Appraisal.objects.filter(org_id=member.org_id)
    if year is None:
        year = branch.aggregate(y=Max("year"))["y"] or _today().year
    rows = list(branch.filter(year=year).select_related("member").order_by("member__name", "member_id"))
    own = next((r for r in rows if r.member_id == member.pk), None)
    if own is None:
        own = Appraisal.objects.filter(member=member, year=year).select_related("org").first()
    fellows = [r for r in rows if r.member_id != member.pk]
    given = dict(
        MutualRating.objects.filter(rater=member, appraisal__in=fellows).values_list("appraisal_id", "rating")
    )
    return MyAppraisal(member=member, year=year, own=own, fellows=fellows, given=given)
