"""Notifications: notify() once per key, the political-birthday greeting, /m/ and the desktop bell."""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.accounts.models import User
from dangjian.core.alerts import alerts_refresh
from dangjian.core.models import Alert, Notification
from dangjian.core.notifications import notify, unread_count
from dangjian.members.choices import MemberStatus

BIRTHDAY = "members.political_birthday"


def test_notify_once_per_key(tree, secretary_a):
    assert notify(secretary_a, title="提醒", kind="test", key="1") is not None
    assert notify(secretary_a, title="提醒", kind="test", key="1") is None
    assert notify(secretary_a, title="另一条") is not None  # no key: always sent
    assert unread_count(secretary_a) == 2


def test_political_birthday_greets_members_with_a_login(tree, member_a, member_factory):
    """member_a (张党员) joined on 2005-07-01 (tests/conftest.py)."""
    member_factory(tree.branch_a, name="没有账号", join_date=dt.date(2005, 7, 1))
    left = User.objects.create_user(username="left", password="x")
    member_factory(
        tree.branch_a, name="已出党", join_date=dt.date(2005, 7, 1), user=left, status=MemberStatus.LEFT
    )
    result = alerts_refresh(on=dt.date(2026, 7, 1), kinds=[BIRTHDAY])
    assert result.notified == 1 and result.created == 0
    note = Notification.objects.get()
    assert note.user == member_a and note.kind == BIRTHDAY
    assert note.title == "今天是您的政治生日"
    assert "21 年前的今天" in note.body and "张党员" in note.body and note.url == "/m/"
    assert not Alert.objects.exists()  # a greeting, not an alert
    # Idempotent: the same day again sends nothing; the next day is not a birthday.
    assert alerts_refresh(on=dt.date(2026, 7, 1), kinds=[BIRTHDAY]).notified == 0
    assert alerts_refresh(on=dt.date(2026, 7, 2), kinds=[BIRTHDAY]).notified == 0
    # Next year: greeted again.
    assert alerts_refresh(on=dt.date(2027, 7, 1), kinds=[BIRTHDAY]).notified == 1


def test_no_greeting_on_the_joining_day_itself(tree, member_factory):
    user = User.objects.create_user(username="xin", password="x")
    member_factory(
        tree.branch_a, user=user, join_date=dt.date(2026, 7, 1), full_date=None, status="probationary"
    )
    assert alerts_refresh(on=dt.date(2026, 7, 1), kinds=[BIRTHDAY]).notified == 0


def test_joined_on_29_february(tree, member_factory):
    user = User.objects.create_user(username="run", password="x")
    member_factory(tree.branch_a, user=user, join_date=dt.date(2004, 2, 29), full_date=dt.date(2005, 3, 1))
    assert alerts_refresh(on=dt.date(2026, 2, 28), kinds=[BIRTHDAY]).notified == 1  # common year
    assert alerts_refresh(on=dt.date(2028, 2, 28), kinds=[BIRTHDAY]).notified == 0  # leap year: the 29th
    assert alerts_refresh(on=dt.date(2028, 2, 29), kinds=[BIRTHDAY]).notified == 1


def test_mobile_home_shows_unread_notifications(web, tree, member_a):
    alerts_refresh(on=dt.date(2026, 7, 1), kinds=[BIRTHDAY])
    client = web(member_a)
    resp = client.get("/m/")
    body = resp.content.decode()
    assert resp.status_code == 200 and "今天是您的政治生日" in body
    note = Notification.objects.get()
    resp = client.post(f"/notifications/{note.pk}/read/", {"next": "/m/"})
    assert resp.status_code == 302 and resp["Location"] == "/m/"
    assert "今天是您的政治生日" not in client.get("/m/").content.decode()


def test_desktop_bell_counts_unread(web, secretary_a):
    client = web(secretary_a)
    assert 'class="dj-bell-count"' not in client.get("/").content.decode()
    notify(secretary_a, title="提醒一")
    notify(secretary_a, title="提醒二")
    body = client.get("/").content.decode()
    assert '<span class="dj-bell-count">2</span>' in body
    page = client.get("/notifications/")
    assert page.status_code == 200 and "提醒一" in page.content.decode()
    client.post("/notifications/read/")
    assert unread_count(secretary_a) == 0


def test_notifications_are_personal(web, secretary_a, secretary_b):
    note = notify(secretary_a, title="私人")
    client = web(secretary_b)
    assert "私人" not in client.get("/notifications/").content.decode()
    assert client.post(f"/notifications/{note.pk}/read/").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/"])
def test_read_redirect_stays_on_the_site(web, secretary_a, next_url):
    note = notify(secretary_a, title="x")
    resp = web(secretary_a).post(f"/notifications/{note.pk}/read/", {"next": next_url})
    assert resp["Location"] == "/notifications/"
