"""Daily jobs of transfers (found by huey's autodiscovery of ``tasks`` modules)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="1", minute="30"))
def transfers_expire_daily() -> int:
    """Daily at 01:30, before the 02:00 alert refresh: open letters past their validity become expired.

    Idempotent: only open letters are looked at, so a second run on the same day changes nothing.
    """
    from dangjian.transfers.services import transfers_expire

    return transfers_expire()
