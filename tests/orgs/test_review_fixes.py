"""Regressions from the review of the organisation pages: scope of residents, who restructures the tree,
committee terms (支部工作条例, 党章 第三十一条), historical elections, the committee-size flag, merges."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from dangjian.core.models import AuditEntry
from dangjian.core.scoping import can
from dangjian.orgs import selectors, services
from dangjian.orgs.forms import CommitteeForm, MergeForm
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgStatus, OrgType
from dangjian.web.selectors import dashboard

S, D = CommitteePosition.Title.SECRETARY, CommitteePosition.Title.DEPUTY_SECRETARY
DAY = dt.date(2024, 3, 1)
CHANGE_PAGES = ["edit", "rename", "type", "move", "merge", "dissolve", "found", "committee"]


def fresh(org: Organization) -> Organization:
    return Organization.objects.get(pk=org.pk)


# --- 1. a resident sees no organisation data -------------------------------------------------------------


def test_resident_gets_an_empty_tree_and_no_district_statistics(web, tree, resident, member_factory):
    member_factory(tree.branch_a)
    assert selectors.top_orgs_for(resident) == []
    client = web(resident)
    resp = client.get("/orgs/")
    assert resp.status_code == 200
    assert resp.context["tops"] == [] and resp.context["selected"] is None and "stats" not in resp.context
    body = resp.content.decode()
    assert 'id="org-panel"' not in body and 'id="org-tree"' not in body  # the empty state instead
    assert body.count("东城区委") == 1  # only the top bar's own role ("居民 · 东城区委"), no statistics
    for url in (
        f"/orgs/?org={tree.district_a.pk}",
        f"/orgs/{tree.district_a.pk}/panel/",
        f"/orgs/{tree.district_a.pk}/",
        f"/orgs/{tree.district_a.pk}/children/",
    ):
        assert client.get(url).status_code == 404, url
    members = client.get("/members/")
    assert members.context["tree"] == [] and members.context["only_org"] is None  # the filter names nothing


def test_resident_navigation_has_no_org_or_member_pages(web, tree, resident):
    resp = web(resident).get("/orgs/")
    urls = [item["url"] for group in resp.context["nav_groups"] for item in group["items"]]
    assert not [u for u in urls if u.startswith(("/orgs/", "/members/"))], urls


def test_member_still_sees_their_own_branch(web, tree, member_a):
    assert selectors.top_orgs_for(member_a) == [tree.branch_a]
    resp = web(member_a).get("/orgs/")
    assert resp.context["selected"].pk == tree.branch_a.pk


# --- 2. restructuring is manage_org: org managers, not a branch's own officers ---------------------------


def test_secretary_keeps_members_but_not_the_branch_itself(tree, secretary_a, district_manager):
    assert can(secretary_a, "add", tree.branch_a) and can(secretary_a, "change", tree.branch_a)
    assert not can(secretary_a, "manage_org", tree.branch_a)
    assert can(district_manager, "manage_org", tree.branch_a)


@pytest.mark.parametrize(
    "call",
    [
        lambda t, u: services.org_rename(actor=u, org=t.branch_a, name="新名", date=DAY, reason="x"),
        lambda t, u: services.org_update(actor=u, org=t.branch_a, address="x"),
        lambda t, u: services.org_change_type(
            actor=u, org=t.branch_a, org_type=OrgType.JOINT_BRANCH, date=DAY, reason="x"
        ),
        lambda t, u: services.org_dissolve(actor=u, org=t.group_a, date=DAY, reason="x"),
        lambda t, u: services.org_move(actor=u, org=t.group_a, new_parent=t.branch_a, date=DAY, reason="x"),
        lambda t, u: services.org_found(
            actor=u, parent=t.branch_a, org_type=OrgType.GROUP, code="G9", name="新小组", date=DAY
        ),
        lambda t, u: services.committee_term_start(
            actor=u, org=t.branch_a, start_date=DAY, positions=[(S, u.member)]
        ),
    ],
    ids=["rename", "update", "change_type", "dissolve", "move", "found", "committee"],
)
def test_secretary_cannot_restructure_own_branch(tree, secretary_a, member_factory, call):
    member_factory(tree.branch_a, user=secretary_a)
    with pytest.raises(PermissionDenied):
        call(tree, secretary_a)
    assert fresh(tree.branch_a).name == "第一党支部" and fresh(tree.group_a).status == OrgStatus.ACTIVE
    assert not CommitteeTerm.objects.exists()


@pytest.mark.parametrize("page", CHANGE_PAGES)
def test_change_pages_refuse_the_branch_secretary(web, tree, secretary_a, page):
    assert web(secretary_a).get(f"/orgs/{tree.branch_a.pk}/{page}/").status_code == 403


def test_detail_page_hides_restructuring_from_the_secretary(web, tree, secretary_a, district_manager):
    resp = web(secretary_a).get(f"/orgs/{tree.branch_a.pk}/")
    body = resp.content.decode()
    assert not resp.context["can_change"] and not resp.context["can_add"]
    for page in CHANGE_PAGES:
        assert f"/orgs/{tree.branch_a.pk}/{page}/" not in body, page
    resp = web(district_manager).get(f"/orgs/{tree.branch_a.pk}/")
    assert f"/orgs/{tree.branch_a.pk}/rename/" in resp.content.decode()


# --- 3. committee terms: 3 to 5 years from the rulebook, no future dates --------------------------------


@pytest.mark.parametrize(
    ("years", "ok"), [(1, False), (2, False), (3, True), (4, True), (5, True), (6, False)]
)
def test_term_years_come_from_the_rule(tree, district_manager, member_factory, years, ok):
    sec = member_factory(tree.branch_a)
    call = lambda: services.committee_term_start(  # noqa: E731
        actor=district_manager, org=tree.branch_a, start_date=DAY, positions=[(S, sec)], term_years=years
    )
    if ok:
        assert call().term_years == years
    else:
        with pytest.raises(ValidationError) as exc:
            call()
        assert "term_years" in exc.value.message_dict


def test_election_in_the_future_is_refused(tree, district_manager, member_factory, web):
    sec = member_factory(tree.branch_a)
    for date in (dt.date.today() + dt.timedelta(days=1), dt.date(2999, 1, 1)):
        with pytest.raises(ValidationError) as exc:
            services.committee_term_start(
                actor=district_manager, org=tree.branch_a, start_date=date, positions=[(S, sec)]
            )
        assert "start_date" in exc.value.message_dict
    resp = web(district_manager).post(
        f"/orgs/{tree.branch_a.pk}/committee/",
        {"start_date": "2999-01-01", "term_years": 5, "pos_secretary": sec.pk},
    )
    assert resp.status_code == 400 and "start_date" in resp.context["form"].errors


def test_committee_form_checks_the_term_bounds(tree, district_manager, member_factory):
    sec = member_factory(tree.branch_a)
    data = {"start_date": DAY.isoformat(), "pos_secretary": sec.pk}
    form = CommitteeForm({**data, "term_years": 2}, org=tree.branch_a, user=district_manager)
    assert not form.is_valid() and "term_years" in form.errors
    assert CommitteeForm({**data, "term_years": 3}, org=tree.branch_a, user=district_manager).is_valid()
    assert "org.terms@" not in str(form.fields["term_years"].help_text)  # the rule's title, not its id


def test_model_constraint_allows_three_to_five_years_only(tree):
    for years in (2, 6):
        with pytest.raises(IntegrityError), transaction.atomic():
            CommitteeTerm.objects.create(org=tree.branch_a, start_date=DAY, term_years=years)
    assert CommitteeTerm.objects.create(org=tree.branch_a, start_date=DAY, term_years=3).pk


# --- 4. historical elections ------------------------------------------------------------------------------


def test_election_before_2018_uses_the_2017_version(tree, district_manager, member_factory):
    sec = member_factory(tree.branch_a)
    term = services.committee_term_start(
        actor=district_manager, org=tree.branch_a, start_date=dt.date(2018, 3, 1), positions=[(S, sec)]
    )
    assert term.rule_ref == "org.terms@2017" and term.term_years == 5


def test_election_before_any_rule_version_is_a_form_error_not_a_500(
    web, tree, district_manager, member_factory
):
    sec = member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as exc:
        services.committee_term_start(
            actor=district_manager, org=tree.branch_a, start_date=dt.date(2010, 1, 1), positions=[(S, sec)]
        )
    assert "start_date" in exc.value.message_dict
    resp = web(district_manager).post(
        f"/orgs/{tree.branch_a.pk}/committee/",
        {"start_date": "2010-01-01", "term_years": 3, "pos_secretary": sec.pk},
    )
    assert resp.status_code == 400 and "start_date" in resp.context["form"].errors


def test_election_before_the_current_term_is_refused(web, tree, district_manager, member_factory):
    sec = member_factory(tree.branch_a)
    services.committee_term_start(
        actor=district_manager, org=tree.branch_a, start_date=DAY, positions=[(S, sec)]
    )
    with pytest.raises(ValidationError) as exc:
        services.committee_term_start(
            actor=district_manager, org=tree.branch_a, start_date=dt.date(2023, 3, 1), positions=[(S, sec)]
        )
    assert "2024-03-01" in exc.value.message_dict["start_date"][0]
    resp = web(district_manager).post(
        f"/orgs/{tree.branch_a.pk}/committee/",
        {"start_date": "2023-03-01", "term_years": 3, "pos_secretary": sec.pk},
    )
    assert resp.status_code == 400
    assert "早于" in " ".join(resp.context["form"].errors["start_date"])  # said in Chinese on the page
    assert CommitteeTerm.objects.filter(org=tree.branch_a).count() == 1


# --- 5. a secretary with a deputy is normal below 7 full members -----------------------------------------


def _elect(actor, org, titles, members):
    return services.committee_term_start(
        actor=actor, org=org, start_date=DAY, positions=list(zip(titles, members, strict=True))
    )


def test_secretary_and_deputy_of_a_small_branch_raise_no_flag(tree, district_manager, member_factory):
    people = [member_factory(tree.branch_a) for _ in range(5)]
    _elect(district_manager, tree.branch_a, [S, D], people[:2])
    assert "committee_size" not in {f.code for f in selectors.org_flags(fresh(tree.branch_a))}
    codes = {f.flag.code for f in dashboard(district_manager)["findings"] if f.org.pk == tree.branch_a.pk}
    assert "committee_size" not in codes


@pytest.mark.parametrize(
    ("full", "titles", "flagged"),
    [
        (8, [S, D], True),  # 7 or more full members: a committee of 3–5 is due
        (5, [S, CommitteePosition.Title.ORGANIZATION], True),  # a committee member: it is a committee
    ],
)
def test_committee_size_still_checked_for_real_committees(
    tree, district_manager, member_factory, full, titles, flagged
):
    people = [member_factory(tree.branch_a) for _ in range(full)]
    _elect(district_manager, tree.branch_a, titles, people[: len(titles)])
    assert ("committee_size" in {f.code for f in selectors.org_flags(fresh(tree.branch_a))}) is flagged
    codes = {f.flag.code for f in dashboard(district_manager)["findings"] if f.org.pk == tree.branch_a.pk}
    assert ("committee_size" in codes) is flagged


# --- 6. merges stay within a family; a group's members follow it -----------------------------------------


@pytest.fixture
def group_a2(tree) -> Organization:
    return Organization.objects.add_child(
        fresh(tree.branch_a), {"org_type": OrgType.GROUP, "code": "T0007", "name": "第二党小组"}
    )


@pytest.fixture
def group_b(tree) -> Organization:
    return Organization.objects.add_child(
        fresh(tree.branch_b), {"org_type": OrgType.GROUP, "code": "T0008", "name": "西城党小组"}
    )


def test_group_cannot_be_merged_into_a_committee_or_another_branch(tree, org_manager, group_b):
    for target in (tree.district_a, tree.district_b, group_b, tree.branch_b):
        with pytest.raises(ValidationError) as exc:
            services.org_merge(
                actor=org_manager, source=fresh(tree.group_a), target=fresh(target), date=DAY, reason="x"
            )
        assert "target" in exc.value.message_dict
    assert fresh(tree.group_a).status == OrgStatus.ACTIVE


def test_group_merge_moves_its_members_to_the_target_group(tree, org_manager, member_factory, group_a2):
    inside = member_factory(tree.branch_a, group=tree.group_a)
    other = member_factory(tree.branch_a)
    services.org_merge(
        actor=org_manager, source=fresh(tree.group_a), target=fresh(group_a2), date=DAY, reason="x"
    )
    inside.refresh_from_db()
    other.refresh_from_db()
    assert (inside.group_id, inside.org_id) == (group_a2.pk, tree.branch_a.pk)
    assert other.group_id is None
    assert fresh(tree.group_a).status == OrgStatus.MERGED
    entry = AuditEntry.objects.get(action="members.regrouped")
    assert entry.changes == {"to": group_a2.pk, "count": 1}


def test_merge_form_offers_only_the_same_family(tree, org_manager, group_a2, group_b):
    def targets(org):
        return set(MergeForm(org=fresh(org), user=org_manager).fields["target"].queryset)

    assert targets(tree.group_a) == {fresh(group_a2)}
    assert targets(tree.branch_a) == {fresh(tree.branch_b)}
    assert targets(tree.district_a) == {fresh(tree.city), fresh(tree.district_b)}


def test_committee_merges_into_committee_only(tree, org_manager):
    with pytest.raises(ValidationError):
        services.org_merge(
            actor=org_manager,
            source=fresh(tree.district_a),
            target=fresh(tree.branch_b),
            date=DAY,
            reason="x",
        )


# --- 8. rule references read as titles on the org page --------------------------------------------------


def test_org_page_names_rules_by_title_and_version(web, tree, district_manager, member_factory):
    people = [member_factory(tree.branch_a) for _ in range(7)]
    _elect(district_manager, tree.branch_a, [S], people[:1])
    resp = web(district_manager).get(f"/orgs/{tree.branch_a.pk}/")
    body = resp.content.decode()
    assert resp.context["flags"], "7 full members and no committee: a flag is shown"
    assert "org.structure@2018" not in body and "org.terms@2018" not in body
    assert "党组织设置与规模" in body and "党组织委员会任期" in body
