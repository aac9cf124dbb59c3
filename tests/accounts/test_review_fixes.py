"""Regressions from the review: the role-appointment API's gaps, the organisation API's ``?parent=``,
and an audit log page that reads as words, not JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.audit import audit_log
from dangjian.orgs import services as org_services
from dangjian.orgs.models import CommitteePosition, Organization, OrgType

URL = "/api/v1/role-assignments/"


@pytest.fixture
def appointee(db) -> User:
    return User.objects.create_user(username="xinshuji", password="x", full_name="新书记")


def _appoint(client, username, org):
    return client.post(URL, {"username": username, "org": org.pk, "role": "secretary"}, format="json")


# --- 7. role appointments over the API -------------------------------------------------------------------


def test_api_refuses_revoking_ones_own_role(tree, district_manager, api):
    own = district_manager.role_assignments.get()
    resp = api(district_manager).delete(f"{URL}{own.pk}/")
    assert resp.status_code == 403
    assert resp.json()["error"]["message"]  # says why
    own.refresh_from_db()
    assert own.active


def test_api_refuses_a_closed_login(tree, district_manager, appointee, api):
    appointee.is_active = False
    appointee.save(update_fields=["is_active"])
    resp = _appoint(api(district_manager), appointee.username, tree.branch_a)
    assert resp.status_code == 400 and "username" in resp.json()["error"]["fields"]
    assert not RoleAssignment.objects.filter(user=appointee).exists()


def test_api_refuses_a_dissolved_organisation(tree, district_manager, appointee, api):
    org_services.org_dissolve(
        actor=district_manager, org=tree.group_a, date=dt.date(2024, 3, 1), reason="撤销"
    )
    resp = _appoint(api(district_manager), appointee.username, Organization.objects.get(pk=tree.group_a.pk))
    assert resp.status_code == 400 and "org" in resp.json()["error"]["fields"]
    assert not RoleAssignment.objects.filter(user=appointee).exists()


def test_org_list_parent_filter(tree, org_manager, secretary_a, api):
    def ids(client, query):
        resp = client.get(f"/api/v1/orgs/?{query}")
        assert resp.status_code == 200, resp.content
        return {row["id"] for row in resp.json()["results"]}

    assert ids(api(org_manager), f"parent={tree.city.pk}") == {tree.district_a.pk, tree.district_b.pk}
    assert ids(api(org_manager), f"parent={tree.branch_a.pk}") == {tree.group_a.pk}
    assert ids(api(secretary_a), f"parent={tree.branch_a.pk}") == {tree.group_a.pk}
    assert ids(api(secretary_a), f"parent={tree.district_a.pk}") == set()  # a parent out of scope
    assert api(org_manager).get("/api/v1/orgs/?parent=abc").status_code == 400


# --- 8. the audit log page and the breadcrumb ------------------------------------------------------------


def test_audit_page_shows_labels_and_readable_changes(web, tree, org_manager, member_factory):
    org_services.org_change_type(
        actor=org_manager,
        org=tree.branch_b,
        org_type=OrgType.JOINT_BRANCH,
        date=dt.date(2024, 3, 1),
        reason="x",
    )
    member = member_factory(tree.branch_a)
    org_services.committee_term_start(
        actor=org_manager,
        org=tree.branch_a,
        start_date=dt.date(2024, 3, 1),
        positions=[(CommitteePosition.Title.SECRETARY, member)],
    )
    audit_log(
        actor=org_manager,
        action="member.status_changed",
        obj=member,
        changes={"status": ["full", "suspended"]},
    )
    audit_log(actor=org_manager, action="some.future_action", obj=member, changes={})
    body = web(org_manager).get("/accounts/audit/").content.decode()
    assert "党组织降格" in body and "org.downgrade</" not in body  # the action's label, not its code
    assert "类型：党支部 → 联合党支部" in body  # field name and choice labels, old → new
    assert "状态：正式党员 → 停止党籍" in body  # a member's status choices
    assert "适用规则：党组织委员会任期（2018 版）" in body and "职务：书记" in body  # no org.terms@2018
    assert "some.future_action" in body  # an unknown code falls back to itself
    assert "&quot;org_type&quot;" not in body and '{"org_type"' not in body  # no raw JSON


def test_breadcrumb_label_is_translated(web, tree, org_manager):
    body = web(org_manager).get("/orgs/").content.decode()
    assert 'aria-label="breadcrumb"' not in body
