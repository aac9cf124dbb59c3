"""Services of transfers, flowing members and status changes: who acts, what moves, what is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dangjian.accounts.models import RoleAssignment
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import Role
from dangjian.members import services as member_services
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member, MemberStatusChange
from dangjian.transfers import services
from dangjian.transfers.models import FlowCertificate, ProposalStatus, StatusProposal, Transfer
from dangjian.transfers.rules import RuleViolationError
from dangjian.transfers.signals import member_relation_moved

D = dt.date
TODAY = D(2026, 3, 2)


@pytest.fixture
def moving(tree, member_factory):
    return member_factory(tree.branch_a, group=tree.group_a)


def _within(secretary_a, moving, tree, on=TODAY) -> Transfer:
    return services.transfer_create(
        actor=secretary_a,
        member=moving,
        kind="within",
        to_org=tree.branch_b,
        reason="工作调动",
        send=True,
        on=on,
    )


def test_create_numbers_letter_and_sets_validity(tree, secretary_a, moving):
    t = _within(secretary_a, moving, tree)
    assert t.letter_number == "2026-第一-0001"
    assert t.status == "sent" and t.issued_on == TODAY and t.valid_until == D(2026, 4, 1)
    assert t.rule_ref == "transfers@2019"
    assert t.from_org_path == tree.branch_a.path and t.to_org_path == tree.branch_b.path
    assert AuditEntry.objects.filter(action="transfer.sent").exists()
    # The member is still with the sending org until acceptance.
    moving.refresh_from_db()
    assert moving.org == tree.branch_a


def test_second_letter_number_increments_and_one_open_transfer_per_member(
    tree, secretary_a, moving, member_factory
):
    _within(secretary_a, moving, tree)
    with pytest.raises(ValidationError):
        _within(secretary_a, moving, tree)
    other = _within(secretary_a, member_factory(tree.branch_a), tree)
    assert other.letter_number == "2026-第一-0002"


def test_sender_cannot_transfer_a_member_outside_scope(tree, secretary_b, moving):
    with pytest.raises(PermissionDenied):
        _within(secretary_b, moving, tree)


def test_accept_moves_member_group_login_recruitment_and_fires_signal(tree, secretary_a, secretary_b, moving):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="mover", password="x")
    RoleAssignment.objects.create(user=user, org=tree.branch_a, role=Role.MEMBER)
    Member.objects.filter(pk=moving.pk).update(user=user)
    moving.refresh_from_db()
    t = _within(secretary_a, moving, tree)
    with pytest.raises(PermissionDenied):  # the sender cannot accept its own letter
        services.transfer_accept(actor=secretary_a, transfer=t, on=TODAY)
    seen = []

    def receiver(sender, member, from_org, to_org, date, **kw):
        seen.append((member.pk, from_org.pk, to_org.pk))

    member_relation_moved.connect(receiver)
    try:
        services.transfer_accept(actor=secretary_b, transfer=t, on=TODAY + dt.timedelta(days=3))
    finally:
        member_relation_moved.disconnect(receiver)
    moving.refresh_from_db()
    assert moving.org == tree.branch_b and moving.org_path == tree.branch_b.path and moving.group is None
    assert RoleAssignment.objects.get(user=user, role=Role.MEMBER).org == tree.branch_b
    assert seen == [(moving.pk, tree.branch_a.pk, tree.branch_b.pk)]
    assert MemberStatusChange.objects.filter(member=moving).count() == 1  # history kept, nothing new
    assert AuditEntry.objects.filter(action="member.relation_moved").exists()
    t.refresh_from_db()
    assert t.status == "accepted" and t.decided_by == secretary_b


def test_expired_letter_is_refused_with_the_rule(tree, secretary_a, secretary_b, moving):
    t = _within(secretary_a, moving, tree)
    with pytest.raises(RuleViolationError) as exc:
        services.transfer_accept(actor=secretary_b, transfer=t, on=D(2026, 4, 2))
    assert exc.value.violation.code == "letter_expired"
    moving.refresh_from_db()
    assert moving.org == tree.branch_a
    # The last valid day is still fine.
    services.transfer_accept(actor=secretary_b, transfer=t, on=D(2026, 4, 1))


@pytest.mark.parametrize("action", ["return", "hold"])
def test_return_and_hold_need_a_reason(tree, secretary_a, secretary_b, moving, action):
    t = _within(secretary_a, moving, tree)
    func = getattr(services, f"transfer_{action}")
    with pytest.raises(ValidationError):
        func(actor=secretary_b, transfer=t, reason=" ")
    func(actor=secretary_b, transfer=t, reason="材料不全")
    t.refresh_from_db()
    assert t.status == ("returned" if action == "return" else "on_hold")
    assert t.decision_reason == "材料不全"


def test_held_transfer_can_still_be_accepted_returned_can_be_resent(tree, secretary_a, secretary_b, moving):
    t = _within(secretary_a, moving, tree)
    services.transfer_hold(actor=secretary_b, transfer=t, reason="核实党费")
    services.transfer_accept(actor=secretary_b, transfer=t, on=TODAY)
    assert t.status == "accepted"


def test_returned_transfer_resend_and_cancel(tree, secretary_a, secretary_b, moving):
    t = _within(secretary_a, moving, tree)
    services.transfer_return(actor=secretary_b, transfer=t, reason="名称有误")
    with pytest.raises(PermissionDenied):
        services.transfer_cancel(actor=secretary_b, transfer=t)
    services.transfer_send(actor=secretary_a, transfer=t, on=TODAY)
    assert t.status == "sent"
    services.transfer_cancel(actor=secretary_a, transfer=t, reason="改转其他支部")
    assert t.status == "cancelled"
    with pytest.raises(ValidationError):
        services.transfer_accept(actor=secretary_b, transfer=t, on=TODAY)


def test_out_of_platform_acceptance_keeps_a_historical_record(tree, secretary_a, moving):
    t = services.transfer_create(
        actor=secretary_a, member=moving, kind="out_of_platform", outside_org_name="上海某党支部",
        reason="跨省调动", send=True, on=TODAY,
    )  # fmt: skip
    assert t.to_org is None
    services.transfer_accept(actor=secretary_a, transfer=t, on=TODAY)
    moving.refresh_from_db()
    assert moving.status == MemberStatus.HISTORICAL
    assert moving.status_changes.count() == 2


def test_into_platform_is_recorded_by_the_receiving_branch(tree, secretary_a, moving):
    t = services.transfer_create(
        actor=secretary_a,
        member=moving,
        kind="into_platform",
        outside_org_name="河北某党支部",
        reason="随迁",
        on=TODAY,
    )
    assert t.status == "sent" and t.from_org is None and t.to_org == tree.branch_a
    services.transfer_accept(actor=secretary_a, transfer=t, on=TODAY)
    assert t.status == "accepted"


def test_expire_marks_open_letters(tree, secretary_a, moving):
    t = _within(secretary_a, moving, tree)
    assert services.transfers_expire(on=D(2026, 4, 1)) == 0
    assert services.transfers_expire(on=D(2026, 4, 2)) == 1
    t.refresh_from_db()
    assert t.status == "expired"


# --- status changes ---------------------------------------------------------------------------------


def test_suspend_checks_last_contact_and_restore_is_a_new_event(tree, secretary_a, moving):
    with pytest.raises(RuleViolationError):
        member_services.member_suspend(
            actor=secretary_a, member=moving, last_contact=D(2025, 12, 1), date=D(2026, 5, 31)
        )
    member_services.member_suspend(
        actor=secretary_a, member=moving, last_contact=D(2025, 12, 1), date=D(2026, 6, 1)
    )
    assert moving.status == MemberStatus.SUSPENDED
    member_services.member_restore(actor=secretary_a, member=moving, date=D(2026, 7, 1), reason="已恢复联系")
    assert moving.status == MemberStatus.FULL
    statuses = list(moving.status_changes.order_by("date", "id").values_list("to_status", flat=True))
    assert statuses == ["full", "suspended", "full"]


def test_removal_of_a_suspended_member_waits_two_years(tree, secretary_a, moving):
    member_services.member_suspend(
        actor=secretary_a, member=moving, last_contact=D(2025, 1, 1), date=D(2026, 1, 1)
    )
    with pytest.raises(RuleViolationError):
        member_services.member_remove(actor=secretary_a, member=moving, date=D(2027, 12, 31), reason="失联")
    member_services.member_remove(actor=secretary_a, member=moving, date=D(2028, 1, 1), reason="失联两年")
    assert moving.status == MemberStatus.LEFT


def test_death_and_historical_are_events(tree, secretary_a, member_factory):
    a, b = member_factory(tree.branch_a), member_factory(tree.branch_a)
    member_services.member_record_death(actor=secretary_a, member=a, date=TODAY)
    member_services.member_make_historical(actor=secretary_a, member=b, date=TODAY, reason="历史党员档案")
    assert a.status == MemberStatus.DECEASED and b.status == MemberStatus.HISTORICAL
    member_services.member_restore(actor=secretary_a, member=b, date=TODAY, reason="误录")
    assert b.status == MemberStatus.FULL and b.status_changes.count() == 3


def test_treated_as_left_is_a_proposal_never_automatic(tree, secretary_a, moving):
    with pytest.raises(RuleViolationError):
        services.status_proposal_create(
            actor=secretary_a,
            member=moving,
            inactive_since=D(2025, 12, 1),
            reason="未参加组织生活",
            on=D(2026, 5, 31),
        )
    p = services.status_proposal_create(
        actor=secretary_a,
        member=moving,
        inactive_since=D(2025, 12, 1),
        reason="未参加组织生活",
        on=D(2026, 6, 1),
    )
    moving.refresh_from_db()
    assert moving.status == MemberStatus.FULL  # the proposal changes nothing by itself
    services.status_proposal_decide(actor=secretary_a, proposal=p, confirm=True, date=D(2026, 6, 10))
    moving.refresh_from_db()
    assert moving.status == MemberStatus.LEFT and p.status == ProposalStatus.CONFIRMED
    assert "第九条" in moving.status_changes.first().reason


def test_rejected_proposal_leaves_the_member(tree, secretary_a, secretary_b, moving):
    p = services.status_proposal_create(
        actor=secretary_a, member=moving, inactive_since=D(2025, 1, 1), reason="x", on=TODAY
    )
    with pytest.raises(PermissionDenied):
        services.status_proposal_decide(actor=secretary_b, proposal=p, confirm=True)
    services.status_proposal_decide(actor=secretary_a, proposal=p, confirm=False, note="已参加")
    moving.refresh_from_db()
    assert moving.status == MemberStatus.FULL
    assert StatusProposal.objects.get().status == ProposalStatus.REJECTED


def test_flow_certificate_issue_renew_report_end(tree, secretary_a, secretary_b, moving):
    c = services.flow_certificate_issue(
        actor=secretary_a, member=moving, start=D(2026, 1, 1), host_org=tree.branch_b
    )
    assert c.number == "LD2026-00001" and c.host_org_path == tree.branch_b.path
    with pytest.raises(ValidationError):
        services.flow_certificate_issue(
            actor=secretary_a, member=moving, start=D(2026, 1, 1), outside_host_name="x"
        )
    services.flow_certificate_renew(actor=secretary_a, certificate=c, end=D(2026, 12, 31))
    # The host records the yearly report too; one per year.
    services.flow_report_add(actor=secretary_b, certificate=c, date=D(2026, 6, 1), summary="参加组织生活4次")
    with pytest.raises(ValidationError):
        services.flow_report_add(actor=secretary_a, certificate=c, date=D(2026, 9, 1), summary="again")
    services.flow_certificate_end(actor=secretary_a, certificate=c, date=D(2026, 10, 1), reason="返回")
    assert FlowCertificate.objects.get().status == "ended"
