"""Every write to the member register: one transaction, an audit row, and a scope re-check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.scoping import can, ensure_in_scope
from dangjian.members.choices import MemberStatus
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


def member_create(*, actor: Any, data: dict[str, Any], reason: str = "") -> Member:
    """Add a member to the register from raw form or API data."""
    cleaned = _validated(MemberForm(data, actor=actor))
    if not can(actor, "add", cleaned["org"]):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    with transaction.atomic():
        member = member_build(cleaned=cleaned)
        member.save()
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
    initial = {f: getattr(member, f) for f in MemberForm.Meta.fields}
    initial["org"], initial["group"] = member.org_id, member.group_id
    merged = {**{k: v for k, v in initial.items() if v is not None}, **data}
    form = MemberForm(merged, instance=member, actor=actor)
    cleaned = _validated(form)
    old_status = Member.objects.filter(pk=member.pk).values_list("status", flat=True).get()
    with transaction.atomic():
        before = {f: str(initial.get(f)) for f in AUDITED_FIELDS}
        member = form.save(commit=False)
        member.org_path = member.org.path
        if cleaned.get("id_number"):
            member.set_id_number(cleaned["id_number"])
        if "phone" in data:
            member.set_phone(cleaned.get("phone") or "")
        member.save()
        if member.status != old_status:
            MemberStatusChange.objects.create(
                member=member,
                from_status=old_status,
                to_status=member.status,
                date=dt.date.today(),
                reason=reason,
                actor=actor,
            )
        after = {f: str(getattr(member, f"{f}_id" if f in ("org", "group") else f)) for f in AUDITED_FIELDS}
        changes = {k: [before[k], after[k]] for k in AUDITED_FIELDS if before[k] != after[k]}
        if cleaned.get("id_number"):
            changes["id_number"] = ["***", "***"]
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
        audit_log(
            actor=actor,
            action="members.moved",
            obj=source,
            changes={"to": target, "count": moved, "date": date, "reason": reason},
        )
    return moved
