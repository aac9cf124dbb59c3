"""Writes to the organisation tree: each keeps history, writes an audit row and stays within scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dangjian.core.models import AuditEntry
from dangjian.members.choices import MemberStatus
from dangjian.orgs import services
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgEvent, OrgStatus, OrgType

DAY = dt.date(2024, 3, 1)


def fresh(org: Organization) -> Organization:
    return Organization.objects.get(pk=org.pk)


def found_branch(actor, parent, code="N0001", name="新党支部", **kw) -> Organization:
    return services.org_found(
        actor=actor, parent=fresh(parent), org_type=OrgType.BRANCH, code=code, name=name, date=DAY, **kw
    )


# Found


def test_found_writes_event_and_audit(tree, org_manager):
    org = found_branch(org_manager, tree.district_a, reason="批复文件 2024-1", sector="enterprise")
    assert Organization.objects.get_parent(org) == tree.district_a
    event = org.events.get()
    assert (event.kind, event.date, event.reason, event.actor) == (
        OrgEvent.Kind.FOUND,
        DAY,
        "批复文件 2024-1",
        org_manager,
    )
    assert event.details["parent"] == tree.district_a.pk
    audit = AuditEntry.objects.get(action="org.founded")
    assert (audit.actor, audit.org, audit.org_path) == (org_manager, org, org.path)


def test_found_refuses_duplicate_code(tree, org_manager):
    with pytest.raises(ValidationError) as exc:
        found_branch(org_manager, tree.district_a, code=tree.branch_a.code)
    assert "code" in exc.value.message_dict


def test_found_refuses_wrong_child_type(tree, org_manager):
    with pytest.raises(ValidationError) as exc:
        services.org_found(
            actor=org_manager, parent=tree.branch_a, org_type=OrgType.BRANCH, code="N1", name="x", date=DAY
        )
    assert "org_type" in exc.value.message_dict  # a branch holds party groups, not branches


def test_found_refused_outside_scope(tree, district_manager, secretary_a):
    with pytest.raises(PermissionDenied):
        found_branch(district_manager, tree.district_b)
    with pytest.raises(PermissionDenied):
        found_branch(secretary_a, tree.district_b)
    assert not Organization.objects.filter(code="N0001").exists()


def test_only_admin_founds_a_root(tree, org_manager, admin_user):
    with pytest.raises(PermissionDenied):
        services.org_found(
            actor=org_manager, parent=None, org_type=OrgType.COMMITTEE, code="R2", name="x", date=DAY
        )
    root = services.org_found(
        actor=admin_user, parent=None, org_type=OrgType.COMMITTEE, code="R2", name="另一市委", date=DAY
    )
    assert root.depth == 1


# Rename, update


def test_rename_keeps_old_name_in_history(tree, district_manager):
    services.org_rename(
        actor=district_manager,
        org=tree.branch_a,
        name="第一党支部（新）",
        short_name="一支部",
        date=DAY,
        reason="更名",
    )
    org = fresh(tree.branch_a)
    assert (org.name, org.short_name) == ("第一党支部（新）", "一支部")
    event = org.events.get(kind=OrgEvent.Kind.RENAME)
    assert event.details["old_name"] == "第一党支部" and event.details["new_name"] == "第一党支部（新）"
    assert AuditEntry.objects.get(action="org.renamed").changes == {
        "name": ["第一党支部", "第一党支部（新）"]
    }


def test_rename_refuses_empty_name_and_outside_scope(tree, district_manager):
    with pytest.raises(ValidationError):
        services.org_rename(actor=district_manager, org=tree.branch_a, name="  ", date=DAY, reason="x")
    with pytest.raises(PermissionDenied):
        services.org_rename(actor=district_manager, org=tree.branch_b, name="x", date=DAY, reason="x")
    assert fresh(tree.branch_b).name == "西城第二党支部"
    assert not OrgEvent.objects.filter(kind=OrgEvent.Kind.RENAME).exists()


def test_update_records_changes_and_refuses_other_fields(tree, district_manager):
    services.org_update(actor=district_manager, org=tree.branch_a, address="示范市东城区1号")
    assert fresh(tree.branch_a).address == "示范市东城区1号"
    assert (
        tree.branch_a.events.get(kind=OrgEvent.Kind.UPDATE).details["changes"]["address"][1]
        == "示范市东城区1号"
    )
    with pytest.raises(ValidationError):
        services.org_update(actor=district_manager, org=tree.branch_a, name="改名走另一条路")


# Dissolve


def test_dissolve_refuses_while_members_remain(tree, district_manager, member_factory):
    member_factory(tree.branch_a)
    with pytest.raises(ValidationError):
        services.org_dissolve(actor=district_manager, org=tree.branch_a, date=DAY, reason="撤销")
    assert fresh(tree.branch_a).status == OrgStatus.ACTIVE


def test_dissolve_refuses_while_sub_organisations_remain(tree, org_manager):
    with pytest.raises(ValidationError):
        services.org_dissolve(actor=org_manager, org=tree.district_b, date=DAY, reason="撤销")


def test_dissolve_requires_a_reason(tree, district_manager):
    with pytest.raises(ValidationError) as exc:
        services.org_dissolve(actor=district_manager, org=tree.group_a, date=DAY, reason=" ")
    assert "reason" in exc.value.message_dict


def test_dissolve_counts_only_current_members(tree, district_manager, member_factory):
    member_factory(tree.branch_a, status=MemberStatus.DECEASED)
    services.org_dissolve(actor=district_manager, org=tree.group_a, date=DAY, reason="撤销党小组")
    org = services.org_dissolve(actor=district_manager, org=fresh(tree.branch_a), date=DAY, reason="撤销")
    assert (org.status, org.dissolved_on) == (OrgStatus.DISSOLVED, DAY)
    assert org.events.filter(kind=OrgEvent.Kind.DISSOLVE).count() == 1
    assert AuditEntry.objects.filter(action="org.dissolved").count() == 2
    with pytest.raises(ValidationError):  # not twice
        services.org_dissolve(actor=district_manager, org=org, date=DAY, reason="again")


def test_dissolve_refused_outside_scope(tree, district_manager, secretary_b):
    with pytest.raises(PermissionDenied):
        services.org_dissolve(actor=district_manager, org=tree.branch_b, date=DAY, reason="x")
    with pytest.raises(PermissionDenied):  # a secretary cannot close another branch
        services.org_dissolve(actor=secretary_b, org=tree.group_a, date=DAY, reason="x")


# Change type


def test_upgrade_branch_to_general_branch(tree, district_manager):
    with pytest.raises(ValidationError):  # its party group could not stay under a general branch
        services.org_change_type(
            actor=district_manager, org=tree.branch_a, org_type=OrgType.GENERAL_BRANCH, date=DAY, reason="x"
        )
    services.org_dissolve(actor=district_manager, org=tree.group_a, date=DAY, reason="调整")
    org = services.org_change_type(
        actor=district_manager,
        org=fresh(tree.branch_a),
        org_type=OrgType.GENERAL_BRANCH,
        date=DAY,
        reason="党员增多",
    )
    assert org.org_type == OrgType.GENERAL_BRANCH
    event = org.events.get(kind=OrgEvent.Kind.UPGRADE)
    assert event.details == {"old_type": "branch", "new_type": "general_branch"}
    assert AuditEntry.objects.filter(action="org.upgrade", org=org).exists()


def test_upgrade_refused_while_members_belong_directly(tree, district_manager, member_factory):
    member_factory(tree.branch_a)
    services.org_dissolve(actor=district_manager, org=tree.group_a, date=DAY, reason="调整")
    with pytest.raises(ValidationError):
        services.org_change_type(
            actor=district_manager,
            org=fresh(tree.branch_a),
            org_type=OrgType.GENERAL_BRANCH,
            date=DAY,
            reason="x",
        )
    assert fresh(tree.branch_a).org_type == OrgType.BRANCH


def test_downgrade_and_same_type(tree, district_manager):
    org = services.org_change_type(
        actor=district_manager, org=tree.branch_a, org_type=OrgType.JOINT_BRANCH, date=DAY, reason="联合"
    )
    assert org.events.filter(kind=OrgEvent.Kind.DOWNGRADE).exists()  # same rank counts as a downgrade
    with pytest.raises(ValidationError):
        services.org_change_type(
            actor=district_manager, org=org, org_type=OrgType.JOINT_BRANCH, date=DAY, reason="x"
        )


def test_change_type_refused_outside_scope(tree, district_manager):
    with pytest.raises(PermissionDenied):
        services.org_change_type(
            actor=district_manager, org=tree.branch_b, org_type=OrgType.JOINT_BRANCH, date=DAY, reason="x"
        )


# Move


def test_move_updates_member_and_audit_paths(tree, org_manager, member_factory):
    member = member_factory(tree.branch_a)
    services.org_update(actor=org_manager, org=tree.branch_a, address="旧地址")  # an audit row in the subtree
    old_path = tree.branch_a.path
    org = services.org_move(
        actor=org_manager,
        org=fresh(tree.branch_a),
        new_parent=fresh(tree.district_b),
        date=DAY,
        reason="区划调整",
    )
    assert org.path != old_path and org.path.startswith(tree.district_b.path)
    assert fresh(tree.group_a).path.startswith(org.path)  # the subtree moved with it
    member.refresh_from_db()
    assert member.org_path == org.path
    # The audit rows written in the subtree before the move follow it (org managers read the log by path).
    assert AuditEntry.objects.get(action="org.updated").org_path == org.path
    event = org.events.get(kind=OrgEvent.Kind.MOVE)
    assert (event.details["old_parent"], event.details["new_parent"]) == (
        tree.district_a.pk,
        tree.district_b.pk,
    )
    assert AuditEntry.objects.filter(action="org.moved").exists()


def test_scope_follows_a_moved_branch(tree, org_manager, district_manager, secretary_b, member_factory, api):
    member = member_factory(tree.branch_a)
    assert api(district_manager).get(f"/api/v1/members/{member.pk}/").status_code == 200
    services.org_move(
        actor=org_manager, org=fresh(tree.branch_a), new_parent=fresh(tree.district_b), date=DAY, reason="x"
    )
    # The district_a manager loses the branch; secretary_b holds branch_b only, a sibling: still not theirs.
    assert api(district_manager).get(f"/api/v1/members/{member.pk}/").status_code == 404
    assert api(secretary_b).get(f"/api/v1/members/{member.pk}/").status_code == 404


def test_move_refusals(tree, org_manager, district_manager):
    with pytest.raises(ValidationError):  # under its own sub-organisation
        services.org_move(
            actor=org_manager, org=tree.district_a, new_parent=fresh(tree.branch_a), date=DAY, reason="x"
        )
    with pytest.raises(ValidationError):  # a branch cannot hold a branch
        services.org_move(
            actor=org_manager, org=tree.branch_a, new_parent=fresh(tree.branch_b), date=DAY, reason="x"
        )
    with pytest.raises(PermissionDenied):  # out of the district manager's subtree
        services.org_move(
            actor=district_manager, org=tree.branch_a, new_parent=fresh(tree.district_b), date=DAY, reason="x"
        )
    with pytest.raises(PermissionDenied):
        services.org_move(
            actor=district_manager, org=tree.branch_b, new_parent=fresh(tree.district_a), date=DAY, reason="x"
        )
    assert fresh(tree.branch_a).path.startswith(tree.district_a.path)
    assert not OrgEvent.objects.filter(kind=OrgEvent.Kind.MOVE).exists()


# Merge


def test_merge_moves_members_and_children(tree, org_manager, member_factory):
    a1, a2 = member_factory(tree.branch_a), member_factory(tree.branch_a)
    b1 = member_factory(tree.branch_b)
    target = services.org_merge(
        actor=org_manager, source=fresh(tree.branch_a), target=fresh(tree.branch_b), date=DAY, reason="合并"
    )
    for m in (a1, a2, b1):
        m.refresh_from_db()
        assert (m.org_id, m.org_path) == (target.pk, target.path)
    group = fresh(tree.group_a)
    assert Organization.objects.get_parent(group) == target  # the party group moved under the target
    source = fresh(tree.branch_a)
    assert (source.status, source.dissolved_on) == (OrgStatus.MERGED, DAY)
    assert source.events.get(kind=OrgEvent.Kind.MERGE).details["members_moved"] == 2
    assert target.events.get(kind=OrgEvent.Kind.MERGE).details["merged_from"] == source.pk
    assert AuditEntry.objects.filter(action="org.merged").exists()
    assert AuditEntry.objects.filter(action="members.moved").exists()


def test_merge_refusals(tree, org_manager, district_manager):
    with pytest.raises(ValidationError):
        services.org_merge(
            actor=org_manager, source=tree.branch_a, target=tree.branch_a, date=DAY, reason="x"
        )
    with pytest.raises(ValidationError):  # into its own sub-organisation
        services.org_merge(actor=org_manager, source=tree.branch_a, target=tree.group_a, date=DAY, reason="x")
    with pytest.raises(ValidationError):  # a branch into a committee
        services.org_merge(
            actor=org_manager, source=tree.branch_a, target=tree.district_b, date=DAY, reason="x"
        )
    with pytest.raises(PermissionDenied):  # the target is outside the district manager's subtree
        services.org_merge(
            actor=district_manager, source=tree.branch_a, target=tree.branch_b, date=DAY, reason="x"
        )
    assert fresh(tree.branch_a).status == OrgStatus.ACTIVE


# Committee terms


def test_committee_term_uses_sector_rule(tree, district_manager, member_factory):
    sec, dep = member_factory(tree.branch_a), member_factory(tree.branch_a)
    term = services.committee_term_start(
        actor=district_manager,
        org=tree.branch_a,  # sector community → 5 years
        start_date=DAY,
        positions=[(CommitteePosition.Title.SECRETARY, sec), (CommitteePosition.Title.DEPUTY_SECRETARY, dep)],
    )
    assert (term.term_years, term.rule_ref) == (5, "org.terms@2018")
    assert term.planned_end == dt.date(2029, 3, 1)
    again = services.committee_term_start(
        actor=district_manager, org=tree.branch_a, start_date=dt.date(2025, 1, 1),
        positions=[(CommitteePosition.Title.SECRETARY, dep)], term_years=3,
    )  # fmt: skip
    term.refresh_from_db()
    assert term.end_date == dt.date(2025, 1, 1)  # a new election ends the previous term
    assert list(CommitteeTerm.objects.filter(org=tree.branch_a, end_date__isnull=True)) == [again]
    assert AuditEntry.objects.filter(action="committee.elected").count() == 2


def test_committee_term_refusals(tree, district_manager, member_factory):
    sec, stranger = member_factory(tree.branch_a), member_factory(tree.branch_b)
    S = CommitteePosition.Title.SECRETARY
    with pytest.raises(ValidationError):  # no secretary
        services.committee_term_start(
            actor=district_manager,
            org=tree.branch_a,
            start_date=DAY,
            positions=[(CommitteePosition.Title.MEMBER, sec)],
        )
    with pytest.raises(ValidationError):  # not a member of the branch
        services.committee_term_start(
            actor=district_manager, org=tree.branch_a, start_date=DAY, positions=[(S, stranger)]
        )
    with pytest.raises(PermissionDenied):  # outside the district manager's subtree
        services.committee_term_start(
            actor=district_manager, org=tree.branch_b, start_date=DAY, positions=[(S, stranger)]
        )
    assert not CommitteeTerm.objects.exists()
