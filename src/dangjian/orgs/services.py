"""Every write to the organisation tree: one transaction, one history event, one audit row each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.audit import audit_log
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import can, ensure_in_scope, is_system_admin, path_prefix_q
from dangjian.orgs import rules
from dangjian.orgs.models import (
    BRANCH_TYPES,
    CommitteePosition,
    CommitteeTerm,
    Organization,
    OrgEvent,
    OrgStatus,
    OrgType,
)

# Rank of organisation types, for "upgrade" (branch → general branch) and "downgrade".
TYPE_RANK = {
    OrgType.GROUP: 0,
    OrgType.BRANCH: 1,
    OrgType.JOINT_BRANCH: 1,
    OrgType.GENERAL_BRANCH: 2,
    OrgType.WORKING_COMMITTEE: 3,
    OrgType.COMMITTEE: 3,
}
# Which child types each type may have.
ALLOWED_CHILDREN = {
    OrgType.COMMITTEE: {
        OrgType.COMMITTEE,
        OrgType.WORKING_COMMITTEE,
        OrgType.GENERAL_BRANCH,
        OrgType.BRANCH,
        OrgType.JOINT_BRANCH,
    },
    OrgType.WORKING_COMMITTEE: {
        OrgType.COMMITTEE,
        OrgType.GENERAL_BRANCH,
        OrgType.BRANCH,
        OrgType.JOINT_BRANCH,
    },
    OrgType.GENERAL_BRANCH: {OrgType.BRANCH, OrgType.JOINT_BRANCH},
    OrgType.BRANCH: {OrgType.GROUP},
    OrgType.JOINT_BRANCH: {OrgType.GROUP},
    OrgType.GROUP: set(),
}

# Which types an organisation may be merged into: its own family only. A party group merges only into
# another group of the same branch (its members stay in that branch; checked in org_merge).
MERGE_FAMILIES = {
    OrgType.BRANCH: {OrgType.BRANCH, OrgType.JOINT_BRANCH},
    OrgType.JOINT_BRANCH: {OrgType.BRANCH, OrgType.JOINT_BRANCH},
    OrgType.GROUP: {OrgType.GROUP},
    OrgType.GENERAL_BRANCH: {OrgType.GENERAL_BRANCH},
    OrgType.COMMITTEE: {OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE},
    OrgType.WORKING_COMMITTEE: {OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE},
}

EDITABLE_FIELDS = (
    "short_name", "sector", "founded_on", "address", "latitude", "longitude", "contact_name", "contact_phone",
)  # fmt: skip


def _require(actor: Any, action: str, org: Organization | None) -> None:
    if org is None:
        if not is_system_admin(actor):
            raise PermissionDenied(_("Only a system administrator can create a top-level organisation."))
        return
    if not can(actor, action, org):
        if action == "manage_org" and can(actor, "view", org):  # e.g. the branch's own secretary
            raise PermissionDenied(
                _("Only the organisation department can restructure an organisation or record its elections.")
            )
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))


def _check_child_type(parent: Organization | None, org_type: str) -> None:
    if parent is not None and org_type not in ALLOWED_CHILDREN[OrgType(parent.org_type)]:
        raise ValidationError(
            {
                "org_type": _("A %(child)s cannot be placed under a %(parent)s.")
                % {"child": OrgType(org_type).label, "parent": OrgType(parent.org_type).label}
            }
        )


def _event(
    org: Organization, kind: str, *, actor: Any, date: dt.date, reason: str, **details: Any
) -> OrgEvent:
    return OrgEvent.objects.create(org=org, kind=kind, date=date, reason=reason, actor=actor, details=details)


def org_found(
    *,
    actor: Any,
    parent: Organization | None,
    org_type: str,
    code: str,
    name: str,
    date: dt.date,
    reason: str = "",
    **fields: Any,
) -> Organization:
    """Found an organisation under ``parent`` (or a new root, for a system administrator)."""
    _require(actor, "manage_org", parent)
    _check_child_type(parent, org_type)
    code = code.strip()
    if Organization.objects.filter(code=code).exists():
        raise ValidationError(
            {"code": _("The code %(code)s is already used by another organisation.") % {"code": code}}
        )
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unknown organisation fields: {sorted(unknown)}")
    with transaction.atomic():
        values = {"org_type": org_type, "code": code, "name": name.strip(), "founded_on": date, **fields}
        candidate = Organization(**values)
        candidate.full_clean(exclude=["path", "depth", "numchild"])
        org = (
            Organization.objects.add_child(parent, values)
            if parent is not None
            else Organization.objects.add_root(values)
        )
        _event(
            org,
            OrgEvent.Kind.FOUND,
            actor=actor,
            date=date,
            reason=reason,
            parent=parent.pk if parent else None,
        )
        audit_log(actor=actor, action="org.founded", obj=org)
        if parent is not None:
            ensure_in_scope(actor, org, "manage_org")
    return org


def org_update(*, actor: Any, org: Organization, reason: str = "", **fields: Any) -> Organization:
    """Change an organisation's details (not its name, type or place: those have their own services)."""
    _require(actor, "manage_org", org)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in unknown})
    changes = {k: (getattr(org, k), v) for k, v in fields.items() if getattr(org, k) != v}
    if not changes:
        return org
    with transaction.atomic():
        for k, v in fields.items():
            setattr(org, k, v)
        org.full_clean(exclude=["path", "depth", "numchild"])
        org.save(update_fields=list(changes))
        _event(
            org,
            OrgEvent.Kind.UPDATE,
            actor=actor,
            date=timezone.localdate(),
            reason=reason,
            changes={k: [str(a), str(b)] for k, (a, b) in changes.items()},
        )
        audit_log(
            actor=actor, action="org.updated", obj=org, changes={k: [a, b] for k, (a, b) in changes.items()}
        )
    return org


