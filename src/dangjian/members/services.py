"""Every write to the member register: one transaction, an audit row, and a scope re-check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.accounts import services as account_services
from dangjian.core.audit import audit_log
from dangjian.core.scoping import Role, can, ensure_in_scope
from dangjian.members.choices import CURRENT_STATUSES, FLOWING_IS_NOT_A_STATUS, MemberStatus
from dangjian.members.forms import MemberForm
from dangjian.members.models import Member, MemberStatusChange
from dangjian.members.signals import member_status_changed

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
    if data.get("status") == MemberStatus.FLOWING:
        raise ValidationError({"status": str(FLOWING_IS_NOT_A_STATUS)})
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


def member_change_status(
    *, actor: Any, member: Member, status: str, date: dt.date, reason: str, rule_checked: bool = False
) -> Member:
    """Record a status change (suspended, left, deceased, ...) with its date and reason.

    Suspension has a rule of its own (six months without contact, 党员教育管理工作条例): it goes through
    ``member_suspend``, which checks it and passes ``rule_checked``; the free-form change refuses it.
    Going away as a flowing member is not a status change: a flow certificate records it
    (transfers.services.flow_certificate_issue), and the member stays full or probationary.
    """
    if status == MemberStatus.FLOWING:
        raise ValidationError({"status": str(FLOWING_IS_NOT_A_STATUS)})
    if status not in MemberStatus.values:
        raise ValidationError({"status": _("Unknown status.")})
    if status == MemberStatus.SUSPENDED and not rule_checked:
        raise ValidationError(
            {
                "status": _(
                    "Suspend a member with the suspension action, which checks the six months without contact."
                )
            }
        )
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
        member_status_changed.send(
            sender=Member, member=member, from_status=old, to_status=status, date=date, actor=actor
        )
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
            _("Only current members (probationary or full) can have a login; this member is “%(status)s”.")
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


# --- party discipline (党纪处分) -------------------------------------------------------------------


def discipline_record(
    *,
    actor: Any,
    member: Member,
    kind: str,
    decided_on: dt.date,
    decided_by: Any,
    reason: str,
    years: int | None = None,
    document_no: str = "",
) -> Any:
    """Record a disciplinary measure (党章 第三十九条). 留党察看 takes ``years`` (1 or 2); 开除党籍 also
    records the member as having left the Party. Records are never deleted: a restoration is a new date."""
    from dangjian.members.models import DisciplineKind, MemberDiscipline

    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if kind not in DisciplineKind.values:
        raise ValidationError({"kind": _("Unknown disciplinary measure.")})
    errors: dict[str, str] = {}
    if not (reason or "").strip():
        errors["reason"] = _("Give the reason for the change.")
    if decided_by is None or not member.org.path.startswith(decided_by.path):
        errors["decided_by"] = _("The decision is taken by the member's branch or a committee above it.")
    if decided_on > timezone.localdate():
        errors["decided_on"] = _("The date cannot be in the future.")
    if decided_on < member.join_date:
        errors["decided_on"] = _("The date cannot be before the member joined the Party.")
    until = None
    if kind == DisciplineKind.PROBATION_WITHIN_PARTY:
        if years not in (1, 2):
            errors["years"] = _("Probation within the Party lasts one or two years.")
        else:
            # The same day ``years`` later; a 29 February decision ends on 28 February.
            try:
                until = decided_on.replace(year=decided_on.year + years)
            except ValueError:
                until = decided_on.replace(year=decided_on.year + years, day=28)
    if member.status not in CURRENT_STATUSES:
        errors["kind"] = _("Only a current member can be disciplined; this member is “%(status)s”.") % {
            "status": member.get_status_display()
        }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        record = MemberDiscipline.objects.create(
            member=member,
            kind=kind,
            decided_on=decided_on,
            until=until,
            decided_by=decided_by,
            document_no=(document_no or "").strip()[:100],
            reason=reason.strip(),
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_log(
            actor=actor,
            action="member.disciplined",
            obj=member,
            changes={"kind": kind, "decided_on": decided_on, "until": until, "decided_by": decided_by},
        )
        if kind == DisciplineKind.EXPULSION:
            member_change_status(
                actor=actor,
                member=member,
                status=MemberStatus.LEFT,
                date=decided_on,
                reason=_("Expelled from the Party (%(reason)s)") % {"reason": reason.strip()},
            )
    return record


def discipline_restore_rights(*, actor: Any, discipline: Any, date: dt.date, reason: str = "") -> Any:
    """Restore the rights of a member under 留党察看 (党章 第三十九条: after the probation, on a decision)."""
    from dangjian.members.models import DisciplineKind

    member = discipline.member
    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if discipline.kind != DisciplineKind.PROBATION_WITHIN_PARTY:
        raise ValidationError({"kind": _("Only probation within the Party has rights to restore.")})
    if discipline.rights_restored_on is not None:
        raise ValidationError({"date": _("The rights were already restored.")})
    if date < discipline.decided_on or date > timezone.localdate():
        raise ValidationError({"date": _("The date must be between the decision and today.")})
    with transaction.atomic():
        discipline.rights_restored_on = date
        discipline.restore_reason = (reason or "").strip()
        discipline.save(update_fields=["rights_restored_on", "restore_reason"])
        audit_log(
            actor=actor,
            action="member.rights_restored",
            obj=member,
            changes={"discipline": discipline.pk, "date": date},
        )
    return discipline


# --- relation transfers and status changes (issue 3, 党员教育管理工作条例) -------------------------------------


def member_relation_move(*, actor: Any, member: Member, to_org: Any, date: dt.date, reason: str) -> Member:
    """Move the member's organisation relation to ``to_org`` (an accepted transfer, transfers.services).

    The caller (the receiving side) checked its own right to accept; the member's history stays as it
    is. The group is cleared (groups belong to the old branch), the member's own login follows, an audit
    row is written, and ``transfers.signals.member_relation_moved`` lets other records (dues, points)
    follow without losing their history.
    """
    from dangjian.transfers.signals import member_relation_moved

    from_org = member.org
    with transaction.atomic():
        member.org = to_org
        member.org_path = to_org.path
        member.group = None
        member.save(update_fields=["org", "org_path", "group", "updated_at"])
        if member.user_id:
            _member_role_follow(user=member.user, org=to_org)
        audit_log(
            actor=actor,
            action="member.relation_moved",
            obj=member,
            org=to_org,
            changes={"org": [from_org.pk, to_org.pk], "date": date, "reason": reason},
        )
        member_relation_moved.send(sender=Member, member=member, from_org=from_org, to_org=to_org, date=date)
    return member


def _transfer_rule(date: dt.date, org: Any) -> Any:
    from dangjian.transfers import rules as transfer_rules

    return transfer_rules, transfer_rules.rule_for(date, org)


def member_suspend(
    *,
    actor: Any,
    member: Member,
    date: dt.date,
    last_contact: dt.date | None = None,
    reason: str = "",
) -> Member:
    """停止党籍 of a member who lost contact 6 months or more ago (条例 第三十四条; refused earlier).

    ``last_contact`` defaults to the register's ``last_contact_on``; the date given is recorded there,
    so the register, the alert and the decision agree on when the member was last reached.
    """
    if not can(actor, "change", member.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    last_contact = last_contact or member.last_contact_on
    if last_contact is None:
        raise ValidationError({"last_contact_on": _("Give the date the member was last reached.")})
    if member.status not in CURRENT_STATUSES:
        raise ValidationError(
            {
                "status": _("Only a current member can be suspended; this member is “%(status)s”.")
                % {"status": member.get_status_display()}
            }
        )
    transfer_rules, r = _transfer_rule(date, member.org)
    violation = transfer_rules.check_suspension(last_contact=last_contact, on=date, r=r)
    if violation:
        raise transfer_rules.RuleViolationError(violation)
    text = reason.strip() or _("Lost contact since %(date)s") % {"date": last_contact}
    with transaction.atomic():
        if member.last_contact_on != last_contact:
            member.last_contact_on = last_contact
            member.save(update_fields=["last_contact_on", "updated_at"])
        return member_change_status(
            actor=actor,
            member=member,
            status=MemberStatus.SUSPENDED,
            date=date,
            reason=f"{text} [{r.ref}]",
            rule_checked=True,
        )


def _status_before(member: Member, exclude: tuple[str, ...]) -> str:
    """The last status of the member's history that is not one of ``exclude`` (what a restore returns to)."""
    for change in member.status_changes.order_by("-date", "-id"):
        if change.to_status not in exclude:
            return change.to_status
    return MemberStatus.FULL if member.full_date else MemberStatus.PROBATIONARY


