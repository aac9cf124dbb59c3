"""The audit log: every service write and every reveal leaves a row; org managers read their subtree's."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from dangjian.core.models import AuditEntry
from dangjian.members.idnumbers import make_id_number
from dangjian.orgs.models import CommitteePosition, Organization, OrgType

DAY = dt.date(2024, 3, 1)
# Dues are paid for a recent month: a payment dated long before it is recorded is refused (back payment).
DUES_DAY = timezone.localdate().replace(day=1)
SERVICE_MODULES = [
    "dangjian.accounts.services",
    "dangjian.orgs.services",
    "dangjian.members.services",
    "dangjian.recruitment.services",
    "dangjian.transfers.services",
    "dangjian.dues.services",
    "dangjian.dues.payments",
    "dangjian.dues.reductions",
    "dangjian.dues.remittances",
    "dangjian.dues.statements",
]


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


def _case(s: Any, t: Any, p: Any) -> Any:
    """A recruitment case of branch_a (recruitment.services is ``s``)."""
    from tests.recruitment.helpers import case_data

    return s.case_open(actor=p["secretary_a"], data=case_data(t.branch_a))


def _step(s: Any, t: Any, p: Any) -> Any:
    return s.step_record(actor=p["secretary_a"], case=_case(s, t, p), data={"step": 1, "date": "2024-03-01"})


def _pdf() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("入党申请书.pdf", b"%PDF-1.7\n" + b"\0" * 32)


def _transfer(s: Any, t: Any, p: Any, *, send: bool = True) -> Any:
    """A transfer of member_a from branch_a to branch_b (transfers.services is ``s``)."""
    return s.transfer_create(
        actor=p["secretary_a"],
        member=p["member_a"].member,
        kind="within",
        to_org=t.branch_b,
        reason="工作调动",
        send=send,
        on=DAY,
    )


def _cert(s: Any, p: Any) -> Any:
    return s.flow_certificate_issue(
        actor=p["secretary_a"], member=p["member_a"].member, start=DAY, outside_host_name="外地某党支部"
    )


def _proposal(s: Any, p: Any) -> Any:
    return s.status_proposal_create(
        actor=p["secretary_a"],
        member=p["member_a"].member,
        inactive_since=dt.date(2023, 6, 1),
        reason="连续七个月未参加组织生活",
        on=DAY,
    )


def _dues_paid(t: Any, p: Any) -> Any:
    """member_a pays this month (the bill made as bills_generate would make it)."""
    from dangjian.dues.models import DuesBill
    from dangjian.dues.payments import payment_record

    member = p["member_a"].member
    DuesBill.objects.create(
        member=member, org=t.branch_a, org_path=t.branch_a.path, month=DUES_DAY, category="employed", base="4000.00",
        rate="0.01", standard_amount="30.00", amount="30.00", rule_ref="dues@2008",
    )  # fmt: skip
    return payment_record(
        actor=p["secretary_a"], member=member, months=[DUES_DAY], method="cash", paid_on=DUES_DAY
    )


def _dues_reduction(p: Any) -> Any:
    from dangjian.dues.reductions import reduction_propose

    return reduction_propose(
        actor=p["secretary_a"],
        member=p["member_a"].member,
        kind="waive",
        start_month=DUES_DAY,
        end_month=DUES_DAY,
        reason="x",
    )


def _dues_remitted(t: Any, p: Any) -> Any:
    from dangjian.dues.remittances import remittance_record

    _dues_paid(t, p)
    return remittance_record(
        actor=p["secretary_a"],
        from_org=t.branch_a,
        period_start=DUES_DAY,
        period_end=DUES_DAY,
        amount="30.00",
        remitted_on=DUES_DAY,
    )


def _dues_statement(s: Any, t: Any, p: Any) -> Any:
    """A bank statement of branch_a in which member_a (张党员) pays this month (dues.statements is ``s``)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dangjian.dues.models import DuesBill

    member = p["member_a"].member
    DuesBill.objects.create(
        member=member, org=t.branch_a, org_path=t.branch_a.path, month=DUES_DAY, category="employed", base="4000.00",
        rate="0.01", standard_amount="30.00", amount="30.00", rule_ref="dues@2008",
    )  # fmt: skip
    text = f"交易日期,收入金额,对方户名,附言\n{DUES_DAY:%Y-%m-%d},30.00,{member.name},党费\n"
    upload = SimpleUploadedFile("流水.csv", text.encode("gbk"))
    return s.statement_import(actor=p["secretary_a"], org=t.branch_a, file=upload)


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
            actor=p["secretary_a"], member=p["member_a"].member, status="left", date=DAY, reason="出党"
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
    # Dues (issue 4): declarations, the monthly bills, a branch's arrangements.
    "dues.declaration_create": (
        lambda s, t, p: s.declaration_create(
            actor=p["secretary_a"],
            member=p["member_a"].member,
            category="employed",
            base="4500.00",
            effective_month=DAY,
        ),
        "dues.declared",
        "branch_a",
    ),
    "dues.bills_generate": (
        lambda s, t, p: s.bills_generate(month=DAY, org=t.branch_a, actor=p["secretary_a"]),
        "dues.bills_generated",
        "branch_a",
    ),
    "dues.bills_recompute": (
        lambda s, t, p: s.bills_recompute(
            actor=p["secretary_a"], member=p["member_a"].member, start_month=DAY
        ),
        "dues.bills_recomputed",
        "branch_a",
    ),
    "dues.org_setting_set": (
        lambda s, t, p: s.org_setting_set(actor=p["secretary_a"], org=t.branch_a, quarterly_allowed=True),
        "dues.org_setting_set",
        "branch_a",
    ),
    # Dues money (issue 4): payments, hardship reductions, remittances.
    "dues.payments.payment_record": (lambda s, t, p: _dues_paid(t, p), "dues.payment_recorded", "branch_a"),
    "dues.payments.payment_reverse": (
        lambda s, t, p: s.payment_reverse(actor=p["secretary_a"], payment=_dues_paid(t, p), reason="x"),
        "dues.payment_reversed",
        "branch_a",
    ),
    "dues.reductions.reduction_propose": (
        lambda s, t, p: _dues_reduction(p),
        "dues.reduction_proposed",
        "branch_a",
    ),
    "dues.reductions.reduction_decide": (
        lambda s, t, p: s.reduction_decide(
            actor=p["secretary_a"], reduction=_dues_reduction(p), approve=True
        ),
        "dues.reduction_branch_approved",
        "branch_a",
    ),
    "dues.reductions.reduction_withdraw": (
        lambda s, t, p: s.reduction_withdraw(actor=p["secretary_a"], reduction=_dues_reduction(p)),
        "dues.reduction_withdrawn",
        "branch_a",
    ),
    "dues.reductions.apply_reduction": None,  # sets an unsaved bill's amount (bills_generate saves it)
    "dues.reductions.approved_reductions": None,  # a read
    "dues.remittances.remittance_record": (
        lambda s, t, p: _dues_remitted(t, p),
        "dues.remittance_recorded",
        "branch_a",
    ),
    "dues.remittances.remittance_confirm": (
        lambda s, t, p: s.remittance_confirm(actor=p["org_manager"], remittance=_dues_remitted(t, p)),
        "dues.remittance_confirmed",
        "district_a",
    ),
    "dues.remittances.remittance_return": (
        lambda s, t, p: s.remittance_return(
            actor=p["org_manager"], remittance=_dues_remitted(t, p), reason="x"
        ),
        "dues.remittance_returned",
        "district_a",
    ),
    "dues.remittances.org_dues_balance": None,  # a read
    # Bank-statement imports (issue 4: dues.statements); confirming books through payments.payment_record.
    "dues.statements.statement_import": (
        lambda s, t, p: _dues_statement(s, t, p),
        "dues.statement_imported",
        "branch_a",
    ),
    "dues.statements.statement_line_set": (
        lambda s, t, p: s.statement_line_set(
            actor=p["secretary_a"], line=_dues_statement(s, t, p).lines.get(), decision="ignore"
        ),
        "dues.statement_line_set",
        "branch_a",
    ),
    "dues.statements.statement_confirm": (
        lambda s, t, p: s.statement_confirm(actor=p["secretary_a"], statement=_dues_statement(s, t, p)),
        "dues.statement_confirmed",
        "branch_a",
    ),
    "dues.statements.statement_discard": (
        lambda s, t, p: s.statement_discard(actor=p["secretary_a"], statement=_dues_statement(s, t, p)),
        "dues.statement_discarded",
        "branch_a",
    ),
    "dues.statements.parse_amount": None,  # reading a file
    "dues.statements.parse_date": None,
    "dues.statements.read_statement": None,
    "dues.statements.line_keys": None,
    "dues.statements.subtree_members": None,  # reads
    "dues.statements.open_bills": None,
    "dues.statements.is_proxy": None,
    "dues.statements.suggest_months": None,
    "dues.statements.statement_summary": None,
    "dues.statements.sample_statement": None,  # builds a demo file
    # Developing members (发展党员, issue 3: recruitment app).
    "recruitment.case_open": (lambda s, t, p: _case(s, t, p), "recruitment.case_opened", "branch_a"),
    "recruitment.case_stop": (
        lambda s, t, p: s.case_stop(actor=p["secretary_a"], case=_case(s, t, p), date=DAY, reason="本人撤回"),
        "recruitment.case_stopped",
        "branch_a",
    ),
    "recruitment.case_reveal": (
        lambda s, t, p: s.case_reveal(actor=p["secretary_a"], case=_case(s, t, p), field="id_number"),
        "pii.revealed",
        "branch_a",
    ),
    "recruitment.step_record": (lambda s, t, p: _step(s, t, p), "recruitment.step_recorded", "branch_a"),
    "recruitment.attachment_add": (
        lambda s, t, p: s.attachment_add(
            actor=p["secretary_a"], step=_step(s, t, p), kind="application", upload=_pdf()
        ),
        "recruitment.attachment_added",
        "branch_a",
    ),
    "recruitment.next_allowed_steps": None,  # a read: the steps that may come next
    # Relation transfers and flowing members (issue 3: transfers app); filed under the sending branch.
    "transfers.transfer_create": (
        lambda s, t, p: _transfer(s, t, p, send=False),
        "transfer.created",
        "branch_a",
    ),
    "transfers.transfer_send": (
        lambda s, t, p: s.transfer_send(
            actor=p["secretary_a"], transfer=_transfer(s, t, p, send=False), on=DAY
        ),
        "transfer.sent",
        "branch_a",
    ),
    "transfers.transfer_accept": (
        lambda s, t, p: s.transfer_accept(actor=p["secretary_b"], transfer=_transfer(s, t, p), on=DAY),
        "transfer.accepted",
        "branch_a",
    ),
    "transfers.transfer_return": (
        lambda s, t, p: s.transfer_return(
            actor=p["secretary_b"], transfer=_transfer(s, t, p), reason="信息不全"
        ),
        "transfer.returned",
        "branch_a",
    ),
    "transfers.transfer_hold": (
        lambda s, t, p: s.transfer_hold(actor=p["secretary_b"], transfer=_transfer(s, t, p), reason="待核实"),
        "transfer.held",
        "branch_a",
    ),
    "transfers.transfer_cancel": (
        lambda s, t, p: s.transfer_cancel(actor=p["secretary_a"], transfer=_transfer(s, t, p)),
        "transfer.cancelled",
        "branch_a",
    ),
    "transfers.transfers_expire": (
        lambda s, t, p: (_transfer(s, t, p), s.transfers_expire(on=dt.date(2024, 6, 1))),
        "transfer.expired",
        "branch_a",
    ),
    "transfers.flow_certificate_issue": (lambda s, t, p: _cert(s, p), "flow.issued", "branch_a"),
    "transfers.flow_certificate_renew": (
        lambda s, t, p: s.flow_certificate_renew(
            actor=p["secretary_a"], certificate=_cert(s, p), end=dt.date(2025, 3, 1)
        ),
        "flow.renewed",
        "branch_a",
    ),
    "transfers.flow_certificate_end": (
        lambda s, t, p: s.flow_certificate_end(
            actor=p["secretary_a"], certificate=_cert(s, p), date=DAY, reason="返回"
        ),
        "flow.ended",
        "branch_a",
    ),
    "transfers.flow_certificates_end_for_former_member": (
        lambda s, t, p: (
            _cert(s, p),
            s.flow_certificates_end_for_former_member(
                actor=p["secretary_a"], member=p["member_a"].member, date=DAY, status="deceased"
            ),
        ),
        "flow.ended",
        "branch_a",
    ),
    "transfers.flow_report_add": (
        lambda s, t, p: s.flow_report_add(
            actor=p["secretary_a"], certificate=_cert(s, p), date=DAY, summary="按时参加组织生活"
        ),
        "flow.reported",
        "branch_a",
    ),
    "transfers.status_proposal_create": (
        lambda s, t, p: _proposal(s, p),
        "member.leave_proposed",
        "branch_a",
    ),
    "transfers.status_proposal_decide": (
        lambda s, t, p: s.status_proposal_decide(
            actor=p["secretary_a"], proposal=_proposal(s, p), confirm=True, date=DAY
        ),
        "member.leave_confirmed",
        "branch_a",
    ),
}


