"""The generic permission suite: every API endpoint, every method, the same persona cases.

In the spirit of NetBox's ``utilities/testing/api.py``. The endpoints are read from the URL resolver, so
a new endpoint joins the matrix by itself — and fails until it declares its sample in
``tests/permissions_matrix.py``. For each scoped endpoint and method:

- anonymous → 401;
- outsider (a login without any role) → 404 on objects, an empty list, 403 on create;
- the stranger (secretary of branch_b) → 404 on branch_a's objects, refused create in branch_a;
- the reader (auditor, read-only on the city) → 200 on reads, 403 on every write, nothing saved;
- the writer (in scope) → 200 (201 on create, 204 on delete).

An endpoint whose rule differs (only a job's owner sees it; only an org manager appoints) says so in
its ``expect`` table, next to the reason. Test ids name the endpoint, the method and the persona.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from dangjian.core.models import AuditEntry
from dangjian.core.scoping import ALL, PERMISSIONS, Role
from dangjian.members.models import Member
from tests.permissions_matrix import (
    AUTHENTICATED,
    DETAIL,
    ENDPOINTS,
    EXTRA_PUBLIC,
    LIST,
    PUBLIC,
    SAFE,
    Ctx,
    Endpoint,
    api_endpoints,
)

GENERIC_PERSONAS = ("anonymous", "outsider", "stranger", "reader", "writer")


def _cases() -> list[Any]:
    cases = []
    for name, methods in sorted(api_endpoints().items()):
        ep = ENDPOINTS.get(name)
        for method in methods:
            if ep is not None and ep.kind == PUBLIC:
                personas: list[str] = ["anonymous"]
            else:
                personas = list(GENERIC_PERSONAS)
                if ep is not None:
                    personas += [p for (p, m) in ep.expect if m == method and p not in GENERIC_PERSONAS]
            for persona in personas:
                cases.append(pytest.param(name, method, persona, id=f"{name} {method} {persona}"))
    return cases


def test_every_api_endpoint_declares_a_sample():
    """A new endpoint under /api/v1/ fails here until tests/permissions_matrix.py describes it."""
    found = api_endpoints()
    assert found, "the URL resolver lists no endpoint under /api/v1/"
    missing = sorted(set(found) - set(ENDPOINTS))
    stale = sorted(set(ENDPOINTS) - set(found))
    assert not missing, f"endpoints without a permission sample in tests/permissions_matrix.py: {missing}"
    assert not stale, f"samples for endpoints that no longer exist: {stale}"
    for name, methods in found.items():
        ep = ENDPOINTS[name]
        writes = [m for m in methods if m not in SAFE]
        if ep.kind in (LIST, DETAIL):
            assert ep.build and ep.build_other, f"{name}: declare build and build_other"
            no_payload = [m for m in writes if m not in ep.payload]
            assert not no_payload, f"{name}: declare a payload for {no_payload}"
        if ep.kind == PUBLIC:
            assert ep.public_call and ep.public_call[0] in methods, f"{name}: declare public_call"


@pytest.fixture
def ctx(tree, people, member_factory, settings, tmp_path) -> Ctx:
    settings.MEDIA_ROOT = tmp_path  # job files written by the samples
    return Ctx(tree=tree, people=people, make_member=member_factory)


def _user_for(ep: Endpoint, persona: str, ctx: Ctx):
    role = {"writer": ep.writer, "reader": ep.reader, "stranger": ep.stranger}.get(persona, persona)
    return None if role == "anonymous" else ctx.people[role]


def _url(name: str, obj: Any = None) -> str:
    return reverse(name, kwargs={"pk": obj.pk}) if obj is not None else reverse(name)


def _snapshot(ep: Endpoint, obj: Any) -> tuple[Any, Any]:
    """What a refused write must leave untouched: the object's fields and the number of rows."""
    fields = None
    if obj is not None:
        obj.refresh_from_db()
        fields = model_to_dict(obj)
    return fields, ep.rows().count() if ep.rows else None


