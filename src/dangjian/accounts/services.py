"""Account writes: authentication with lockout, role appointments, API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.audit import audit_log
from dangjian.core.scoping import APPOINTABLE_ROLES, Role, can, clear_role_cache, is_system_admin


class AccountLocked(Exception):
    def __init__(self, until: dt.datetime) -> None:
        self.until = until
        super().__init__(str(until))

    def message(self) -> str:
        minutes = max(1, int((self.until - timezone.now()).total_seconds() // 60) + 1)
        return _("Too many failed logins. This account is locked; try again in %(minutes)d minutes.") % {
            "minutes": minutes
        }


def login_attempt(*, request: Any, username: str, password: str) -> User | None:
    """Check a username and password; lock the account after too many failures (pages and API alike).

    Returns the user, or None for wrong credentials; raises AccountLocked while the account is locked.
    """
    username = (username or "").strip()
    account = User.objects.filter(username=username).first()
    if account is not None and account.is_locked():
        raise AccountLocked(account.locked_until)
    user = authenticate(request, username=username, password=password)
    if user is None:
        if account is not None:
            with transaction.atomic():
                account = User.objects.select_for_update().get(pk=account.pk)
                account.failed_logins += 1
                fields = ["failed_logins"]
                if account.failed_logins >= settings.LOGIN_MAX_FAILURES:
                    account.locked_until = timezone.now() + dt.timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
                    account.failed_logins = 0
                    fields.append("locked_until")
                    audit_log(actor=None, action="account.locked", obj=account)
                account.save(update_fields=fields)
            if account.locked_until and account.is_locked():
                raise AccountLocked(account.locked_until)
        return None
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
        user.save(update_fields=["failed_logins", "locked_until"])
    return user


def token_issue(*, user: User) -> Token:
    """A fresh API token (the old one is replaced): tokens expire after DANGJIAN_API_TOKEN_DAYS."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        audit_log(actor=user, action="token.issued", obj=user)
    return token


def password_change(*, user: User, new_password: str) -> User:
    """Set a new password the user chose (validated by the form against AUTH_PASSWORD_VALIDATORS)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_log(actor=user, action="account.password_changed", obj=user)
    return user


def role_appoint(*, actor: User, user: User, org: Any, role: str) -> RoleAssignment:
    """Appoint ``user`` to ``role`` on ``org``; the actor must manage roles there."""
    if role == Role.ADMIN and not is_system_admin(actor):
        raise PermissionDenied(_("Only a system administrator can appoint administrators."))
    if role not in [*APPOINTABLE_ROLES, Role.MEMBER, Role.RESIDENT, Role.ADMIN]:
        raise ValidationError({"role": _("Unknown role.")})
    if not can(actor, "manage_roles", org):
        raise PermissionDenied(_("You can only appoint people within the organisations you manage."))
    with transaction.atomic():
        if RoleAssignment.objects.filter(user=user, org=org, role=role, active=True).exists():
            raise ValidationError({"role": _("This user already holds this role in this organisation.")})
        ra = RoleAssignment.objects.create(user=user, org=org, role=role, appointed_by=actor)
        audit_log(
            actor=actor,
            action="role.appointed",
            obj=ra,
            org=org,
            changes={"user": user.username, "role": role},
        )
    clear_role_cache(user)
    return ra


def role_revoke(*, actor: User, assignment: RoleAssignment) -> RoleAssignment:
    if not can(actor, "manage_roles", assignment.org):
        raise PermissionDenied(_("You can only change appointments within the organisations you manage."))
    with transaction.atomic():
        assignment.active = False
        assignment.ended_at = timezone.now()
        assignment.save(update_fields=["active", "ended_at"])
        audit_log(actor=actor, action="role.revoked", obj=assignment, org=assignment.org)
    clear_role_cache(assignment.user)
    return assignment