def _short(module: str) -> str:
    """``dangjian.members.services`` → ``members``; another module keeps its name: ``dues.payments``."""
    return module.removeprefix("dangjian.").removesuffix(".services")


def _module_of(service: str) -> str:
    """The module of a WRITES key: ``members.member_create`` → dangjian.members.services,
    ``dues.payments.payment_record`` → dangjian.dues.payments."""
    path = service.rsplit(".", 1)[0]
    return f"dangjian.{path}" if "." in path else f"dangjian.{path}.services"


def _services() -> list[str]:
    found = []
    for name in SERVICE_MODULES:
        module = importlib.import_module(name)
        for fn_name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == name and not fn_name.startswith("_"):
                found.append(f"{_short(name)}.{fn_name}")
    return sorted(found)


def test_every_service_is_in_the_audit_table():
    """A new service fails here until WRITES says which audit row it writes."""
    assert set(_services()) == set(WRITES), set(_services()) ^ set(WRITES)


@pytest.mark.parametrize("service", [s for s in sorted(WRITES) if WRITES[s]])
def test_service_writes_an_audit_row(service, tree, people, settings, tmp_path):
    settings.LOGIN_MAX_FAILURES = 5
    settings.MEDIA_ROOT = str(tmp_path)  # recruitment attachments are written to disk
    call, action, org_attr = WRITES[service]  # type: ignore[misc]
    module = importlib.import_module(_module_of(service))
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
