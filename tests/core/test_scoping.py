"""The scope mechanism itself: the role × action table, subtree matching and the re-check after writes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core import scoping
from dangjian.core.scoping import Action, Role, can, ensure_in_scope, is_system_admin, orgs_with
from dangjian.members.models import Member
from dangjian.orgs.models import Organization

# Role × action: what a role held on district_a allows on branch_a (inside) and on branch_b (outside).
# the design notes "Scope": admin everything; org_manager manages the subtree; secretary and committee
# member run a branch's members (only the secretary reveals) but do not restructure it (manage_org:
# org managers only); auditor reads and reads the log; member and resident reach only their own rows
# (SELF), never a subtree.
TABLE = {
    #                  view  add   change delete reveal manage audit rules org
    Role.ADMIN: "A A A A A A A A A",
    Role.ORG_MANAGER: "S S S S S S S S S",
    Role.SECRETARY: "S S S - S - - - -",
    Role.COMMITTEE_MEMBER: "S S S - - - - - -",
    Role.AUDITOR: "S - - - - - S - -",
    Role.MEMBER: "- - - - - - - - -",
    Role.RESIDENT: "- - - - - - - - -",
}
ACTIONS = ["view", "add", "change", "delete", "reveal", "manage_roles", "audit", "manage_rules", "manage_org"]
CASES = [
    (role, action, cell)
    for role, row in TABLE.items()
    for action, cell in zip(ACTIONS, row.split(), strict=True)
]


def test_table_covers_every_role_and_action():
    assert set(TABLE) == set(Role.values)
    assert list(Action.values) == ACTIONS


@pytest.mark.parametrize(("role", "action", "cell"), CASES, ids=[f"{r}-{a}" for r, a, _c in CASES])
def test_role_action_matrix(tree, role, action, cell):
    user = User.objects.create_user(username=f"u-{role}")
    RoleAssignment.objects.create(user=user, org=tree.district_a, role=role)
    inside, outside = can(user, action, tree.branch_a), can(user, action, tree.branch_b)
    assert (inside, outside) == {"A": (True, True), "S": (True, False), "-": (False, False)}[cell]
    above = can(user, action, tree.city)
    assert above == (cell == "A"), "a role never reaches above the org it is held on"


def test_anonymous_and_no_role(tree, outsider):
    anonymous = AnonymousUser()
    for user in (anonymous, outsider):
        assert not can(user, "view", tree.branch_a)
        assert not can(user, "view")
        assert Member.objects.restrict(user).count() == 0
        assert Organization.objects.restrict(user).count() == 0
        assert not is_system_admin(user)


def test_superuser_sees_everything(tree, member_factory):
    root = User.objects.create_superuser(username="root", password="x")
    member_factory(tree.branch_b)
    assert is_system_admin(root) and can(root, "reveal", tree.branch_b)
    assert Member.objects.restrict(root, "reveal").count() == Member.objects.count() == 1


def test_inactive_assignment_grants_nothing(tree):
    user = User.objects.create_user(username="former")
    RoleAssignment.objects.create(user=user, org=tree.branch_a, role=Role.SECRETARY, active=False)
    assert not can(user, "view", tree.branch_a)


def test_subtree_is_by_path_not_by_name_prefix(tree):
    """Paths are fixed-width steps, so a sibling whose path starts like another's is not inside it."""
    user = User.objects.create_user(username="u")
    RoleAssignment.objects.create(user=user, org=tree.district_a, role=Role.SECRETARY)
    assert not tree.district_b.path.startswith(tree.district_a.path)
    assert set(Organization.objects.restrict(user).values_list("pk", flat=True)) == {
        tree.district_a.pk,
        tree.branch_a.pk,
        tree.group_a.pk,
    }


def test_several_assignments_add_up(tree, member_factory):
    user = User.objects.create_user(username="two-hats")
    RoleAssignment.objects.create(user=user, org=tree.branch_a, role=Role.SECRETARY)
    RoleAssignment.objects.create(user=user, org=tree.branch_b, role=Role.AUDITOR)
    a, b = member_factory(tree.branch_a), member_factory(tree.branch_b)
    assert set(Member.objects.restrict(user, "view")) == {a, b}
    assert set(Member.objects.restrict(user, "change")) == {a}  # the auditor hat changes nothing
    assert set(Member.objects.restrict(user, "reveal")) == {a}


def test_orgs_with_returns_only_the_tops(tree):
    user = User.objects.create_user(username="nested")
    RoleAssignment.objects.create(user=user, org=tree.branch_a, role=Role.SECRETARY)
    RoleAssignment.objects.create(user=user, org=tree.district_a, role=Role.ORG_MANAGER)
    RoleAssignment.objects.create(user=user, org=tree.branch_b, role=Role.AUDITOR)
    assert orgs_with(user, "view") == [tree.district_a, tree.branch_b]
    assert orgs_with(user, "manage_roles") == [tree.district_a]


def test_member_sees_self_through_scope_self_q(tree, member_a, member_factory):
    member_factory(tree.branch_a)
    assert list(Member.objects.restrict(member_a)) == [member_a.member]
    assert set(Organization.objects.restrict(member_a)) == {tree.branch_a, tree.group_a}


def test_resident_sees_no_register(tree, resident, member_factory):
    member_factory(tree.branch_a)
    assert Member.objects.restrict(resident).count() == 0


def test_ensure_in_scope(tree, secretary_a, member_factory):
    mine, theirs = member_factory(tree.branch_a), member_factory(tree.branch_b)
    ensure_in_scope(secretary_a, mine, "change")
    with pytest.raises(PermissionDenied):
        ensure_in_scope(secretary_a, theirs, "change")


def test_role_cache_is_per_user_object(tree, secretary_a):
    assert can(secretary_a, "view", tree.branch_a)
    RoleAssignment.objects.filter(user=secretary_a).update(active=False)
    assert can(secretary_a, "view", tree.branch_a), "cached for the request"
    scoping.clear_role_cache(secretary_a)
    assert not can(secretary_a, "view", tree.branch_a)


def test_unscoped_model_is_refused():
    class Plain:
        __name__ = "Plain"

    with pytest.raises(TypeError):
        scoping._subtree_q(Plain, "0001")  # type: ignore[arg-type]
