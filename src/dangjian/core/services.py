"""Writes of the core plumbing: local rule overrides and dismissing alerts (one transaction, one audit row)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.audit import audit_log
from dangjian.core.models import Alert, RuleOverride
from dangjian.core.scoping import Action, can


def _check_manager(actor: Any, org: Any) -> None:
    if not can(actor, Action.MANAGE_RULES, org):
        raise PermissionDenied(
            _("Only the organisation department of this organisation can set its local rules.")
        )


def _check_common(*, key: str, effective_from: dt.date | None, reason: str, today: dt.date) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        rulebook.versions(key)
    except rulebook.RuleNotFound:
        return {"key": _("There is no rule %(key)s.") % {"key": key}}
    if not (reason or "").strip():
        errors["reason"] = _("Give the reason for the local rule (it is shown with the rule).")
    if effective_from is None:
        errors["effective_from"] = _("Enter the date from which it applies.")
    elif effective_from < today:
        # Past decisions keep the rule they were made under (their recorded version): no back-dating.
        errors["effective_from"] = _("A local rule applies from today or a later date, never retroactively.")
    else:
        try:
            rulebook.national_rule(key, effective_from)
        except rulebook.RuleNotFound:
            errors["effective_from"] = _("The national rule is not in force yet on that date.")
    return errors


def _own_row(org: Any, key: str, on: dt.date) -> RuleOverride | None:
    """The organisation's own latest override row of ``key`` up to ``on`` (set or ended)."""
    return (
        RuleOverride.objects.filter(org=org, key=key, effective_from__lte=on)
        .order_by("-effective_from", "-id")
        .first()
    )


def _exists_on(org: Any, key: str, on: dt.date) -> bool:
    return RuleOverride.objects.filter(org=org, key=key, effective_from=on).exists()


def rule_override_set(
    *,
    actor: Any,
    org: Any,
    key: str,
    params: dict[str, Any],
    effective_from: dt.date,
    reason: str,
    today: dt.date | None = None,
) -> RuleOverride:
    """Set the local values of ``key`` for ``org``'s subtree from ``effective_from``.

    ``params`` is the complete set of the organisation's local values from that date: a parameter left
    out takes the value from above again (the national rule, or a higher organisation's override).
    Only parameters the rule file marks ``overridable`` may be set, each within its bounds.
    """
    _check_manager(actor, org)
    today = today or timezone.localdate()
    errors = _check_common(key=key, effective_from=effective_from, reason=reason, today=today)
    cleaned: dict[str, Any] = {}
    if "key" not in errors:
        allowed = rulebook.overridable(key)
        if not allowed:
            errors["key"] = _("This rule is national: no organisation may change it.")
        elif not params:
            errors["params"] = _("Enter at least one local value, or end the local rule instead.")
        for name, value in (params or {}).items():
            spec = allowed.get(name)
            if spec is None:
                if allowed:
                    errors[name] = _("%(param)s is not a value an organisation may change in this rule.") % {
                        "param": name
                    }
                continue
            try:
                cleaned[name] = spec.clean(value)
            except ValidationError as error:
                errors[name] = error.messages[0]
    if not errors and _exists_on(org, key, effective_from):
        errors["effective_from"] = _(
            "This organisation already has a local version of this rule from that date."
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        previous = _own_row(org, key, effective_from)
        row = RuleOverride.objects.create(
            key=key,
            org=org,
            kind=RuleOverride.Kind.SET,
            effective_from=effective_from,
            params=cleaned,
            reason=reason.strip(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_log(
            actor=actor,
            action="rule.override_set",
            obj=row,
            org=org,
            changes={
                "key": key,
                "effective_from": effective_from.isoformat(),
                "params": cleaned,
                "previous": previous.params if previous is not None and not previous.is_end else {},
                "reason": row.reason,
            },
        )
    return row


def rule_override_end(
    *,
    actor: Any,
    org: Any,
    key: str,
    effective_from: dt.date,
    reason: str,
    today: dt.date | None = None,
) -> RuleOverride:
    """End ``org``'s local version of ``key`` from a date: a new row, never a deletion, so that the
    history (and every decision recorded under the local version) stays readable. From that date the
    values from above apply again: the national rule, or a higher organisation's override."""
    _check_manager(actor, org)
    today = today or timezone.localdate()
    errors = _check_common(key=key, effective_from=effective_from, reason=reason, today=today)
    if not errors:
        current = _own_row(org, key, effective_from)
        if current is None or current.is_end:
            errors["key"] = _("This organisation has no local version of this rule to end on that date.")
        elif _exists_on(org, key, effective_from):
            errors["effective_from"] = _(
                "This organisation already has a local version of this rule from that date."
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = RuleOverride.objects.create(
            key=key,
            org=org,
            kind=RuleOverride.Kind.END,
            effective_from=effective_from,
            params={},
            reason=reason.strip(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_log(
            actor=actor,
            action="rule.override_ended",
            obj=row,
            org=org,
            changes={
                "key": key,
                "effective_from": effective_from.isoformat(),
                "previous": current.params,
                "reason": row.reason,
            },
        )
    return row


def alert_dismiss(*, actor: Any, alert: Alert, reason: str = "") -> Alert:
    """Dismiss an open alert: it stays dismissed while its condition lasts (the daily refresh does not
    raise it again), and the dismissal is audited. Those who may change the organisation may dismiss."""
    if not can(actor, Action.CHANGE, alert.org):
        raise PermissionDenied(_("You may see this alert but not dismiss it."))
    reason = (reason or "").strip()
    if len(reason) > 200:  # refused, never cut short
        raise ValidationError({"reason": _("The reason can be at most 200 characters.")})
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.status != Alert.Status.OPEN:
            raise ValidationError(_("Only an open alert can be dismissed."))
        locked.status = Alert.Status.DISMISSED
        locked.dismissed_at = timezone.now()
        locked.dismissed_by = actor
        locked.dismiss_reason = reason
        locked.save(update_fields=["status", "dismissed_at", "dismissed_by", "dismiss_reason", "updated_at"])
        audit_log(
            actor=actor,
            action="alert.dismissed",
            obj=locked,
            org=locked.org,
            changes={"kind": locked.kind, "message": locked.message, "reason": locked.dismiss_reason},
        )
    return locked
