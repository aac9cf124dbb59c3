"""The one place where scope is decided: who may do what on which part of the organisation tree.

A ``RoleAssignment(user, org, role)`` grants a role on an organisation **and its whole subtree**
(design: Scope). Every queryset a page or an API returns goes through
``Model.objects.restrict(user, action)``; object lookups use the restricted queryset, so a forbidden
object and a missing one both answer 404. After a write, ``ensure_in_scope`` re-checks inside the
transaction that the object is still within the actor's scope.

``PERMISSIONS`` (role → action → scope kind; a missing action is refused):

- admin: every action on the whole system (ALL).
- org_manager: every action on the subtree (SUBTREE), including ``manage_org`` (found, rename, change
  type, move, merge, dissolve, edit details, record committee elections) and ``manage_roles``.
- secretary: view, add, change and reveal on the subtree: the branch's members and their records,
  but not ``manage_org`` on the branch itself.
- committee_member: view, add and change on the subtree (no reveal, no ``manage_org``).
- auditor: view and audit on the subtree.
- member, resident: view of their own rows only (SELF, ``Model.scope_self_q``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class Role(models.TextChoices):
    ADMIN = "admin", _("System administrator")
    ORG_MANAGER = "org_manager", _("Organization department")
    SECRETARY = "secretary", _("Branch secretary")
    COMMITTEE_MEMBER = "committee_member", _("Committee member")
    AUDITOR = "auditor", _("Auditor (read-only)")
    MEMBER = "member", _("Party member")
    RESIDENT = "resident", _("Resident")


class Action(models.TextChoices):
    VIEW = "view", _("View")
    ADD = "add", _("Add")
    CHANGE = "change", _("Change")
    DELETE = "delete", _("Delete")
    REVEAL = "reveal", _("Reveal personal data")
    MANAGE_ROLES = "manage_roles", _("Appoint roles")
    AUDIT = "audit", _("Read the audit log")
    # Set local values of overridable national rules for the subtree (org managers; core.rulebook).
    MANAGE_RULES = "manage_rules", _("Set local rules")
    # Restructure the tree: found, rename, change type, move, merge, dissolve, edit an organisation's
    # details, record its committee elections. Org managers only: a branch's own officers run its
    # members (add/change) but do not reshape or re-elect the branch themselves.
    MANAGE_ORG = "manage_org", _("Manage organisations")


_PATH_ALPHABET = MP_Node.alphabet  # the characters of materialized paths (treebeard)

# Scope kinds: SUBTREE = the assignment's org and everything below it; SELF = only the rows that belong
# to the user (``Model.scope_self_q``); ALL = the whole system.
ALL, SUBTREE, SELF = "all", "subtree", "self"

_EVERY_ACTION = {a.value: ALL for a in Action}
PERMISSIONS: dict[str, dict[str, str]] = {
    Role.ADMIN: _EVERY_ACTION,
    Role.ORG_MANAGER: {a.value: SUBTREE for a in Action},
    Role.SECRETARY: {"view": SUBTREE, "add": SUBTREE, "change": SUBTREE, "reveal": SUBTREE},
    Role.COMMITTEE_MEMBER: {"view": SUBTREE, "add": SUBTREE, "change": SUBTREE},
    Role.AUDITOR: {"view": SUBTREE, "audit": SUBTREE},
    Role.MEMBER: {"view": SELF},
    Role.RESIDENT: {"view": SELF},
}

# Roles that an appointing user may grant (an org manager appoints branch officers in their subtree).
APPOINTABLE_ROLES = (Role.SECRETARY, Role.COMMITTEE_MEMBER, Role.AUDITOR, Role.ORG_MANAGER)


def role_assignments(user: AbstractBaseUser | Any) -> list[Any]:
    """The user's active role assignments with their orgs, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_dangjian_role_cache", None)
    if cached is None:
        cached = list(user.role_assignments.filter(active=True).select_related("org"))
        user._dangjian_role_cache = cached
    return cached


def clear_role_cache(user: Any) -> None:
    if hasattr(user, "_dangjian_role_cache"):
        del user._dangjian_role_cache


def scope_kind(role: str, action: str) -> str | None:
    return PERMISSIONS.get(role, {}).get(action)


def is_system_admin(user: Any) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return any(ra.role == Role.ADMIN for ra in role_assignments(user))


