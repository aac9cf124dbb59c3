"""API plumbing: the OpenAPI schema, the docs page, /healthz, and the error envelope."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from dangjian.core.api import exception_handler
from tests.permissions_matrix import api_endpoints


@pytest.fixture
def schema(client, db) -> dict:
    resp = client.get("/api/v1/schema/?format=json")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return json.loads(resp.content)


def _template(route: str) -> str:
    """``api/v1/^members/(?P<pk>[^/.]+)/$`` or ``api/v1/jobs/<int:pk>/`` → ``/api/v1/members/{id}/``
    (drf-spectacular's spelling: parameters in braces, ``pk`` called ``id``)."""
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.replace("{pk}", "{id}")


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "dangjian API"
    assert "paths" in schema and "components" in schema


def test_schema_lists_every_endpoint(schema):
    """Every /api/v1/ URL and method is in the schema, except the schema, the docs and the API root."""
    from django.urls import get_resolver

    from tests.permissions_matrix import _walk

    not_documented = {"api:schema", "api:docs", "api:api-root"}
    expected: dict[str, set[str]] = {}
    for route, name, _pattern in _walk(get_resolver().url_patterns):
        if name in not_documented or "format" in route or not route.startswith("api/v1/"):
            continue
        expected.setdefault(_template(route), set()).update(m.lower() for m in api_endpoints()[name])
    assert expected, "no API route found"
    for path, methods in expected.items():
        assert path in schema["paths"], f"{path} missing from the schema"
        assert methods <= set(schema["paths"][path]), (
            f"{path}: {methods - set(schema['paths'][path])} undocumented"
        )


def test_schema_documents_the_contract(schema):
    member = schema["components"]["schemas"]["Member"]["properties"]
    assert {"id", "name", "org", "status", "id_number_masked"} <= set(member)
    assert "id_number" not in member  # write-only: never in a response
    params = {p["name"] for p in schema["paths"]["/api/v1/members/"]["get"]["parameters"]}
    assert {"org", "descendants", "status", "page"} <= params
    assert "tokenAuth" in json.dumps(schema["components"].get("securitySchemes", {}))


def test_docs_page_is_self_contained(client, db):
    resp = client.get("/api/v1/docs/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert reverse("api:schema") in html
    external = re.findall(r"""(?:src|href)\s*=\s*["'](https?:)?//""", html) + re.findall(
        r"https?://(?!127\.0\.0\.1|localhost|testserver)[\w.-]+", html
    )
    assert not external, f"the docs page loads something from the network: {external}"


def test_healthz(client, db):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok" and body["queue"] == "ok"
    assert "version" in body


def test_healthz_reports_a_broken_database(client, db, monkeypatch):
    from dangjian.core import views

    class Broken:
        def cursor(self):
            raise RuntimeError("down")

    monkeypatch.setattr(views, "connection", Broken())
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["status"] == "error" and resp.json()["database"].startswith("error")


def test_healthz_only_answers_get(client, db):
    assert client.post("/healthz").status_code == 405


def test_envelope_for_django_errors():
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.http import Http404

    resp = exception_handler(ValidationError({"name": ["Required."]}), {})
    assert resp.status_code == 400
    assert resp.data["error"]["fields"] == {"name": ["Required."]}
    assert resp.data["error"]["code"] == "invalid"
    resp = exception_handler(ValidationError("Whole form is wrong."), {})
    assert resp.data["error"]["fields"] == {"non_field_errors": ["Whole form is wrong."]}
    resp = exception_handler(PermissionDenied("No."), {})
    assert (resp.status_code, resp.data["error"]["code"], resp.data["error"]["message"]) == (
        403,
        "permission_denied",
        "No.",
    )
    resp = exception_handler(Http404("secret detail"), {})
    assert resp.status_code == 404 and "secret" not in resp.data["error"]["message"]
    assert exception_handler(RuntimeError("boom"), {}) is None  # a bug stays a 500, not a pretty envelope


def test_token_login(tree, secretary_a, api):
    resp = api().post(
        "/api/v1/auth/token/", {"username": "shuji1", "password": "Test@Pass2026"}, format="json"
    )
    assert resp.status_code == 200
    token = resp.json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["username"] == "shuji1"


def test_token_login_refusals(tree, secretary_a, api):
    wrong = api().post("/api/v1/auth/token/", {"username": "shuji1", "password": "nope"}, format="json")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "authentication_failed"
    unknown = api().post("/api/v1/auth/token/", {"username": "nobody", "password": "nope"}, format="json")
    assert unknown.status_code == 401 and unknown.json() == wrong.json()  # no hint that a user exists
    missing = api().post("/api/v1/auth/token/", {"username": "shuji1"}, format="json")
    assert missing.status_code == 400 and "password" in missing.json()["error"]["fields"]