def member_restore(*, actor: Any, member: Member, date: dt.date, reason: str) -> Member:
    """Undo a suspension, a removal or a historical record by a new event (history is never deleted)."""
    if member.status in CURRENT_STATUSES:
        raise ValidationError({"status": _("The member is already a current member.")})
    if member.status == MemberStatus.DECEASED and not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the change.")})
    back = _status_before(
        member,
        # "flowing" in an old history entry is not a standing to return to (members.choices).
        (
            MemberStatus.SUSPENDED,
            MemberStatus.LEFT,
            MemberStatus.DECEASED,
            MemberStatus.HISTORICAL,
            MemberStatus.FLOWING,
        ),
    )
    return member_change_status(actor=actor, member=member, status=back, date=date, reason=reason)


def member_remove(*, actor: Any, member: Member, date: dt.date, reason: str) -> Member:
    """Removal (除名) as having left. A suspended member can be removed 2 years after the suspension."""
    if member.status in (MemberStatus.DECEASED, MemberStatus.LEFT):
        raise ValidationError(
            {
                "status": _("This member is “%(status)s” and cannot be removed.")
                % {"status": member.get_status_display()}
            }
        )
    if member.status == MemberStatus.SUSPENDED:
        change = (
            member.status_changes.filter(to_status=MemberStatus.SUSPENDED).order_by("-date", "-id").first()
        )
        if change is not None:
            transfer_rules, r = _transfer_rule(date, member.org)
            violation = transfer_rules.check_removal_after_suspension(suspended_on=change.date, on=date, r=r)
            if violation:
                raise transfer_rules.RuleViolationError(violation)
    return member_change_status(
        actor=actor, member=member, status=MemberStatus.LEFT, date=date, reason=reason
    )