def path_prefix_upper(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix``, or None (no upper bound).

    Tree paths use treebeard's alphabet (0-9, A-Z), so the bound stays inside it ("0001000Z" →
    "0001001"); that keeps the comparison right under PostgreSQL's locale collations as well as
    SQLite's byte order.
    """
    chars = list(prefix)
    while chars:
        i = _PATH_ALPHABET.find(chars[-1])
        if i < 0:
            raise ValueError(f"not a tree path: {prefix!r}")
        if i + 1 < len(_PATH_ALPHABET):
            chars[-1] = _PATH_ALPHABET[i + 1]
            return "".join(chars)
        chars.pop()
    return None


def path_prefix_q(field: str, prefix: str) -> Q:
    """Rows whose tree-path ``field`` starts with ``prefix``, i.e. the subtree below that path.

    Written as a range (``prefix <= field < upper``) rather than ``__startswith``: Django compiles
    startswith to ``LIKE ... ESCAPE``, which SQLite cannot answer from an index (its LIKE is
    case-insensitive), while a range uses the plain index on both SQLite and PostgreSQL. Same rows:
    paths only contain the alphabet's characters.
    """
    upper = path_prefix_upper(prefix)
    q = Q(**{f"{field}__gte": prefix})
    return q & Q(**{f"{field}__lt": upper}) if upper is not None else q


def _subtree_q(model: type[models.Model], path: str) -> Q:
    path_field = getattr(model, "scope_path_field", None)
    if isinstance(path_field, tuple | list):
        # A row that belongs to several places (a transfer: its sending and its receiving org) is in
        # the subtree when any of its paths is.
        q = Q(pk__in=[])
        for name in path_field:
            q |= path_prefix_q(name, path)
        return q
    if path_field:
        return path_prefix_q(path_field, path)
    field = getattr(model, "scope_org_field", None)
    if field is None:
        raise TypeError(f"{model.__name__} is not scoped: declare scope_org_field")
    return path_prefix_q(f"{field}__path" if field else "path", path)


def scope_q(model: type[models.Model], user: Any, action: str) -> Q | None:
    """A Q selecting the rows of ``model`` the user may act on; None means every row."""
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    owner_field = getattr(model, "scope_owner_field", None)
    if owner_field:  # personal rows (a user's jobs and their files): the owner only, whatever the role
        return Q(**{owner_field: user})
    if getattr(user, "is_superuser", False):
        return None
    q = Q(pk__in=[])
    for ra in role_assignments(user):
        kind = scope_kind(ra.role, action)
        if kind == ALL:
            return None
        if kind == SUBTREE:
            q |= _subtree_q(model, ra.org.path)
        elif kind == SELF:
            self_q = model.scope_self_q(user, ra) if hasattr(model, "scope_self_q") else None
            if self_q is not None:
                q |= self_q
    return q


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what a user may see or change."""

    def restrict(self, user: Any, action: str = "view") -> RestrictedQuerySet:
        q = scope_q(self.model, user, action)
        return self if q is None else self.filter(q)


def can(user: Any, action: str, org: Any | None = None) -> bool:
    """Whether the user holds ``action`` on ``org`` (or anywhere, when org is None) through a role."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    for ra in role_assignments(user):
        kind = scope_kind(ra.role, action)
        if kind == ALL:
            return True
        if kind == SUBTREE and (org is None or org.path.startswith(ra.org.path)):
            return True
    return False


def orgs_with(user: Any, action: str) -> list[Any]:
    """The top orgs of the subtrees in which the user holds ``action`` (empty for ALL: see is_system_admin)."""
    tops = [ra.org for ra in role_assignments(user) if scope_kind(ra.role, action) == SUBTREE]
    tops.sort(key=lambda o: o.path)
    result: list[Any] = []
    for org in tops:
        if not any(org.path.startswith(t.path) for t in result):
            result.append(org)
    return result


def ensure_in_scope(user: Any, obj: models.Model, action: str = "change") -> None:
    """Re-check after a write (inside its transaction) that the object is still in the actor's scope."""
    manager = type(obj)._default_manager
    if not manager.all().restrict(user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))


def ensure_can(user: Any, action: str, org: Any | None) -> None:
    if not can(user, action, org):
        raise PermissionDenied(_("You do not have permission to do this here."))
