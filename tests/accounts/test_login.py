"""Login hardening: lockout on the login page and the token endpoint alike, password rules, idle
sessions and expiring tokens (issue 2, "Accounts and scope")."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dangjian.accounts.middleware import _KEY as LAST_SEEN
from dangjian.accounts.models import User
from dangjian.core.models import AuditEntry
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


def token_login(api, password: str, username: str = "shuji1"):
    return api().post(TOKEN_URL, {"username": username, "password": password}, format="json")


def page_login(client, password: str, username: str = "shuji1"):
    return client.post(reverse("web:login"), {"username": username, "password": password})


def fail(channel: str, api, client):
    resp = token_login(api, "wrong") if channel == "api" else page_login(client, "wrong")
    return resp


@pytest.mark.parametrize("channel", ["api", "page"])
def test_lockout_after_max_failures(channel, secretary_a, api, client):
    for _ in range(4):
        resp = fail(channel, api, client)
        assert resp.status_code in (400, 401)
    secretary_a.refresh_from_db()
    assert secretary_a.failed_logins == 4 and not secretary_a.is_locked()
    fifth = fail(channel, api, client)
    secretary_a.refresh_from_db()
    assert secretary_a.is_locked()
    assert dt.timedelta(minutes=14) < secretary_a.locked_until - timezone.now() <= dt.timedelta(minutes=15)
    if channel == "api":
        assert fifth.status_code == 423 and fifth.json()["error"]["code"] == "locked"
    # while locked, even the right password is refused on both channels
    right_api = token_login(api, PASSWORD)
    assert right_api.status_code == 423
    right_page = page_login(client, PASSWORD)
    assert right_page.status_code == 400 and "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="account.locked", object_id=str(secretary_a.pk)).count() == 1


def test_lock_message_says_how_long(secretary_a, api):
    for _ in range(5):
        resp = token_login(api, "wrong")
    resp = token_login(api, PASSWORD, username="shuji1")
    resp_en = api().post(
        TOKEN_URL, {"username": "shuji1", "password": PASSWORD}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "15 minutes" in resp_en.json()["error"]["message"]
    assert resp.status_code == 423


def test_page_and_api_failures_count_together(secretary_a, api, client):
    for _ in range(2):
        page_login(client, "wrong")
    for _ in range(2):
        token_login(api, "wrong")
    secretary_a.refresh_from_db()
    assert secretary_a.failed_logins == 4
    assert token_login(api, "wrong").status_code == 423


def test_numbers_are_configurable(secretary_a, api, client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    settings.LOGIN_LOCK_MINUTES = 3
    page_login(client, "wrong")
    secretary_a.refresh_from_db()
    assert not secretary_a.is_locked()
    page_login(client, "wrong")
    secretary_a.refresh_from_db()
    assert dt.timedelta(minutes=2) < secretary_a.locked_until - timezone.now() <= dt.timedelta(minutes=3)
    assert token_login(api, PASSWORD).status_code == 423


def test_unlocks_after_the_lock_time(secretary_a, api, client, monkeypatch):
    for _ in range(5):
        token_login(api, "wrong")
    assert token_login(api, PASSWORD).status_code == 423
    later = timezone.now() + dt.timedelta(minutes=15, seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert token_login(api, PASSWORD).status_code == 200
    secretary_a.refresh_from_db()
    assert (secretary_a.failed_logins, secretary_a.locked_until) == (0, None)


def test_unlocks_on_the_page_when_the_lock_expired(secretary_a, client):
    User.objects.filter(pk=secretary_a.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    resp = page_login(client, PASSWORD)
    assert resp.status_code == 302
    assert client.session["_auth_user_id"] == str(secretary_a.pk)


def test_success_resets_the_failure_count(secretary_a, api):
    for _ in range(4):
        token_login(api, "wrong")
    assert token_login(api, PASSWORD).status_code == 200
    secretary_a.refresh_from_db()
    assert secretary_a.failed_logins == 0
    for _ in range(4):
        token_login(api, "wrong")
    secretary_a.refresh_from_db()
    assert not secretary_a.is_locked()


def test_unknown_user_is_not_an_oracle(db, api, client):
    for _ in range(10):
        resp = token_login(api, "wrong", username="nobody")
    assert resp.status_code == 401
    assert page_login(client, "wrong", username="nobody").status_code == 400


def test_locked_account_token_stops_working(secretary_a, api):
    client = api(secretary_a)
    assert client.get("/api/v1/me/").status_code == 200
    User.objects.filter(pk=secretary_a.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=5))
    assert client.get("/api/v1/me/").status_code == 401


# Passwords


PASSWORDS = [
    # (password, accepted, error code) — Django's validators plus the complexity rule
    ("Dangjian@2026", True, None),
    ("Xk7#mPq2", True, None),
    ("xk7mpq2vbn", False, "password_too_simple"),  # lower case and digits only: 2 of 4 classes
    ("XKMPQWERTY", False, "password_too_simple"),
    ("Ab1!", False, "password_too_short"),
    ("12345678", False, "password_too_common"),
    ("38271946501", False, "password_entirely_numeric"),
    ("password", False, "password_too_common"),
    ("Shuji1@26", False, "password_too_similar"),  # the username is shuji1,
]


@pytest.mark.parametrize(("password", "ok", "code"), PASSWORDS)
def test_password_rules(secretary_a, password, ok, code):
    if ok:
        validate_password(password, user=secretary_a)
        return
    with pytest.raises(ValidationError) as exc:
        validate_password(password, user=secretary_a)
    assert code in {e.code for e in exc.value.error_list}


# Sessions and tokens


def test_idle_session_is_logged_out(secretary_a, client, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client.force_login(secretary_a)
    assert client.get(reverse("web:home")).status_code == 200
    session = client.session
    session[LAST_SEEN] = time.time() - 29 * 60
    session.save()
    assert client.get(reverse("web:home")).status_code == 200  # 29 minutes idle: still in
    session = client.session
    session[LAST_SEEN] = time.time() - 31 * 60
    session.save()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the language switch
    resp = client.get(reverse("web:home"))
    assert resp.status_code == 302 and reverse("web:login") in resp["Location"]
    assert "_auth_user_id" not in client.session
    login_page = client.get(resp["Location"])
    assert "logged out after a period of inactivity" in login_page.content.decode()


def test_idle_minutes_are_configurable(secretary_a, client, settings):
    settings.SESSION_IDLE_MINUTES = 5
    client.force_login(secretary_a)
    client.get(reverse("web:home"))
    session = client.session
    session[LAST_SEEN] = time.time() - 6 * 60
    session.save()
    assert client.get(reverse("web:home")).status_code == 302


def test_expired_token_is_refused(secretary_a, api, settings):
    settings.API_TOKEN_DAYS = 30
    client = api(secretary_a)
    token = Token.objects.get(user=secretary_a)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - dt.timedelta(days=29))
    assert client.get("/api/v1/me/").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - dt.timedelta(days=31))
    resp = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 401
    assert "expired" in resp.json()["error"]["message"]


def test_new_token_replaces_the_old(secretary_a, api):
    old = api(secretary_a)
    new = api(secretary_a)
    assert old.get("/api/v1/me/").status_code == 401
    assert new.get("/api/v1/me/").status_code == 200
    assert AuditEntry.objects.filter(action="token.issued", actor=secretary_a).count() == 2


def test_login_page_is_chinese_by_default(db, client):
    resp = client.get(reverse("web:login"))
    assert resp.status_code == 200
    assert resp["Content-Language"] == "zh-hans"
    html = resp.content.decode()
    assert 'name="username"' in html and 'name="password"' in html
