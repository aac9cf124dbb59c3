"""Appointments: an org manager appoints secretaries and committee members within their subtree."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dangjian.accounts import services
from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import Role

URL = "/api/v1/role-assignments/"


@pytest.fixture
def appointee(db) -> User:
    return User.objects.create_user(username="xinshuji", password="x", full_name="新书记")


def appoint(client, user, org, role="secretary", lang="en"):
    return client.post(
        URL,
        {"username": user.username, "org": org.pk, "role": role},
        format="json",
        HTTP_ACCEPT_LANGUAGE=lang,
    )


@pytest.mark.parametrize("role", ["secretary", "committee_member", "auditor", "org_manager"])
def test_org_manager_appoints_within_subtree(tree, district_manager, appointee, member_factory, api, role):
    resp = appoint(api(district_manager), appointee, tree.branch_a, role)
    assert resp.status_code == 201, resp.content
    assert resp.json()["username"] == "xinshuji" and resp.json()["org"] == tree.branch_a.pk
    ra = RoleAssignment.objects.get(user=appointee, active=True)
    assert (ra.org, ra.role, ra.appointed_by) == (tree.branch_a, role, district_manager)
    entry = AuditEntry.objects.get(action="role.appointed")
    assert (entry.actor, entry.org, entry.changes) == (
        district_manager,
        tree.branch_a,
        {"user": "xinshuji", "role": role},
    )
    # the appointment takes effect: the new secretary sees the branch's members
    member = member_factory(tree.branch_a)
    assert api(appointee).get(f"/api/v1/members/{member.pk}/").status_code == 200


def test_org_manager_cannot_appoint_outside_subtree(tree, district_manager, appointee, api):
    resp = appoint(api(district_manager), appointee, tree.branch_b)
    assert resp.status_code in (400, 403)
    assert resp.json()["error"]["fields"].get("org") or resp.status_code == 403
    assert not RoleAssignment.objects.filter(user=appointee).exists()
    assert not AuditEntry.objects.filter(action="role.appointed").exists()


@pytest.mark.parametrize("persona", ["secretary_a", "auditor", "member_a", "resident", "outsider"])
def test_only_org_managers_appoint(tree, people, appointee, api, persona):
    resp = appoint(api(people[persona]), appointee, tree.branch_a)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "permission_denied"
    assert not RoleAssignment.objects.filter(user=appointee).exists()


def test_admin_role_cannot_be_appointed_over_the_api(tree, org_manager, appointee, api):
    resp = appoint(api(org_manager), appointee, tree.branch_a, role="admin")
    assert resp.status_code == 400 and "role" in resp.json()["error"]["fields"]


def test_only_admin_appoints_admins(tree, org_manager, admin_user, appointee):
    with pytest.raises(PermissionDenied):
        services.role_appoint(actor=org_manager, user=appointee, org=tree.city, role=Role.ADMIN)
    ra = services.role_appoint(actor=admin_user, user=appointee, org=tree.city, role=Role.ADMIN)
    assert ra.role == Role.ADMIN


def test_duplicate_appointment_refused(tree, district_manager, appointee, api):
    client = api(district_manager)
    assert appoint(client, appointee, tree.branch_a).status_code == 201
    resp = appoint(client, appointee, tree.branch_a)
    assert resp.status_code == 400
    assert "already holds this role" in str(resp.json()["error"]["fields"])
    assert RoleAssignment.objects.filter(user=appointee).count() == 1


def test_unknown_user_refused(tree, district_manager, api):
    resp = api(district_manager).post(
        URL, {"username": "ghost", "org": tree.branch_a.pk, "role": "secretary"}, format="json"
    )
    assert resp.status_code == 400 and "username" in resp.json()["error"]["fields"]


def test_revoke(tree, district_manager, appointee, member_factory, api):
    ra = services.role_appoint(actor=district_manager, user=appointee, org=tree.branch_a, role=Role.SECRETARY)
    member = member_factory(tree.branch_a)
    assert api(appointee).get(f"/api/v1/members/{member.pk}/").status_code == 200
    assert api(district_manager).delete(f"{URL}{ra.pk}/").status_code == 204
    ra.refresh_from_db()
    assert not ra.active and ra.ended_at is not None
    assert AuditEntry.objects.filter(action="role.revoked", actor=district_manager).exists()
    assert api(appointee).get(f"/api/v1/members/{member.pk}/").status_code == 404
    # a revoked appointment leaves the list; appointing again works
    assert ra.pk not in {r["id"] for r in api(district_manager).get(URL).json()["results"]}
    assert appoint(api(district_manager), appointee, tree.branch_a).status_code == 201


def test_revoke_refusals(tree, district_manager, secretary_a, secretary_b, api):
    theirs = secretary_b.role_assignments.get()
    mine = secretary_a.role_assignments.get()
    assert api(district_manager).delete(f"{URL}{theirs.pk}/").status_code == 404  # out of scope
    assert api(secretary_a).delete(f"{URL}{mine.pk}/").status_code == 403  # a secretary cannot revoke
    with pytest.raises(PermissionDenied):
        services.role_revoke(actor=district_manager, assignment=theirs)
    assert RoleAssignment.objects.filter(pk__in=[theirs.pk, mine.pk], active=True).count() == 2


def test_appointments_listed_within_scope(tree, people, api):
    by_org = {ra.pk: ra.org for ra in RoleAssignment.objects.all()}

    def orgs_seen(persona):
        rows = api(people[persona]).get(f"{URL}?page_size=100").json()["results"]
        return {by_org[r["id"]].pk for r in rows}

    assert orgs_seen("org_manager") == {org.pk for org in by_org.values()}
    assert orgs_seen("district_manager") == {tree.district_a.pk, tree.branch_a.pk}
    assert orgs_seen("secretary_a") == {tree.branch_a.pk}
    assert orgs_seen("outsider") == set()


def test_service_refuses_unknown_role(tree, org_manager, appointee):
    with pytest.raises(ValidationError):
        services.role_appoint(actor=org_manager, user=appointee, org=tree.branch_a, role="emperor")
