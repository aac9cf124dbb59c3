"""Periodic jobs of dues (found by huey's autodiscovery of ``tasks`` modules)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="0", minute="40"))
def dues_bills_daily() -> dict[str, int]:
    """The month's bills, daily at 00:40 (before the 02:00 alert refresh).

    On the 1st it bills every member who owes dues for the new month; on the other days it only bills
    members admitted or declared since (``bills_generate`` skips whoever already has the month's bill),
    and a day the server was down is caught up the next day. Idempotent: a second run changes nothing.
    """
    from django.utils import timezone

    from dangjian.dues.services import bills_generate

    result = bills_generate(month=timezone.localdate())
    return {
        "created": result.created,
        "skipped": result.skipped,
        "needs_declaration": len(result.needs_declaration),
    }
