"""The member's phone pages under /m/: own profile, own branch, own secretary; residents; the PWA shell."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from dangjian.members.models import Member
from dangjian.orgs.models import CommitteePosition, CommitteeTerm


@pytest.fixture
def committee(tree, member_factory):
    """A current committee of branch_a: 书记 王书记 (with a phone), 组织委员 李委员."""
    secretary = member_factory(tree.branch_a, name="王书记", phone="13700001111")
    other = member_factory(tree.branch_a, name="李委员")
    term = CommitteeTerm.objects.create(org=tree.branch_a, start_date=dt.date(2024, 3, 1), term_years=3)
    CommitteePosition.objects.create(term=term, member=secretary, title=CommitteePosition.Title.SECRETARY)
    CommitteePosition.objects.create(term=term, member=other, title=CommitteePosition.Title.ORGANIZATION)
    return secretary


def _hrefs(body: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', body) if h.startswith("/")]


@pytest.mark.parametrize("path", ["/m/", "/m/branch/", "/m/secretary/"])
def test_anonymous_is_sent_to_login(client, db, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp["Location"].startswith(reverse("web:login")) and "next=" in resp["Location"]


def test_member_sees_own_profile(web, tree, member_a, member_factory):
    member_factory(tree.branch_a, name="别的党员")
    me = Member.objects.get(user=member_a)
    resp = web(member_a).get("/m/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "张党员" in body and "第一党支部" in body
    assert me.id_number_masked in body and me.phone_masked in body
    assert me.decrypted_id_number() not in body and me.decrypted_phone() not in body
    assert "别的党员" not in body
    assert resp.context["standing"] == me.party_standing_years()
    assert me.join_date.strftime("%Y-%m-%d") in body  # the political birthday's date
    assert 'rel="manifest"' in body


def test_member_sees_branch_and_committee(web, tree, member_a, committee):
    resp = web(member_a).get("/m/branch/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "第一党支部" in body and "王书记" in body and "李委员" in body
    assert resp.context["member_count"] == 3
    assert resp.context["summary"]["planned_end"] == dt.date(2027, 3, 1)


def test_member_sees_secretary_masked(web, tree, member_a, committee):
    resp = web(member_a).get("/m/secretary/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "王书记" in body and committee.phone_masked in body
    assert "13700001111" not in body
    assert "tel:" not in body  # the secretary's own number is never offered


def test_call_link_uses_the_branch_contact_phone(web, tree, member_a, committee):
    tree.branch_a.contact_name = "支部办公室"
    tree.branch_a.contact_phone = "010-66001234"
    tree.branch_a.save()
    body = web(member_a).get("/m/secretary/").content.decode()
    assert 'href="tel:010-66001234"' in body
    assert "13700001111" not in body


def test_branch_without_committee(web, tree, member_a):
    for path in ("/m/branch/", "/m/secretary/"):
        resp = web(member_a).get(path)
        assert resp.status_code == 200
        assert resp.context["secretary"] is None


def test_resident_gets_a_friendly_page_without_dead_links(web, tree, resident):
    client = web(resident)
    resp = client.get("/m/")
    assert resp.status_code == 200
    assert resp.context["is_resident"] is True
    body = resp.content.decode()
    assert "东城区委" in body
    assert "/m/branch/" not in body and "/m/secretary/" not in body
    for href in _hrefs(body):
        assert client.get(href).status_code == 200, href
    # the member-only pages send a resident home instead of failing
    assert client.get("/m/branch/")["Location"] == "/m/"
    assert client.get("/m/secretary/")["Location"] == "/m/"


def test_member_pages_have_no_dead_links(web, tree, member_a, committee):
    client = web(member_a)
    for path in ("/m/", "/m/branch/", "/m/secretary/"):
        for href in _hrefs(client.get(path).content.decode()):
            assert client.get(href).status_code == 200, (path, href)


def test_officer_without_member_record_is_pointed_to_the_desktop(web, tree, secretary_a):
    resp = web(secretary_a).get("/m/")
    assert resp.status_code == 200
    assert resp.context["manages"] is True and resp.context["is_resident"] is False
    assert reverse("web:home") in resp.content.decode()


def test_secretary_who_is_a_member_sees_only_own_card(web, tree, secretary_a, member_factory):
    member_factory(tree.branch_a, name="书记本人", user=secretary_a)
    member_factory(tree.branch_a, name="支部其他人")
    resp = web(secretary_a).get("/m/")
    assert resp.context["member"].name == "书记本人"


def test_pages_are_not_cached_by_the_browser(web, tree, member_a):
    resp = web(member_a).get("/m/")
    assert "no-cache" in resp["Cache-Control"] or "max-age=0" in resp["Cache-Control"]


# --- PWA ---------------------------------------------------------------------------------------------


def test_manifest_and_icons():
    path = finders.find("mobile/manifest.webmanifest")
    assert path
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    assert manifest["start_url"] == "/m/" and manifest["scope"] == "/m/"
    assert manifest["display"] == "standalone" and manifest["theme_color"].lower() == "#c8161d"
    sizes = {i["sizes"] for i in manifest["icons"] if i["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        icon_path = finders.find(f"mobile/{icon['src']}")
        assert icon_path, icon["src"]
        if icon["type"] == "image/png":
            assert Path(icon_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_service_worker_is_served_under_m(client, db):
    resp = client.get("/m/sw.js")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/javascript")
    body = resp.content.decode()
    assert "/m/offline/" in body and "bootstrap.min.css" in body and "mobile.css" in body
    assert "caches.open" in body
    for url in re.findall(r'"(/static/[^"]+)"', body):
        assert finders.find(url.removeprefix("/static/")), url


def test_offline_page_is_public_and_personal_data_free(client, db):
    resp = client.get("/m/offline/")
    assert resp.status_code == 200
    assert 'action="/logout/"' not in resp.content.decode()