def org_rename(
    *, actor: Any, org: Organization, name: str, short_name: str | None = None, date: dt.date, reason: str
) -> Organization:
    _require(actor, "manage_org", org)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("The new name is required.")})
    with transaction.atomic():
        old = (org.name, org.short_name)
        org.name = name
        if short_name is not None:
            org.short_name = short_name.strip()
        org.save(update_fields=["name", "short_name"])
        _event(
            org,
            OrgEvent.Kind.RENAME,
            actor=actor,
            date=date,
            reason=reason,
            old_name=old[0],
            new_name=org.name,
            old_short_name=old[1],
            new_short_name=org.short_name,
        )
        audit_log(actor=actor, action="org.renamed", obj=org, changes={"name": [old[0], org.name]})
    return org


def _current_member_count(org: Organization) -> int:
    from dangjian.members.selectors import current_member_count

    return current_member_count(org)


def org_dissolve(*, actor: Any, org: Organization, date: dt.date, reason: str) -> Organization:
    """Dissolve an organisation; its members and active sub-organisations must have moved first."""
    _require(actor, "manage_org", org)
    if org.status != OrgStatus.ACTIVE:
        raise ValidationError(_("This organisation is not active."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for dissolving (e.g. the approving document).")})
    n = _current_member_count(org)
    if n:
        raise ValidationError(
            _("%(n)d members still belong to this organisation: transfer them first.") % {"n": n}
        )
    if Organization.objects.get_children(org).filter(status=OrgStatus.ACTIVE).exists():
        raise ValidationError(_("Active sub-organisations remain: move or dissolve them first."))
    with transaction.atomic():
        org.status = OrgStatus.DISSOLVED
        org.dissolved_on = date
        org.save(update_fields=["status", "dissolved_on"])
        _event(org, OrgEvent.Kind.DISSOLVE, actor=actor, date=date, reason=reason)
        audit_log(actor=actor, action="org.dissolved", obj=org)
    return org


def org_change_type(
    *, actor: Any, org: Organization, org_type: str, date: dt.date, reason: str
) -> Organization:
    """Upgrade or downgrade an organisation (e.g. a branch that has grown becomes a general branch)."""
    _require(actor, "manage_org", org)
    if org_type == org.org_type:
        raise ValidationError({"org_type": _("The organisation already has this type.")})
    parent = Organization.objects.get_parent(org)
    _check_child_type(parent, org_type)
    for child in Organization.objects.get_children(org).filter(status=OrgStatus.ACTIVE):
        if child.org_type not in ALLOWED_CHILDREN[OrgType(org_type)]:
            raise ValidationError(
                {
                    "org_type": _("Its sub-organisation %(child)s could not stay under the new type.")
                    % {"child": child.name}
                }
            )
    if (
        org.is_branch
        and org_type not in BRANCH_TYPES
        and _current_member_count(org) - _members_in_children(org)
    ):
        raise ValidationError(
            {"org_type": _("Members belong directly to this branch: move them into its new branches first.")}
        )
    kind = (
        OrgEvent.Kind.UPGRADE
        if TYPE_RANK[OrgType(org_type)] > TYPE_RANK[OrgType(org.org_type)]
        else OrgEvent.Kind.DOWNGRADE
    )
    with transaction.atomic():
        old = org.org_type
        org.org_type = org_type
        org.save(update_fields=["org_type"])
        _event(org, kind, actor=actor, date=date, reason=reason, old_type=old, new_type=org_type)
        audit_log(actor=actor, action=f"org.{kind}", obj=org, changes={"org_type": [old, org_type]})
    return org


def _members_in_children(org: Organization) -> int:
    from dangjian.members.selectors import current_member_count

    return sum(current_member_count(c) for c in Organization.objects.get_children(org))


def _repath(old: str, new: str) -> None:
    """Keep the copies of the tree path on large tables in step after a subtree moved."""
    from dangjian.members.models import Member

    for model, field in ((Member, "org_path"), (AuditEntry, "org_path")):
        model.objects.filter(path_prefix_q(field, old)).update(
            **{field: Concat(Value(new), Substr(F(field), len(old) + 1, Length(F(field))))}
        )


def org_move(
    *, actor: Any, org: Organization, new_parent: Organization, date: dt.date, reason: str
) -> Organization:
    """Move an organisation with its whole subtree under another parent."""
    _require(actor, "manage_org", org)
    _require(actor, "manage_org", new_parent)
    if new_parent.path.startswith(org.path):
        raise ValidationError(
            {"parent": _("An organisation cannot be moved under itself or its own sub-organisation.")}
        )
    _check_child_type(new_parent, org.org_type)
    old_parent = Organization.objects.get_parent(org)
    with transaction.atomic():
        old_path = org.path
        Organization.objects.move(org, new_parent, pos="last-child")
        org.refresh_from_db()
        _repath(old_path, org.path)
        _event(
            org,
            OrgEvent.Kind.MOVE,
            actor=actor,
            date=date,
            reason=reason,
            old_parent=old_parent.pk if old_parent else None,
            old_parent_name=str(old_parent or ""),
            new_parent=new_parent.pk,
            new_parent_name=new_parent.name,
        )
        audit_log(actor=actor, action="org.moved", obj=org, changes={"parent": [old_parent, new_parent]})
        ensure_in_scope(actor, org, "manage_org")
    return org


def _merge_target_error(source: Organization, target: Organization) -> str | None:
    """Why ``target`` cannot take ``source`` in, or None: same family only, a group within its branch."""
    if source.pk == target.pk or target.path.startswith(source.path):
        return _("Choose an organisation outside the one being merged.")
    if target.status != OrgStatus.ACTIVE:
        return _("The organisation to merge into is not active.")
    if target.org_type not in MERGE_FAMILIES[OrgType(source.org_type)]:
        return _("A %(source)s cannot be merged into a %(target)s.") % {
            "source": OrgType(source.org_type).label,
            "target": OrgType(target.org_type).label,
        }
    step = Organization.steplen
    if source.org_type == OrgType.GROUP and target.path[:-step] != source.path[:-step]:
        return _("A party group can only be merged into another group of the same branch.")
    return None


def org_merge(
    *, actor: Any, source: Organization, target: Organization, date: dt.date, reason: str
) -> Organization:
    """Merge ``source`` into ``target``: its members and sub-organisations move, and it closes as merged."""
    from dangjian.members.services import members_move_all, members_regroup

    _require(actor, "manage_org", source)
    _require(actor, "manage_org", target)
    if source.status != OrgStatus.ACTIVE:
        raise ValidationError(_("This organisation is not active."))
    error = _merge_target_error(source, target)
    if error:
        raise ValidationError({"target": error})
    with transaction.atomic():
        for child in list(Organization.objects.get_children(source).filter(status=OrgStatus.ACTIVE)):
            child.refresh_from_db()
            org_move(actor=actor, org=child, new_parent=target, date=date, reason=reason)
        if source.org_type == OrgType.GROUP:
            # A group's members belong to its branch (Member.org); only their group assignment moves.
            moved = members_regroup(actor=actor, source=source, target=target)
        else:
            moved = members_move_all(actor=actor, source=source, target=target, date=date, reason=reason)
        source.refresh_from_db()
        source.status = OrgStatus.MERGED
        source.dissolved_on = date
        source.save(update_fields=["status", "dissolved_on"])
        _event(
            source,
            OrgEvent.Kind.MERGE,
            actor=actor,
            date=date,
            reason=reason,
            into=target.pk,
            into_name=target.name,
            members_moved=moved,
        )
        _event(
            target,
            OrgEvent.Kind.MERGE,
            actor=actor,
            date=date,
            reason=reason,
            merged_from=source.pk,
            merged_from_name=source.name,
            members_moved=moved,
        )
        audit_log(
            actor=actor, action="org.merged", obj=source, changes={"into": target, "members_moved": moved}
        )
    return target


def committee_term_start(
    *,
    actor: Any,
    org: Organization,
    start_date: dt.date,
    positions: list[tuple[str, Any]],
    term_years: int | None = None,
    notes: str = "",
) -> CommitteeTerm:
    """Record an election (换届): the previous term ends and a new one starts with its positions."""
    _require(actor, "manage_org", org)
    if start_date > timezone.localdate():
        raise ValidationError({"start_date": _("The election date cannot be in the future.")})
    try:
        r = rulebook.rule("org.terms", on=start_date, org=org)
    except rulebook.RuleNotFound:
        raise ValidationError(
            {"start_date": _("No rule on committee terms is recorded for that date; check the date.")}
        ) from None
    default_years, ref = rules.term_years(org.sector, on=start_date, org=org)
    years = term_years or default_years
    # 党章 第三十一条: grassroots committees, general branches and branches serve 3 to 5 years.
    low, high = r["min_years"], r["max_years"]
    if not low <= years <= high:
        raise ValidationError(
            {"term_years": _("A term lasts between %(min)d and %(max)d years.") % {"min": low, "max": high}}
        )
    current = CommitteeTerm.objects.filter(org=org, end_date__isnull=True).order_by("-start_date").first()
    if current is not None and start_date < current.start_date:
        raise ValidationError(
            {
                "start_date": _(
                    "The election date is before the current committee's term started (%(date)s)."
                )
                % {"date": f"{current.start_date:%Y-%m-%d}"}
            }
        )
    titles = [t for t, _m in positions]
    if titles.count(CommitteePosition.Title.SECRETARY) != 1:
        raise ValidationError({"positions": _("A committee has exactly one secretary.")})
    for _t, member in positions:
        if not member.org_path.startswith(org.path):
            raise ValidationError(
                {"positions": _("%(name)s is not a member of this organisation.") % {"name": member.name}}
            )
    with transaction.atomic():
        CommitteeTerm.objects.filter(org=org, end_date__isnull=True).update(end_date=start_date)
        term = CommitteeTerm.objects.create(
            org=org, start_date=start_date, term_years=years, rule_ref=ref, notes=notes
        )
        CommitteePosition.objects.bulk_create(
            [CommitteePosition(term=term, title=t, member=m, start_date=start_date) for t, m in positions]
        )
        _event(
            org,
            OrgEvent.Kind.UPDATE,
            actor=actor,
            date=start_date,
            reason=_("Committee elected"),
            term=term.pk,
            positions=[[t, m.name] for t, m in positions],
        )
        audit_log(
            actor=actor,
            action="committee.elected",
            obj=term,
            org=org,
            changes={"term_years": years, "rule": ref, "positions": [[t, m.pk] for t, m in positions]},
        )
    return term
