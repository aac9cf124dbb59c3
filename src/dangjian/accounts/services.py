"""Account writes: authentication with lockout, role appointments, API tokens, opening and closing logins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxLengthValidator
from django.db import IntegrityError, transaction
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
    if not user.is_active:
        raise ValidationError({"username": _("This login is closed; a closed login cannot be appointed.")})
    if getattr(org, "status", "active") != "active":  # orgs.models.OrgStatus.ACTIVE
        raise ValidationError({"org": _("This organisation is no longer active.")})
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
    if assignment.user_id == actor.pk:  # another officer revokes it; nobody locks themselves out
        raise PermissionDenied(_("You cannot revoke your own role."))
    with transaction.atomic():
        assignment.active = False
        assignment.ended_at = timezone.now()
        assignment.save(update_fields=["active", "ended_at"])
        audit_log(actor=actor, action="role.revoked", obj=assignment, org=assignment.org)
    clear_role_cache(assignment.user)
    return assignment


# --- logins opened for people of an organisation (members, residents) -----------------------------

# Roles that see only their holder's own rows (core.scoping: SELF). Whoever may change an organisation's
# records may open such a login for one of its people; appointing officers stays role_appoint's.
SELF_ROLES = (Role.MEMBER, Role.RESIDENT)


def _taken(username: str) -> str:
    return _("The username “%(username)s” is already taken; choose another.") % {"username": username}


def _check_new_login(*, username: str, password: str, full_name: str, user: User | None) -> str:
    """The cleaned username, or a ValidationError keyed by field with every message (Django's too).

    Usernames are compared without case: 张三 must not be able to open ``Zhangsan`` beside ``zhangsan``.
    ``user`` is the login being reopened, whose own name does not count as taken.
    """
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = [_("Enter a username.")]
    else:
        try:
            User.username_validator(username)
            MaxLengthValidator(150)(username)
        except ValidationError as error:
            errors["username"] = error.messages
        else:
            others = User.objects.filter(username__iexact=username)
            if user is not None:
                others = others.exclude(pk=user.pk)
            if others.exists():
                errors["username"] = [_taken(username)]
    if not password:
        errors["password"] = [_("Enter a password.")]
    else:
        try:  # AUTH_PASSWORD_VALIDATORS, our complexity rule included, with their own messages
            password_validation.validate_password(password, user=User(username=username, full_name=full_name))
        except ValidationError as error:
            errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    return username


def login_change_refusal(*, actor: User, user: User) -> str | None:
    """Why ``actor`` may not close or reset the login ``user`` (None when they may).

    Opening a member's login is a branch's business, but the same login may also carry an officer's
    role: a branch secretary resetting the password of a login that is also an org manager's would take
    that office over. So a login holding any role beyond the self-only ones can be changed here only by
    someone who appoints each of those roles; and nobody closes or resets their own login this way.
    """
    if user.pk == actor.pk:
        return _("You cannot close or reset your own login here; use “Change password”.")
    if user.is_superuser and not getattr(actor, "is_superuser", False):
        return _("This login belongs to a system administrator.")
    for ra in user.role_assignments.filter(active=True).exclude(role__in=SELF_ROLES).select_related("org"):
        allowed = is_system_admin(actor) if ra.role == Role.ADMIN else can(actor, "manage_roles", ra.org)
        if not allowed:
            return _(
                "This login also holds the role %(role)s of %(org)s; only someone who appoints that role "
                "can change it."
            ) % {"role": ra.get_role_display(), "org": ra.org.name}
    return None


def _ensure_may_change_login(*, actor: User, user: User) -> None:
    refusal = login_change_refusal(actor=actor, user=user)
    if refusal:
        raise PermissionDenied(refusal)


def account_open(
    *,
    actor: User,
    org: Any,
    role: str,
    username: str,
    password: str,
    full_name: str,
    user: User | None = None,
) -> User:
    """Open a login holding a self-only ``role`` (member, resident) on ``org``.

    The password passes AUTH_PASSWORD_VALIDATORS. ``user`` is the person's closed login, reopened
    rather than replaced so that its history (audit rows, former roles) stays on one row. The caller
    links the login to its record (members.services.member_account_open) in the same transaction.
    """
    if role not in SELF_ROLES:
        raise ValidationError({"role": _("Officers are appointed, not given a login here.")})
    if not can(actor, "change", org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if user is not None:
        if user.is_active:
            raise ValidationError(
                _("This person already has a login (%(username)s).") % {"username": user.username}
            )
        _ensure_may_change_login(actor=actor, user=user)
    username = _check_new_login(username=username, password=password, full_name=full_name, user=user)
    with transaction.atomic():
        if user is None:
            try:
                with transaction.atomic():  # a concurrent request may take the name after the check
                    user = User.objects.create_user(username=username, password=password, full_name=full_name)
            except IntegrityError:
                raise ValidationError({"username": [_taken(username)]}) from None
            action = "account.opened"
        else:
            user.username, user.full_name, user.is_active = username, full_name, True
            user.failed_logins, user.locked_until = 0, None
            user.set_password(password)
            user.save(
                update_fields=[
                    "username",
                    "full_name",
                    "is_active",
                    "failed_logins",
                    "locked_until",
                    "password",
                ]
            )
            action = "account.reopened"
        if not RoleAssignment.objects.filter(user=user, org=org, role=role, active=True).exists():
            RoleAssignment.objects.create(user=user, org=org, role=role, appointed_by=actor)
        # Never the password, not even hashed: the audit log is read by auditors.
        audit_log(actor=actor, action=action, obj=user, org=org, changes={"username": username, "role": role})
    clear_role_cache(user)
    return user


def account_close(
    *, actor: User, user: User, org: Any, role: str = Role.MEMBER, check_roles: bool = True
) -> User:
    """Close a login: it can no longer log in, its sessions and API token stop working, and its
    ``role`` assignments end (role_revoke's way: kept, marked inactive with the end time).

    Nothing is deleted or unlinked, so the audit log and the record's history still name the person.
    ``check_roles=False`` is for a closing that follows from a decision already taken and audited by
    the caller (a member who left the Party or died: members.services.member_change_status).
    """
    if not can(actor, "change", org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if check_roles:
        _ensure_may_change_login(actor=actor, user=user)
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])  # sessions end too: the auth backend refuses inactive users
        Token.objects.filter(user=user).delete()
        ended = list(RoleAssignment.objects.filter(user=user, role=role, active=True))
        now = timezone.now()
        for ra in ended:
            ra.active, ra.ended_at = False, now
            ra.save(update_fields=["active", "ended_at"])
        audit_log(
            actor=actor,
            action="account.closed",
            obj=user,
            org=org,
            changes={"username": user.username, "roles_ended": [ra.pk for ra in ended]},
        )
    clear_role_cache(user)
    return user


def account_password_reset(*, actor: User, user: User, org: Any, password: str) -> User:
    """Set a new password on someone else's login (a member who forgot theirs).

    The password passes AUTH_PASSWORD_VALIDATORS; a lockout is lifted, and the old API token and
    sessions stop working (Django ties sessions to the password hash).
    """
    if not can(actor, "change", org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    _ensure_may_change_login(actor=actor, user=user)
    if not user.is_active:
        raise ValidationError(_("This login is closed; open it again to set a password."))
    if not password:
        raise ValidationError({"password": [_("Enter a password.")]})
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    with transaction.atomic():
        user.set_password(password)
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["password", "failed_logins", "locked_until"])
        Token.objects.filter(user=user).delete()
        audit_log(
            actor=actor,
            action="account.password_reset",
            obj=user,
            org=org,
            changes={"username": user.username},
        )
    return user
