"""Reads of the member register: scoped querysets, filters and subtree statistics."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import BooleanField, Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from dangjian.core.scoping import path_prefix_q
from dangjian.members.choices import (
    CURRENT_STATUSES,
    HAN,
    HIGHER_EDUCATION,
    REGISTER_STATUSES,
    MemberStatus,
)
from dangjian.members.models import Member

AGE_BANDS = [(0, 30), (31, 35), (36, 45), (46, 55), (56, 60), (61, 70), (71, 200)]
STANDING_BANDS = [(0, 5), (6, 10), (11, 20), (21, 30), (31, 40), (41, 50), (51, 200)]


# The member-list filters, shared by the page, the API and the export (see member_filter).
FILTER_KEYS = ("org", "descendants", "status", "gender", "education", "age_min", "age_max", "join_year", "q")


MAX_AGE = 150
FOUNDING_YEAR = 1921  # nobody joined the Party before it was founded
_INT_RE = re.compile(r"[0-9]{1,19}")


def bounded_int(value: Any, lo: int, hi: int, *, clamp: bool = False) -> int | None:
    """A query parameter as an int within [lo, hi]: None when absent or not a plain ASCII number;
    out of range → None, or the nearest bound with ``clamp``."""
    text = str(value).strip() if value is not None else ""
    if not _INT_RE.fullmatch(text):
        return None
    number = int(text)
    if lo <= number <= hi:
        return number
    return min(max(number, lo), hi) if clamp else None


def current_member_count(org: Any) -> int:
    return Member.objects.in_subtree(org).current().count()


def members_for(actor: Any, action: str = "view") -> QuerySet[Member]:
    return Member.objects.restrict(actor, action).select_related("org", "group")


def member_filter(
    qs: QuerySet[Member], params: dict[str, Any], visible_orgs: QuerySet | None = None
) -> QuerySet[Member]:
    """Apply the member-list filters shared by the page, the API and the export.

    ``org`` (id) with ``descendants`` (default true: the whole subtree), ``status``, ``gender``,
    ``education``, ``age_min``/``age_max``, ``join_year``, ``q`` (name, masked ID, work unit).
    """
    from dangjian.orgs.models import Organization

    org_id = params.get("org")
    if org_id not in (None, ""):
        orgs = visible_orgs if visible_orgs is not None else Organization.objects.all()
        pk = bounded_int(org_id, 1, 2**62)
        org = orgs.filter(pk=pk).only("path").first() if pk is not None else None
        if org is None:
            return qs.none()
        if str(params.get("descendants", "true")).lower() in ("false", "0", "no"):
            qs = qs.filter(org=org)
        else:
            qs = qs.filter(path_prefix_q("org_path", org.path))
    for key in ("status", "gender", "education", "ethnicity", "occupation", "dues_category"):
        value = params.get(key)
        if value:
            values = [v for v in str(value).split(",") if v]
            qs = qs.filter(**{f"{key}__in": values})
    today = timezone.localdate()
    # Out-of-range numbers are clamped to what can exist rather than failing (an age of 9999 is 150).
    age_min = bounded_int(params.get("age_min"), 0, MAX_AGE, clamp=True)
    if age_min is not None:
        qs = qs.filter(birth_date__lte=_years_before(today, age_min))
    age_max = bounded_int(params.get("age_max"), 0, MAX_AGE, clamp=True)
    if age_max is not None:
        qs = qs.filter(birth_date__gt=_years_before(today, age_max + 1))
    join_year = bounded_int(params.get("join_year"), FOUNDING_YEAR, today.year, clamp=True)
    if join_year is not None:
        qs = qs.filter(join_date__year=join_year)
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(work_unit__icontains=q) | Q(id_number_masked__startswith=q))
    return qs


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# "Is a current member", with the statuses as SQL literals rather than bound parameters: SQLite uses a
# partial index (members_member_current_stats) only when the query repeats the index's condition
# literally. The values are the code's own constants.
_IS_CURRENT = RawSQL(  # noqa: S611 (constants, no user input)
    '"members_member"."status" IN ({})'.format(", ".join(f"'{s}'" for s in CURRENT_STATUSES)),
    [],
    output_field=BooleanField(),
)


def subtree_member_stats(
    path: str, today: dt.date | None = None, group_id: int | None = None
) -> dict[str, Any]:
    """Aggregates over the current members of a subtree (members counted through their relation).

    A party group holds no relations of its own (members belong to the branch): for a group, pass
    ``group_id`` to count the branch's members assigned to it.
    """
    today = today or timezone.localdate()
    base = Member.objects.filter(path_prefix_q("org_path", path))
    if group_id is not None:
        base = Member.objects.filter(group_id=group_id)
    current = base.filter(_IS_CURRENT)
    # Three passes over the subtree, each readable from an index alone (members_member_path_status and
    # the partial members_member_current_stats): COUNT(*) rather than COUNT(id), and one GROUP BY for
    # gender x ethnicity x education and one for the age x standing bands instead of a query per chart.
    by_status = dict.fromkeys(REGISTER_STATUSES, 0)
    for row in base.values("status").annotate(n=Count("*")).order_by():
        by_status[row["status"]] = row["n"]
    # Flowing members (流动党员) are not a status but current members holding an active flow
    # certificate (transfers.FlowCertificate): counted from the certificates, at the home organisation.
    flowing = flowing_members(current).count()

    total = female = minority = higher = 0
    by_education: dict[str, int] = {}
    ethnicities: dict[str, int] = {}
    for row in current.values("gender", "ethnicity", "education").annotate(n=Count("*")).order_by():
        n = row["n"]
        total += n
        female += n if row["gender"] == "female" else 0
        minority += n if row["ethnicity"] != HAN else 0
        higher += n if row["education"] in HIGHER_EDUCATION else 0
        by_education[row["education"]] = by_education.get(row["education"], 0) + n
        ethnicities[row["ethnicity"]] = ethnicities.get(row["ethnicity"], 0) + n
    by_ethnicity = dict(sorted(ethnicities.items(), key=lambda kv: (-kv[1], kv[0])))

    def band(field: str, bands: list[tuple[int, int]]) -> Case:
        """Which band (of age, or of 党龄) a date falls in, in whole years before today; -1 for none."""
        whens = []
        for i, (lo, hi) in enumerate(bands):
            after, until = _years_before(today, hi + 1), _years_before(today, lo)
            whens.append(When(Q((f"{field}__gt", after), (f"{field}__lte", until)), then=Value(i)))
        return Case(*whens, default=Value(-1), output_field=IntegerField())

    ages = [0] * len(AGE_BANDS)
    standings = [0] * len(STANDING_BANDS)
    banded = current.annotate(
        age_band=band("birth_date", AGE_BANDS), standing_band=band("full_date", STANDING_BANDS)
    )
    for row in banded.values("age_band", "standing_band").annotate(n=Count("*")).order_by():
        if row["age_band"] >= 0:
            ages[row["age_band"]] += row["n"]
        if row["standing_band"] >= 0:
            standings[row["standing_band"]] += row["n"]
    agg: dict[str, int] = {"female": female, "minority": minority, "higher_education": higher}
    agg.update({f"age_{lo}_{hi}": ages[i] for i, (lo, hi) in enumerate(AGE_BANDS)})
    agg.update({f"standing_{lo}_{hi}": standings[i] for i, (lo, hi) in enumerate(STANDING_BANDS)})

    def pct(n: int) -> float:
        return round(n * 100 / total, 1) if total else 0.0

    return {
        "members": total,
        "by_status": by_status,
        "flowing": flowing,
        "by_gender": {"male": total - agg["female"], "female": agg["female"]},
        "female_pct": pct(agg["female"]),
        "minority_pct": pct(agg["minority"]),
        "higher_education_pct": pct(agg["higher_education"]),
        "by_age": {f"{lo}-{hi}" if hi < 200 else f"{lo}+": agg[f"age_{lo}_{hi}"] for lo, hi in AGE_BANDS},
        "by_standing": {
            f"{lo}-{hi}" if hi < 200 else f"{lo}+": agg[f"standing_{lo}_{hi}"] for lo, hi in STANDING_BANDS
        },
        "by_education": by_education,
        "by_ethnicity": by_ethnicity,
    }


def flowing_members(qs: QuerySet[Member]) -> QuerySet[Member]:
    """The members of ``qs`` who are away as flowing members (流动党员): those holding an active flow
    certificate (transfers.FlowCertificate), the one record of it. Their status stays full or
    probationary; the home organisation (their relation) counts them."""
    return qs.filter(flow_certificates__status="active")


def under_probation_within_party(member: Any, on: dt.date | None = None) -> bool:
    """True when ``member`` is under 留党察看 on ``on`` and their rights are not (yet) restored.

    党章 第三十九条: during the probation the member has no right to vote, elect or be elected; the rights
    come back only by a decision (MemberDiscipline.rights_restored_on), not by the end date passing.
    """
    from dangjian.members.models import DisciplineKind, MemberDiscipline

    on = on or timezone.localdate()
    member_id = getattr(member, "pk", member)
    return (
        MemberDiscipline.objects.filter(
            member_id=member_id, kind=DisciplineKind.PROBATION_WITHIN_PARTY, decided_on__lte=on
        )
        .filter(Q(rights_restored_on__isnull=True) | Q(rights_restored_on__gt=on))
        .exists()
    )


def voting_members(org: Any, on: dt.date | None = None) -> QuerySet[Member]:
    """The members with a vote at ``org``'s branch general meeting on ``on`` (应到会有表决权的党员).

    - Counted through the relation: members whose organisation relation is with ``org``. Flowing members
      hosted here from elsewhere (a FlowCertificate naming ``org`` as host) belong to their home branch's
      register and have no vote here (RULES.md §4: 流动党员 at the host have no vote); members flowing out
      from ``org`` keep their status, full or probationary, and a full one keeps the vote at home.
    - Full members only: probationary members have no vote (党章 第七条).
    - Not under 留党察看 without restored rights (党章 第三十九条): see under_probation_within_party.

    So the expected voting members and the full members who should attend (细则 第二十一条's base) are
    the same people.
    """
    from dangjian.members.models import DisciplineKind, MemberDiscipline

    on = on or timezone.localdate()
    org_id = getattr(org, "pk", org)
    without_rights = (
        MemberDiscipline.objects.filter(kind=DisciplineKind.PROBATION_WITHIN_PARTY, decided_on__lte=on)
        .filter(Q(rights_restored_on__isnull=True) | Q(rights_restored_on__gt=on))
        .values("member_id")
    )
    return (
        Member.objects.filter(org_id=org_id, status=MemberStatus.FULL)
        # A full member entered without the date keeps the vote; with one, from that date.
        .filter(Q(full_date__isnull=True) | Q(full_date__lte=on))
        .exclude(pk__in=without_rights)
    )


def vote_counts_expected(org: Any, on: dt.date | None = None) -> dict[str, int]:
    """The register's suggestion for a vote's ``expected_voting`` and ``full_members_expected``."""
    n = voting_members(org, on).count()
    return {"expected_voting": n, "full_members_expected": n}


def _last_suspension(member: Any) -> dt.date | None:
    return (
        member.status_changes.filter(to_status=MemberStatus.SUSPENDED)
        .order_by("-date", "-id")
        .values_list("date", flat=True)
        .first()
    )


def status_event_options(member: Any, on: dt.date | None = None) -> list[dict[str, Any]]:
    """What the 状态变更 menu offers for ``member`` on ``on``: the events that apply to their status, each
    with ``earliest`` (the first day the rule allows it, when known) and ``allowed`` (that day has come).

    The dates come from the transfer rules (条例 第三十四条): suspension 6 months after the last contact,
    removal of a suspended member 2 years after the suspension. The services check them again.
    """
    from dangjian.members.choices import StatusEvent
    from dangjian.transfers import rules as transfer_rules

    on = on or timezone.localdate()
    r = transfer_rules.rule_for(on, member.org)
    current = member.status in CURRENT_STATUSES
    options: list[dict[str, Any]] = []

    def add(event: str, earliest: dt.date | None = None) -> None:
        options.append(
            {
                "event": event,
                "label": StatusEvent(event).label,
                "earliest": earliest,
                "allowed": earliest is None or on >= earliest,
            }
        )

    if current:
        last = member.last_contact_on
        add(StatusEvent.SUSPEND, transfer_rules.lost_contact_threshold(last, r) if last else None)
    else:
        add(StatusEvent.RESTORE)
    if current or member.status == MemberStatus.SUSPENDED:
        earliest = None
        if member.status == MemberStatus.SUSPENDED:
            since = _last_suspension(member)
            if since is not None:
                earliest = transfer_rules.add_months(since, 12 * int(r["lost_contact_removal_years"]))
        add(StatusEvent.REMOVE, earliest)
    if member.status != MemberStatus.DECEASED:
        add(StatusEvent.DEATH)
    if member.status not in (MemberStatus.HISTORICAL, MemberStatus.DECEASED):
        add(StatusEvent.HISTORICAL)
    return options
