"""Reminders about members, produced daily by core/alerts.py.

The political birthday (政治生日) is the anniversary of the day a member joined the Party. It is a
greeting to the member, not a task for anyone: a notification to members who have a login, never an
alert on the branch's list (issue 3, "Alerts and reminders").
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from dangjian.core.alerts import NotificationSpec, alert_producer
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member


def _anniversary_q(on: dt.date) -> Q:
    q = Q(join_date__month=on.month, join_date__day=on.day)
    if on.month == 2 and on.day == 28 and not calendar.isleap(on.year):
        # Joined on 29 February: celebrated on 28 February in common years (as on the /m/ page).
        q |= Q(join_date__month=2, join_date__day=29)
    return q


def _home_url() -> str:
    try:
        return reverse("mobile:home")
    except NoReverseMatch:
        return ""


@alert_producer(
    "members.political_birthday", label=gettext_lazy("Political birthday"), notifications_only=True
)
def political_birthdays(on: dt.date) -> Iterator[NotificationSpec]:
    """A greeting on the anniversary of joining, to current members with a login."""
    url = _home_url()
    members = (
        Member.objects.filter(_anniversary_q(on), user__isnull=False, status__in=CURRENT_STATUSES)
        .filter(join_date__lt=on)
        .only("id", "name", "join_date", "user_id")
    )
    for member in members.iterator(chunk_size=2000):
        years = on.year - member.join_date.year
        yield NotificationSpec(
            key=f"{member.pk}:{on.year}",
            user=member.user_id,
            title=_("Today is your political birthday"),
            body=ngettext(
                "%(years)d year ago today, on %(date)s, you joined the Communist Party of China. "
                "Happy political birthday, %(name)s! Stay true to the original aspiration and keep the "
                "mission in mind.",
                "%(years)d years ago today, on %(date)s, you joined the Communist Party of China. "
                "Happy political birthday, %(name)s! Stay true to the original aspiration and keep the "
                "mission in mind.",
                years,
            )
            % {"years": years, "date": member.join_date.strftime("%Y-%m-%d"), "name": member.name},
            url=url,
        )
