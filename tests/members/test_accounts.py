"""A member can have a login (issue 2, member register): a secretary opens (开通), resets and closes
(停用) it, on the detail page and over the API; a member who leaves or dies loses it automatically."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation
from rest_framework.authtoken.models import Token

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import Role
from dangjian.members import services
from dangjian.members.choices import MemberStatus

GOOD = "Kaitong@2026"  # passes every AUTH_PASSWORD_VALIDATORS rule, our complexity rule included
NEW = "Chongzhi#2027"


def account_url(member, suffix: str = "") -> str:
    return f"/api/v1/members/{member.pk}/account/{suffix}"


@pytest.fixture(autouse=True)
def english():
    """Services called directly answer in the active language: English here, so the refusals read as in
    the code. Requests choose their own language (Accept-Language; Chinese by default)."""
    with translation.override("en"):
        yield


@pytest.fixture
def member(tree, member_factory):
    """A full member of branch_a without a login."""
    return member_factory(tree.branch_a, name="刘新")


def open_login(actor, member, username: str = "liuxin", password: str = GOOD):
    return services.member_account_open(actor=actor, member=member, username=username, password=password)


def login(client, username: str, password: str):
    """Log in on the login page, as a person does."""
    return client.post(reverse("web:login"), {"username": username, "password": password})


# --- opening ------------------------------------------------------------------------------------------


def test_secretary_opens_a_login_and_the_member_logs_in_to_their_phone_pages(
    tree, secretary_a, member, api, client
):
    resp = api(secretary_a).post(account_url(member), {"username": "liuxin", "password": GOOD}, format="json")
    assert resp.status_code == 201, resp.json()
    assert resp.json() == {"username": "liuxin", "active": True, "last_login": None}

    member.refresh_from_db()
    user = member.user
    assert user.username == "liuxin" and user.full_name == "刘新" and user.is_active
    assert user.check_password(GOOD)
    ra = RoleAssignment.objects.get(user=user)
    assert (ra.org, ra.role, ra.active, ra.appointed_by) == (tree.branch_a, Role.MEMBER, True, secretary_a)

    landed = login(client, "liuxin", GOOD)
    assert landed.status_code == 302 and landed["Location"] == reverse("mobile:home")
    home = client.get("/m/")
    assert home.status_code == 200
    body = home.content.decode()
    assert "刘新" in body and "第一党支部" in body and member.id_number_masked in body
    # ... and over the API, the member sees themselves and nobody else.
    token = api().post("/api/v1/auth/token/", {"username": "liuxin", "password": GOOD}, format="json")
    assert token.status_code == 200
    mine = api(user).get("/api/v1/members/").json()
    assert [row["id"] for row in mine["results"]] == [member.pk]


def test_opening_writes_audit_rows_without_the_password(secretary_a, member):
    open_login(secretary_a, member)
    rows = AuditEntry.objects.filter(action__in=["account.opened", "member.account_opened"])
    assert {r.action for r in rows} == {"account.opened", "member.account_opened"}
    for row in rows:
        assert row.actor == secretary_a and row.org_id == member.org_id
        assert row.changes["username"] == "liuxin"
        assert GOOD not in str(row.changes) and "password" not in str(row.changes)
    assert AuditEntry.objects.get(action="member.account_opened").object_id == str(member.pk)


def test_duplicate_username_is_refused_in_chinese_and_nothing_is_saved(secretary_a, member, member_a, api):
    before = User.objects.count()
    resp = api(secretary_a).post(
        account_url(member),
        {"username": "DangYuan1", "password": GOOD},  # member_a's login, in other letters' case
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert resp.status_code == 400
    [message] = resp.json()["error"]["fields"]["username"]
    assert message.startswith("用户名“DangYuan1”") and "taken" not in message  # Chinese, names the clash
    assert User.objects.count() == before
    member.refresh_from_db()
    assert member.user is None
    assert not AuditEntry.objects.filter(action__startswith="member.account").exists()


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Ab1!", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("2026071812", "This password is entirely numeric."),
        ("qzmxwnvb7", "Your password must contain at least three of"),
        ("Liuxin2026", "The password is too similar to the username."),
    ],
    ids=["short", "common", "numeric", "too simple", "like the username"],
)
def test_weak_passwords_are_refused_with_the_validators_messages(
    secretary_a, member, api, password, expected
):
    resp = api(secretary_a).post(
        account_url(member),
        {"username": "liuxin", "password": password},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert resp.status_code == 400
    messages = resp.json()["error"]["fields"]["password"]
    assert any(m.startswith(expected) for m in messages), messages
    member.refresh_from_db()
    assert member.user is None and not User.objects.filter(username="liuxin").exists()


def test_weak_password_message_is_chinese_on_a_chinese_request(secretary_a, member, api):
    resp = api(secretary_a).post(
        account_url(member), {"username": "liuxin", "password": "qzmxwnvb7"}, format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )  # fmt: skip
    assert resp.status_code == 400
    assert "密码" in resp.json()["error"]["fields"]["password"][0]


def test_a_member_with_a_login_cannot_get_a_second_one(secretary_a, member):
    open_login(secretary_a, member)
    with pytest.raises(ValidationError, match="already has a login"):
        open_login(secretary_a, member, username="liuxin2")
    assert not User.objects.filter(username="liuxin2").exists()


@pytest.mark.parametrize(
    "status",
    [MemberStatus.LEFT, MemberStatus.DECEASED, MemberStatus.HISTORICAL, MemberStatus.SUSPENDED],
)
def test_former_and_suspended_members_get_no_login(tree, secretary_a, member_factory, api, status):
    former = member_factory(tree.branch_a, status=status)
    resp = api(secretary_a).post(account_url(former), {"username": "liuxin", "password": GOOD}, format="json")
    assert resp.status_code == 400
    assert "只有在册党员" in resp.json()["error"]["fields"]["non_field_errors"][0]
    assert not User.objects.filter(username="liuxin").exists()


def test_probationary_and_flowing_members_may_have_a_login(tree, secretary_a, member_factory):
    from dangjian.transfers.services import flow_certificate_issue

    probationary = member_factory(tree.branch_a, status=MemberStatus.PROBATIONARY, full_date=None)
    away = member_factory(tree.branch_a)  # a flowing member stays full, with a flow certificate
    flow_certificate_issue(
        actor=secretary_a, member=away, start=dt.date(2025, 1, 1), outside_host_name="外地"
    )
    for n, m in enumerate([probationary, away]):
        open_login(secretary_a, m, username=f"yubei{n}")
        assert m.user.is_active


# --- scope -------------------------------------------------------------------------------------------


def test_out_of_scope_member_answers_404_and_nothing_is_created(tree, secretary_b, member, api):
    client = api(secretary_b)
    assert (
        client.post(account_url(member), {"username": "x1", "password": GOOD}, format="json").status_code
        == 404
    )
    assert client.post(account_url(member, "password/"), {"password": GOOD}, format="json").status_code == 404
    assert client.delete(account_url(member)).status_code == 404
    assert not User.objects.filter(username="x1").exists()
    with pytest.raises(PermissionDenied):
        open_login(secretary_b, member, username="x1")


def test_auditor_may_look_but_not_open_reset_or_close(secretary_a, auditor, member, api):
    open_login(secretary_a, member)
    client = api(auditor)
    assert client.get(account_url(member)).json()["username"] == "liuxin"
    refused = [
        client.post(account_url(member), {"username": "x2", "password": GOOD}, format="json"),
        client.post(account_url(member, "password/"), {"password": NEW}, format="json"),
        client.delete(account_url(member)),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert all(r.json()["error"]["code"] == "permission_denied" for r in refused)
    member.user.refresh_from_db()
    assert member.user.is_active and member.user.check_password(GOOD)


def test_district_manager_manages_logins_in_the_district(district_manager, member, api):
    resp = api(district_manager).post(
        account_url(member), {"username": "liuxin", "password": GOOD}, format="json"
    )
    assert resp.status_code == 201


def test_a_login_that_is_also_an_officer_is_beyond_a_secretary(
    tree, secretary_a, org_manager, member_factory
):
    """Resetting the password of a login that also holds the district's 组织部 role would hand that
    office to the branch secretary: only someone who appoints that role may change such a login."""
    officer = User.objects.create_user(username="ganbu", password=GOOD, full_name="干部")
    RoleAssignment.objects.create(user=officer, org=tree.district_a, role=Role.ORG_MANAGER)
    RoleAssignment.objects.create(user=officer, org=tree.branch_a, role=Role.MEMBER)
    m = member_factory(tree.branch_a, user=officer)
    for attempt in (
        lambda: services.member_account_reset_password(actor=secretary_a, member=m, password=NEW),
        lambda: services.member_account_close(actor=secretary_a, member=m),
    ):
        with pytest.raises(PermissionDenied, match="only someone who appoints"):
            attempt()
    officer.refresh_from_db()
    assert officer.is_active and officer.check_password(GOOD)
    services.member_account_reset_password(actor=org_manager, member=m, password=NEW)  # the city may
    officer.refresh_from_db()
    assert officer.check_password(NEW)


def test_nobody_closes_their_own_login_here(tree, org_manager, member_factory):
    me = member_factory(tree.district_a, user=org_manager)
    with pytest.raises(PermissionDenied, match="your own login"):
        services.member_account_close(actor=org_manager, member=me)


# --- reset, close, reopen ----------------------------------------------------------------------------


def test_reset_password(secretary_a, member, api, client):
    open_login(secretary_a, member)
    user = member.user
    user.failed_logins, user.locked_until = 3, None
    user.save()
    old_token = api(user)  # the member's API client, with the token issued before the reset
    resp = api(secretary_a).post(account_url(member, "password/"), {"password": NEW}, format="json")
    assert resp.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(GOOD) and user.failed_logins == 0
    assert old_token.get("/api/v1/me/").status_code == 401  # the old token went with the old password
    assert login(client, "liuxin", NEW).status_code == 302
    rows = AuditEntry.objects.filter(action__in=["account.password_reset", "member.account_password_reset"])
    assert rows.count() == 2 and all(NEW not in str(r.changes) for r in rows)


def test_reset_password_applies_the_rules(secretary_a, member, api):
    open_login(secretary_a, member)
    resp = api(secretary_a).post(account_url(member, "password/"), {"password": "12345678"}, format="json")
    assert resp.status_code == 400
    assert "password" in resp.json()["error"]["fields"]
    member.user.refresh_from_db()
    assert member.user.check_password(GOOD)


def test_reset_needs_a_login(secretary_a, member, api):
    resp = api(secretary_a).post(account_url(member, "password/"), {"password": NEW}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"]["non_field_errors"] == ["该党员没有登录账号。"]


def test_closed_login_cannot_log_in_or_use_its_token(secretary_a, member, api, client):
    open_login(secretary_a, member)
    user = member.user
    member_api = api(user)
    assert member_api.get("/api/v1/me/").status_code == 200
    assert login(client, "liuxin", GOOD).status_code == 302
    assert client.get("/m/").status_code == 200

    assert api(secretary_a).delete(account_url(member)).status_code == 204

    user.refresh_from_db()
    member.refresh_from_db()
    assert not user.is_active and member.user == user  # kept and linked: history names the person
    assert not RoleAssignment.objects.filter(user=user, active=True).exists()
    assert RoleAssignment.objects.get(user=user).ended_at is not None
    assert not Token.objects.filter(user=user).exists()
    assert member_api.get("/api/v1/me/").status_code == 401
    assert client.get("/m/").status_code == 302  # the open session ended with the login
    assert login(client, "liuxin", GOOD).status_code == 400  # the login page again, with an error
    token = api().post("/api/v1/auth/token/", {"username": "liuxin", "password": GOOD}, format="json")
    assert token.status_code == 401
    assert {"account.closed", "member.account_closed"} <= set(
        AuditEntry.objects.values_list("action", flat=True)
    )
    # Closing again changes nothing and writes nothing.
    audit_rows = AuditEntry.objects.count()
    assert api(secretary_a).delete(account_url(member)).status_code == 204
    assert AuditEntry.objects.count() == audit_rows + 1  # only the secretary's token.issued


def test_closing_a_member_without_a_login_is_404(secretary_a, member, api):
    assert api(secretary_a).delete(account_url(member)).status_code == 404
    assert api(secretary_a).get(account_url(member)).status_code == 404


def test_a_closed_login_is_opened_again_on_the_same_user(secretary_a, member, client):
    open_login(secretary_a, member)
    first = member.user
    services.member_account_close(actor=secretary_a, member=member)
    with pytest.raises(ValidationError, match="closed"):
        services.member_account_reset_password(actor=secretary_a, member=member, password=NEW)
    open_login(secretary_a, member, username="liuxin", password=NEW)
    member.refresh_from_db()
    assert member.user.pk == first.pk and member.user.is_active
    assert RoleAssignment.objects.filter(user=first, active=True).count() == 1
    assert AuditEntry.objects.filter(action="account.reopened").exists()
    assert login(client, "liuxin", NEW).status_code == 302


# --- leaving closes the login -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [MemberStatus.LEFT, MemberStatus.DECEASED, MemberStatus.SUSPENDED])
def test_member_leaving_closes_the_login_in_the_same_transaction(secretary_a, member, api, status):
    open_login(secretary_a, member)
    member_api = api(member.user)
    services.member_change_status(
        actor=secretary_a,
        member=member,
        status=status,
        date=dt.date.today(),
        reason="支部大会决定",
        rule_checked=status == MemberStatus.SUSPENDED,  # suspension comes through member_suspend
    )
    member.user.refresh_from_db()
    assert not member.user.is_active
    assert not RoleAssignment.objects.filter(user=member.user, active=True).exists()
    assert member_api.get("/api/v1/me/").status_code == 401
    closed = AuditEntry.objects.get(action="member.account_closed")
    assert closed.changes["because"] == "status"


def test_a_refused_status_change_keeps_the_login(secretary_a, member):
    open_login(secretary_a, member)
    with pytest.raises(ValidationError):
        services.member_change_status(
            actor=secretary_a, member=member, status=MemberStatus.LEFT, date=dt.date.today(), reason=" "
        )
    member.user.refresh_from_db()
    assert member.user.is_active


def test_status_change_through_the_api_closes_the_login_too(secretary_a, member, api):
    open_login(secretary_a, member)
    resp = api(secretary_a).post(
        f"/api/v1/members/{member.pk}/history/",
        {"status": "deceased", "date": "2026-03-01", "reason": "因病去世"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    assert resp.json()["to_status"] == "deceased"
    member.user.refresh_from_db()
    assert not member.user.is_active


def test_a_status_change_by_patch_is_refused_so_history_gets_a_date_and_reason(secretary_a, member, api):
    resp = api(secretary_a).patch(f"/api/v1/members/{member.pk}/", {"status": "deceased"}, format="json")
    assert resp.status_code == 400
    assert "status" in resp.json()["error"]["fields"]
    member.refresh_from_db()
    assert member.status == "full"


def test_a_probationary_member_becoming_full_keeps_the_login(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, status=MemberStatus.PROBATIONARY, full_date=None)
    open_login(secretary_a, m)
    services.member_change_status(
        actor=secretary_a, member=m, status=MemberStatus.FULL, date=dt.date.today(), reason="按期转正"
    )
    m.user.refresh_from_db()
    assert m.user.is_active


# --- pages -------------------------------------------------------------------------------------------


def test_detail_card_offers_open_to_a_secretary_and_nothing_to_an_auditor(secretary_a, auditor, member, web):
    body = web(secretary_a).get(f"/members/{member.pk}/").content.decode()
    assert reverse("members:account_open", args=[member.pk]) in body
    assert reverse("members:account_close", args=[member.pk]) not in body
    body = web(auditor).get(f"/members/{member.pk}/").content.decode()
    assert 'id="login-account"' in body
    assert reverse("members:account_open", args=[member.pk]) not in body


def test_detail_card_of_an_active_login_offers_reset_and_close(secretary_a, member, web):
    open_login(secretary_a, member)
    body = web(secretary_a).get(f"/members/{member.pk}/").content.decode()
    assert "liuxin" in body
    assert reverse("members:account_password", args=[member.pk]) in body
    assert reverse("members:account_close", args=[member.pk]) in body
    assert reverse("members:account_open", args=[member.pk]) not in body


def test_detail_card_of_a_former_member_says_why_there_is_no_button(tree, secretary_a, member_factory, web):
    former = member_factory(tree.branch_a, status=MemberStatus.LEFT)
    body = web(secretary_a).get(f"/members/{former.pk}/").content.decode()
    assert reverse("members:account_open", args=[former.pk]) not in body
    assert "只有在册党员才能开通登录账号" in body  # the page is Chinese by default


def test_open_page_keeps_what_was_typed_and_shows_the_errors(secretary_a, member, member_a, web):
    client = web(secretary_a)
    url = reverse("members:account_open", args=[member.pk])
    assert client.get(url).status_code == 200
    resp = client.post(url, {"username": "dangyuan1", "password": "short", "password2": "short"})
    assert resp.status_code == 400
    form = resp.context["form"]
    assert "已被占用" in form.errors["username"][0]
    assert any("太短" in e for e in form.errors["password"])
    body = resp.content.decode()
    assert 'value="dangyuan1"' in body and 'value="short"' in body  # nothing to type again
    assert "<li>" in str(form["password"].help_text)  # the password rules stay in view beside the errors
    member.refresh_from_db()
    assert member.user is None


def test_open_page_checks_the_second_password(secretary_a, member, web):
    url = reverse("members:account_open", args=[member.pk])
    resp = web(secretary_a).post(url, {"username": "liuxin", "password": GOOD, "password2": GOOD + "x"})
    assert resp.status_code == 400 and resp.context["form"].errors["password2"]
    assert not User.objects.filter(username="liuxin").exists()


def test_open_reset_and_close_through_the_pages(secretary_a, member, web):
    client = web(secretary_a)
    detail = reverse("members:detail", args=[member.pk])
    resp = client.post(
        reverse("members:account_open", args=[member.pk]),
        {"username": "liuxin", "password": GOOD, "password2": GOOD},
    )
    assert resp.status_code == 302 and resp["Location"] == detail
    member.refresh_from_db()
    assert member.user.check_password(GOOD)

    resp = client.post(
        reverse("members:account_password", args=[member.pk]), {"password": NEW, "password2": NEW}
    )
    assert resp.status_code == 302
    member.user.refresh_from_db()
    assert member.user.check_password(NEW)

    assert client.get(reverse("members:account_close", args=[member.pk])).status_code == 200
    resp = client.post(reverse("members:account_close", args=[member.pk]))
    assert resp.status_code == 302
    member.user.refresh_from_db()
    assert not member.user.is_active


def test_account_pages_are_404_out_of_scope_and_403_read_only(secretary_b, auditor, member, web, client):
    for name in ("account_open", "account_password", "account_close"):
        url = reverse(f"members:{name}", args=[member.pk])
        client.force_login(secretary_b)
        assert client.get(url).status_code == 404
        client.force_login(auditor)
        assert client.post(url, {"username": "x", "password": GOOD, "password2": GOOD}).status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_page_shows_the_refusal_for_an_officer_login(tree, secretary_a, member_factory, web):
    officer = User.objects.create_user(username="ganbu", password=GOOD, full_name="干部")
    RoleAssignment.objects.create(user=officer, org=tree.district_a, role=Role.ORG_MANAGER)
    m = member_factory(tree.branch_a, user=officer)
    client = web(secretary_a)
    body = client.get(reverse("members:detail", args=[m.pk])).content.decode()
    assert reverse("members:account_close", args=[m.pk]) not in body
    assert "只有有权任命该角色的人员才能修改" in body
    resp = client.post(reverse("members:account_close", args=[m.pk]))
    assert resp.status_code == 400 and "只有有权任命该角色的人员才能修改" in resp.content.decode()
    officer.refresh_from_db()
    assert officer.is_active
