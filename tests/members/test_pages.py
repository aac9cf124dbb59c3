"""Member register pages: scoped list with filters, detail, create/edit, status change, audited reveal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import Role
from dangjian.members.choices import Education, MemberStatus
from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member, MemberStatusChange

LIST = "/members/"


def _names(resp) -> list[str]:
    return [row["member"].name for row in resp.context["rows"]]


@pytest.fixture
def committee_member(tree) -> User:
    user = User.objects.create_user(username="weiyuan", password="x", full_name="委员")
    RoleAssignment.objects.create(user=user, org=tree.branch_a, role=Role.COMMITTEE_MEMBER)
    return user


def _valid_data(org, **overrides) -> dict[str, str]:
    data = {
        "name": "李新党员",
        "id_number": make_id_number("110101", dt.date(1990, 5, 17), 123),
        "phone": "13912345678",
        "ethnicity": "汉族",
        "education": Education.BACHELOR,
        "degree": "bachelor",
        "occupation": "professional",
        "join_date": "2015-07-01",
        "full_date": "2016-07-01",
        "status": MemberStatus.FULL,
        "org": str(org.pk),
        "dues_category": "employed",
        "work_unit": "示范市第一中学",
    }
    data.update(overrides)
    return data


# --- list -------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, tree):
    resp = client.get(LIST)
    assert resp.status_code == 302
    assert reverse("web:login") in resp["Location"]


def test_secretary_sees_only_own_branch_members(web, tree, secretary_a, member_factory):
    member_factory(tree.branch_a, name="甲支部党员")
    member_factory(tree.branch_b, name="乙支部党员")
    resp = web(secretary_a).get(LIST)
    assert resp.status_code == 200
    assert _names(resp) == ["甲支部党员"]
    assert "乙支部党员" not in resp.content.decode()
    assert "西城第二党支部" not in resp.content.decode()  # the tree shows only the own branch


def test_org_manager_sees_the_whole_city(web, tree, org_manager, member_factory):
    member_factory(tree.branch_a, name="甲")
    member_factory(tree.branch_b, name="乙")
    resp = web(org_manager).get(LIST)
    assert sorted(_names(resp)) == ["乙", "甲"]
    body = resp.content.decode()
    assert "东城区委" in body and "西城区委" in body


def test_org_filter_with_and_without_subtree(web, tree, org_manager, member_factory):
    member_factory(tree.branch_a, name="甲")
    member_factory(tree.branch_b, name="乙")
    client = web(org_manager)
    resp = client.get(LIST, {"org": tree.district_a.pk})
    assert _names(resp) == ["甲"]
    # 含下级 unticked: only members whose relation is with the district itself (none)
    resp = client.get(LIST, {"org": tree.district_a.pk, "filtered": "1"})
    assert _names(resp) == []
    assert resp.context["descendants"] is False
    resp = client.get(LIST, {"org": tree.district_a.pk, "filtered": "1", "descendants": "true"})
    assert _names(resp) == ["甲"]


def test_org_outside_scope_is_ignored(web, tree, secretary_a, member_factory):
    member_factory(tree.branch_a, name="甲")
    member_factory(tree.branch_b, name="乙")
    resp = web(secretary_a).get(LIST, {"org": tree.branch_b.pk})
    assert resp.status_code == 200
    assert _names(resp) == ["甲"]
    assert resp.context["selected_org"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "probationary"}, ["预备"]),
        ({"gender": "female"}, ["女党员"]),
        ({"education": "master"}, ["硕士"]),
        ({"age_min": "60"}, ["老党员"]),
        ({"age_max": "30"}, ["预备"]),
        ({"join_year": "1980"}, ["老党员"]),
        ({"q": "硕"}, ["硕士"]),
        ({"q": "第一中学"}, ["女党员"]),
    ],
)
def test_filters(web, tree, org_manager, member_factory, params, expected):
    today = dt.date.today()
    member_factory(
        tree.branch_a,
        name="预备",
        gender="male",
        birth_date=today.replace(year=today.year - 25) - dt.timedelta(days=3),
        join_date=today - dt.timedelta(days=100),
        full_date=None,
        status=MemberStatus.PROBATIONARY,
    )
    member_factory(
        tree.branch_a,
        name="女党员",
        gender="female",
        work_unit="示范市第一中学",
        birth_date=dt.date(1985, 3, 3),
    )
    member_factory(
        tree.branch_b, name="硕士", gender="male", education=Education.MASTER, birth_date=dt.date(1982, 3, 3)
    )
    member_factory(
        tree.branch_b,
        name="老党员",
        gender="male",
        birth_date=dt.date(1950, 1, 1),
        join_date=dt.date(1980, 7, 1),
        full_date=dt.date(1981, 7, 1),
    )
    resp = web(org_manager).get(LIST, {**params, "filtered": "1", "descendants": "true"})
    assert sorted(_names(resp)) == sorted(expected)


def test_pagination(web, tree, org_manager, member_factory):
    for i in range(25):
        member_factory(tree.branch_a, name=f"党员{i:02d}")
    client = web(org_manager)
    first = client.get(LIST)
    assert len(first.context["rows"]) == 20
    assert first.context["page"].paginator.count == 25
    second = client.get(LIST, {"page": 2})
    assert len(second.context["rows"]) == 5
    assert not set(_names(first)) & set(_names(second))
    assert len(client.get(LIST, {"per_page": 50}).context["rows"]) == 25


def test_list_shows_masked_numbers_only(web, tree, org_manager, member_factory):
    m = member_factory(
        tree.branch_a, id_number=make_id_number("110101", dt.date(1980, 1, 1), 7), phone="13800001234"
    )
    body = web(org_manager).get(LIST).content.decode()
    assert m.id_number_masked in body and m.phone_masked in body
    assert m.decrypted_id_number() not in body
    assert "13800001234" not in body


def test_list_query_count_does_not_grow_with_rows(
    web, tree, org_manager, member_factory, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(org_manager)
    member_factory(tree.branch_a)
    client.get(LIST)  # warm the session and content types
    with CaptureQueriesContext(connection) as one_row:
        client.get(LIST, {"per_page": 50})
    for _ in range(30):
        member_factory(tree.branch_b)
    with django_assert_max_num_queries(len(one_row)):
        resp = client.get(LIST, {"per_page": 50})
    assert len(resp.context["rows"]) == 31
    assert len(one_row) <= 12  # session, user, roles, navigation, tree (2), count, one page of rows


def test_add_button_hidden_for_read_only_roles(web, tree, auditor, member_factory):
    member_factory(tree.branch_a)
    body = web(auditor).get(LIST).content.decode()
    assert reverse("members:create") not in body


def test_export_link_carries_the_filters(web, tree, org_manager):
    resp = web(org_manager).get(LIST, {"org": tree.branch_a.pk, "status": "full", "filtered": "1"})
    export = resp.context["export_url"]
    if export is None:
        pytest.skip("the export page is not installed")
    assert f"org={tree.branch_a.pk}" in export and "status=full" in export and "descendants=false" in export


# --- detail -----------------------------------------------------------------------------------------


def test_detail_in_scope(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, name="王芳")
    resp = web(secretary_a).get(f"/members/{m.pk}/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "王芳" in body and m.id_number_masked in body
    assert reverse("members:edit", args=[m.pk]) in body
    assert reverse("members:reveal", args=[m.pk]) in body


def test_detail_out_of_scope_is_404(web, tree, secretary_a, member_factory):
    other = member_factory(tree.branch_b)
    assert web(secretary_a).get(f"/members/{other.pk}/").status_code == 404
    assert web(secretary_a).get("/members/999999/").status_code == 404


def test_auditor_sees_detail_without_write_buttons(web, tree, auditor, member_factory):
    m = member_factory(tree.branch_a)
    body = web(auditor).get(f"/members/{m.pk}/").content.decode()
    assert reverse("members:edit", args=[m.pk]) not in body
    assert reverse("members:status", args=[m.pk]) not in body
    assert reverse("members:reveal", args=[m.pk]) not in body


def test_detail_shows_history_positions_and_account(web, tree, org_manager, member_a):
    from dangjian.orgs.models import CommitteePosition, CommitteeTerm

    m = Member.objects.get(user=member_a)
    term = CommitteeTerm.objects.create(org=tree.branch_a, start_date=dt.date(2023, 3, 1), term_years=3)
    CommitteePosition.objects.create(term=term, member=m, title=CommitteePosition.Title.SECRETARY)
    body = web(org_manager).get(f"/members/{m.pk}/").content.decode()
    assert "dangyuan1" in body  # the login account
    assert str(CommitteePosition.Title.SECRETARY.label) in body
    assert m.status_changes.count() == 1
    assert str(MemberStatus.FULL.label) in body


# --- reveal -----------------------------------------------------------------------------------------


def test_reveal_is_audited(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, phone="13911112222")
    resp = web(secretary_a).post(f"/members/{m.pk}/reveal/", {"field": "phone"}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    assert "13911112222" in resp.content.decode()
    entry = AuditEntry.objects.get(action="pii.revealed")
    assert entry.actor == secretary_a and entry.object_id == str(m.pk) and entry.changes == {"field": "phone"}


@pytest.mark.parametrize("persona", ["committee_member", "auditor", "member_a"])
def test_reveal_refused_for_roles_that_may_not(request, web, tree, member_factory, persona):
    user = request.getfixturevalue(persona)
    m = Member.objects.get(user=user) if persona == "member_a" else member_factory(tree.branch_a)
    resp = web(user).post(f"/members/{m.pk}/reveal/", {"field": "id_number"})
    assert resp.status_code == 403
    assert m.decrypted_id_number() not in resp.content.decode()
    assert not AuditEntry.objects.filter(action="pii.revealed").exists()


def test_reveal_out_of_scope_is_404(web, tree, secretary_a, member_factory):
    other = member_factory(tree.branch_b)
    assert web(secretary_a).post(f"/members/{other.pk}/reveal/", {"field": "phone"}).status_code == 404


def test_reveal_needs_post(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    assert web(secretary_a).get(f"/members/{m.pk}/reveal/?field=phone").status_code == 405


# --- create -----------------------------------------------------------------------------------------


def test_create(web, tree, secretary_a):
    client = web(secretary_a)
    assert client.get("/members/new/").status_code == 200
    resp = client.post("/members/new/", _valid_data(tree.branch_a))
    member = Member.objects.get(name="李新党员")
    assert resp.status_code == 302 and resp["Location"] == f"/members/{member.pk}/"
    assert (
        member.org == tree.branch_a and member.gender == "male" and member.birth_date == dt.date(1990, 5, 17)
    )
    assert member.decrypted_phone() == "13912345678"
    assert MemberStatusChange.objects.filter(member=member).count() == 1
    assert AuditEntry.objects.filter(action="member.created", object_id=str(member.pk)).exists()


def test_create_with_invalid_data_shows_errors_and_keeps_input(web, tree, secretary_a):
    data = _valid_data(tree.branch_a, id_number="110101199005171230", join_date="2030-01-01", name="输入保留")
    resp = web(secretary_a).post("/members/new/", data)
    assert resp.status_code == 200
    form = resp.context["form"]
    assert "id_number" in form.errors and "join_date" in form.errors
    body = resp.content.decode()
    assert 'value="输入保留"' in body  # nothing the user typed is lost
    assert 'value="示范市第一中学"' in body
    assert "is-invalid" in body
    assert not Member.objects.exists()


def test_create_outside_scope_is_refused(web, tree, secretary_a):
    resp = web(secretary_a).post("/members/new/", _valid_data(tree.branch_b))
    assert resp.status_code == 200
    assert "org" in resp.context["form"].errors
    assert not Member.objects.exists()


@pytest.mark.parametrize("persona", ["auditor", "member_a", "resident"])
def test_create_refused_for_roles_without_add(request, web, tree, persona):
    user = request.getfixturevalue(persona)
    before = Member.objects.count()
    assert web(user).get("/members/new/").status_code == 403
    assert web(user).post("/members/new/", _valid_data(tree.branch_a)).status_code == 403
    assert Member.objects.count() == before


def test_create_form_lists_only_own_branches_and_groups(web, tree, secretary_a):
    body = web(secretary_a).get("/members/new/").content.decode()
    assert "第一党支部" in body and "第一党小组" in body
    assert "西城第二党支部" not in body


# --- edit -------------------------------------------------------------------------------------------


def test_edit(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, phone="13800000001")
    client = web(secretary_a)
    resp = client.get(f"/members/{m.pk}/edit/")
    assert resp.status_code == 200
    data = {
        "name": m.name,
        "ethnicity": "回族",
        "education": Education.MASTER,
        "degree": "master",
        "occupation": m.occupation,
        "join_date": m.join_date.isoformat(),
        "full_date": m.full_date.isoformat(),
        "org": str(tree.branch_a.pk),
        "group": str(tree.group_a.pk),
        "dues_category": "employed",
        "id_number": "",
        "phone": "",
    }
    resp = client.post(f"/members/{m.pk}/edit/", data)
    assert resp.status_code == 302
    m.refresh_from_db()
    assert m.ethnicity == "回族" and m.education == Education.MASTER and m.group == tree.group_a
    assert m.decrypted_phone() == "13800000001"  # an empty phone box keeps the number
    assert m.status == MemberStatus.FULL
    assert AuditEntry.objects.filter(action="member.updated", object_id=str(m.pk)).exists()


def test_edit_with_errors_keeps_input(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, work_unit="旧单位")
    data = {"name": m.name, "work_unit": "新单位", "join_date": "2030-01-01", "org": str(tree.branch_a.pk)}
    resp = web(secretary_a).post(f"/members/{m.pk}/edit/", data)
    assert resp.status_code == 200
    assert "join_date" in resp.context["form"].errors
    assert 'value="新单位"' in resp.content.decode()
    m.refresh_from_db()
    assert m.work_unit == "旧单位"


def test_cannot_move_member_out_of_scope(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    resp = web(secretary_a).post(f"/members/{m.pk}/edit/", {"org": str(tree.branch_b.pk), "name": m.name})
    assert resp.status_code == 200 and "org" in resp.context["form"].errors
    m.refresh_from_db()
    assert m.org == tree.branch_a


def test_edit_refused(web, tree, secretary_a, auditor, member_factory):
    mine, other = member_factory(tree.branch_a), member_factory(tree.branch_b)
    assert web(secretary_a).get(f"/members/{other.pk}/edit/").status_code == 404
    assert web(auditor).get(f"/members/{mine.pk}/edit/").status_code == 403
    assert web(auditor).post(f"/members/{mine.pk}/edit/", {"name": "改名"}).status_code == 403


# --- status change ----------------------------------------------------------------------------------


def test_status_change_writes_history(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    client = web(secretary_a)
    assert client.get(f"/members/{m.pk}/status/").status_code == 200
    resp = client.post(
        f"/members/{m.pk}/status/",
        {"status": MemberStatus.HISTORICAL, "date": "2025-03-01", "reason": "组织关系转出本系统"},
    )
    assert resp.status_code == 302
    m.refresh_from_db()
    assert m.status == MemberStatus.HISTORICAL
    change = m.status_changes.order_by("-id").first()
    assert (change.from_status, change.to_status, change.date) == ("full", "historical", dt.date(2025, 3, 1))
    assert change.actor == secretary_a
    assert AuditEntry.objects.filter(action="member.status_changed").exists()
    assert "组织关系转出本系统" in client.get(f"/members/{m.pk}/").content.decode()


def test_flowing_is_not_offered_as_a_status(web, tree, secretary_a, member_factory):
    """A flowing member stays full: the status form neither offers "flowing" nor takes it, and says where
    flowing is recorded (a flow certificate)."""
    m = member_factory(tree.branch_a)
    client = web(secretary_a)
    assert 'value="flowing"' not in client.get(f"/members/{m.pk}/status/").content.decode()
    assert 'value="flowing"' not in client.get("/members/new/").content.decode()
    assert 'value="flowing"' not in client.get("/members/").content.decode()  # the list's filter
    resp = client.post(
        f"/members/{m.pk}/status/", {"status": "flowing", "date": "2025-03-01", "reason": "外出"}
    )
    assert resp.status_code == 200 and "流动党员活动证" in resp.context["form"].errors["status"][0]
    m.refresh_from_db()
    assert m.status == MemberStatus.FULL and m.status_changes.count() == 1


def test_status_change_needs_reason(web, tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    resp = web(secretary_a).post(
        f"/members/{m.pk}/status/", {"status": "left", "date": "2025-03-01", "reason": ""}
    )
    assert resp.status_code == 200 and "reason" in resp.context["form"].errors
    m.refresh_from_db()
    assert m.status == MemberStatus.FULL


def test_status_change_refused(web, tree, secretary_a, auditor, member_factory):
    mine, other = member_factory(tree.branch_a), member_factory(tree.branch_b)
    data = {"status": "left", "date": "2025-03-01", "reason": "x"}
    assert web(secretary_a).post(f"/members/{other.pk}/status/", data).status_code == 404
    assert web(auditor).post(f"/members/{mine.pk}/status/", data).status_code == 403
    mine.refresh_from_db()
    assert mine.status == MemberStatus.FULL
