"""Account pages: password change, API token, role appointments, the audit log browser."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.audit import audit_log
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import Role
from tests.conftest import PASSWORD

NEW_PASSWORD = "Neu-Passwort-2026"


# --- password ------------------------------------------------------------------------------------------


def test_password_change(web, client, secretary_a):
    session = web(secretary_a)
    assert session.get("/accounts/password/").status_code == 200
    resp = session.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert resp.status_code == 302
    assert session.get("/").status_code == 200  # still logged in with the new password
    assert User.objects.get(pk=secretary_a.pk).check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="account.password_changed", actor=secretary_a).exists()


def test_password_change_checks_old_password(web, secretary_a):
    resp = web(secretary_a).post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert resp.status_code == 400 and "old_password" in resp.context["form"].errors


@pytest.mark.parametrize("weak", ["short1A", "alllowercaseletters", "12345678901"])
def test_password_change_applies_the_validators(web, secretary_a, weak):
    resp = web(secretary_a).post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak}
    )
    assert resp.status_code == 400 and "new_password2" in resp.context["form"].errors
    assert User.objects.get(pk=secretary_a.pk).check_password(PASSWORD)


# --- API token -----------------------------------------------------------------------------------------


def test_token_is_shown_once(web, api, secretary_a):
    client = web(secretary_a)
    resp = client.get("/accounts/token/")
    assert resp.status_code == 200 and resp.context["new_key"] is None
    resp = client.post("/accounts/token/")
    key = resp.context["new_key"]
    assert key and key in resp.content.decode()
    assert Token.objects.get(user=secretary_a).key == key
    again = client.get("/accounts/token/")
    assert again.context["existing"] and key not in again.content.decode()
    # The token works on the API.
    assert api().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_new_token_replaces_the_old_one(web, secretary_a):
    client = web(secretary_a)
    first = client.post("/accounts/token/").context["new_key"]
    second = client.post("/accounts/token/").context["new_key"]
    assert first != second and not Token.objects.filter(key=first).exists()


# --- role appointments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("org_manager", 200), ("district_manager", 200), ("admin_user", 200), ("secretary_a", 403), ("auditor", 403),
     ("outsider", 403)],
)  # fmt: skip
def test_roles_page_access(web, people, persona, status):
    assert web(people[persona]).get("/accounts/roles/").status_code == status


def test_roles_page_lists_only_the_subtree(web, district_manager, secretary_a, secretary_b):
    resp = web(district_manager).get("/accounts/roles/")
    users = {ra.user.username for ra in resp.context["page"]}
    assert "shuji1" in users and "shuji2" not in users


def test_appoint_a_secretary(web, tree, district_manager, outsider):
    resp = web(district_manager).post(
        "/accounts/roles/", {"username": "outsider", "org": tree.branch_a.pk, "role": Role.SECRETARY}
    )
    assert resp.status_code == 302
    ra = RoleAssignment.objects.get(user=outsider, active=True)
    assert (ra.org_id, ra.role, ra.appointed_by) == (tree.branch_a.pk, Role.SECRETARY, district_manager)
    assert AuditEntry.objects.filter(action="role.appointed", actor=district_manager).exists()


def test_appoint_outside_the_subtree_is_refused(web, tree, district_manager, outsider):
    resp = web(district_manager).post(
        "/accounts/roles/", {"username": "outsider", "org": tree.branch_b.pk, "role": Role.SECRETARY}
    )
    assert resp.status_code == 400 and "org" in resp.context["form"].errors
    assert not RoleAssignment.objects.filter(user=outsider).exists()


def test_appoint_form_errors(web, tree, org_manager, secretary_a):
    client = web(org_manager)
    resp = client.post(
        "/accounts/roles/", {"username": "nobody", "org": tree.branch_a.pk, "role": "secretary"}
    )
    assert resp.status_code == 400 and "username" in resp.context["form"].errors
    # Already holds the role: the service's error lands on the form.
    resp = client.post(
        "/accounts/roles/", {"username": "shuji1", "org": tree.branch_a.pk, "role": "secretary"}
    )
    assert resp.status_code == 400 and resp.context["form"].errors
    # Only a system administrator may appoint administrators.
    resp = client.post("/accounts/roles/", {"username": "shuji1", "org": tree.branch_a.pk, "role": "admin"})
    assert resp.status_code == 400 and "role" in resp.context["form"].errors


def test_secretary_cannot_appoint(web, tree, secretary_a, outsider):
    resp = web(secretary_a).post(
        "/accounts/roles/", {"username": "outsider", "org": tree.branch_a.pk, "role": Role.COMMITTEE_MEMBER}
    )
    assert resp.status_code == 403
    assert not RoleAssignment.objects.filter(user=outsider).exists()


def test_revoke(web, district_manager, secretary_a):
    ra = RoleAssignment.objects.get(user=secretary_a)
    resp = web(district_manager).post(f"/accounts/roles/{ra.pk}/revoke/")
    assert resp.status_code == 302
    ra.refresh_from_db()
    assert not ra.active and ra.ended_at is not None


def test_revoke_outside_the_subtree_is_404(web, district_manager, secretary_b):
    ra = RoleAssignment.objects.get(user=secretary_b)
    client = web(district_manager)
    assert client.get(f"/accounts/roles/{ra.pk}/revoke/").status_code == 405
    assert client.post(f"/accounts/roles/{ra.pk}/revoke/").status_code == 404
    ra.refresh_from_db()
    assert ra.active


def test_cannot_revoke_own_role(web, org_manager):
    ra = RoleAssignment.objects.get(user=org_manager)
    web(org_manager).post(f"/accounts/roles/{ra.pk}/revoke/")
    ra.refresh_from_db()
    assert ra.active


# --- audit log -----------------------------------------------------------------------------------------


@pytest.fixture
def entries(tree, secretary_a, secretary_b):
    audit_log(actor=secretary_a, action="member.updated", obj=tree.branch_a)
    audit_log(actor=secretary_b, action="member.created", obj=tree.branch_b)
    audit_log(actor=secretary_a, action="pii.revealed", obj=tree.branch_a)


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("org_manager", 200),
        ("district_manager", 200),
        ("auditor", 200),
        ("secretary_a", 403),
        ("outsider", 403),
    ],
)
def test_audit_page_access(web, people, persona, status):
    assert web(people[persona]).get("/accounts/audit/").status_code == status


def test_audit_log_is_scoped(web, entries, district_manager, org_manager):
    mine = [e.action for e in web(district_manager).get("/accounts/audit/").context["page"]]
    assert sorted(mine) == ["member.updated", "pii.revealed"]
    everything = [e.action for e in web(org_manager).get("/accounts/audit/").context["page"]]
    assert {"member.updated", "member.created", "pii.revealed"} <= set(everything)


def test_audit_log_filters(web, entries, org_manager):
    client = web(org_manager)
    by_action = [e.action for e in client.get("/accounts/audit/?action=pii").context["page"]]
    assert by_action == ["pii.revealed"]
    by_actor = {e.actor.username for e in client.get("/accounts/audit/?actor=shuji2").context["page"]}
    assert by_actor == {"shuji2"}
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert not list(client.get(f"/accounts/audit/?date_from={tomorrow}").context["page"])
    resp = client.get(f"/accounts/audit/?date_from={tomorrow}&date_to=2000-01-01")
    assert "date_to" in resp.context["filters"].errors


def test_audit_log_is_paginated(web, tree, org_manager, secretary_a):
    for _ in range(60):
        audit_log(actor=secretary_a, action="member.updated", obj=tree.branch_a)
    client = web(org_manager)
    first = client.get("/accounts/audit/?action=member")
    assert len(first.context["page"].object_list) == 50 and first.context["page"].has_next()
    second = client.get("/accounts/audit/?action=member&page=2")
    assert len(second.context["page"].object_list) == 10
    assert "action=member&amp;page=2" in first.content.decode()
