"""Every write to the member register: one transaction, an audit row, and a scope re-check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from dangjian.accounts import services as account_services
from dangjian.core.audit import audit_log
from dangjian.core.scoping import Role, can, ensure_in_scope
from dangjian.members.choices import CURRENT_STATUSES, MemberStatus
from dangjian.members.forms import MemberForm
from dangjian.members.models import Member, MemberStatusChange

AUDITED_FIELDS = [f for f in MemberForm.Meta.fields if f not in ("latitude", "longitude")]


def _validated(form: MemberForm) -> dict[str, Any]:
    if not form.is_valid():
        raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
    return form.cleaned_data


def member_build(*, cleaned: dict[str, Any]) -> Member:
    """An unsaved Member from MemberForm.cleaned_data (used by member_create and the bulk import)."""
    fields = {k: v for k, v in cleaned.items() if k not in ("id_number", "phone")}
    member = Member(**fields)
    member.org_path = member.org.path
    member.set_id_number(cleaned["id_number"])
    member.set_phone(cleaned.get("phone") or "")
    return member


def _member_role_follow(*, user: Any, org: Any) -> None:
    """Move a member's own ``member`` role to their new branch when their relation moves."""
    from dangjian.accounts.models import RoleAssignment
    from dangjian.core.scoping import Role, clear_role_cache

    RoleAssignment.objects.filter(user=user, role=Role.MEMBER, active=True).update(org=org)
    clear_role_cache(user)


def member_create(*, actor: Any, data: dict[str, Any], reason: str = "") -> Member:
    """Add a member to the register from raw form or API data."""
    cleaned = _validated(MemberForm(data, actor=actor))
    if not can(actor, "add", cleaned["org"]):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    with transaction.atomic():
        member = member_build(cleaned=cleaned)
        try:
            with transaction.atomic():
                member.save()
        except IntegrityError:
            # Another request registered the same ID number between the check and the insert.
            raise ValidationError(
                {"id_number": [_("A member with this ID number is already in the register.")]}
            ) from None
        MemberStatusChange.objects.create(
            member=member,
            from_status="",
            to_status=member.status,
            date=member.full_date
            if member.status == MemberStatus.FULL and member.full_date
            else member.join_date,
            reason=reason or _("Entered in the register"),
            actor=actor,
        )
        audit_log(actor=actor, action="member.created", obj=member)
        ensure_in_scope(actor, member, "change")
    return member


def member_update(*, actor: Any, member: Member, data: dict[str, Any], reason: str = "") -> Member:
    """Change a member's details; a status change is recorded in the status history."""
    if "status" in data and data["status"] != member.status:
        # A status change needs its own date and reason for the history (member_change_status).
        raise ValidationError(
            {
                "status": _(
                    "Change the status with the status change action, which records its date and reason."
                )
            }
        )
    old_org_id = member.org_id  # before the form: validating a ModelForm updates its instance
    initial = {f: getattr(member, f) for f in MemberForm.Meta.fields}
    initial["org"], initial["group"] = member.org_id, member.group_id
    merged = {**{k: v for k, v in initial.items() if v is not None}, **data}
    form = MemberForm(merged, instance=member, actor=actor)
    cleaned = _validated(form)
    old_id_index, old_phone_index = (
        Member.objects.filter(pk=member.pk).values_list("id_number_index", "phone_index").get()
    )
    with transaction.atomic():
        before = {f: str(initial.get(f)) for f in AUDITED_FIELDS}
        member = form.save(commit=False)
        member.org_path = member.org.path
        if cleaned.get("id_number"):
            member.set_id_number(cleaned["id_number"])
        if "phone" in data:
            member.set_phone(cleaned.get("phone") or "")
        member.save()
        if member.org_id != old_org_id and member.user_id:
            # The member's own login follows the relation to the new branch.
            _member_role_follow(user=member.user, org=member.org)
        after = {f: str(getattr(member, f"{f}_id" if f in ("org", "group") else f)) for f in AUDITED_FIELDS}
        changes = {k: [before[k], after[k]] for k in AUDITED_FIELDS if before[k] != after[k]}
        # Personal numbers are never written to the log, only that they changed.
        if member.id_number_index != old_id_index:
            changes["id_number"] = ["***", "***"]
        if member.phone_index != old_phone_index:
            changes["phone"] = ["***", "***"]
        audit_log(actor=actor, action="member.updated", obj=member, changes=changes)
        ensure_in_scope(actor, member, "change")
    return member


def member_change_status(*, actor: Any, member: Member, status: str, date: dt.date, reason: str) -> Member:
    """Record a status change (suspended, left, deceased, ...) with its date and reason."""
    if status not in MemberStatus.values:
        raise ValidationError({"status": _("Unknown status.")})
    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if status == member.status:
        raise ValidationError({"status": _("The member already has this status.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the change.")})
    with transaction.atomic():
        old = member.status
        member.status = status
        fields = ["status", "updated_at"]
        if status == MemberStatus.FULL and not member.full_date:
            member.full_date = date
            fields.append("full_date")
        member.save(update_fields=fields)
        MemberStatusChange.objects.create(
            member=member, from_status=old, to_status=status, date=date, reason=reason, actor=actor
        )
        audit_log(
            actor=actor,
            action="member.status_changed",
            obj=member,
            changes={"status": [old, status], "date": date},
        )
        _close_login_of_former_member(actor=actor, member=member)
    return member


