"""The job queue (huey): embedded SQLite by default, Redis when configured, immediate in tests."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import HUEY as huey  # noqa: N811  (the project-wide instance)
from huey.contrib.djhuey import db_periodic_task

__all__ = ["alerts_daily", "huey", "ledger_anchor_daily", "purge_job_files"]


@db_periodic_task(crontab(hour="3", minute="17"))
def purge_job_files() -> int:
    """Nightly: delete job output files past their retention (they may hold personal data)."""
    from dangjian.core.jobs import job_files_purge

    return job_files_purge()


@db_periodic_task(crontab(hour="2", minute="0"))
def alerts_daily() -> dict[str, int]:
    """Daily at 02:00: raise, update and resolve alerts, and send the day's reminders (core/alerts.py)."""
    from dangjian.core.alerts import alerts_refresh

    result = alerts_refresh()
    return {
        "created": result.created,
        "updated": result.updated,
        "resolved": result.resolved,
        "notified": result.notified,
        "failed": len(result.failed),
    }


@db_periodic_task(crontab(hour="0", minute="30"))
def ledger_anchor_daily() -> str:
    """Daily at 00:30: commit every ledger chain head to the day's anchor (core/ledger.py)."""
    from dangjian.core.ledger import ledger_anchor

    return ledger_anchor().root
