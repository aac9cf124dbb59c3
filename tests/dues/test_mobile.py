"""The member's dues on the phone (/m/dues/): what I owe, what I paid, how my amount is computed in plain
words with the rule version, my statement as PDF; only my own, never another member's."""

from __future__ import annotations

import re

import pytest

from dangjian.members.models import Member
from tests.dues.test_views import THIS_MONTH, make_world, months_ago


@pytest.fixture
def world(tree, admin_user, member_a, member_factory):
    return make_world(tree, admin_user, member_a, member_factory)


def _hrefs(body: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', body) if h.startswith("/")]


def test_anonymous_is_sent_to_login(client, db):
    resp = client.get("/m/dues/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]


def test_member_sees_owed_paid_and_how(web, member_a, world):
    resp = web(member_a).get("/m/dues/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert resp.context["member"] == world.me
    assert "105.00" in body  # three months to pay, this one included
    for m in (months_ago(2), months_ago(1), THIS_MONTH):
        assert f"{m:%Y-%m}" in body
    assert "R-001" not in body  # the phone shows amounts and methods, not bookkeeping references
    assert "3,500.00" in body and "1%" in body and "不分段累进" in body  # the whole base, not in steps
    assert "党费收缴标准（2008年版）" in body and "dues@" not in body  # the rule version, by its title
    assert f"/m/dues/statement/{THIS_MONTH.year}.pdf" in body
    assert "我的党费" in body


def test_the_tab_bar_links_the_dues_page(web, member_a, world):
    body = web(member_a).get("/m/").content.decode()
    assert 'href="/m/dues/"' in body


def test_statement_pdf_on_the_phone(web, member_a, world):
    resp = web(member_a).get(f"/m/dues/statement/{THIS_MONTH.year}.pdf")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content).startswith(b"%PDF")


def test_only_own_dues(web, tree, member_a, world):
    # A second login's member entry is another person: /m/dues/ shows each their own.
    other = Member.objects.get(pk=world.owing.pk)
    resp = web(member_a).get("/m/dues/")
    assert other.name not in resp.content.decode()


def test_member_pages_have_no_dead_links(web, member_a, world):
    client = web(member_a)
    for href in _hrefs(client.get("/m/dues/").content.decode()):
        if href.endswith(".pdf"):
            continue
        assert client.get(href).status_code == 200, href


def test_a_member_without_declaration_is_told_whom_to_ask(web, tree, member_a):
    resp = web(member_a).get("/m/dues/")
    assert resp.status_code == 200
    assert "支部尚未登记" in resp.content.decode()


def test_resident_and_officer_without_member_record_go_home(web, resident, secretary_a, db, tree):
    assert web(resident).get("/m/dues/")["Location"] == "/m/"
    assert web(secretary_a).get("/m/dues/")["Location"] == "/m/"


def test_page_is_not_cached(web, member_a, world):
    resp = web(member_a).get("/m/dues/")
    assert "no-cache" in resp["Cache-Control"] or "max-age=0" in resp["Cache-Control"]


def test_last_years_view(web, member_a, world):
    resp = web(member_a).get("/m/dues/", {"year": THIS_MONTH.year - 1})
    assert resp.status_code == 200
    assert resp.context["year"] == THIS_MONTH.year - 1
