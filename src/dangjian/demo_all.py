"""The whole demo, in order: the city 示范市 (orgs.demo), then each domain app's demo on top of it, then
one alert refresh so that /alerts/ and the worklists have something to show.

It lives at the project level, beside settings.py and urls.py (which also know every app), because
``core`` imports no app (the design notes): ``dangjian demo`` (a core command) calls only this module.
Every step is idempotent, so a second ``dangjian demo`` changes nothing: the city loads once, each app's
loader does nothing when its rows exist, and a second alert refresh on the same day changes no alert.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.utils import timezone

DEMO_ACTOR = "admin"  # the demo's system administrator records the demo workflows (audited as such)


@dataclass
class DemoAllResult:
    city: Any  # orgs.demo.DemoResult
    # Rows each app's loader created this time (0 when they were already there), by app label.
    apps: dict[str, int] = field(default_factory=dict)
    alerts_created: int = 0


def _app_loader(app: str, module: str, function: str) -> Any | None:
    """``module.function`` of an installed app, or None when the app or its demo is not there (yet)."""
    if not apps.is_installed(app):
        return None
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # a real import error inside the demo module, not a missing demo
        return None
    return getattr(loaded, function, None)


def load_all(*, password: str | None = None, today: dt.date | None = None) -> DemoAllResult:
    """Load the city, then each app's demo, then refresh the alerts (all idempotent)."""
    from dangjian.accounts.models import User
    from dangjian.core.alerts import alerts_refresh
    from dangjian.orgs.demo import load_demo

    today = today or timezone.localdate()
    result = DemoAllResult(city=load_demo(password=password, today=today))
    actor = User.objects.get(username=DEMO_ACTOR)

    # Developing members (发展党员): cases at every one of the 25 steps, some overdue.
    recruitment = _app_loader("dangjian.recruitment", "dangjian.recruitment.demo", "load_recruitment_demo")
    if recruitment is not None:
        result.apps["recruitment"] = recruitment(actor=actor, today=today)

    # Relation transfers (组织关系转接): transfers in every worklist. Called the same way once
    # transfers/demo.py provides ``load_transfers_demo(*, actor, today)``.
    transfers = _app_loader("dangjian.transfers", "dangjian.transfers.demo", "load_transfers_demo")
    if transfers is not None:
        result.apps["transfers"] = transfers(actor=actor, today=today)

    # Party dues (党费): a year of declarations, bills, payments, arrears, a waiver and remittances.
    dues = _app_loader("dangjian.dues", "dangjian.dues.demo", "load_dues_demo")
    if dues is not None:
        result.apps["dues"] = dues(today)

    # Organization life (三会一课): a year of meetings for every branch with attendance, minutes, a
    # transcript, last year's life meeting and appraisal, and the recruitment votes linked to their
    # general meetings (so after the recruitment demo). It returns counts by table; the rows are summed
    # here ("minutes" counts meetings with minutes and "votes_linked" votes updated: not new rows).
    meetings = _app_loader("dangjian.meetings", "dangjian.meetings.demo", "load_meetings_demo")
    if meetings is not None:
        made = meetings(actor=actor, today=today)
        result.apps["meetings"] = sum(n for key, n in made.items() if key not in ("minutes", "votes_linked"))

    # Future apps' demos go here, each guarded by its app being installed.

    # The day's ledger anchor, as the 00:30 job would write it (idempotent per day).
    from dangjian.core.ledger import ledger_anchor

    ledger_anchor(today)

    result.alerts_created = alerts_refresh(on=today).created
    return result