@pytest.mark.parametrize(("name", "method", "persona"), _cases())
def test_endpoint_permissions(name, method, persona, ctx, api):
    ep = ENDPOINTS.get(name)
    if ep is None:
        pytest.fail(f"{name} has no declared sample in tests/permissions_matrix.py")
    if ep.kind == PUBLIC:
        call_method, body, status = ep.public_call  # type: ignore[misc]
        resp = _call(api(), call_method, _url(name), body(ctx) if body else None, ep.multipart)
        assert resp.status_code == status, resp.content[:300]
        return

    user = _user_for(ep, persona, ctx)
    client = api(user)
    obj = ep.build(ctx) if ep.build else None
    other = ep.build_other(ctx) if ep.build_other else None
    target = obj if ep.kind == DETAIL else None
    payload = ep.payload[method](ctx) if method in ep.payload else None
    before = _snapshot(ep, target)
    resp = _call(client, method, _url(name, target), payload, ep.multipart)
    got = resp.status_code
    detail = f"{name} {method} as {persona}: {got} {_text(resp)}"
    write = method not in SAFE

    if (persona, method) in ep.expect:
        assert got == ep.expect[(persona, method)], detail
    elif persona == "anonymous":
        assert got == 401, detail
        assert resp.json()["error"]["code"] == "not_authenticated", detail
    elif ep.kind == AUTHENTICATED:
        assert got == 200, detail
    elif persona in ("outsider", "stranger"):
        if ep.kind == DETAIL:
            assert got == 404, detail
            assert resp.json()["error"]["code"] == "not_found", detail
        elif write:
            assert got in ({403} if persona == "outsider" else {400, 403}), detail
        else:
            assert got == 200, detail
            shown = ep.visible(resp)
            assert ep.ident(obj) not in shown, detail
            if persona == "outsider":
                assert shown == set(), detail
    elif persona == "reader":
        if write:
            assert got == 403, detail
            assert resp.json()["error"]["code"] == "permission_denied", detail
        else:
            assert got == 200, detail
            if ep.kind == LIST:
                assert ep.ident(obj) in ep.visible(resp), detail
    elif persona == "writer":
        assert got == {"POST": 201 if ep.kind == LIST else 200, "DELETE": 204}.get(method, 200), detail
        if ep.kind == LIST and not write:
            shown = ep.visible(resp)
            assert ep.ident(obj) in shown and ep.ident(other) not in shown, detail
    if write and got >= 400:
        assert _snapshot(ep, target) == before, f"{detail}: a refused write changed data"


def _call(client, method: str, url: str, payload: dict[str, Any] | None, multipart: bool):
    if payload is None:
        return client.generic(method, url)
    if multipart:
        return getattr(client, method.lower())(url, payload, format="multipart")
    return client.generic(method, url, data=json.dumps(payload), content_type="application/json")


def _text(resp) -> str:
    if resp.get("Content-Type", "").startswith("application/json"):
        return resp.content[:300].decode(errors="replace")
    return resp.get("Content-Type", "")


@pytest.mark.parametrize(("name", "spec"), sorted(EXTRA_PUBLIC.items()))
def test_public_endpoints_outside_the_api(name, spec, client, db):
    path, method, status = spec
    assert client.generic(method, path).status_code == status


# Scope cases that need more than one request, or a particular object.


def test_missing_and_forbidden_objects_look_the_same(tree, secretary_a, member_factory, api):
    """404 for both, with the same body: the answer must not reveal that the object exists."""
    other = member_factory(tree.branch_b)
    client = api(secretary_a)
    forbidden = client.get(f"/api/v1/members/{other.pk}/")
    missing = client.get(f"/api/v1/members/{other.pk + 10_000}/")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json() == missing.json()


def test_secretary_cannot_create_member_in_another_branch(ctx, api):
    payload = ENDPOINTS["api:member-list"].payload["POST"](ctx)
    payload["org"] = ctx.tree.branch_b.pk
    before = Member.objects.count()
    resp = api(ctx.people["secretary_a"]).post("/api/v1/members/", payload, format="json")
    assert resp.status_code in (400, 403)
    assert Member.objects.count() == before
    if resp.status_code == 400:
        assert "org" in resp.json()["error"]["fields"]


def test_secretary_cannot_move_member_out_of_scope(tree, secretary_a, member_factory, api):
    member = member_factory(tree.branch_a)
    before = model_to_dict(member)
    resp = api(secretary_a).patch(f"/api/v1/members/{member.pk}/", {"org": tree.branch_b.pk}, format="json")
    assert resp.status_code in (400, 403)
    member.refresh_from_db()
    assert model_to_dict(member) == before
    assert member.org_path == tree.branch_a.path


