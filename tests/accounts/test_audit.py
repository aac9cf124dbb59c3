"""The audit log: every service write and every reveal leaves a row; org managers read their subtree's."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from dangjian.core.models import AuditEntry
from dangjian.members.idnumbers import make_id_number
from dangjian.orgs.models import CommitteePosition, Organization, OrgType

DAY = dt.date(2024, 3, 1)
SERVICE_MODULES = ["dangjian.accounts.services", "dangjian.orgs.services", "dangjian.members.services"]


def _member_data(org: Organization) -> dict[str, Any]:
    return {
        "name": "审计",
        "ethnicity": "汉族",
        "id_number": make_id_number("110101", dt.date(1980, 1, 1), 901),
        "education": "bachelor",
        "occupation": "worker",
        "degree": "none",
        "join_date": "2005-07-01",
        "full_date": "2006-07-01",
        "status": "full",
        "org": org.pk,
        "dues_category": "employed",
    }


def _lock(services: Any) -> None:
    for _ in range(5):
        try:
            services.login_attempt(request=None, username="shuji1", password="wrong")
        except services.AccountLocked:
            return


def _fresh(org: Organization) -> Organization:
    return Organization.objects.get(pk=org.pk)


# service → (how to call it, the audit action, the org the row is filed under). None: not a write.
WRITES: dict[str, tuple[Callable[[Any, Any, Any], Any], str, str | None] | None] = {
    "accounts.login_attempt": (lambda s, t, p: _lock(s), "account.locked", None),
    "accounts.token_issue": (lambda s, t, p: s.token_issue(user=p["secretary_a"]), "token.issued", None),
    "accounts.password_change": (
        lambda s, t, p: s.password_change(user=p["secretary_a"], new_password="Xk7#mPq2"),
        "account.password_changed",
        None,
    ),
    "accounts.role_appoint": (
        lambda s, t, p: s.role_appoint(
            actor=p["org_manager"], user=p["outsider"], org=t.branch_a, role="secretary"
        ),
        "role.appointed",
        "branch_a",
    ),
    "accounts.role_revoke": (
        lambda s, t, p: s.role_revoke(
            actor=p["org_manager"], assignment=p["secretary_a"].role_assignments.get()
        ),
        "role.revoked",
        "branch_a",
    ),
    "accounts.account_open": (
        lambda s, t, p: s.account_open(
            actor=p["secretary_a"],
            org=t.branch_a,
            role="member",
            username="zhangsan",
            password="Kaitong@2026",
            full_name="开通",
        ),
        "account.opened",
        "branch_a",
    ),
    "accounts.account_close": (
        lambda s, t, p: s.account_close(actor=p["secretary_a"], user=p["member_a"], org=t.branch_a),
        "account.closed",
        "branch_a",
    ),
    "accounts.account_password_reset": (
        lambda s, t, p: s.account_password_reset(
            actor=p["secretary_a"], user=p["member_a"], org=t.branch_a, password="Chongzhi@2026"
        ),
        "account.password_reset",
        "branch_a",
    ),
    "accounts.login_change_refusal": None,  # a check (may the actor change this login?), not a write
    "orgs.org_found": (
        lambda s, t, p: s.org_found(
            actor=p["org_manager"],
            parent=_fresh(t.district_a),
            org_type=OrgType.BRANCH,
            code="A1",
            name="新",
            date=DAY,
        ),
        "org.founded",
        None,  # filed under the new organisation itself
    ),
    "orgs.org_update": (
        lambda s, t, p: s.org_update(actor=p["org_manager"], org=t.branch_a, address="新地址"),
        "org.updated",
        "branch_a",
    ),
    "orgs.org_rename": (
        lambda s, t, p: s.org_rename(
            actor=p["org_manager"], org=t.branch_a, name="新名", date=DAY, reason="x"
        ),
        "org.renamed",
        "branch_a",
    ),
    "orgs.org_dissolve": (
        lambda s, t, p: s.org_dissolve(actor=p["org_manager"], org=t.group_a, date=DAY, reason="x"),
        "org.dissolved",
        "group_a",
    ),
    "orgs.org_change_type": (
        lambda s, t, p: s.org_change_type(
            actor=p["org_manager"], org=t.branch_b, org_type=OrgType.JOINT_BRANCH, date=DAY, reason="x"
        ),
        "org.downgrade",
        "branch_b",
    ),
    "orgs.org_move": (
        lambda s, t, p: s.org_move(
            actor=p["org_manager"],
            org=_fresh(t.branch_b),
            new_parent=_fresh(t.district_a),
            date=DAY,
            reason="x",
        ),
        "org.moved",
        "branch_b",
    ),
    "orgs.org_merge": (
        lambda s, t, p: s.org_merge(
            actor=p["org_manager"], source=_fresh(t.branch_b), target=_fresh(t.branch_a), date=DAY, reason="x"
        ),
        "org.merged",
        "branch_b",
    ),
    "orgs.committee_term_start": (
        lambda s, t, p: s.committee_term_start(
            actor=p["org_manager"],
            org=t.branch_a,
            start_date=DAY,
            positions=[(CommitteePosition.Title.SECRETARY, p["member_a"].member)],
        ),
        "committee.elected",
        "branch_a",
    ),
    "members.member_build": None,  # builds an unsaved member for member_create and the import
    "members.member_create": (
        lambda s, t, p: s.member_create(actor=p["secretary_a"], data=_member_data(t.branch_a)),
        "member.created",
        "branch_a",
    ),
    "members.member_update": (
        lambda s, t, p: s.member_update(
            actor=p["secretary_a"], member=p["member_a"].member, data={"position": "x"}
        ),
        "member.updated",
        "branch_a",
    ),
    "members.member_change_status": (
        lambda s, t, p: s.member_change_status(
            actor=p["secretary_a"], member=p["member_a"].member, status="flowing", date=DAY, reason="外出"
        ),
        "member.status_changed",
        "branch_a",
    ),
    "members.member_reveal": (
        lambda s, t, p: s.member_reveal(actor=p["secretary_a"], member=p["member_a"].member, field="phone"),
        "pii.revealed",
        "branch_a",
    ),
    "members.member_account_open": (
        lambda s, t, p: s.member_account_open(
            actor=p["secretary_a"],
            member=s.member_create(actor=p["secretary_a"], data=_member_data(t.branch_a)),
            username="zhangsan",
            password="Kaitong@2026",
        ),
        "member.account_opened",
        "branch_a",
    ),
    "members.member_account_close": (
        lambda s, t, p: s.member_account_close(actor=p["secretary_a"], member=p["member_a"].member),
        "member.account_closed",
        "branch_a",
    ),
    "members.member_account_reset_password": (
        lambda s, t, p: s.member_account_reset_password(
            actor=p["secretary_a"], member=p["member_a"].member, password="Chongzhi@2026"
        ),
        "member.account_password_reset",
        "branch_a",
    ),
    "members.members_move_all": (
        lambda s, t, p: s.members_move_all(
            actor=p["org_manager"], source=t.branch_a, target=t.branch_b, date=DAY, reason="x"
        ),
        "members.moved",
        "branch_a",
    ),
    "members.members_regroup": (
        lambda s, t, p: s.members_regroup(actor=p["org_manager"], source=t.group_a, target=t.group_a),
        "members.regrouped",
        "group_a",
    ),
    "members.discipline_record": (
        lambda s, t, p: s.discipline_record(
            actor=p["secretary_a"],
            member=p["member_a"].member,
            kind="warning",
            decided_on=DAY,
            decided_by=t.branch_a,
            reason="x",
        ),
        "member.disciplined",
        "branch_a",
    ),
    "members.discipline_restore_rights": (
        lambda s, t, p: s.discipline_restore_rights(
            actor=p["secretary_a"],
            discipline=s.discipline_record(
                actor=p["secretary_a"],
                member=p["member_a"].member,
                kind="probation_within_party",
                decided_on=DAY,
                decided_by=t.district_a,
                reason="x",
                years=1,
            ),
            date=DAY,
        ),
        "member.rights_restored",
        "branch_a",
    ),
    # Relation transfers and status changes (issue 3: transfers app).
    "members.member_relation_move": (
        lambda s, t, p: s.member_relation_move(
            actor=p["secretary_b"], member=p["member_a"].member, to_org=t.branch_b, date=DAY, reason="x"
        ),
        "member.relation_moved",
        "branch_b",
    ),
    "members.member_suspend": (
        lambda s, t, p: s.member_suspend(
            actor=p["secretary_a"], member=p["member_a"].member, last_contact=dt.date(2023, 1, 1), date=DAY
        ),
        "member.status_changed",
        "branch_a",
    ),
    "members.member_restore": (
        lambda s, t, p: s.member_restore(
            actor=p["secretary_a"],
            member=s.member_make_historical(
                actor=p["secretary_a"], member=p["member_a"].member, date=DAY, reason="x"
            ),
            date=DAY,
            reason="误录",
        ),
        "member.status_changed",
        "branch_a",
    ),
    "members.member_remove": (
        lambda s, t, p: s.member_remove(
            actor=p["secretary_a"], member=p["member_a"].member, date=DAY, reason="x"
        ),
        "member.status_changed",
        "branch_a",
    ),
    "members.member_record_death": (
        lambda s, t, p: s.member_record_death(actor=p["secretary_a"], member=p["member_a"].member, date=DAY),
        "member.status_changed",
        "branch_a",
    ),
    "members.member_status_event": (
        lambda s, t, p: s.member_status_event(
            actor=p["secretary_a"], member=p["member_a"].member, event="death", date=DAY
        ),
        "member.status_changed",
        "branch_a",
    ),
    "members.member_make_historical": (
        lambda s, t, p: s.member_make_historical(
            actor=p["secretary_a"], member=p["member_a"].member, date=DAY, reason="x"
        ),
        "member.status_changed",
        "branch_a",
    ),
}


def _services() -> list[str]:
    found = []
    for name in SERVICE_MODULES:
        module = importlib.import_module(name)
        for fn_name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == name and not fn_name.startswith("_"):
                found.append(f"{name.split('.')[1]}.{fn_name}")
    return sorted(found)


def test_every_service_is_in_the_audit_table():
    """A new service fails here until WRITES says which audit row it writes."""
    assert set(_services()) == set(WRITES), set(_services()) ^ set(WRITES)


@pytest.mark.parametrize("service", [s for s in sorted(WRITES) if WRITES[s]])
def test_service_writes_an_audit_row(service, tree, people, settings):
    settings.LOGIN_MAX_FAILURES = 5
    call, action, org_attr = WRITES[service]  # type: ignore[misc]
    module = importlib.import_module(f"dangjian.{service.split('.')[0]}.services")
    before = AuditEntry.objects.count()
    call(module, tree, people)
    entries = AuditEntry.objects.filter(action=action)
    assert entries.exists(), f"{service} wrote no {action} row"
    assert AuditEntry.objects.count() > before
    entry = entries.latest("id")
    if org_attr:
        org = _fresh(getattr(tree, org_attr))
        assert entry.org_id == org.pk and entry.org_path == org.path, service
    assert entry.object_repr, service


def test_audit_row_records_actor_ip_and_object(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    api(secretary_a).post(
        f"/api/v1/members/{member.pk}/reveal/", {"field": "id_number"}, format="json", REMOTE_ADDR="10.1.2.3"
    )
    entry = AuditEntry.objects.get(action="pii.revealed")
    assert (entry.actor, entry.ip, entry.object_id, entry.object_repr) == (
        secretary_a,
        "10.1.2.3",
        str(member.pk),
        member.name,
    )
    assert entry.content_type.model == "member"
    assert entry.changes == {"field": "id_number"}
    assert entry.time is not None


@pytest.fixture
def log(tree, people, member_factory):
    """Audit rows in branch_a, in branch_b, and one filed under no organisation."""
    from dangjian.accounts.services import token_issue
    from dangjian.members.services import member_reveal

    a, b = member_factory(tree.branch_a), member_factory(tree.branch_b)
    AuditEntry.objects.all().delete()
    member_reveal(actor=people["org_manager"], member=a, field="id_number")
    member_reveal(actor=people["org_manager"], member=b, field="id_number")
    token_issue(user=people["secretary_a"])
    return {e.action + ":" + (e.org.name if e.org else "-"): e.pk for e in AuditEntry.objects.all()}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin_user", {"pii.revealed:第一党支部", "pii.revealed:西城第二党支部", "token.issued:-"}),
        ("org_manager", {"pii.revealed:第一党支部", "pii.revealed:西城第二党支部"}),
        ("district_manager", {"pii.revealed:第一党支部"}),
        ("auditor", {"pii.revealed:第一党支部", "pii.revealed:西城第二党支部"}),
        ("secretary_a", set()),
        ("secretary_b", set()),
        ("member_a", set()),
        ("outsider", set()),
    ],
)
def test_audit_log_is_read_within_subtree(log, people, persona, expected):
    seen = set(AuditEntry.objects.restrict(people[persona], "audit").values_list("pk", flat=True))
    assert seen == {log[k] for k in expected}
