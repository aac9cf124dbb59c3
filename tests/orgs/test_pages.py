"""Organisation pages: the tree browser, org detail, and the change forms — scope, permissions, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgEvent, OrgStatus, OrgType

TODAY = dt.date.today().isoformat()
CHANGE_PAGES = ["edit", "rename", "type", "move", "merge", "dissolve", "found", "committee"]


def _org(pk: int) -> Organization:
    return Organization.objects.get(pk=pk)


# --- tree browser --------------------------------------------------------------------------------------


def test_tree_shows_the_users_part_of_the_tree(web, tree, secretary_a, member_factory):
    member_factory(tree.branch_a)
    resp = web(secretary_a).get("/orgs/")
    assert resp.status_code == 200
    assert [o.pk for o in resp.context["tops"]] == [tree.branch_a.pk]
    assert resp.context["selected"].pk == tree.branch_a.pk
    assert resp.context["stats"]["members"] == 1
    body = resp.content.decode()
    assert "第一党支部" in body and "西城第二党支部" not in body and "示范市委" not in body
    assert "data-dj-charts" in body and "echarts.min.js" in body


def test_tree_opens_the_path_to_the_selected_org(web, tree, org_manager):
    resp = web(org_manager).get(f"/orgs/?org={tree.group_a.pk}")
    assert resp.status_code == 200
    city = resp.context["tops"][0]
    district_a = next(o for o in city.tree_children if o.pk == tree.district_a.pk)
    branch_a = district_a.tree_children[0]
    assert branch_a.pk == tree.branch_a.pk and [o.pk for o in branch_a.tree_children] == [tree.group_a.pk]
    district_b = next(o for o in city.tree_children if o.pk == tree.district_b.pk)
    assert district_b.tree_children is None and district_b.has_kids  # loaded on demand
    assert resp.context["selected"].pk == tree.group_a.pk


def test_tree_selection_out_of_scope_is_404(web, tree, secretary_a):
    assert web(secretary_a).get(f"/orgs/?org={tree.branch_b.pk}").status_code == 404


def test_children_fragment_is_scoped(web, tree, district_manager):
    client = web(district_manager)
    resp = client.get(f"/orgs/{tree.district_a.pk}/children/")
    assert resp.status_code == 200 and "第一党支部" in resp.content.decode()
    assert "<html" not in resp.content.decode()
    assert client.get(f"/orgs/{tree.district_b.pk}/children/").status_code == 404
    assert client.get(f"/orgs/{tree.city.pk}/children/").status_code == 404


def test_panel_fragment_has_charts(web, tree, org_manager):
    resp = web(org_manager).get(f"/orgs/{tree.district_b.pk}/panel/")
    assert resp.status_code == 200
    ids = [c["id"] for c in resp.context["chart_specs"]]
    assert ids == ["status", "gender", "age", "ethnicity", "education", "standing", "org_types", "sectors"]


def test_ethnicity_chart_groups_small_groups_as_other(web, tree, org_manager, member_factory):
    for ethnicity in ["汉族", "汉族", "回族", "满族", "壮族", "苗族", "藏族", "彝族", "侗族"]:
        member_factory(tree.branch_a, ethnicity=ethnicity)
    specs = web(org_manager).get(f"/orgs/{tree.branch_a.pk}/panel/").context["chart_specs"]
    ethnicity = next(c for c in specs if c["id"] == "ethnicity")
    assert ethnicity["items"][0] == {"name": "汉族", "value": 2}
    assert len(ethnicity["items"]) == 6 and ethnicity["items"][-1]["value"] == 3


def _more_branches(parent: Organization, n: int, member_factory) -> None:
    for i in range(n):
        branch = Organization.objects.add_child(
            _org(parent.pk), {"org_type": OrgType.BRANCH, "code": f"X{i:04d}", "name": f"支部{i}"}
        )
        member_factory(branch)


def test_tree_query_count_is_locked(web, tree, org_manager, member_factory, django_assert_max_num_queries):
    # A fixed number of queries per opened level, however many organisations each level holds.
    _more_branches(tree.district_a, 12, member_factory)
    client = web(org_manager)
    client.get("/orgs/")
    with django_assert_max_num_queries(23):  # + the flowing members counted from their certificates
        assert client.get(f"/orgs/?org={tree.group_a.pk}").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(f"/orgs/{tree.district_a.pk}/children/").status_code == 200


# --- detail --------------------------------------------------------------------------------------------


def test_detail_shows_committee_flags_children_and_history(web, tree, org_manager, member_factory):
    members = [member_factory(tree.branch_a) for _ in range(2)]
    term = CommitteeTerm.objects.create(org=tree.branch_a, start_date=dt.date(2024, 3, 1), term_years=3)
    CommitteePosition.objects.create(term=term, member=members[1], title=CommitteePosition.Title.ORGANIZATION)
    CommitteePosition.objects.create(term=term, member=members[0], title=CommitteePosition.Title.SECRETARY)
    OrgEvent.objects.create(
        org=tree.branch_a,
        kind=OrgEvent.Kind.RENAME,
        date=dt.date(2020, 1, 1),
        reason="示组〔2020〕1号",
        details={"old_name": "老支部", "new_name": "第一党支部"},
    )
    resp = web(org_manager).get(f"/orgs/{tree.branch_a.pk}/")
    assert resp.status_code == 200
    ctx = resp.context
    assert [p["title"] for p in ctx["committee"]["positions"]] == ["secretary", "organization"]
    assert ctx["committee"]["days_left"] == (dt.date(2027, 3, 1) - dt.date.today()).days
    assert [k.pk for k in ctx["kids"]] == [tree.group_a.pk]
    assert {f.code for f in ctx["flags"]} >= {"branch_too_small"}
    body = resp.content.decode()
    assert "老支部 → 第一党支部" in body and "示组〔2020〕1号" in body
    assert ctx["can_change"] and f"/orgs/{tree.branch_a.pk}/rename/" in body


@pytest.mark.parametrize(
    ("persona", "org", "status"),
    [
        ("secretary_a", "branch_a", 200),
        ("secretary_a", "group_a", 200),
        ("secretary_a", "district_a", 404),
        ("secretary_a", "branch_b", 404),
        ("district_manager", "branch_a", 200),
        ("district_manager", "branch_b", 404),
        ("auditor", "branch_b", 200),
        ("outsider", "city", 404),
    ],
)
def test_detail_scope(web, tree, people, persona, org, status):
    assert web(people[persona]).get(f"/orgs/{getattr(tree, org).pk}/").status_code == status


def test_read_only_role_sees_no_change_actions(web, tree, auditor):
    resp = web(auditor).get(f"/orgs/{tree.branch_a.pk}/")
    assert resp.status_code == 200 and not resp.context["can_change"]
    assert f"/orgs/{tree.branch_a.pk}/rename/" not in resp.content.decode()


@pytest.mark.parametrize("page", CHANGE_PAGES)
def test_change_pages_forbidden_for_read_only_role(web, tree, auditor, page):
    client = web(auditor)
    assert client.get(f"/orgs/{tree.branch_a.pk}/{page}/").status_code == 403
    assert client.post(f"/orgs/{tree.branch_a.pk}/{page}/", {"reason": "x"}).status_code == 403


@pytest.mark.parametrize("page", CHANGE_PAGES)
def test_change_pages_out_of_scope_are_404(web, tree, secretary_a, page):
    assert web(secretary_a).get(f"/orgs/{tree.branch_b.pk}/{page}/").status_code == 404


@pytest.mark.parametrize("page", CHANGE_PAGES)
def test_change_pages_render_for_managers(web, tree, org_manager, page):
    assert web(org_manager).get(f"/orgs/{tree.branch_a.pk}/{page}/").status_code == 200


def test_detail_query_count_is_locked(web, tree, org_manager, member_factory, django_assert_max_num_queries):
    for _ in range(4):
        member_factory(tree.branch_a)
    for i in range(3):
        OrgEvent.objects.create(org=tree.branch_a, kind=OrgEvent.Kind.UPDATE, date=dt.date(2020, 1, i + 1))
    _more_branches(tree.district_a, 12, member_factory)
    client = web(org_manager)
    client.get(f"/orgs/{tree.branch_a.pk}/")
    # 16, plus 3 that do not grow either: the alert card (counts by severity, the ten most urgent) and
    # the notification bell of the top bar.
    with django_assert_max_num_queries(19):
        assert client.get(f"/orgs/{tree.branch_a.pk}/").status_code == 200
    with django_assert_max_num_queries(19):
        assert client.get(f"/orgs/{tree.district_a.pk}/").status_code == 200


# --- changes -------------------------------------------------------------------------------------------


def test_rename(web, tree, org_manager):
    client = web(org_manager)
    resp = client.post(
        f"/orgs/{tree.branch_a.pk}/rename/",
        {"name": "中共第一党支部委员会", "short_name": "一支部", "date": TODAY, "reason": "示组〔2026〕3号"},
    )
    assert resp.status_code == 302 and resp["Location"] == f"/orgs/{tree.branch_a.pk}/"
    org = _org(tree.branch_a.pk)
    assert (org.name, org.short_name) == ("中共第一党支部委员会", "一支部")
    assert org.events.filter(kind=OrgEvent.Kind.RENAME, reason="示组〔2026〕3号").exists()
    page = client.get(resp["Location"])
    assert [m.level_tag for m in page.context["messages"]] == ["success"]


def test_rename_needs_a_reason(web, tree, org_manager):
    resp = web(org_manager).post(f"/orgs/{tree.branch_a.pk}/rename/", {"name": "新名称", "date": TODAY})
    assert resp.status_code == 400
    assert "reason" in resp.context["form"].errors
    assert "is-invalid" in resp.content.decode()
    assert _org(tree.branch_a.pk).name == "第一党支部"


def test_org_manager_edits_branch_details_not_its_secretary(web, tree, secretary_a, district_manager):
    data = {"short_name": "一支部", "sector": "community", "founded_on": "2001-07-01", "address": "和平路1号",
            "latitude": "", "longitude": "", "contact_name": "王", "contact_phone": "123", "reason": ""}  # fmt: skip
    # Editing an organisation's details is manage_org (core.scoping): the branch's own secretary is refused.
    assert web(secretary_a).post(f"/orgs/{tree.branch_a.pk}/edit/", data).status_code == 403
    assert _org(tree.branch_a.pk).address == ""
    resp = web(district_manager).post(f"/orgs/{tree.branch_a.pk}/edit/", data)
    assert resp.status_code == 302
    org = _org(tree.branch_a.pk)
    assert org.address == "和平路1号" and org.founded_on == dt.date(2001, 7, 1)
    assert org.events.filter(kind=OrgEvent.Kind.UPDATE).exists()


def test_edit_rejects_bad_coordinates(web, tree, org_manager):
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_a.pk}/edit/",
        {"short_name": "", "sector": "community", "founded_on": "", "address": "", "latitude": "95",
         "longitude": "116", "contact_name": "", "contact_phone": ""},
    )  # fmt: skip
    assert resp.status_code == 400 and resp.context["form"].errors


def test_dissolve_with_members_shows_the_service_error(web, tree, org_manager, member_factory):
    member_factory(tree.branch_b)
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_b.pk}/dissolve/", {"date": TODAY, "reason": "撤销", "confirm": "on"}
    )
    assert resp.status_code == 400
    assert resp.context["form"].non_field_errors()
    assert _org(tree.branch_b.pk).status == OrgStatus.ACTIVE


def test_dissolve_an_empty_branch(web, tree, org_manager):
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_b.pk}/dissolve/", {"date": TODAY, "reason": "单位撤销", "confirm": "on"}
    )
    assert resp.status_code == 302
    assert _org(tree.branch_b.pk).status == OrgStatus.DISSOLVED
    # A dissolved organisation cannot be changed any more.
    assert web(org_manager).get(f"/orgs/{tree.branch_b.pk}/rename/").status_code == 403


def test_change_type_error_lands_on_the_field(web, tree, org_manager):
    # A general branch cannot keep a party group under it.
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_a.pk}/type/",
        {"org_type": OrgType.GENERAL_BRANCH, "date": TODAY, "reason": "扩大"},
    )
    assert resp.status_code == 400 and "org_type" in resp.context["form"].errors


def test_upgrade_branch_to_general_branch(web, tree, org_manager):
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_b.pk}/type/",
        {"org_type": OrgType.GENERAL_BRANCH, "date": TODAY, "reason": "扩大"},
    )
    assert resp.status_code == 302
    assert _org(tree.branch_b.pk).org_type == OrgType.GENERAL_BRANCH
    assert OrgEvent.objects.filter(org=tree.branch_b, kind=OrgEvent.Kind.UPGRADE).exists()


def test_move_offers_only_parents_in_scope(web, tree, district_manager, org_manager):
    resp = web(district_manager).get(f"/orgs/{tree.branch_a.pk}/move/")
    choices = set(resp.context["form"].fields["new_parent"].queryset.values_list("pk", flat=True))
    assert tree.district_b.pk not in choices and tree.branch_a.pk not in choices
    resp = web(district_manager).post(
        f"/orgs/{tree.branch_a.pk}/move/", {"new_parent": tree.district_b.pk, "date": TODAY, "reason": "调整"}
    )
    assert resp.status_code == 400 and "new_parent" in resp.context["form"].errors


def test_move_subtree(web, tree, org_manager, member_factory):
    member = member_factory(tree.branch_a)
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_a.pk}/move/", {"new_parent": tree.district_b.pk, "date": TODAY, "reason": "调整"}
    )
    assert resp.status_code == 302
    moved = _org(tree.branch_a.pk)
    assert moved.path.startswith(_org(tree.district_b.pk).path)
    member.refresh_from_db()
    assert member.org_path == moved.path


def test_merge_branch_into_another(web, tree, org_manager, member_factory):
    member = member_factory(tree.branch_b)
    resp = web(org_manager).post(
        f"/orgs/{tree.branch_b.pk}/merge/",
        {"target": tree.branch_a.pk, "date": TODAY, "reason": "合并", "confirm": "on"},
    )
    assert resp.status_code == 302 and resp["Location"] == f"/orgs/{tree.branch_a.pk}/"
    assert _org(tree.branch_b.pk).status == OrgStatus.MERGED
    member.refresh_from_db()
    assert member.org_id == tree.branch_a.pk


def test_found_sub_organisation(web, tree, district_manager):
    client = web(district_manager)
    data = {"org_type": OrgType.BRANCH, "code": "T0100", "name": "第三党支部", "sector": "community",
            "date": TODAY, "reason": ""}  # fmt: skip
    resp = client.post(f"/orgs/{tree.district_a.pk}/found/", data)
    assert resp.status_code == 302
    new = Organization.objects.get(code="T0100")
    assert new.path.startswith(_org(tree.district_a.pk).path) and resp["Location"] == f"/orgs/{new.pk}/"
    resp = client.post(f"/orgs/{tree.district_a.pk}/found/", {**data, "name": "重复"})
    assert resp.status_code == 400 and "code" in resp.context["form"].errors


def test_found_offers_only_allowed_child_types(web, tree, org_manager):
    resp = web(org_manager).get(f"/orgs/{tree.branch_a.pk}/found/")
    assert [v for v, _label in resp.context["form"].fields["org_type"].choices] == [OrgType.GROUP]


def test_record_committee_election(web, tree, district_manager, member_factory):
    a, b, c = (member_factory(tree.branch_a) for _ in range(3))
    outside = member_factory(tree.branch_b)
    client = web(district_manager)
    form = client.get(f"/orgs/{tree.branch_a.pk}/committee/").context["form"]
    assert form.fields["term_years"].initial == 5  # community sector: 5 years (org.terms)
    assert outside.pk not in set(form.fields["pos_secretary"].queryset.values_list("pk", flat=True))
    resp = client.post(
        f"/orgs/{tree.branch_a.pk}/committee/",
        {"start_date": TODAY, "term_years": 5, "pos_secretary": a.pk, "pos_organization": b.pk,
         "committee_members": [c.pk]},
    )  # fmt: skip
    assert resp.status_code == 302
    term = CommitteeTerm.objects.get(org=tree.branch_a, end_date__isnull=True)
    assert sorted(term.positions.values_list("title", flat=True)) == ["member", "organization", "secretary"]


def test_committee_election_needs_a_secretary_and_distinct_people(web, tree, org_manager, member_factory):
    a = member_factory(tree.branch_a)
    client = web(org_manager)
    resp = client.post(f"/orgs/{tree.branch_a.pk}/committee/", {"start_date": TODAY, "term_years": 5})
    assert resp.status_code == 400 and "pos_secretary" in resp.context["form"].errors
    resp = client.post(
        f"/orgs/{tree.branch_a.pk}/committee/",
        {"start_date": TODAY, "term_years": 5, "pos_secretary": a.pk, "pos_deputy_secretary": a.pk},
    )
    assert resp.status_code == 400 and "pos_deputy_secretary" in resp.context["form"].errors
    assert not CommitteeTerm.objects.filter(org=tree.branch_a).exists()


def test_tree_counts_party_group_members(web, tree, secretary_a, member_factory):
    member_factory(tree.branch_a, group=tree.group_a)
    member_factory(tree.branch_a)
    resp = web(secretary_a).get("/orgs/")
    branch = resp.context["tops"][0]
    assert branch.member_count == 2 and branch.tree_children[0].member_count == 1


def test_committee_form_starts_from_the_outgoing_committee(web, tree, org_manager, member_factory):
    a, b = member_factory(tree.branch_a), member_factory(tree.branch_a)
    term = CommitteeTerm.objects.create(org=tree.branch_a, start_date=dt.date(2021, 3, 1), term_years=5)
    CommitteePosition.objects.create(term=term, member=a, title=CommitteePosition.Title.SECRETARY)
    CommitteePosition.objects.create(term=term, member=b, title=CommitteePosition.Title.MEMBER)
    form = web(org_manager).get(f"/orgs/{tree.branch_a.pk}/committee/").context["form"]
    assert form.fields["pos_secretary"].initial == a.pk
    assert form.fields["committee_members"].initial == [b.pk]