def test_write_leaving_scope_is_rolled_back_with_403(tree, secretary_a, member_factory, api, monkeypatch):
    """The re-check inside the transaction (the design notes "Scope") is the last line of defence: even
    if validation let an out-of-scope branch through, the update is rolled back, audit row and all."""
    monkeypatch.setitem(PERMISSIONS, Role.SECRETARY, {**PERMISSIONS[Role.SECRETARY], "add": ALL})
    member = member_factory(tree.branch_a)
    before = model_to_dict(member)
    audit_rows = AuditEntry.objects.count()
    resp = api(secretary_a).patch(f"/api/v1/members/{member.pk}/", {"org": tree.branch_b.pk}, format="json")
    assert resp.status_code == 403, resp.json()
    assert resp.json()["error"]["code"] == "permission_denied"
    member.refresh_from_db()
    assert model_to_dict(member) == before
    assert member.org_path == tree.branch_a.path
    # token.issued from api(secretary_a) is the only new row; member.updated was rolled back.
    assert not AuditEntry.objects.filter(action="member.updated").exists()
    assert AuditEntry.objects.count() == audit_rows + 1


def test_create_leaving_scope_is_rolled_back_with_403(ctx, api, monkeypatch):
    monkeypatch.setitem(PERMISSIONS, Role.SECRETARY, {**PERMISSIONS[Role.SECRETARY], "add": ALL})
    payload = ENDPOINTS["api:member-list"].payload["POST"](ctx)
    payload["org"] = ctx.tree.branch_b.pk
    before = Member.objects.count()
    resp = api(ctx.people["secretary_a"]).post("/api/v1/members/", payload, format="json")
    assert resp.status_code == 403
    assert Member.objects.count() == before
    assert not AuditEntry.objects.filter(action="member.created").exists()


def test_member_sees_only_self(tree, member_a, member_factory, api):
    me = member_a.member
    neighbour = member_factory(tree.branch_a)
    client = api(member_a)
    resp = client.get("/api/v1/members/")
    assert resp.status_code == 200
    assert [row["id"] for row in resp.json()["results"]] == [me.pk]
    assert client.get(f"/api/v1/members/{me.pk}/").status_code == 200
    assert client.get(f"/api/v1/members/{neighbour.pk}/").status_code == 404
    assert client.patch(f"/api/v1/members/{me.pk}/", {"work_unit": "x"}, format="json").status_code == 403
    assert client.post(f"/api/v1/members/{me.pk}/reveal/", {"field": "id_number"}).status_code == 403


def test_member_sees_own_branch_only_in_the_tree(tree, member_a, api):
    resp = api(member_a).get("/api/v1/orgs/")
    assert {row["id"] for row in resp.json()["results"]} == {tree.branch_a.pk, tree.group_a.pk}


def test_resident_sees_no_members(tree, resident, member_factory, api):
    member_factory(tree.branch_a)
    client = api(resident)
    resp = client.get("/api/v1/members/")
    assert resp.status_code == 200
    assert resp.json()["count"] == 0
    assert client.post("/api/v1/members/", {}, format="json").status_code == 403


def test_outsider_sees_nothing_anywhere(tree, outsider, member_factory, api):
    member = member_factory(tree.branch_a)
    client = api(outsider)
    for url in ("/api/v1/members/", "/api/v1/orgs/", "/api/v1/role-assignments/"):
        assert client.get(url).json()["count"] == 0, url
    assert client.get(f"/api/v1/members/{member.pk}/").status_code == 404
    assert client.get(f"/api/v1/orgs/{tree.city.pk}/stats/").status_code == 404


def test_org_manager_sees_the_whole_city(tree, org_manager, member_factory, api):
    a, b = member_factory(tree.branch_a), member_factory(tree.branch_b)
    ids = {row["id"] for row in api(org_manager).get("/api/v1/members/").json()["results"]}
    assert {a.pk, b.pk} <= ids


def test_district_manager_sees_only_own_district(tree, district_manager, member_factory, api):
    a, b = member_factory(tree.branch_a), member_factory(tree.branch_b)
    client = api(district_manager)
    ids = [row["id"] for row in client.get("/api/v1/members/").json()["results"]]
    assert ids == [a.pk]
    assert client.get(f"/api/v1/members/{b.pk}/").status_code == 404
    orgs = {row["id"] for row in client.get("/api/v1/orgs/").json()["results"]}
    assert orgs == {tree.district_a.pk, tree.branch_a.pk, tree.group_a.pk}
