"""民主评议党员 (RULES.md §3: generally once a year; ratings 优秀 / 合格 / 基本合格 / 不合格): opening the
year's appraisal, self-assessment, the secret mutual assessment, the branch's rating, the summary, the
pages and the API — and that no answer ever tells who gave which mutual rating."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.models import AuditEntry, Notification
from dangjian.core.scoping import Role
from dangjian.meetings import appraisal as svc
from dangjian.meetings.models import Appraisal, Meeting, MutualRating
from dangjian.members.choices import MemberStatus

TODAY = timezone.localdate()
YEAR = TODAY.year


def member_with_login(org, make_member, name):
    user = User.objects.create_user(username=f"u{name}", password="x", full_name=name)
    RoleAssignment.objects.create(user=user, org=org, role=Role.MEMBER)
    return make_member(org, user=user, name=name)


@pytest.fixture
def branch(tree, member_factory, member_a):
    """branch_a's members: 张党员 (member_a's, with a login), two more with logins, one probationary."""
    own = member_a.member
    li = member_with_login(tree.branch_a, member_factory, "李红")
    wang = member_with_login(tree.branch_a, member_factory, "王强")
    zhao = member_factory(tree.branch_a, name="赵预备", status=MemberStatus.PROBATIONARY, full_date=None)
    return own, li, wang, zhao


@pytest.fixture
def opened(tree, secretary_a, branch):
    svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR)
    return {a.member_id: a for a in Appraisal.objects.filter(org=tree.branch_a, year=YEAR)}


# ── opening ────────────────────────────────────────────────────────────────────────────────────────


def test_open_makes_one_appraisal_per_current_member_and_is_idempotent(
    tree, secretary_a, branch, member_factory
):
    member_factory(tree.branch_a, status=MemberStatus.LEFT, name="已出党")
    member_factory(tree.branch_b, name="别的支部")
    assert svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR) == 4
    rows = Appraisal.objects.filter(year=YEAR)
    assert {a.member_id for a in rows} == {m.pk for m in branch}
    assert {a.rule_ref for a in rows} == {"meetings@2018"}
    assert svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR) == 0
    newcomer = member_factory(tree.branch_a, name="新转入")
    assert svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR) == 1
    assert Appraisal.objects.filter(year=YEAR, member=newcomer).exists()
    assert [
        e.changes["created"]
        for e in AuditEntry.objects.filter(action="meetings.appraisal_open").order_by("pk")
    ] == [
        4,
        0,
        1,
    ]


def test_members_are_told_once(tree, secretary_a, branch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR)
    with django_capture_on_commit_callbacks(execute=True):
        svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR)
    told = Notification.objects.filter(kind="meetings.appraisal")
    assert sorted(told.values_list("user_id", flat=True)) == sorted(m.user_id for m in branch if m.user_id)
    assert told.first().url == reverse("mobile_meetings:appraisal_mine")


def test_a_member_appraised_elsewhere_this_year_is_not_appraised_twice(
    tree, secretary_a, org_manager, branch
):
    own, *_ = branch
    Appraisal.objects.create(org=tree.branch_b, year=YEAR, member=own)  # appraised before transferring
    assert svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR) == 3


@pytest.mark.parametrize(
    ("year", "ok"),
    [(YEAR, True), (YEAR - 1, True), (2018, True), (2017, False), (YEAR + 1, False), ("abc", False)],
)
def test_open_year(year, ok, tree, secretary_a, branch):
    if ok:
        assert svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=year) == 4
    else:
        with pytest.raises(ValidationError) as exc:
            svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=year)
        assert "year" in exc.value.message_dict


def test_rule_of_a_past_year_is_the_one_in_force_on_31_december(tree, secretary_a, branch):
    svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=2019)
    assert set(Appraisal.objects.filter(year=2019).values_list("rule_ref", flat=True)) == {"meetings@2018"}


def test_open_only_for_a_branch_in_scope(tree, secretary_a, secretary_b, auditor, org_manager, branch):
    for actor in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            svc.appraisal_open(actor=actor, org=tree.branch_a, year=YEAR)
    with pytest.raises(ValidationError):
        svc.appraisal_open(actor=org_manager, org=tree.district_a, year=YEAR)
    assert not Appraisal.objects.exists()


def test_open_links_the_meeting(tree, secretary_a, branch):
    now = timezone.now()
    meeting = Meeting.objects.create(
        org=tree.branch_a,
        kind="democratic_appraisal",
        title="民主评议",
        starts_at=now,
        date=timezone.localdate(now),
    )
    svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR, meeting=meeting)
    assert set(Appraisal.objects.values_list("meeting_id", flat=True)) == {meeting.pk}
    theme = Meeting.objects.create(
        org=tree.branch_a, kind="theme_day", title="主题党日", starts_at=now, date=timezone.localdate(now)
    )
    with pytest.raises(ValidationError) as exc:
        svc.appraisal_open(actor=secretary_a, org=tree.branch_a, year=YEAR, meeting=theme)
    assert "meeting" in exc.value.message_dict


# ── self-assessment ────────────────────────────────────────────────────────────────────────────────


def test_self_assessment_by_the_member_or_the_secretary(tree, secretary_a, member_a, branch, opened):
    own, li, *_ = branch
    svc.self_assessment_save(actor=member_a, appraisal=opened[own.pk], text="  本人学习认真  ")
    assert Appraisal.objects.get(pk=opened[own.pk].pk).self_assessment == "本人学习认真"
    svc.self_assessment_save(actor=secretary_a, appraisal=opened[li.pk], text="代为录入")
    assert AuditEntry.objects.filter(action="meetings.self_assessment_save").count() == 2
    with pytest.raises(PermissionDenied):
        svc.self_assessment_save(actor=member_a, appraisal=opened[li.pk], text="替别人写")
    with pytest.raises(ValidationError):
        svc.self_assessment_save(actor=member_a, appraisal=opened[own.pk], text=" ")


def test_member_cannot_change_the_self_assessment_once_rated(tree, secretary_a, member_a, branch, opened):
    own, *_ = branch
    svc.appraisal_rate(actor=secretary_a, appraisal=opened[own.pk], rating="qualified")
    with pytest.raises(ValidationError):
        svc.self_assessment_save(actor=member_a, appraisal=opened[own.pk], text="改一下")
    svc.self_assessment_save(actor=secretary_a, appraisal=opened[own.pk], text="支部更正")


# ── mutual assessment ─────────────────────────────────────────────────────────────────────────────


def test_a_fellow_member_rates_once_and_may_change_until_the_branch_rates(
    tree, secretary_a, member_a, branch, opened
):
    _own, li, *_ = branch
    target = opened[li.pk]
    svc.mutual_rate(actor=member_a, appraisal=target, rating="excellent")
    svc.mutual_rate(actor=member_a, appraisal=target, rating="qualified")
    assert list(MutualRating.objects.filter(appraisal=target).values_list("rating", flat=True)) == [
        "qualified"
    ]
    svc.appraisal_rate(actor=secretary_a, appraisal=target, rating="excellent")
    with pytest.raises(ValidationError) as exc:
        svc.mutual_rate(actor=member_a, appraisal=Appraisal.objects.get(pk=target.pk), rating="excellent")
    assert "rating" in exc.value.message_dict
    assert MutualRating.objects.get(appraisal=target).rating == "qualified"


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("rating oneself", ValidationError),
        ("member of another branch", PermissionDenied),
        ("officer without a register entry", PermissionDenied),
        ("member who has left the party", PermissionDenied),
        ("unknown rating", ValidationError),
    ],
)
def test_mutual_rating_refused(case, error, tree, member_a, secretary_a, branch, opened, member_factory):
    own, li, *_ = branch
    actor, target, rating = member_a, opened[li.pk], "excellent"
    if case == "rating oneself":
        target = opened[own.pk]
    elif case == "member of another branch":
        actor = member_with_login(tree.branch_b, member_factory, "外支部").user
    elif case == "officer without a register entry":
        actor = secretary_a
    elif case == "member who has left the party":
        actor = member_with_login(tree.branch_a, member_factory, "已出党")
        actor.status = MemberStatus.LEFT
        actor.save()
        actor = actor.user
    elif case == "unknown rating":
        rating = "outstanding"
    with pytest.raises(error):
        svc.mutual_rate(actor=actor, appraisal=target, rating=rating)
    assert not MutualRating.objects.exists()


def test_probationary_members_take_part(tree, branch, opened, member_factory):
    rater = member_with_login(tree.branch_a, member_factory, "预备党员乙")
    rater.status = MemberStatus.PROBATIONARY
    rater.save()
    svc.mutual_rate(actor=rater.user, appraisal=opened[branch[1].pk], rating="qualified")
    assert MutualRating.objects.count() == 1


def test_the_audit_log_does_not_record_which_rating_was_given(tree, member_a, branch, opened):
    svc.mutual_rate(actor=member_a, appraisal=opened[branch[1].pk], rating="unqualified")
    entry = AuditEntry.objects.get(action="meetings.mutual_rate")
    assert "unqualified" not in json.dumps(entry.changes)


def test_tally_counts_each_rating(tree, branch, opened, member_factory):
    target = opened[branch[0].pk]
    for i, rating in enumerate(["excellent", "excellent", "qualified", "unqualified"]):
        rater = member_with_login(tree.branch_a, member_factory, f"评议人{i}")
        svc.mutual_rate(actor=rater.user, appraisal=target, rating=rating)
    tally = svc.mutual_tally([target.pk])[target.pk]
    assert tally == {"excellent": 2, "qualified": 1, "basically_qualified": 0, "unqualified": 1}


# ── the branch's rating ───────────────────────────────────────────────────────────────────────────


def test_unqualified_needs_notes(tree, secretary_a, branch, opened):
    target = opened[branch[1].pk]
    with pytest.raises(ValidationError) as exc:
        svc.appraisal_rate(actor=secretary_a, appraisal=target, rating="unqualified", notes="  ")
    assert "notes" in exc.value.message_dict
    svc.appraisal_rate(actor=secretary_a, appraisal=target, rating="unqualified", notes="长期不参加组织生活")
    target.refresh_from_db()
    assert (target.rating, target.rated_by, target.rated_at is not None) == ("unqualified", secretary_a, True)
    assert AuditEntry.objects.get(action="meetings.appraisal_rate").changes["rating"] == ["", "unqualified"]


@pytest.mark.parametrize("rating", ["excellent", "qualified", "basically_qualified"])
def test_other_ratings_need_no_notes(rating, tree, secretary_a, branch, opened):
    assert (
        svc.appraisal_rate(actor=secretary_a, appraisal=opened[branch[1].pk], rating=rating).rating == rating
    )


@pytest.mark.parametrize("persona", ["secretary_b", "auditor", "member_a"])
def test_only_the_branch_rates(persona, people, branch, opened):
    with pytest.raises(PermissionDenied):
        svc.appraisal_rate(actor=people[persona], appraisal=opened[branch[0].pk], rating="excellent")


def test_invalid_rating(tree, secretary_a, branch, opened):
    with pytest.raises(ValidationError):
        svc.appraisal_rate(actor=secretary_a, appraisal=opened[branch[0].pk], rating="good")


# ── summary and results ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("ratings", "over", "percent"),
    [
        (["excellent", "qualified", "qualified"], False, 33.3),  # exactly one third: no warning
        (["excellent", "excellent", "qualified", "qualified", "basically_qualified"], True, 40.0),
        (["qualified", "qualified", "", ""], False, 0.0),
        (["excellent", "excellent", "", ""], True, 50.0),  # counted on the members appraised
    ],
)
def test_summary_and_the_excellent_share_warning(ratings, over, percent, tree, secretary_a, member_factory):
    for i, rating in enumerate(ratings):
        Appraisal.objects.create(org=tree.branch_a, year=YEAR, member=member_factory(tree.branch_a), rating=rating,
                                 self_assessment="有" if i % 2 else "")  # fmt: skip
    s = svc.appraisal_summary(tree.branch_a, YEAR)
    assert s.total == len(ratings) and s.rated == sum(1 for r in ratings if r)
    assert s.unrated == ratings.count("")
    assert s.counts["excellent"] == ratings.count("excellent")
    assert s.self_done == len(ratings) // 2
    assert (s.excellent_over_share, s.excellent_percent) == (over, percent)
    assert s.warn_share == Fraction(1, 3)


def test_results_for_the_indices(tree, secretary_a, member_factory):
    rated = Appraisal.objects.create(
        org=tree.branch_a, year=YEAR, member=member_factory(tree.branch_a), rating="excellent"
    )
    Appraisal.objects.create(org=tree.branch_a, year=YEAR, member=member_factory(tree.branch_a))
    Appraisal.objects.create(
        org=tree.branch_b, year=YEAR, member=member_factory(tree.branch_b), rating="qualified"
    )
    Appraisal.objects.create(
        org=tree.branch_a, year=YEAR - 1, member=member_factory(tree.branch_a), rating="qualified"
    )
    assert svc.appraisal_results(tree.branch_a, YEAR) == {rated.member_id: "excellent"}
    assert len(svc.appraisal_results(tree.city, YEAR)) == 2


def test_branch_summaries_for_a_higher_org(tree, org_manager, member_factory):
    for rating in ("excellent", "excellent", "qualified"):
        Appraisal.objects.create(
            org=tree.branch_a, year=YEAR, member=member_factory(tree.branch_a), rating=rating
        )
    Appraisal.objects.create(org=tree.branch_b, year=YEAR, member=member_factory(tree.branch_b))
    lines = {line["org_id"]: line for line in svc.appraisal_branch_summaries(org_manager, tree.city, YEAR)}
    assert lines[tree.branch_a.pk]["counts"]["excellent"] == 2 and lines[tree.branch_a.pk]["over"]
    assert lines[tree.branch_b.pk]["unrated"] == 1 and not lines[tree.branch_b.pk]["over"]


# ── API: secrecy and the right people ─────────────────────────────────────────────────────────────


def _rate_all(tree, opened, branch, member_factory):
    """Two secret mutual ratings of 李红, by two fellow members."""
    target = opened[branch[1].pk]
    raters = [member_with_login(tree.branch_a, member_factory, f"匿名{i}") for i in range(2)]
    for rater, rating in zip(raters, ["excellent", "basically_qualified"], strict=True):
        svc.mutual_rate(actor=rater.user, appraisal=target, rating=rating)
    return target, raters


def test_member_sees_only_their_own_appraisal_without_tally(
    tree, api, member_a, branch, opened, member_factory
):
    own, li, *_ = branch
    opened[li.pk].self_assessment = "李红的自我评价"
    opened[li.pk].save()
    _rate_all(tree, opened, branch, member_factory)
    client = api(member_a)
    listed = client.get("/api/v1/meetings/appraisals/", {"year": YEAR}).json()["results"]
    assert [r["member"] for r in listed] == [own.pk]
    assert listed[0]["mutual"] is None
    assert client.get(f"/api/v1/meetings/appraisals/{opened[li.pk].pk}/").status_code == 404
    assert (
        client.get("/api/v1/meetings/appraisals/", {"org": tree.branch_a.pk}).json()["results"][0]["member"]
        == own.pk
    )
    mine = client.get(f"/api/v1/meetings/appraisals/{opened[own.pk].pk}/").json()
    assert mine["mutual"] is None and "李红的自我评价" not in json.dumps(mine)


def test_officers_see_the_tally_but_never_the_raters(
    tree, api, secretary_a, auditor, branch, opened, member_factory
):
    target, raters = _rate_all(tree, opened, branch, member_factory)
    for user in (secretary_a, auditor):
        body = api(user).get(f"/api/v1/meetings/appraisals/{target.pk}/").json()
        assert body["mutual"] == {"excellent": 1, "qualified": 0, "basically_qualified": 1, "unqualified": 0}
        text = json.dumps(body)
        assert "rater" not in text and all(r.name not in text for r in raters)
        listed = api(user).get("/api/v1/meetings/appraisals/", {"org": tree.branch_a.pk, "year": YEAR}).json()
        assert all("rater" not in json.dumps(r) for r in listed["results"])
        assert next(r for r in listed["results"] if r["id"] == target.pk)["mutual"]["excellent"] == 1


def test_api_mutual_rating(tree, api, member_a, branch, opened, member_factory):
    own, li, *_ = branch
    url = f"/api/v1/meetings/appraisals/{opened[li.pk].pk}/mutual/"
    first = api(member_a).post(url, {"rating": "excellent"}, format="json")
    assert first.status_code == 200 and first.json() == {"appraisal": opened[li.pk].pk, "rating": "excellent"}
    assert api(member_a).post(url, {"rating": "qualified"}, format="json").status_code == 200
    assert MutualRating.objects.get().rating == "qualified"
    self_url = f"/api/v1/meetings/appraisals/{opened[own.pk].pk}/mutual/"
    refused = api(member_a).post(self_url, {"rating": "excellent"}, format="json")
    assert refused.status_code == 400 and "rating" in refused.json()["error"]["fields"]
    stranger = member_with_login(tree.branch_b, member_factory, "外支部党员")
    assert api(stranger.user).post(url, {"rating": "excellent"}, format="json").status_code == 404
    bad = api(member_a).post(url, {"rating": "great"}, format="json")
    assert bad.status_code == 400
    assert MutualRating.objects.count() == 1


def test_api_patch(tree, api, member_a, secretary_a, branch, opened):
    own, *_ = branch
    url = f"/api/v1/meetings/appraisals/{opened[own.pk].pk}/"
    ok = api(member_a).patch(url, {"self_assessment": "我的自评"}, format="json")
    assert ok.status_code == 200 and ok.json()["self_assessment"] == "我的自评"
    assert api(member_a).patch(url, {"rating": "excellent"}, format="json").status_code == 403
    refused = api(secretary_a).patch(url, {"rating": "unqualified"}, format="json")
    assert refused.status_code == 400 and "notes" in refused.json()["error"]["fields"]
    rated = api(secretary_a).patch(url, {"rating": "unqualified", "notes": "理由"}, format="json").json()
    assert (
        rated["rating"] == "unqualified" and "关于稳妥有序开展不合格党员组织处置工作的意见" in rated["hint"]
    )


def test_api_open(tree, api, secretary_a, branch):
    body = {"org": tree.branch_a.pk, "year": YEAR}
    first = api(secretary_a).post("/api/v1/meetings/appraisals/", body, format="json")
    assert first.status_code == 201 and first.json()["created"] == 4
    again = api(secretary_a).post("/api/v1/meetings/appraisals/", body, format="json")
    assert again.status_code == 200 and again.json()["created"] == 0
    assert again.json()["summary"]["total"] == 4
    future = api(secretary_a).post("/api/v1/meetings/appraisals/", {**body, "year": YEAR + 1}, format="json")
    assert future.status_code == 400 and "year" in future.json()["error"]["fields"]


# ── pages ──────────────────────────────────────────────────────────────────────────────────────────


def test_appraisals_page(tree, web, secretary_a, branch, opened, member_factory):
    target, raters = _rate_all(tree, opened, branch, member_factory)
    resp = web(secretary_a).get(reverse("meetings:appraisals"), {"org": tree.branch_a.pk, "year": YEAR})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert all(m.name in html for m in branch)
    row = next(r for r in resp.context["rows"] if r.pk == target.pk)
    assert row.tally_cells == [
        ("excellent", 1),
        ("qualified", 0),
        ("basically_qualified", 1),
        ("unqualified", 0),
    ]
    assert "rater" not in html


def test_appraisals_page_open_and_rate(tree, web, secretary_a, branch):
    url = reverse("meetings:appraisals") + f"?org={tree.branch_a.pk}&year={YEAR}"
    client = web(secretary_a)
    assert 'data-testid="open"' in client.get(url).content.decode()
    assert client.post(url, {"action": "open"}).status_code == 302
    assert Appraisal.objects.filter(org=tree.branch_a, year=YEAR).count() == 4
    target = Appraisal.objects.get(member=branch[1])
    bad = client.post(url, {"action": "rate", "appraisal": target.pk, "rating": "unqualified", "notes": ""})
    assert bad.status_code == 200
    row = next(r for r in bad.context["rows"] if r.pk == target.pk)
    assert "notes" in row.errors and row.posted["rating"] == "unqualified"
    good = client.post(url, {"action": "rate", "appraisal": target.pk, "rating": "excellent", "notes": ""})
    assert good.status_code == 302
    assert Appraisal.objects.get(pk=target.pk).rating == "excellent"
    client.post(url, {"action": "self", "appraisal": target.pk, "text": "代填的自评"})
    assert Appraisal.objects.get(pk=target.pk).self_assessment == "代填的自评"


def test_appraisals_page_warns_above_one_third(tree, web, secretary_a, member_factory):
    for rating in ("excellent", "excellent", "qualified"):
        Appraisal.objects.create(
            org=tree.branch_a, year=YEAR, member=member_factory(tree.branch_a), rating=rating
        )
    html = (
        web(secretary_a).get(reverse("meetings:appraisals"), {"org": tree.branch_a.pk, "year": YEAR}).content
    )
    assert 'data-testid="excellent-warning"' in html.decode()


def test_appraisals_page_is_for_officers_in_scope(tree, web, member_a, secretary_b, auditor, branch, opened):
    url = reverse("meetings:appraisals")
    assert web(member_a).get(url, {"org": tree.branch_a.pk}).status_code == 403
    assert web(secretary_b).get(url, {"org": tree.branch_a.pk}).status_code == 404
    reader = web(auditor).get(url, {"org": tree.branch_a.pk, "year": YEAR})
    assert reader.status_code == 200 and 'name="rating"' not in reader.content.decode()
    target = opened[branch[1].pk]
    refused = web(auditor).post(
        url + f"?org={tree.branch_a.pk}&year={YEAR}",
        {"action": "rate", "appraisal": target.pk, "rating": "excellent"},
    )
    assert refused.status_code == 403 and Appraisal.objects.get(pk=target.pk).rating == ""
    assert web(auditor).get(url, {"org": tree.city.pk, "year": YEAR}).context["branch_lines"][0]["total"] == 4


def test_appraisals_export(tree, web, secretary_a, branch, opened, member_factory):
    target, _raters = _rate_all(tree, opened, branch, member_factory)
    resp = web(secretary_a).get(
        reverse("meetings:appraisals_export"), {"org": tree.branch_a.pk, "year": YEAR}
    )
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "姓名"
    li = next(r for r in rows[1:] if r[0] == branch[1].name)
    assert li[3:7] == (1, 0, 1, 0)


def test_phone_page(tree, web, member_a, branch, opened):
    own, li, wang, zhao = branch
    opened[li.pk].self_assessment = "李红的秘密自评"
    opened[li.pk].save()
    url = reverse("mobile_meetings:appraisal_mine")
    client = web(member_a)
    resp = client.get(url)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert all(m.name in html for m in (li, wang, zhao))
    assert "李红的秘密自评" not in html
    assert (
        client.post(url, {"action": "rate", "appraisal": opened[li.pk].pk, "rating": "excellent"}).status_code
        == 302
    )
    assert MutualRating.objects.get(appraisal=opened[li.pk]).rater == own
    # one's own appraisal is not among the fellows: 404, nothing saved
    assert (
        client.post(
            url, {"action": "rate", "appraisal": opened[own.pk].pk, "rating": "excellent"}
        ).status_code
        == 404
    )
    client.post(url, {"action": "self", "text": "我的年度自评"})
    assert Appraisal.objects.get(pk=opened[own.pk].pk).self_assessment == "我的年度自评"
    again = client.get(url)
    fellow = next(f for f in again.context["fellows"] if f["appraisal"].pk == opened[li.pk].pk)
    assert fellow["given"] == "excellent"


def test_phone_page_shows_the_final_rating(tree, web, secretary_a, member_a, branch, opened):
    svc.appraisal_rate(actor=secretary_a, appraisal=opened[branch[0].pk], rating="excellent")
    resp = web(member_a).get(reverse("mobile_meetings:appraisal_mine"))
    assert 'data-testid="my-rating"' in resp.content.decode()
    assert resp.context["own"].get_rating_display() in resp.content.decode()
    assert not resp.context["may_edit_self"]


def test_phone_page_for_someone_without_a_register_entry(web, secretary_a):
    resp = web(secretary_a).get(reverse("mobile_meetings:appraisal_mine"))
    assert resp.status_code == 200 and "mine" not in resp.context


def test_phone_page_of_a_year_without_appraisal(tree, web, member_a, branch):
    resp = web(member_a).get(reverse("mobile_meetings:appraisal_mine"))
    assert resp.status_code == 200
    assert resp.context["own"] is None and resp.context["fellows"] == []
    assert resp.context["mine"].year == YEAR


def _queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def test_list_queries_do_not_grow_with_the_rows(tree, api, web, secretary_a, member_factory):
    """No query per row: the list, the page and the phone page cost the same for 3 or 12 members."""

    def add(n):
        for _ in range(n):
            a = Appraisal.objects.create(org=tree.branch_a, year=YEAR, member=member_factory(tree.branch_a))
            MutualRating.objects.create(appraisal=a, rater=member_factory(tree.branch_a), rating="qualified")

    client, page = api(secretary_a), web(secretary_a)
    url = reverse("meetings:appraisals")
    params = {"org": tree.branch_a.pk, "year": YEAR}
    add(3)
    client.get("/api/v1/meetings/appraisals/", params), page.get(url, params)  # warm the per-session caches
    small = (
        _queries(lambda: client.get("/api/v1/meetings/appraisals/", params)),
        _queries(lambda: page.get(url, params)),
    )
    add(9)
    large = (
        _queries(lambda: client.get("/api/v1/meetings/appraisals/", params)),
        _queries(lambda: page.get(url, params)),
    )
    assert large == small
