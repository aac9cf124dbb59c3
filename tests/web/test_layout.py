"""The desktop shell: login and lockout, idle timeout, navigation without dead links, language switch,
the home dashboard and the error pages."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, reverse

from dangjian.accounts.models import User
from dangjian.orgs.models import CommitteePosition, CommitteeTerm
from tests.conftest import PASSWORD

DESK = ["admin_user", "org_manager", "district_manager", "secretary_a", "secretary_b", "auditor"]


def _nav_hrefs(body: str) -> list[str]:
    nav = body.split('class="dj-sidebar"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'href="([^"]+)"', nav)


def _mobile_url() -> str | None:
    try:
        return reverse("mobile:home")
    except NoReverseMatch:
        return None


# --- login, lockout, logout, idle timeout --------------------------------------------------------------


def test_login_page_is_chinese_by_default(client, db):
    resp = client.get("/login/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert 'lang="zh-hans"' in body
    assert 'name="username"' in body and 'name="password"' in body
    assert "http://" not in body and "https://" not in body  # nothing loaded from elsewhere


def test_login_sends_party_worker_to_dashboard(client, org_manager):
    resp = client.post("/login/", {"username": "zuzhibu", "password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == reverse("web:home")
    assert client.get("/").status_code == 200


def test_login_keeps_a_safe_next_and_drops_a_foreign_one(client, org_manager):
    resp = client.post("/login/?next=/orgs/", {"username": "zuzhibu", "password": PASSWORD, "next": "/orgs/"})
    assert resp["Location"] == "/orgs/"
    client.post("/logout/")
    resp = client.post(
        "/login/", {"username": "zuzhibu", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert resp["Location"] == reverse("web:home")


@pytest.mark.parametrize("persona", ["member_a", "resident"])
def test_members_and_residents_are_sent_to_the_mobile_pages(client, people, persona):
    user = people[persona]
    resp = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert resp["Location"] == (_mobile_url() or reverse("web:home"))
    resp = client.get("/")
    if _mobile_url():
        assert resp.status_code == 302 and resp["Location"] == _mobile_url()


def test_wrong_password_shows_an_error(client, org_manager):
    resp = client.post("/login/", {"username": "zuzhibu", "password": "nope"})
    assert resp.status_code == 400
    assert "_auth_user_id" not in client.session


def test_login_page_locks_after_five_failures(client, org_manager):
    assert settings.LOGIN_MAX_FAILURES == 5
    for _ in range(settings.LOGIN_MAX_FAILURES):
        resp = client.post("/login/", {"username": "zuzhibu", "password": "wrong"})
        assert resp.status_code == 400
    # Locked: even the right password is refused, with the lockout message on the page.
    resp = client.post("/login/", {"username": "zuzhibu", "password": PASSWORD})
    assert resp.status_code == 400
    assert "_auth_user_id" not in client.session
    assert resp.context["error"] and str(settings.LOGIN_LOCK_MINUTES) in resp.context["error"]
    assert User.objects.get(username="zuzhibu").is_locked()


def test_logout_is_a_post(web, org_manager):
    client = web(org_manager)
    assert client.get("/logout/").status_code == 405
    resp = client.post("/logout/")
    assert resp["Location"] == reverse("web:login")
    assert client.get("/").status_code == 302


def test_idle_session_is_logged_out(web, org_manager):
    client = web(org_manager)
    assert client.get("/").status_code == 200
    session = client.session
    session["dangjian_last_seen"] = time.time() - (settings.SESSION_IDLE_MINUTES * 60 + 5)
    session.save()
    resp = client.get("/")
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("web:login"))


def test_active_session_is_kept(web, org_manager):
    client = web(org_manager)
    client.get("/")
    session = client.session
    session["dangjian_last_seen"] = time.time() - (settings.SESSION_IDLE_MINUTES * 60 - 60)
    session.save()
    assert client.get("/").status_code == 200


def test_pages_need_login(client, tree):
    for url in ["/", "/orgs/", f"/orgs/{tree.city.pk}/", "/accounts/roles/", "/accounts/audit/"]:
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith(reverse("web:login")), url


# --- layout and navigation -----------------------------------------------------------------------------


def test_base_layout_shows_org_context_and_loads_local_assets(web, secretary_a):
    body = web(secretary_a).get("/").content.decode()
    assert "第一党支部" in body  # the user's org in the top bar
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    for asset in ["bootstrap.min.css", "bootstrap-icons.min.css", "bootstrap.bundle.min.js", "htmx.min.js"]:
        assert "/static/vendor/" in body and asset in body
    assert 'action="/i18n/setlang/"' in body and 'action="/logout/"' in body


@pytest.mark.parametrize("persona", DESK)
def test_navigation_has_no_dead_links(web, people, persona):
    client = web(people[persona])
    hrefs = _nav_hrefs(client.get("/").content.decode())
    assert hrefs, "the navigation shows at least the home page"
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def test_navigation_follows_the_role(web, org_manager, secretary_a, auditor):
    manager = _nav_hrefs(web(org_manager).get("/").content.decode())
    assert reverse("accounts:roles") in manager and reverse("accounts:audit") in manager
    secretary = _nav_hrefs(web(secretary_a).get("/").content.decode())
    assert reverse("accounts:roles") not in secretary and reverse("accounts:audit") not in secretary
    assert reverse("orgs:tree") in secretary
    reader = _nav_hrefs(web(auditor).get("/").content.decode())
    assert reverse("accounts:audit") in reader and reverse("accounts:roles") not in reader


def test_navigation_marks_the_current_page(web, org_manager):
    body = web(org_manager).get("/orgs/").content.decode()
    assert re.search(r'class="dj-nav-link active" href="/orgs/"', body)


def test_language_switch_to_english(web, org_manager):
    client = web(org_manager)
    resp = client.post("/i18n/setlang/", {"language": "en", "next": "/orgs/"})
    assert resp.status_code == 302 and resp["Location"] == "/orgs/"
    body = client.get("/orgs/").content.decode()
    assert 'lang="en"' in body and "Organisation tree" in body
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert 'lang="zh-hans"' in client.get("/").content.decode()


# --- home dashboard ------------------------------------------------------------------------------------


def test_home_counts_only_the_users_scope(web, tree, secretary_a, org_manager, member_factory):
    member_factory(tree.branch_a)
    member_factory(tree.branch_a, status="probationary", full_date=None)
    member_factory(tree.branch_b)
    mine = web(secretary_a).get("/").context
    assert mine["stats"]["members"] == 2 and mine["stats"]["by_status"]["probationary"] == 1
    everyone = web(org_manager).get("/").context
    assert everyone["stats"]["members"] == 3 and everyone["stats"]["orgs"] == 6


def test_home_lists_structure_flags_and_terms_ending(web, tree, org_manager, member_factory):
    members = [member_factory(tree.branch_a) for _ in range(8)]  # 7+ full members, no committee
    term = CommitteeTerm.objects.create(
        org=tree.branch_b, start_date=dt.date.today() - dt.timedelta(days=3 * 365 - 20), term_years=3
    )
    CommitteePosition.objects.create(
        term=term, member=member_factory(tree.branch_b), title=CommitteePosition.Title.SECRETARY
    )
    resp = web(org_manager).get("/")
    codes = {(f.org.pk, f.flag.code) for f in resp.context["findings"]}
    assert (tree.branch_a.pk, "committee_missing") in codes
    assert [d.org.pk for d in resp.context["terms_due"]] == [tree.branch_b.pk]
    assert members and "西城第二党支部" in resp.content.decode()


def test_home_for_a_user_without_role(web, outsider):
    resp = web(outsider).get("/")
    assert resp.status_code == 200 and resp.context["stats"] is None


def test_home_query_count_does_not_grow_with_the_tree(
    web, tree, org_manager, member_factory, django_assert_max_num_queries
):
    from dangjian.orgs.models import Organization, OrgType

    for i in range(12):
        branch = Organization.objects.add_child(
            Organization.objects.get(pk=tree.district_a.pk),
            {"org_type": OrgType.BRANCH, "code": f"X{i:04d}", "name": f"支部{i}"},
        )
        member_factory(branch)
    client = web(org_manager)
    client.get("/")
    # 16, plus the alert card (counts by severity, the ten most urgent) and the notification bell.
    with django_assert_max_num_queries(19):
        client.get("/")


# --- error pages ---------------------------------------------------------------------------------------


def test_404_page_in_house_style(web, org_manager):
    resp = web(org_manager).get("/orgs/999999/")
    assert resp.status_code == 404
    body = resp.content.decode()
    assert "dj-error-code" in body and "404" in body


def test_403_page_in_house_style(web, secretary_a):
    resp = web(secretary_a).get("/accounts/roles/")
    assert resp.status_code == 403
    assert "dj-error-code" in resp.content.decode()


def test_500_template_renders_without_context():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "500" in html and "dj-error-code" in html