# --- the member's login ------------------------------------------------------------------------------


def _close_login_of_former_member(*, actor: Any, member: Member) -> None:
    """A member who left, died, was suspended or became historical keeps no login (same transaction).

    The status change itself is the decision (recorded and audited by the caller), so the login closes
    even when it also carries an officer's role the actor could not otherwise touch: a person outside
    the Party holds no party office.
    """
    if member.status in CURRENT_STATUSES or member.user is None or not member.user.is_active:
        return
    account_services.account_close(actor=actor, user=member.user, org=member.org, check_roles=False)
    audit_log(
        actor=actor,
        action="member.account_closed",
        obj=member,
        changes={"username": member.user.username, "because": "status", "status": member.status},
    )


def member_account_open(*, actor: Any, member: Member, username: str, password: str) -> Member:
    """Open (开通) a login for a current member: a User named after them, with the member role on their branch.

    A member whose login was closed gets the same login back (its history stays on one row).
    """
    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if member.status not in CURRENT_STATUSES:
        raise ValidationError(
            _(
                "Only current members (probationary, full or flowing) can have a login; this member is “%(status)s”."
            )
            % {"status": member.get_status_display()}
        )
    existing = member.user
    if existing is not None and existing.is_active:
        raise ValidationError(
            _("This member already has a login (%(username)s).") % {"username": existing.username}
        )
    with transaction.atomic():
        user = account_services.account_open(
            actor=actor,
            org=member.org,
            role=Role.MEMBER,
            username=username,
            password=password,
            full_name=member.name,
            user=existing,
        )
        if member.user_id != user.pk:
            member.user = user
            member.save(update_fields=["user", "updated_at"])
        audit_log(
            actor=actor,
            action="member.account_opened",
            obj=member,
            changes={"username": user.username, "reopened": existing is not None},
        )
        ensure_in_scope(actor, member, "change")
    return member


def _login_of(member: Member) -> Any:
    if member.user is None:
        raise ValidationError(_("This member has no login."))
    return member.user


def member_account_close(*, actor: Any, member: Member) -> Member:
    """Close (停用) the member's login; the link stays, so the login's history still names the member.

    Closing a login that is already closed changes nothing and writes nothing.
    """
    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    user = _login_of(member)
    if not user.is_active:
        return member
    with transaction.atomic():
        account_services.account_close(actor=actor, user=user, org=member.org)
        audit_log(
            actor=actor, action="member.account_closed", obj=member, changes={"username": user.username}
        )
    return member


def member_account_reset_password(*, actor: Any, member: Member, password: str) -> Member:
    """Set a new password on the member's login (重置密码), for a member who forgot theirs."""
    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    user = _login_of(member)
    with transaction.atomic():
        account_services.account_password_reset(actor=actor, user=user, org=member.org, password=password)
        audit_log(
            actor=actor,
            action="member.account_password_reset",
            obj=member,
            changes={"username": user.username},
        )
    return member


def member_reveal(*, actor: Any, member: Member, field: str) -> str:
    """The unmasked ID or phone number, for roles that may reveal; every reveal is audited."""
    if field not in ("id_number", "phone"):
        raise ValidationError({"field": _("Only the ID number or the phone can be revealed.")})
    if not can(actor, "reveal", member.org):
        raise PermissionDenied(_("Your role cannot reveal personal data."))
    value = member.decrypted_id_number() if field == "id_number" else member.decrypted_phone()
    audit_log(actor=actor, action="pii.revealed", obj=member, changes={"field": field})
    return value


def members_move_all(*, actor: Any, source: Any, target: Any, date: dt.date, reason: str) -> int:
    """Move every member whose relation is with ``source`` to ``target`` (used when merging branches)."""
    with transaction.atomic():
        moved = Member.objects.filter(org=source).update(org=target, org_path=target.path, group=None)
        # Their own logins follow them to the new branch.
        from dangjian.accounts.models import RoleAssignment
        from dangjian.core.scoping import Role

        RoleAssignment.objects.filter(org=source, role=Role.MEMBER, active=True).update(org=target)
        audit_log(
            actor=actor,
            action="members.moved",
            obj=source,
            changes={"to": target, "count": moved, "date": date, "reason": reason},
        )
    return moved


def members_regroup(*, actor: Any, source: Any, target: Any) -> int:
    """Reassign every member of party group ``source`` to group ``target`` (a group merge, orgs.services).

    The caller checks that both groups belong to the same branch and that the actor may restructure it.
    """
    with transaction.atomic():
        moved = Member.objects.filter(group=source).update(group=target)
        audit_log(actor=actor, action="members.regrouped", obj=source, changes={"to": target, "count": moved})
    return moved
