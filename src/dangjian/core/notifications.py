"""Notifications: short messages to one user (a greeting, a reminder), read in the top bar and on /m/.

``notify(user, title=..., body=..., url=...)`` sends one; with a ``key`` it is sent at most once per
user and key, so a reminder produced every day (core/alerts.py ``NotificationSpec``) arrives once.
Notifications are personal: only their addressee sees them (``Notification.scope_owner_field``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from dangjian.core.models import Notification

if TYPE_CHECKING:
    from dangjian.core.alerts import NotificationSpec


def _user_id(user: Any) -> int:
    return user.pk if isinstance(user, models.Model) else int(user)


def notify(
    user: Any, *, title: str, body: str = "", url: str = "", kind: str = "", key: str = ""
) -> Notification | None:
    """Send a notification; None when one with the same ``key`` was already sent to this user."""
    dedupe_key = f"{kind}:{key}"[:200] if key else ""
    if dedupe_key and Notification.objects.filter(user_id=_user_id(user), dedupe_key=dedupe_key).exists():
        return None
    try:
        with transaction.atomic():
            return Notification.objects.create(
                user_id=_user_id(user),
                kind=kind,
                title=title[:200],
                body=body,
                url=url[:300],
                dedupe_key=dedupe_key,
            )
    except IntegrityError:  # sent concurrently by another process
        return None


def notify_many(kind: str, specs: Iterable[NotificationSpec]) -> int:
    """Send the notifications not sent yet (one query to find them, one to write); the number sent."""
    rows = {}
    for spec in specs:
        rows[(_user_id(spec.user), f"{kind}:{spec.key}"[:200])] = spec
    if not rows:
        return 0
    sent = set(
        Notification.objects.filter(
            dedupe_key__in={key for _user, key in rows}, user_id__in={user for user, _key in rows}
        ).values_list("user_id", "dedupe_key")
    )
    new = [
        Notification(
            user_id=user,
            kind=kind,
            title=spec.title[:200],
            body=spec.body,
            url=spec.url[:300],
            dedupe_key=key,
        )
        for (user, key), spec in rows.items()
        if (user, key) not in sent
    ]
    Notification.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return len(new)


def unread(user: Any) -> models.QuerySet[Notification]:
    """The user's unread notifications, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(user=user, read_at__isnull=True).order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    return unread(user).count()


def notification_read(*, user: Any, notification: Notification | None = None) -> int:
    """Mark one of the user's notifications (or all of them) as read; the number marked."""
    qs = unread(user)
    if notification is not None:
        qs = qs.filter(pk=notification.pk)
    return qs.update(read_at=timezone.now())
