"""Votes of branch general meetings: quorum and majority (细则 第二十条、第二十一条) and their record; votes
taken at a meeting with the counts from its attendance record (meetings.votes), including probationary
members and hosted flowing members who attend without a vote (党章 第七条, RULES.md §4), and branch
committee meetings (支部工作条例 第十四条: more than half of the committee present)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from dangjian.meetings import rules, services, votes
from dangjian.meetings.models import Attendee, Vote
from dangjian.members.choices import MemberStatus
from dangjian.orgs.models import CommitteePosition, CommitteeTerm
from dangjian.transfers.models import FlowCertificate
from tests.conftest import make_member

# (why, expected, present, full expected, yes, written yes, quorum, passed)
TABLE = [
    ("present exactly half: no quorum", 20, 10, 20, 10, 0, False, False),
    ("present one more than half", 20, 11, 20, 11, 0, True, True),
    ("yes exactly half of the full members expected", 20, 15, 20, 10, 0, True, False),
    ("yes more than half of those present but not of those expected", 20, 15, 20, 9, 0, True, False),
    ("written yes opinions of absent full members count", 20, 15, 20, 9, 2, True, True),
    ("odd numbers: 5 of 9 present is a quorum", 9, 5, 9, 5, 0, True, True),
    ("odd numbers: 4 of 9 present is not", 9, 4, 9, 4, 0, False, False),
]


@pytest.mark.parametrize(
    ("why", "expected", "present", "full", "yes", "written", "quorum", "passed"),
    TABLE,
    ids=[t[0] for t in TABLE],
)
def test_quorum_and_majority(why, expected, present, full, yes, written, quorum, passed):
    counts = rules.VoteCounts(
        expected_voting=expected,
        present_voting=present,
        full_members_expected=full,
        yes=yes,
        no=0,
        abstain=0,
        written_yes=written,
    )
    result = rules.vote_result(counts)
    assert (result.quorum_met, result.passed) == (quorum, passed), why


def test_least_more_than_half():
    assert [rules.least_more_than(n, 0.5) for n in (1, 2, 9, 10, 19, 20)] == [1, 2, 5, 6, 10, 11]


def test_one_candidate_per_vote():
    counts = rules.VoteCounts(20, 15, 20, 14, 1, 0, candidates=2)
    assert [p.code for p in rules.vote_result(counts).problems] == ["one_candidate"]


def _record(actor, org, **over):
    values = {
        "expected_voting": 20,
        "present_voting": 15,
        "full_members_expected": 20,
        "yes": 12,
        "no": 2,
        "abstain": 1,
    }
    values.update(over)
    return services.vote_record(
        actor=actor,
        org=org,
        subject=None,
        kind="admission",
        date=dt.date(2025, 6, 1),
        rule_ref="test@1",
        **values,
    )


def test_vote_record_computes_passed_and_audits(tree, secretary_a):
    vote = _record(secretary_a, tree.branch_a)
    assert vote.passed and vote.quorum_met and vote.rule_ref == "test@1"
    assert not _record(secretary_a, tree.branch_a, yes=10, no=4).passed


def test_vote_record_refuses_inconsistent_counts_and_no_quorum(tree, secretary_a):
    with pytest.raises(ValidationError):
        _record(secretary_a, tree.branch_a, yes=14, no=2)  # 17 ballots, 15 present
    with pytest.raises(ValidationError):
        _record(secretary_a, tree.branch_a, present_voting=10, yes=9, no=1, abstain=0)
    assert Vote.objects.count() == 0


def test_vote_record_is_scoped(tree, secretary_b):
    with pytest.raises(PermissionDenied):
        _record(secretary_b, tree.branch_a)


# --- votes taken at a meeting: counts from its attendance record (meetings.votes) --------------------

DAY = dt.date(2025, 6, 10)


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _hosted(member, host):
    """A flowing member of another branch hosted by ``host`` (a 活动证): a guest without a vote there."""
    FlowCertificate.objects.create(
        member=member, home_org=member.org, home_org_path=member.org.path, host_org=host,
        host_org_path=host.path, number=f"LD-V{member.pk}", start=dt.date(2025, 1, 1),
    )  # fmt: skip


def held_meeting(actor, org, *, kind="general_meeting", present=(), absent_all_others=True, day=DAY):
    """Plan a meeting through the services, mark ``present`` members present (others absent), mark it held."""
    meeting = services.meeting_create(
        actor=actor, org=org, kind=kind, title="支部党员大会", starts_at=_at(day), ends_at=_at(day, 11)
    )
    rows = Attendee.objects.filter(meeting=meeting)
    marks = {a.member_id: ("present" if a.member_id in {m.pk for m in present} else "absent") for a in rows}
    services.attendance_mark(actor=actor, meeting=meeting, marks=marks, now=_at(day, 10))
    return services.meeting_mark_held(actor=actor, meeting=meeting, now=_at(day, 10))


def _branch(tree, full: int, probationary: int = 0, guests: int = 0):
    fulls = [make_member(tree.branch_a) for _ in range(full)]
    probs = [
        make_member(
            tree.branch_a, status=MemberStatus.PROBATIONARY, join_date=dt.date(2025, 1, 5), full_date=None
        )
        for _ in range(probationary)
    ]
    hosted = []
    for _ in range(guests):
        m = make_member(tree.branch_b)
        _hosted(m, tree.branch_a)
        hosted.append(m)
    return fulls, probs, hosted


# (why, full members, full present, probationary present, guests present, yes, written yes, quorum, passed)
MEETING_TABLE = [
    ("6 of 10 full members present: quorum; 6 yes pass", 10, 6, 0, 0, 6, 0, True, True),
    ("5 of 10 present is exactly half: no quorum", 10, 5, 0, 0, 5, 0, False, False),
    (
        "probationary members and hosted flowing members present do not make a quorum",
        10, 5, 2, 3, 5, 0, False, False,
    ),
    ("8 present, 5 yes: not more than half of the 10 expected", 10, 8, 0, 0, 5, 0, True, False),
    ("…with a written yes opinion of an absent full member it passes", 10, 8, 0, 0, 5, 1, True, True),
    ("guests present change neither quorum nor majority", 10, 6, 0, 4, 6, 0, True, True),
    ("odd numbers: 5 of 9 present, 5 yes", 9, 5, 1, 1, 5, 0, True, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "full", "present", "prob", "guests", "yes", "written", "quorum", "passed"),
    MEETING_TABLE,
    ids=[t[0][:50] for t in MEETING_TABLE],
)
def test_meeting_vote_quorum_and_majority_from_attendance(
    why, full, present, prob, guests, yes, written, quorum, passed, tree, secretary_a
):
    fulls, probs, hosted = _branch(tree, full, prob, guests)
    meeting = held_meeting(secretary_a, tree.branch_a, present=[*fulls[:present], *probs, *hosted])
    basis = votes.meeting_vote_basis(meeting)
    assert (basis.expected_voting, basis.present_voting) == (full, present), why
    assert basis.quorum_met is quorum, why
    record = lambda: votes.meeting_vote_record(  # noqa: E731
        actor=secretary_a, meeting=meeting, kind="decision", title="关于换届选举工作方案的决定",
        yes=yes, no=present - yes, abstain=0, written_opinions_yes=written,
    )  # fmt: skip
    if not quorum:
        with pytest.raises(ValidationError) as exc:
            record()
        assert "present_voting" in exc.value.message_dict, why
        assert not Vote.objects.exists()
        return
    vote = record()
    assert vote.passed is passed, why
    assert (vote.expected_voting, vote.present_voting, vote.full_members_expected) == (full, present, full)
    assert vote.meeting == meeting and vote.org == tree.branch_a and vote.date == DAY
    assert vote.rule_ref == "meetings@2018"


def test_election_one_vote_per_candidate(tree, secretary_a):
    fulls, _p, _g = _branch(tree, 7)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls)
    for name, yes in (("王芳", 7), ("李强", 3)):
        votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="election", title=name, yes=yes,
                                  no=7 - yes, abstain=0)  # fmt: skip
    assert list(Vote.objects.order_by("id").values_list("title", "passed")) == [
        ("王芳", True),
        ("李强", False),
    ]
    with pytest.raises(ValidationError) as exc:  # the same candidate twice
        votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="election", title="王芳", yes=7, no=0,
                                  abstain=0)  # fmt: skip
    assert "title" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:  # an election names its candidate
        votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="election", yes=7, no=0, abstain=0)
    assert "title" in exc.value.message_dict


def test_more_ballots_than_present_are_refused(tree, secretary_a):
    fulls, _p, _g = _branch(tree, 7)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls[:5])
    with pytest.raises(ValidationError) as exc:
        votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="decision", title="决议", yes=5, no=1,
                                  abstain=0)  # fmt: skip
    assert "yes" in exc.value.message_dict


def test_admission_is_recorded_on_the_case_not_here(tree, secretary_a):
    fulls, _p, _g = _branch(tree, 5)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls)
    for kind in ("admission", "full_membership", "extension", "cancellation"):
        with pytest.raises(ValidationError) as exc:
            votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind=kind, title="x", yes=5, no=0,
                                      abstain=0)  # fmt: skip
        assert "kind" in exc.value.message_dict


def test_only_held_general_or_committee_meetings_vote(tree, secretary_a):
    fulls, _p, _g = _branch(tree, 5)
    planned = services.meeting_create(
        actor=secretary_a, org=tree.branch_a, kind="general_meeting", title="计划中", starts_at=_at(DAY)
    )
    with pytest.raises(ValidationError) as exc:
        votes.meeting_vote_record(actor=secretary_a, meeting=planned, kind="decision", title="x", yes=1, no=0,
                                  abstain=0)  # fmt: skip
    assert "meeting" in exc.value.message_dict
    theme = held_meeting(secretary_a, tree.branch_a, kind="theme_day", present=fulls)
    with pytest.raises(ValidationError) as exc:
        votes.meeting_vote_record(actor=secretary_a, meeting=theme, kind="decision", title="x", yes=5, no=0,
                                  abstain=0)  # fmt: skip
    assert "meeting" in exc.value.message_dict


def test_meeting_votes_are_scoped(tree, secretary_a, secretary_b, auditor):
    fulls, _p, _g = _branch(tree, 5)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls)
    for actor in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            votes.meeting_vote_record(actor=actor, meeting=meeting, kind="decision", title="x", yes=5, no=0,
                                      abstain=0)  # fmt: skip


def _committee(branch, members):
    term = CommitteeTerm.objects.create(org=branch, start_date=dt.date(2024, 1, 1), term_years=3)
    titles = ["secretary", "deputy_secretary", "organization", "publicity", "discipline"]
    for title, member in zip(titles, members, strict=False):
        CommitteePosition.objects.create(term=term, title=title, member=member)
    return term


# (why, committee members, present, yes, quorum, passed): 支部工作条例 第十四条 — more than half present.
COMMITTEE_TABLE = [
    ("3 of 5 present, 3 yes", 5, 3, 3, True, True),
    ("2 of 5 present: no quorum", 5, 2, 2, False, False),
    ("5 present, 2 yes: not more than half of the committee", 5, 5, 2, True, False),
    ("2 of 3 present, 2 yes", 3, 2, 2, True, True),
]


@pytest.mark.parametrize(
    ("why", "size", "present", "yes", "quorum", "passed"),
    COMMITTEE_TABLE,
    ids=[t[0] for t in COMMITTEE_TABLE],
)
def test_committee_meeting_votes(why, size, present, yes, quorum, passed, tree, secretary_a):
    fulls, _p, _g = _branch(tree, 8)
    _committee(tree.branch_a, fulls[:size])
    meeting = held_meeting(secretary_a, tree.branch_a, kind="committee_meeting", present=fulls[:present])
    basis = votes.meeting_vote_basis(meeting)
    assert basis.committee and (basis.expected_voting, basis.present_voting) == (size, present)
    assert basis.quorum_met is quorum, why
    if not quorum:
        with pytest.raises(ValidationError):
            votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="decision", title="x", yes=yes,
                                      no=0, abstain=0)  # fmt: skip
        return
    vote = votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="decision", title="发展对象人选",
                                     yes=yes, no=present - yes, abstain=0)  # fmt: skip
    assert vote.passed is passed, why
    with pytest.raises(ValidationError):  # elections belong to the general meeting
        votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="election", title="张三", yes=yes,
                                  no=0, abstain=0)  # fmt: skip


# --- the API and the pages ---------------------------------------------------------------------------


def test_api_lists_and_records_votes(tree, secretary_a, api):
    fulls, _p, _g = _branch(tree, 6)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls[:5])
    client = api(secretary_a)
    url = f"/api/v1/meetings/{meeting.pk}/votes/"
    body = client.get(url).json()
    assert body["basis"]["expected_voting"] == 6 and body["basis"]["quorum_needed"] == 4
    assert body["results"] == []
    resp = client.post(
        url, {"kind": "election", "title": "王芳", "yes": 4, "no": 1, "abstain": 0}, format="json"
    )
    assert resp.status_code == 201, resp.content
    assert resp.json()["passed"] is True and resp.json()["yes_needed"] == 4
    assert [v["title"] for v in client.get(url).json()["results"]] == ["王芳"]
    # Counts cannot be sent: they come from the attendance (unknown fields are ignored, never used).
    resp = client.post(
        url,
        {"kind": "decision", "title": "y", "yes": 6, "no": 0, "abstain": 0, "present_voting": 6},
        format="json",
    )
    assert resp.status_code == 400 and "yes" in resp.json()["error"]["fields"]
    resp = client.post(
        url, {"kind": "admission", "title": "z", "yes": 5, "no": 0, "abstain": 0}, format="json"
    )
    assert resp.status_code == 400 and "kind" in resp.json()["error"]["fields"]


def test_vote_page_records_and_panel_shows(tree, secretary_a, web):
    fulls, _p, _g = _branch(tree, 4)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls)
    client = web(secretary_a)
    page = client.get(f"/meetings/{meeting.pk}/votes/new/")
    assert page.status_code == 200 and "vote-form" in page.content.decode()
    resp = client.post(
        f"/meetings/{meeting.pk}/votes/new/",
        {"kind": "election", "title": "赵敏", "yes": 4, "no": 0, "abstain": 0, "next": "1"},
    )
    assert resp.status_code == 302 and resp["Location"].endswith("?kind=election")
    bad = client.post(f"/meetings/{meeting.pk}/votes/new/", {"kind": "election", "title": "", "yes": 9, "no": 0,
                                                              "abstain": 0})  # fmt: skip
    assert bad.status_code == 400 and "is-invalid" in bad.content.decode()
    detail = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert "votes-panel" in detail and "赵敏" in detail


def test_vote_page_is_scoped(tree, secretary_a, secretary_b, auditor, web):
    fulls, _p, _g = _branch(tree, 4)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls)
    assert web(secretary_b).get(f"/meetings/{meeting.pk}/votes/new/").status_code == 404
    assert web(auditor).get(f"/meetings/{meeting.pk}/votes/new/").status_code == 403


# --- recruitment steps 15 and 23 naming the general meeting --------------------------------------------


@pytest.fixture
def recruiting(tree, member_factory):
    from tests.recruitment.helpers import journey

    introducers = [member_factory(tree.branch_a), member_factory(tree.branch_a)]
    mentor = member_factory(tree.branch_a)
    others = [member_factory(tree.branch_a) for _ in range(3)]
    guest = member_factory(tree.branch_b)
    _hosted(guest, tree.branch_a)
    return {
        "bodies": journey(introducers, mentor, tree.district_a),
        "fulls": [*introducers, mentor, *others],
        "guest": guest,
    }


def _case_at(actor, tree, bodies, upto):
    from tests.recruitment.helpers import open_case, walk

    return walk(actor, open_case(actor, tree.branch_a), bodies[:upto])


def test_step_15_takes_the_counts_from_the_named_meeting(tree, secretary_a, recruiting, web):
    from dangjian.recruitment import services as recruitment

    case = _case_at(secretary_a, tree, recruiting["bodies"], 15)  # up to step 14
    fulls = recruiting["fulls"]
    meeting = held_meeting(
        secretary_a, tree.branch_a, day=dt.date(2024, 6, 1), present=[*fulls[:5], recruiting["guest"]]
    )
    record = recruitment.step_record(
        actor=secretary_a, case=case,
        # Counts sent alongside are ignored: the attendance record gives them.
        data={"step": 15, "date": "2024-06-01", "meeting": meeting.pk, "yes": 5, "no": 0, "abstain": 0,
              "expected_voting": 99, "present_voting": 99, "full_members_expected": 99},
    )  # fmt: skip
    vote = record.vote
    assert record.outcome == "passed" and record.rule_ref == "recruitment@2014"
    assert vote.meeting == meeting and vote.title == case.name and vote.rule_ref == "recruitment@2014"
    # 6 full members expected (the hosted flowing member attends without a vote), 5 present.
    assert (vote.expected_voting, vote.present_voting, vote.full_members_expected) == (6, 5, 6)
    assert record.fields["meeting"]["id"] == meeting.pk
    client = web(secretary_a)
    panel = client.get(f"/meetings/{meeting.pk}/").content.decode()
    assert f"/recruitment/{case.pk}/" in panel and case.name in panel
    page = client.get(f"/recruitment/{case.pk}/").content.decode()
    assert f'href="/meetings/{meeting.pk}/#votes"' in page


def test_step_15_with_a_meeting_still_needs_the_majority_of_full_members(tree, secretary_a, recruiting):
    from dangjian.recruitment import services as recruitment

    case = _case_at(secretary_a, tree, recruiting["bodies"], 15)
    meeting = held_meeting(
        secretary_a, tree.branch_a, day=dt.date(2024, 6, 1), present=recruiting["fulls"][:4]
    )
    record = recruitment.step_record(
        actor=secretary_a, case=case,
        data={"step": 15, "date": "2024-06-01", "meeting": meeting.pk, "yes": 3, "no": 1, "abstain": 0},
    )  # fmt: skip
    assert record.outcome == "failed" and not record.vote.passed  # 3 is not more than half of 6


@pytest.mark.parametrize("problem", ["other date", "planned", "other branch", "not a general meeting"])
def test_step_15_refuses_a_meeting_that_cannot_be_the_vote(
    problem, tree, secretary_a, admin_user, recruiting
):
    from dangjian.recruitment import services as recruitment

    case = _case_at(secretary_a, tree, recruiting["bodies"], 15)
    day = dt.date(2024, 6, 1)
    fulls = recruiting["fulls"]
    if problem == "other date":
        meeting = held_meeting(secretary_a, tree.branch_a, day=dt.date(2024, 5, 31), present=fulls)
    elif problem == "planned":
        meeting = services.meeting_create(actor=secretary_a, org=tree.branch_a, kind="general_meeting",
                                          title="计划", starts_at=_at(day))  # fmt: skip
    elif problem == "other branch":
        make_member(tree.branch_b)
        meeting = held_meeting(admin_user, tree.branch_b, day=day, present=[])
    else:
        meeting = held_meeting(secretary_a, tree.branch_a, kind="theme_day", day=day, present=fulls)
    with pytest.raises(ValidationError) as exc:
        recruitment.step_record(
            actor=secretary_a, case=case,
            data={"step": 15, "date": "2024-06-01", "meeting": meeting.pk, "yes": 5, "no": 0, "abstain": 0},
        )  # fmt: skip
    assert "meeting" in exc.value.message_dict
    assert not case.steps.filter(step=15).exists()


def test_step_23_counts_the_probationary_member_out(tree, secretary_a, recruiting):
    from dangjian.recruitment import services as recruitment

    case = _case_at(secretary_a, tree, recruiting["bodies"], 23)  # admitted, up to step 22
    day = dt.date(2025, 6, 1)
    meeting = held_meeting(secretary_a, tree.branch_a, day=day, present=[*recruiting["fulls"], case.member])
    assert Attendee.objects.get(meeting=meeting, member=case.member).can_vote is False
    record = recruitment.step_record(
        actor=secretary_a, case=case,
        data={"step": 23, "date": "2025-06-01", "motion": "full", "meeting": meeting.pk, "yes": 6, "no": 0,
              "abstain": 0},
    )  # fmt: skip
    vote = record.vote
    assert (vote.kind, vote.meeting, vote.expected_voting, vote.present_voting) == (
        "full_membership",
        meeting,
        6,
        6,
    )
    assert record.outcome == "passed"


def test_manual_counts_still_work_without_a_meeting(tree, secretary_a, recruiting):
    case = _case_at(secretary_a, tree, recruiting["bodies"], 16)  # step 15 with the counts typed in
    vote = case.steps.get(step=15).vote
    assert vote.meeting is None and vote.expected_voting == 20 and vote.passed


def test_votes_list_does_not_query_per_vote(tree, secretary_a, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fulls, _p, _g = _branch(tree, 5)
    meeting = held_meeting(secretary_a, tree.branch_a, present=fulls)
    client = api(secretary_a)
    url = f"/api/v1/meetings/{meeting.pk}/votes/"

    def record(name):
        votes.meeting_vote_record(actor=secretary_a, meeting=meeting, kind="election", title=name, yes=5, no=0,
                                  abstain=0)  # fmt: skip

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    record("甲")
    one = queries()
    for name in ("乙", "丙", "丁"):
        record(name)
    assert queries() == one


def test_votes_follow_the_register_on_the_meeting_day(tree, secretary_a):
    """党章 第七条: a member who became a full member between planning and the meeting votes at it; the
    vote basis is re-judged from the register when the meeting is held and before a vote is counted."""
    fulls = [make_member(tree.branch_a) for _ in range(4)]
    newly = make_member(
        tree.branch_a, status=MemberStatus.PROBATIONARY, join_date=dt.date(2024, 5, 1), full_date=None
    )
    meeting = services.meeting_create(
        actor=secretary_a, org=tree.branch_a, kind="general_meeting", title="支部党员大会",
        starts_at=_at(DAY), ends_at=_at(DAY, 11),
    )  # fmt: skip
    assert not Attendee.objects.get(meeting=meeting, member=newly).can_vote
    # 转正 recorded after the meeting was planned, effective before its day.
    newly.status, newly.full_date = MemberStatus.FULL, DAY - dt.timedelta(days=5)
    newly.save(update_fields=["status", "full_date"])
    marks = {m.pk: "present" for m in [*fulls, newly]}
    services.attendance_mark(actor=secretary_a, meeting=meeting, marks=marks, now=_at(DAY, 10))
    meeting = services.meeting_mark_held(actor=secretary_a, meeting=meeting, now=_at(DAY, 10))
    assert Attendee.objects.get(meeting=meeting, member=newly).can_vote
    basis = votes.meeting_vote_basis(meeting)
    assert (basis.expected_voting, basis.present_voting) == (5, 5)
    # A rights change after the meeting was held is still caught before the vote is counted.
    Attendee.objects.filter(meeting=meeting, member=newly).update(can_vote=False)
    vote = votes.meeting_vote_record(
        actor=secretary_a, meeting=meeting, kind="decision", title="议题", yes=5, no=0, abstain=0
    )
    assert (vote.expected_voting, vote.present_voting) == (5, 5)
