from __future__ import annotations

from django.urls import reverse


def test_pages_are_chinese_even_when_the_browser_asks_for_english(client, db):
    resp = client.get(reverse("web:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert resp["Content-Language"] == "zh-hans"


def test_the_language_switch_changes_pages(client, db, settings):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    resp = client.get(reverse("web:login"))
    assert resp["Content-Language"] == "en"


def test_the_api_follows_accept_language(api, db):
    resp = api().get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert resp["Content-Language"] == "en"
    resp = api().get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert resp["Content-Language"] == "zh-hans"
