"""The member register API: create and change through MemberForm, the error envelope, masking,
reveal, status history, filters and pagination (issue 2, "API")."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import pytest

from dangjian.core.models import AuditEntry
from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member, MemberStatusChange

_seq = itertools.count(1)


def payload(org, **overrides):
    n = next(_seq)
    birth = dt.date(1982, 6, 1) + dt.timedelta(days=n)
    body = {
        "name": f"李{n}",
        "ethnicity": "汉族",
        "id_number": make_id_number("110105", birth, 600 + n * 2 + 1),  # odd sequence: male
        "phone": "13912345678",
        "education": "master",
        "degree": "master",
        "occupation": "professional",
        "join_date": "2008-07-01",
        "full_date": "2009-07-01",
        "status": "full",
        "org": org.pk,
        "dues_category": "employed",
    }
    body.update(overrides)
    return body


def post(client, body, lang="en"):
    return client.post("/api/v1/members/", body, format="json", HTTP_ACCEPT_LANGUAGE=lang)


def assert_envelope(resp, status=400, code="invalid"):
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# Create


def test_create_member(tree, secretary_a, api):
    body = payload(tree.branch_a)
    resp = post(api(secretary_a), body)
    assert resp.status_code == 201, resp.content
    data = resp.json()
    member = Member.objects.get(pk=data["id"])
    assert {"id", "name", "org", "status", "id_number_masked"} <= set(data)
    assert (data["org"], data["status"], data["name"]) == (tree.branch_a.pk, "full", body["name"])
    # birth date and gender were taken from the ID number
    assert member.birth_date == dt.date(
        int(body["id_number"][6:10]), int(body["id_number"][10:12]), int(body["id_number"][12:14])
    )
    assert member.gender == "male"
    assert member.org_path == tree.branch_a.path
    # personal numbers: stored encrypted, shown masked, never echoed back
    assert body["id_number"] not in resp.content.decode()
    assert "13912345678" not in resp.content.decode()
    assert data["id_number_masked"] == body["id_number"][:6] + "********" + body["id_number"][-4:]
    assert data["phone_masked"] == "139****5678"
    assert body["id_number"] not in member.id_number_encrypted
    assert member.decrypted_id_number() == body["id_number"]
    # history and audit
    assert list(member.status_changes.values_list("from_status", "to_status")) == [("", "full")]
    entry = AuditEntry.objects.get(action="member.created")
    assert (entry.actor, entry.object_id, entry.org_path) == (secretary_a, str(member.pk), tree.branch_a.path)


def test_create_accepts_spreadsheet_style_id_number(tree, secretary_a, api):
    body = payload(tree.branch_a, id_number="１１０１０５１９４９１２３１００２ｘ", birth_date="1949-12-31")
    body["join_date"], body["full_date"] = "1970-07-01", "1971-07-01"
    resp = post(api(secretary_a), body)
    assert resp.status_code == 201, resp.content
    assert resp.json()["gender"] == "female"
    assert Member.objects.get(pk=resp.json()["id"]).decrypted_id_number() == "11010519491231002X"


INVALID = [
    # (overrides, field, English message fragment)
    ({"id_number": "110105194912310021"}, "id_number", "check digit"),
    ({"id_number": "110105491231002"}, "id_number", "15-digit"),
    ({"id_number": ""}, "id_number", "required"),
    ({"birth_date": "1970-01-01"}, "birth_date", "does not match the ID number"),
    ({"gender": "female"}, "gender", "does not match the ID number"),
    ({"name": "  "}, "name", ""),
    ({"phone": "12345"}, "phone", "11-digit mobile"),
    ({"join_date": "2999-01-01"}, "join_date", "future"),
    ({"join_date": "1990-01-01", "full_date": "1991-01-01"}, "join_date", "minimum age is 18"),
    ({"full_date": "2001-01-01"}, "full_date", "before the joining date"),
    ({"status": "probationary"}, "full_date", "probationary member has no full-membership date"),
    ({"full_date": None}, "full_date", "full member needs"),
    ({"status": "emperor"}, "status", ""),
    # Flowing is told by a flow certificate, never by the status (the member stays full).
    ({"status": "flowing"}, "status", "Issue a flow certificate"),
    ({"ethnicity": "火星族"}, "ethnicity", ""),
    ({"education": "none"}, "education", ""),
    ({"org": 999999}, "org", ""),
    ({"secret_field": 1}, "secret_field", "Unknown field"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"), INVALID, ids=[r[1] + ":" + r[2] for r in INVALID]
)
def test_create_refuses_invalid_data(tree, secretary_a, api, overrides, field, fragment):
    body = payload(tree.branch_a)
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    before = Member.objects.count()
    error = assert_envelope(post(api(secretary_a), body))
    assert field in error["fields"], error
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert fragment in " ".join(error["fields"][field])
    assert Member.objects.count() == before


def test_group_must_belong_to_the_branch(tree, secretary_a, org_manager, api):
    ok = post(api(secretary_a), payload(tree.branch_a, group=tree.group_a.pk))
    assert ok.status_code == 201
    resp = post(api(org_manager), payload(tree.branch_b, group=tree.group_a.pk))  # group_a is branch_a's
    assert "group" in assert_envelope(resp)["fields"]


def test_duplicate_id_number_refused(tree, secretary_a, member_factory, api):
    existing = member_factory(tree.branch_b)
    number = existing.decrypted_id_number()
    body = payload(tree.branch_a, id_number=number.lower())
    error = assert_envelope(post(api(secretary_a), body))
    # The other branch's member stays invisible: the message says "already in the register", nothing more.
    assert error["fields"] == {"id_number": ["A member with this ID number is already in the register."]}
    assert Member.objects.count() == 1


def test_error_language_follows_the_request(tree, secretary_a, api):
    client = api(secretary_a)
    body = payload(tree.branch_a, id_number="110105194912310021")
    en = post(client, body, lang="en")
    assert en.headers["Content-Language"] == "en"
    assert "The check digit of the ID number is wrong" in en.json()["error"]["fields"]["id_number"][0]
    assert en.json()["error"]["message"].startswith("Please correct the highlighted fields")
    zh = post(client, body, lang="zh-hans")
    assert zh.headers["Content-Language"] == "zh-hans"
    assert set(zh.json()["error"]["fields"]) == {"id_number"}
    # The zh_Hans catalogue translates our own messages too (its completeness is checked by .ci/run).
    zh_message = zh.json()["error"]["fields"]["id_number"][0]
    assert zh_message != en.json()["error"]["fields"]["id_number"][0]
    assert re.search(r"[\u4e00-\u9fff]", zh_message) and "X" in zh_message
    assert re.search(r"[\u4e00-\u9fff]", zh.json()["error"]["message"])
    default = post(client, body, lang="")
    assert default.headers["Content-Language"] == "zh-hans"  # Chinese by default


def test_not_found_and_not_allowed_use_the_envelope(tree, secretary_a, member_factory, api):
    client = api(secretary_a)
    assert_envelope(client.get("/api/v1/members/999999/"), 404, "not_found")
    member = member_factory(tree.branch_a)
    assert_envelope(client.delete(f"/api/v1/members/{member.pk}/"), 405, "method_not_allowed")
    assert_envelope(api().get("/api/v1/members/"), 401, "not_authenticated")


# Update


def test_patch_updates_and_audits(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    resp = api(secretary_a).patch(
        f"/api/v1/members/{member.pk}/",
        {"work_unit": "示范市税务局", "group": tree.group_a.pk},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    member.refresh_from_db()
    assert (member.work_unit, member.group_id) == ("示范市税务局", tree.group_a.pk)
    entry = AuditEntry.objects.get(action="member.updated")
    assert entry.changes["work_unit"] == ["", "示范市税务局"]


def test_patch_cannot_change_id_number_to_a_wrong_one(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    masked = member.id_number_masked
    resp = api(secretary_a).patch(
        f"/api/v1/members/{member.pk}/",
        {"id_number": "110105194912310021"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "id_number" in assert_envelope(resp)["fields"]
    member.refresh_from_db()
    assert member.id_number_masked == masked


def test_patch_birth_date_must_match_id(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a, birth_date=dt.date(1975, 5, 5))
    resp = api(secretary_a).patch(
        f"/api/v1/members/{member.pk}/",
        {"id_number": make_id_number("110101", dt.date(1976, 6, 6), 11), "birth_date": "1975-05-05"},
        format="json",
    )
    assert "birth_date" in assert_envelope(resp)["fields"]


def test_status_change_keeps_history(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    client = api(secretary_a)
    resp = client.post(
        f"/api/v1/members/{member.pk}/history/",
        {"status": "historical", "date": "2026-02-01", "reason": "关系转出本系统"},
        format="json",
    )
    assert resp.status_code == 201
    history = client.get(f"/api/v1/members/{member.pk}/history/").json()
    assert history[0]["date"] == "2026-02-01" and history[0]["reason"] == "关系转出本系统"
    assert [(h["from_status"], h["to_status"]) for h in history] == [("full", "historical"), ("", "full")]
    assert set(history[0]) >= {"from_status", "to_status", "date", "reason"}
    assert MemberStatusChange.objects.filter(member=member).count() == 2


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        (
            "post",
            "/api/v1/members/{pk}/history/",
            {"status": "flowing", "date": "2026-02-01", "reason": "外出"},
        ),
        ("patch", "/api/v1/members/{pk}/", {"status": "flowing"}),
    ],
)
def test_flowing_is_not_a_status_the_api_sets(tree, secretary_a, member_factory, api, method, url, body):
    """Flowing is told by a flow certificate (活动证); the member stays full: the API says so."""
    member = member_factory(tree.branch_a)
    resp = getattr(api(secretary_a), method)(url.format(pk=member.pk), body, format="json")
    assert resp.status_code == 400
    assert "活动证" in resp.json()["error"]["fields"]["status"][0]
    member.refresh_from_db()
    assert member.status == "full" and member.status_changes.count() == 1


# Personal data


def test_list_and_detail_never_show_raw_numbers(tree, org_manager, member_factory, api):
    member = member_factory(tree.branch_a, phone="13711112222")
    number = member.decrypted_id_number()
    client = api(org_manager)
    for url in ("/api/v1/members/", f"/api/v1/members/{member.pk}/"):
        text = client.get(url).content.decode()
        assert number not in text and "13711112222" not in text
        assert member.id_number_masked in text and "137****2222" in text
    assert set(client.get(f"/api/v1/members/{member.pk}/").json()) & {"id_number", "phone"} == set()


@pytest.mark.parametrize("persona", ["secretary_a", "org_manager", "district_manager", "admin_user"])
def test_reveal_is_audited(tree, people, member_factory, api, persona):
    member = member_factory(tree.branch_a, phone="13711112222")
    user = people[persona]
    client = api(user)
    resp = client.post(f"/api/v1/members/{member.pk}/reveal/", {"field": "id_number"}, format="json")
    assert resp.json() == {"field": "id_number", "value": member.decrypted_id_number()}
    resp = client.post(f"/api/v1/members/{member.pk}/reveal/", {"field": "phone"}, format="json")
    assert resp.json()["value"] == "13711112222"
    entries = AuditEntry.objects.filter(action="pii.revealed", actor=user, object_id=str(member.pk))
    assert sorted(e.changes["field"] for e in entries) == ["id_number", "phone"]
    assert all(e.org_path == tree.branch_a.path for e in entries)


@pytest.mark.parametrize("persona", ["auditor", "member_a"])
def test_reveal_refused_for_roles_that_may_not(tree, people, member_factory, api, persona):
    member = people["member_a"].member if persona == "member_a" else member_factory(tree.branch_a)
    resp = api(people[persona]).post(
        f"/api/v1/members/{member.pk}/reveal/", {"field": "id_number"}, format="json"
    )
    assert_envelope(resp, 403, "permission_denied")
    assert not AuditEntry.objects.filter(action="pii.revealed").exists()


def test_committee_member_may_not_reveal(tree, member_factory, api):
    from tests.conftest import _user

    user = _user("weiyuan", "committee_member", tree.branch_a)
    member = member_factory(tree.branch_a)
    assert api(user).get(f"/api/v1/members/{member.pk}/").status_code == 200
    resp = api(user).post(f"/api/v1/members/{member.pk}/reveal/", {"field": "id_number"}, format="json")
    assert resp.status_code == 403


def test_reveal_refuses_other_fields(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    resp = api(secretary_a).post(f"/api/v1/members/{member.pk}/reveal/", {"field": "name"}, format="json")
    assert "field" in assert_envelope(resp)["fields"]


def test_reveal_out_of_scope_is_404(tree, secretary_b, member_factory, api):
    member = member_factory(tree.branch_a)
    resp = api(secretary_b).post(
        f"/api/v1/members/{member.pk}/reveal/", {"field": "id_number"}, format="json"
    )
    assert resp.status_code == 404
    assert not AuditEntry.objects.filter(action="pii.revealed").exists()


# /me/


def test_me_shape(tree, member_a, secretary_a, api):
    data = api(member_a).get("/api/v1/me/").json()
    assert data == {
        "id": member_a.pk,
        "username": "dangyuan1",
        "name": member_a.display_name,
        "member": member_a.member.pk,
        "roles": [
            {
                "id": member_a.role_assignments.get().pk,
                "role": "member",
                "org": tree.branch_a.pk,
                "org_name": "第一党支部",
            }
        ],
    }
    data = api(secretary_a).get("/api/v1/me/").json()
    assert data["member"] is None
    assert [(r["role"], r["org"]) for r in data["roles"]] == [("secretary", tree.branch_a.pk)]


# Lists: filters and pagination


@pytest.fixture
def register(tree, member_factory):
    """Members across the tree: 3 in branch_a (one in its group, one deceased), 2 in branch_b."""
    return {
        "a_plain": member_factory(tree.branch_a, name="王一", gender="male", birth_date=dt.date(1960, 3, 1), join_date=dt.date(1990, 7, 1), full_date=dt.date(1991, 7, 1), work_unit="东城医院"),
        "a_group": member_factory(tree.branch_a, name="王二", gender="female", birth_date=dt.date(1985, 3, 1), group=tree.group_a, join_date=dt.date(2010, 7, 1), full_date=dt.date(2011, 7, 1), education="junior_college"),
        "a_dead": member_factory(tree.branch_a, name="王三", gender="male", status="deceased", birth_date=dt.date(1940, 3, 1), join_date=dt.date(1965, 7, 1), full_date=dt.date(1966, 7, 1)),
        "b_1": member_factory(tree.branch_b, name="赵一", gender="female", birth_date=dt.date(1990, 3, 1), join_date=dt.date(2015, 7, 1), full_date=None, status="probationary"),
        "b_2": member_factory(tree.branch_b, name="赵二", gender="male", birth_date=dt.date(1970, 3, 1), join_date=dt.date(1995, 7, 1), full_date=dt.date(1996, 7, 1)),
    }  # fmt: skip


def ids(resp):
    assert resp.status_code == 200, resp.content
    return {row["id"] for row in resp.json()["results"]}


def names(register, *keys):
    return {register[k].pk for k in keys}


FILTERS = [
    ("", ("a_plain", "a_group", "a_dead", "b_1", "b_2")),
    ("org={city}", ("a_plain", "a_group", "a_dead", "b_1", "b_2")),
    ("org={district_a}", ("a_plain", "a_group", "a_dead")),
    ("org={district_a}&descendants=false", ()),
    ("org={branch_a}&descendants=false", ("a_plain", "a_group", "a_dead")),
    ("org={branch_b}&descendants=true", ("b_1", "b_2")),
    ("status=full", ("a_plain", "a_group", "b_2")),
    ("status=probationary,deceased", ("a_dead", "b_1")),
    ("gender=female", ("a_group", "b_1")),
    ("education=junior_college", ("a_group",)),
    ("join_year=2015", ("b_1",)),
    ("age_min=50&status=full", ("a_plain", "b_2")),
    ("age_max=40", ("b_1",)),
    ("q=赵", ("b_1", "b_2")),
    ("q=东城医院", ("a_plain",)),
    ("org=999999", ()),
    ("org=abc", ()),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_member_filters(tree, org_manager, register, api, query, expected):
    query = query.format(**{k: getattr(tree, k).pk for k in ("city", "district_a", "branch_a", "branch_b")})
    assert ids(api(org_manager).get(f"/api/v1/members/?{query}")) == names(register, *expected)


def test_org_filter_cannot_widen_scope(tree, secretary_a, register, api):
    client = api(secretary_a)
    assert ids(client.get(f"/api/v1/members/?org={tree.branch_b.pk}")) == set()
    # An org above the secretary's branch: never more than the branch itself.
    above = ids(client.get(f"/api/v1/members/?org={tree.city.pk}"))
    assert above <= names(register, "a_plain", "a_group", "a_dead")


def test_pagination(tree, secretary_a, member_factory, api):
    for _ in range(25):
        member_factory(tree.branch_a)
    client = api(secretary_a)
    first = client.get("/api/v1/members/").json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (25, 20, None)
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
    small = client.get("/api/v1/members/?page_size=10&page=3").json()
    assert len(small["results"]) == 5
    assert len(client.get("/api/v1/members/?page_size=1000").json()["results"]) == 25  # capped at 200
    assert client.get("/api/v1/members/?page=99").status_code == 404


# Query counts: the same number of queries for 5 rows as for 50 (house style, "Query counts locked").


@pytest.mark.parametrize(
    ("persona", "query", "queries"),
    [
        # token + user, role assignments, count, page (with its branch joined)
        ("secretary_a", "", 4),
        # + the visible org named in ?org=
        ("org_manager", "?org={branch_a}&status=full", 5),
    ],
)
def test_member_list_query_count_does_not_grow(
    tree, people, member_factory, api, django_assert_num_queries, persona, query, queries
):
    client = api(people[persona])
    url = (
        "/api/v1/members/"
        + query.format(branch_a=tree.branch_a.pk)
        + ("&" if query else "?")
        + "page_size=100"
    )
    base = Member.objects.filter(org=tree.branch_a).count()  # member_a's own record
    for _ in range(5):
        member_factory(tree.branch_a, group=tree.group_a)
    with django_assert_num_queries(queries):
        assert len(client.get(url).json()["results"]) == base + 5
    for _ in range(45):
        member_factory(tree.branch_a, group=tree.group_a)
    with django_assert_num_queries(queries):
        assert len(client.get(url).json()["results"]) == base + 50


@pytest.mark.parametrize(
    "query",
    [
        "join_year=99999999999",
        "age_min=9999",
        "age_max=99999",
        "age_min=-1",
        "org=abc",
        "org=²",
        "page_size=100000",
    ],
)
def test_absurd_filter_values_do_not_break_the_member_list(tree, org_manager, api, member_factory, query):
    member_factory(tree.branch_a)
    resp = api(org_manager).get(f"/api/v1/members/?{query}")
    assert resp.status_code in (200, 404)


def test_coordinates_out_of_range_are_refused(tree, org_manager, api, member_factory):
    m = member_factory(tree.branch_a)
    resp = api(org_manager).patch(f"/api/v1/members/{m.pk}/", {"latitude": 999}, format="json")
    assert resp.status_code == 400 and "latitude" in resp.json()["error"]["fields"]


def test_an_api_500_uses_the_error_envelope(client, db):
    from django.test import RequestFactory

    from dangjian.core.views import server_error

    resp = server_error(RequestFactory().get("/api/v1/members/"))
    assert resp.status_code == 500
    assert json.loads(resp.content)["error"]["code"] == "server_error"


@pytest.mark.parametrize("body", ["123", '"x"', "[1, 2]", "null"])
def test_a_body_that_is_not_an_object_is_a_clear_400(tree, secretary_a, member_factory, api, body):
    member = member_factory(tree.branch_a)
    client = api(secretary_a)
    for method, url in (
        ("patch", f"/api/v1/members/{member.pk}/"),
        ("post", "/api/v1/members/"),
        ("post", f"/api/v1/members/{member.pk}/reveal/"),
    ):
        resp = getattr(client, method)(url, body, content_type="application/json")
        assert resp.status_code == 400, (method, url, body, resp.content)


def test_a_list_where_a_name_belongs_is_refused(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    resp = api(secretary_a).patch(f"/api/v1/members/{member.pk}/", {"name": ["a"]}, format="json")
    assert resp.status_code == 400 and "name" in resp.json()["error"]["fields"]


def test_changing_the_phone_is_audited_without_the_number(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a, phone="13800000001")
    api(secretary_a).patch(f"/api/v1/members/{member.pk}/", {"phone": "13900000002"}, format="json")
    entry = AuditEntry.objects.filter(action="member.updated").latest("id")
    assert entry.changes["phone"] == ["***", "***"] and "id_number" not in entry.changes
    assert "13900000002" not in str(entry.changes)


def test_moving_a_member_moves_their_own_login_role(tree, org_manager, member_a, api):
    from dangjian.accounts.models import RoleAssignment

    member = Member.objects.get(user=member_a)
    resp = api(org_manager).patch(f"/api/v1/members/{member.pk}/", {"org": tree.branch_b.pk}, format="json")
    assert resp.status_code == 200
    assert RoleAssignment.objects.get(user=member_a, role="member", active=True).org == tree.branch_b


def test_suspension_is_refused_by_the_free_form_change(tree, secretary_a, member_factory, api):
    # 停止党籍 needs six months without contact: only the suspension action checks it.
    member = member_factory(tree.branch_a)
    resp = api(secretary_a).post(
        f"/api/v1/members/{member.pk}/history/",
        {"status": "suspended", "date": "2026-02-01", "reason": "失去联系"},
        format="json",
    )
    assert resp.status_code == 400 and "status" in resp.json()["error"]["fields"]
    member.refresh_from_db()
    assert member.status == "full"
