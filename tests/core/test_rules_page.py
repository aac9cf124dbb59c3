"""The 规则 page (/rules/) and the rulebook API (/api/v1/rules/, /api/v1/rules/overrides/)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dangjian.core.models import AuditEntry, RuleOverride
from dangjian.core.services import rule_override_set

TODAY = timezone.localdate()


def _form(key: str = "org.terms", **values: str) -> dict[str, str]:
    prefix = f"r-{key.replace('.', '-')}"
    return {f"{prefix}-{name}": value for name, value in values.items()}


@pytest.fixture
def district_rule(tree, org_manager):
    """东城区委 warns 120 days before a term ends (the national value is 90)."""
    return rule_override_set(
        actor=org_manager,
        org=tree.district_a,
        key="org.terms",
        params={"warn_days_before_end": 120},
        effective_from=TODAY,
        reason="区委要求提前四个月筹备换届",
    )


def test_every_rule_family_is_listed_with_its_source(web, tree, secretary_a):
    resp = web(secretary_a).get("/rules/")
    assert resp.status_code == 200
    items = {i.key: i for i in resp.context["items"]}
    assert {"org.structure", "org.terms"} <= set(items)
    assert resp.context["org"] == tree.branch_a  # the secretary's own branch by default
    body = resp.content.decode()
    assert items["org.structure"].national.source in body
    assert "党组织设置与规模" in body
    assert resp.context["may_manage"] is False and "/override/" not in body  # no override form


def test_a_local_version_shows_who_set_it_and_why(web, tree, secretary_a, district_rule):
    resp = web(secretary_a).get("/rules/")
    terms = next(i for i in resp.context["items"] if i.key == "org.terms")
    assert terms.current["warn_days_before_end"] == 120 and terms.current.confidence == "local"
    assert [layer.org for layer in terms.layers] == [tree.district_a]
    body = resp.content.decode()
    assert "区委要求提前四个月筹备换届" in body and "东城区委" in body
    row = next(p for p in terms.params if p.name == "warn_days_before_end")
    assert (row.value, row.national, row.local_org) == (120, 90, tree.district_a)
    # branch_b is outside secretary_a's scope.
    assert web(secretary_a).get(f"/rules/?org={tree.branch_b.pk}").status_code == 404


def test_org_outside_scope_is_404(web, tree, secretary_b):
    assert web(secretary_b).get(f"/rules/?org={tree.branch_a.pk}").status_code == 404
    assert web(secretary_b).get("/rules/?org=abc").status_code == 404


def test_manager_sets_and_ends_a_local_version_through_the_page(web, tree, district_manager):
    client = web(district_manager)
    resp = client.get(f"/rules/?org={tree.branch_a.pk}")
    assert resp.context["may_manage"] is True
    assert f'action="/rules/{tree.branch_a.pk}/org.terms/override/"' in resp.content.decode()
    data = _form(
        p_default_years="5", p_warn_days_before_end="", effective_from=TODAY.isoformat(), reason="社区惯例"
    )
    resp = client.post(f"/rules/{tree.branch_a.pk}/org.terms/override/", data)
    assert resp.status_code == 302 and resp["Location"].endswith("#rule-org-terms")
    assert 'id="rule-org-terms"' in client.get(resp["Location"]).content.decode()  # the anchor exists
    row = RuleOverride.objects.get()
    assert (row.org, row.params, row.created_by) == (tree.branch_a, {"default_years": 5}, district_manager)
    assert AuditEntry.objects.filter(action="rule.override_set", org=tree.branch_a).exists()
    # Ending it: a new row.
    soon = TODAY + dt.timedelta(days=3)
    resp = client.post(
        f"/rules/{tree.branch_a.pk}/org.terms/end/",
        {"e-org-terms-effective_from": soon.isoformat(), "e-org-terms-reason": "统一执行区委标准"},
    )
    assert resp.status_code == 302
    assert list(RuleOverride.objects.order_by("id").values_list("kind", flat=True)) == ["set", "end"]


def test_out_of_bounds_value_is_shown_on_the_form(web, tree, district_manager):
    data = _form(p_default_years="8", effective_from=TODAY.isoformat(), reason="x")
    resp = web(district_manager).post(f"/rules/{tree.branch_a.pk}/org.terms/override/", data)
    assert resp.status_code == 400
    terms = next(i for i in resp.context["items"] if i.key == "org.terms")
    assert terms.override_form.errors["p_default_years"] == ["委员会默认任期（年） 不能大于 5。"]
    assert not RuleOverride.objects.exists()


@pytest.mark.parametrize(
    ("persona", "status"), [("secretary_a", 403), ("auditor", 403), ("secretary_b", 404)]
)
def test_only_managers_may_post(web, tree, people, persona, status):
    data = _form(p_default_years="5", effective_from=TODAY.isoformat(), reason="x")
    resp = web(people[persona]).post(f"/rules/{tree.branch_a.pk}/org.terms/override/", data)
    assert resp.status_code == status
    assert not RuleOverride.objects.exists()


def test_rules_is_in_the_navigation(web, secretary_a):
    body = web(secretary_a).get("/").content.decode()
    assert 'href="/rules/"' in body and 'href="/alerts/"' in body


# --- API ---------------------------------------------------------------------------------------------------


def test_api_national_rules_for_anyone_logged_in(outsider, api):
    resp = api(outsider).get("/api/v1/rules/")
    assert resp.status_code == 200
    data = {r["key"]: r for r in resp.json()["results"]}
    terms = data["org.terms"]
    assert terms["local"] == [] and terms["confidence"] in ("C", "S", "U")
    assert {p["name"] for p in terms["overridable"]} == {"default_years", "warn_days_before_end"}
    assert terms["pending_confirmation"] is False and terms["history"]


def test_api_rules_for_an_org(tree, secretary_a, secretary_b, district_rule, api):
    resp = api(secretary_a).get(f"/api/v1/rules/?org={tree.branch_a.pk}")
    terms = next(r for r in resp.json()["results"] if r["key"] == "org.terms")
    assert (
        terms["params"]["warn_days_before_end"] == 120
        and terms["national"]["params"]["warn_days_before_end"] == 90
    )
    assert (
        terms["local"][0]["org_name"] == "东城区委"
        and terms["local"][0]["reason"] == "区委要求提前四个月筹备换届"
    )
    assert terms["ref"].endswith(f"+org{tree.district_a.pk}")
    assert api(secretary_b).get(f"/api/v1/rules/?org={tree.branch_a.pk}").status_code == 404
    past = api(secretary_a).get(f"/api/v1/rules/?org={tree.branch_a.pk}&on=2020-01-01").json()
    assert next(r for r in past["results"] if r["key"] == "org.terms")["local"] == []


def test_api_override_bounds_and_end(tree, district_manager, api):
    client = api(district_manager)
    body = {
        "key": "org.terms",
        "org": tree.branch_a.pk,
        "params": {"default_years": 9},
        "effective_from": TODAY.isoformat(),
        "reason": "x",
    }
    resp = client.post("/api/v1/rules/overrides/", body, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"]["default_years"] == ["委员会默认任期（年） 不能大于 5。"]
    body["params"] = {"default_years": 4}
    resp = client.post("/api/v1/rules/overrides/", body, format="json")
    assert resp.status_code == 201 and resp.json()["params"] == {"default_years": 4}
    end = {**body, "params": {}, "end": True, "effective_from": (TODAY + dt.timedelta(days=1)).isoformat()}
    resp = client.post("/api/v1/rules/overrides/", end, format="json")
    assert resp.status_code == 201 and resp.json()["kind"] == "end"
    # Outside the manager's district.
    resp = client.post("/api/v1/rules/overrides/", {**body, "org": tree.branch_b.pk}, format="json")
    assert resp.status_code == 400 and "org" in resp.json()["error"]["fields"]


# --- value labels and the organisation search (issue 3) ----------------------------------------------------


def test_values_are_shown_by_their_labels_not_their_codes(web, tree, secretary_a):
    body = web(secretary_a).get("/rules/").content.decode()
    assert "党员推荐、群团组织推优" in body and "党委、党工委" in body and "农村: 5；社区: 5" in body
    assert "member_recommendation" not in body and "working_committee" not in body
    assert "rural: 5" not in body


def test_api_gives_labels_and_values_as_read(outsider, api):
    data = {r["key"]: r for r in api(outsider).get("/api/v1/rules/").json()["results"]}
    recruitment = data["recruitment"]
    assert recruitment["params"]["approver_org_types"] == ["committee", "working_committee"]  # codes kept
    assert recruitment["params_display"]["approver_org_types"] == "党委、党工委"
    assert recruitment["labels"]["approver_org_types"] == "有审批权的党组织类型"
    assert recruitment["value_labels"]["activist_nomination_methods"]["member_recommendation"] == "党员推荐"
    assert data["org.terms"]["params_display"]["by_sector"] == "农村: 5；社区: 5"


def test_a_branch_deep_in_the_tree_is_found_by_name_and_opened(web, tree, org_manager):
    client = web(org_manager)
    resp = client.get("/rules/orgs/", {"q": "第一党"})
    assert resp.status_code == 200
    body = resp.content.decode()
    assert f'href="/rules/?org={tree.branch_a.pk}"' in body and "示范市委 › 东城区委" in body
    assert f'href="/rules/?org={tree.group_a.pk}"' in body  # 第一党小组 matches too
    # Without script: the page's own search shows the same links and keeps the organisation shown.
    page = client.get("/rules/", {"q": tree.branch_b.code, "org": tree.city.pk})
    assert page.context["org"] == tree.city
    assert [f["org"] for f in page.context["found"]] == [tree.branch_b]
    assert client.get(f"/rules/?org={tree.branch_a.pk}").context["org"] == tree.branch_a


def test_the_search_stays_within_the_users_scope(web, tree, secretary_b):
    body = web(secretary_b).get("/rules/orgs/", {"q": "党支部"}).content.decode()
    assert f"?org={tree.branch_b.pk}" in body and f"?org={tree.branch_a.pk}" not in body
    assert "示范市委" not in body  # ancestors outside the scope are not named
    empty = web(secretary_b).get("/rules/orgs/", {"q": "第一党支部"}).content.decode()
    assert "没有与“第一党支部”匹配的组织" in empty
    assert web(secretary_b).get("/rules/orgs/").content.decode().strip() == ""


def test_the_search_needs_a_login(client, tree):
    assert client.get("/rules/orgs/", {"q": "第一"}).status_code == 302
