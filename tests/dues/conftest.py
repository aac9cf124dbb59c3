"""Fixtures shared by the dues tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone


@pytest.fixture
def today_is(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.date], dt.date]:
    """Pin the day the dues code sees as today (``timezone.localdate``) for a test written around fixed
    dates: payments check the back-payment limit and the payment date against the day they are recorded
    (RULES.md §2, 补交不超过6个月)."""

    def pin(day: dt.date) -> dt.date:
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)
        return day

    return pin