def member_record_death(*, actor: Any, member: Member, date: dt.date, reason: str = "") -> Member:
    """Record a member's death (逝世)."""
    return member_change_status(
        actor=actor, member=member, status=MemberStatus.DECEASED, date=date, reason=reason or _("Deceased")
    )


def member_make_historical(*, actor: Any, member: Member, date: dt.date, reason: str) -> Member:
    """Keep a member as a historical record (e.g. relation transferred out of the platform)."""
    return member_change_status(
        actor=actor, member=member, status=MemberStatus.HISTORICAL, date=date, reason=reason
    )


def member_status_event(
    *,
    actor: Any,
    member: Member,
    event: str,
    date: dt.date,
    reason: str = "",
    last_contact_on: dt.date | None = None,
) -> Member:
    """One status event by name (the detail page's 状态变更 menu and ``POST .../status-events/``).

    Each event is its own service with its own rules (``StatusEvent``); a rule's refusal is raised as
    ``transfers.rules.RuleViolationError`` naming the article and the date from which it is allowed.
    """
    from dangjian.members.choices import StatusEvent

    if event not in StatusEvent.values:
        raise ValidationError({"event": _("Unknown status event.")})
    reason = (reason or "").strip()
    if event == StatusEvent.SUSPEND:
        return member_suspend(
            actor=actor, member=member, date=date, last_contact=last_contact_on, reason=reason
        )
    if event == StatusEvent.DEATH:
        return member_record_death(actor=actor, member=member, date=date, reason=reason)
    func = {
        StatusEvent.RESTORE: member_restore,
        StatusEvent.REMOVE: member_remove,
        StatusEvent.HISTORICAL: member_make_historical,
    }[StatusEvent(event)]
    return func(actor=actor, member=member, date=date, reason=reason)
