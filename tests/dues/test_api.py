"""The dues API contract (issue 4): calculate, bills, summary, arrears, a member's year, declarations and a
branch's arrangements. Who may call what is the generic suite's (tests/test_permissions.py); these are the
answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dangjian.dues import services
from dangjian.dues.models import DuesBill, DuesDeclaration, DuesOrgSetting

D = dt.date
MARCH = D(2026, 3, 1)


def make_bill(
    member, month=MARCH, *, amount="30.00", paid="0.00", status="open", category="employed", org=None
):
    org = org or member.org
    return DuesBill.objects.create(
        member=member, org=org, org_path=org.path, month=month, category=category, base="3000.01", rate="0.01",
        standard_amount=amount, amount=amount, paid_amount=paid, status=status, rule_ref="dues@2008",
    )  # fmt: skip


# ── calculate ─────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "category=employed&base=3000.00&on=2026-03-01",
            {"amount": "15.00", "rate": "0.005", "rule": "dues@2008"},
        ),
        (
            "category=employed&base=3000.01&on=2026-03-01",
            {"amount": "30.00", "rate": "0.01", "rule": "dues@2008"},
        ),
        ("category=employed&base=10000.01", {"amount": "200.00", "rate": "0.02", "rule": "dues@2008"}),
        (
            "category=retiree&base=5000.01&on=2026-03-01",
            {"amount": "50.00", "rate": "0.01", "rule": "dues@2008"},
        ),
        ("category=student&on=2026-03-01", {"amount": "0.20", "rate": None, "rule": "dues@2008"}),
        ("category=farmer&chosen_amount=0.5", {"amount": "0.50", "rate": None, "rule": "dues@2008"}),
    ],
)
def test_calculate_contract(secretary_a, api, query, expected):
    resp = api(secretary_a).get(f"/api/v1/dues/calculate?{query}")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert {k: body[k] for k in expected} == expected
    assert "article" in body and "base" in body


@pytest.mark.parametrize(
    ("base", "violation"),
    [("-1", "negative"), ("abc", "not_a_number"), ("3000.001", "too_many_decimals"), ("1e3", "not_a_number")],
)
def test_calculate_bad_base_is_400_in_the_error_format(member_a, api, base, violation):
    resp = api(member_a).get(f"/api/v1/dues/calculate?category=employed&base={base}&on=2026-03-01")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid" and error["violation"] == violation
    assert "base" in error["fields"] and error["message"]
    assert error["rule"] == "dues" and error["rule_version"] == "dues@2008" and "第一条" in error["article"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("base=3000", "category"),
        ("category=soldier&base=3000", "category"),
        ("category=employed", "base"),
        ("category=employed&base=3000&on=2026-13-01", "on"),
        ("category=farmer&chosen_amount=2", "chosen_amount"),
    ],
)
def test_calculate_missing_or_wrong_parameters(secretary_a, api, query, field):
    resp = api(secretary_a).get(f"/api/v1/dues/calculate?{query}")
    assert resp.status_code == 400
    assert field in resp.json()["error"]["fields"]


def test_calculate_needs_a_login(api, db):
    assert api().get("/api/v1/dues/calculate?category=student").status_code == 401


def test_calculate_with_an_organisations_local_options(tree, secretary_a, secretary_b, api):
    from dangjian.core.models import RuleOverride

    RuleOverride.objects.create(
        key="dues",
        org=tree.branch_a,
        effective_from=D(2020, 1, 1),
        params={"rounding_unit": "0.1"},
        reason="保留到角",
    )
    url = f"/api/v1/dues/calculate?category=employed&base=3333.33&on=2026-03-01&org={tree.branch_a.pk}"
    body = api(secretary_a).get(url).json()
    assert body["amount"] == "33.30" and body["rule"].startswith("dues@2008/local")
    # An organisation outside the caller's scope is refused like a missing one.
    assert api(secretary_b).get(url).status_code == 400


# ── bills ─────────────────────────────────────────────────────────────────────────────────────────


def test_bills_of_a_member_and_year(tree, secretary_a, member_factory, api):
    m = member_factory(tree.branch_a)
    make_bill(m, D(2025, 12, 1))
    mine = [make_bill(m, D(2026, 1, 1)), make_bill(m, D(2026, 2, 1), paid="30.00", status="paid")]
    make_bill(member_factory(tree.branch_a), D(2026, 1, 1))
    resp = api(secretary_a).get(f"/api/v1/dues/bills/?member={m.pk}&year=2026")
    assert resp.status_code == 200
    rows = resp.json()["results"]
    assert {r["id"] for r in rows} == {b.pk for b in mine}
    feb = next(r for r in rows if r["month"] == "2026-02")
    assert feb["amount"] == "30.00" and feb["paid_amount"] == "30.00" and feb["outstanding"] == "0.00"
    assert feb["rate"] == "0.01" and feb["rule_ref"] == "dues@2008" and feb["status"] == "paid"


def test_member_sees_only_own_bills(tree, member_a, member_factory, api):
    own = make_bill(member_a.member)
    other = make_bill(member_factory(tree.branch_a))
    client = api(member_a)
    assert [r["id"] for r in client.get("/api/v1/dues/bills/").json()["results"]] == [own.pk]
    assert client.get(f"/api/v1/dues/bills/{own.pk}/").status_code == 200
    assert client.get(f"/api/v1/dues/bills/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/dues/bills/?member={other.member_id}").json()["count"] == 0


@pytest.mark.parametrize("query", ["year=26", "year=abc", "member=x", "month=2026-3"])
def test_bills_bad_filters(secretary_a, api, query):
    assert api(secretary_a).get(f"/api/v1/dues/bills/?{query}").status_code == 400


def test_generate_bills_now(tree, secretary_a, member_factory, api):
    member_factory(tree.branch_a, dues_category="student")
    needs = member_factory(tree.branch_a)
    month = f"{timezone.localdate():%Y-%m}"
    resp = api(secretary_a).post(
        "/api/v1/dues/bills/generate/", {"month": month, "org": tree.branch_a.pk}, format="json"
    )
    assert resp.status_code == 201
    assert resp.json() == {"month": month, "created": 1, "skipped": 0, "needs_declaration": [needs.pk]}
    again = api(secretary_a).post(
        "/api/v1/dues/bills/generate/", {"month": month, "org": tree.branch_a.pk}, format="json"
    )
    assert again.json()["created"] == 0 and again.json()["skipped"] == 1


def test_generate_refuses_a_future_month(tree, secretary_a, api):
    future = f"{timezone.localdate() + dt.timedelta(days=40):%Y-%m}"
    resp = api(secretary_a).post(
        "/api/v1/dues/bills/generate/", {"month": future, "org": tree.branch_a.pk}, format="json"
    )
    assert resp.status_code == 400 and "month" in resp.json()["error"]["fields"]


# ── summary and arrears ───────────────────────────────────────────────────────────────────────────


def test_summary_contract(tree, org_manager, member_factory, api):
    a1, a2 = member_factory(tree.branch_a), member_factory(tree.branch_a, dues_category="student")
    b1 = member_factory(tree.branch_b)
    make_bill(a1, paid="30.00", status="paid")
    make_bill(a2, amount="0.20", category="student")
    make_bill(b1, amount="45.00")
    make_bill(b1, D(2026, 2, 1))  # another month: not in the period
    resp = api(org_manager).get(f"/api/v1/dues/summary/?org={tree.city.pk}&period=2026-03")
    assert resp.status_code == 200
    body = resp.json()
    assert body["org"] == {"id": tree.city.pk, "name": "示范市委"}
    assert (body["period_start"], body["period_end"]) == ("2026-03", "2026-03")
    assert (body["due"], body["paid"], body["outstanding"]) == ("75.20", "30.00", "45.20")
    assert body["collection_rate"] == "0.3989" and body["bills"] == 3 and body["members"] == 3
    by_org = {row["name"]: row for row in body["by_org"]}
    assert set(by_org) == {"东城区委", "西城区委"}
    assert by_org["东城区委"]["due"] == "30.20" and by_org["东城区委"]["collection_rate"] == "0.9934"
    assert by_org["西城区委"]["paid"] == "0.00" and by_org["西城区委"]["org"] == tree.district_b.pk
    by_category = {row["category"]: row for row in body["by_category"]}
    assert by_category["employed"]["due"] == "75.00" and by_category["student"]["outstanding"] == "0.20"


def test_summary_default_org_and_scope(tree, secretary_a, member_factory, api):
    make_bill(member_factory(tree.branch_a))
    client = api(secretary_a)
    body = client.get("/api/v1/dues/summary/?period=2026-03").json()
    assert body["org"]["id"] == tree.branch_a.pk and body["due"] == "30.00"
    assert client.get(f"/api/v1/dues/summary/?org={tree.branch_b.pk}&period=2026-03").status_code == 404
    assert client.get(f"/api/v1/dues/summary/?org={tree.district_a.pk}").status_code == 404
    assert client.get("/api/v1/dues/summary/?org=abc").status_code == 404


def test_member_cannot_read_the_branch_summary(tree, member_a, api):
    assert api(member_a).get(f"/api/v1/dues/summary/?org={tree.branch_a.pk}").status_code == 404


@pytest.mark.parametrize("query", ["period=2026-3", "period=march", "from=2026-05&to=2026-01"])
def test_summary_bad_period(tree, secretary_a, api, query):
    assert api(secretary_a).get(f"/api/v1/dues/summary/?{query}").status_code == 400


def test_summary_for_a_year_counts_members_once(tree, secretary_a, member_factory, api):
    m = member_factory(tree.branch_a)
    for month in (1, 2, 3):
        make_bill(m, D(2026, month, 1))
    body = api(secretary_a).get(f"/api/v1/dues/summary/?org={tree.branch_a.pk}&period=2026").json()
    assert (body["bills"], body["members"], body["due"]) == (3, 1, "90.00")


def test_arrears_list(tree, secretary_a, member_factory, api):
    m = member_factory(tree.branch_a)
    for month in (D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1)):
        make_bill(m, month)
    body = api(secretary_a).get(f"/api/v1/dues/arrears/?org={tree.branch_a.pk}&on=2026-03-02").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["member"] == m.pk and row["months"] == ["2025-11", "2025-12", "2026-01"]
    assert (row["consecutive"], row["amount"], row["reduction"]) == (3, "90.00", False)


# ── a member's year ───────────────────────────────────────────────────────────────────────────────


def test_member_dues_for_the_member_on_the_phone(tree, member_a, secretary_a, member_factory, api):
    me = member_a.member
    services.declaration_create(
        actor=secretary_a, member=me, category="employed", base="3500.00", effective_month=D(2026, 1, 1),
        today=D(2025, 12, 1),
    )  # fmt: skip
    make_bill(me, D(2026, 1, 1), amount="35.00")
    client = api(member_a)
    resp = client.get(f"/api/v1/dues/members/{me.pk}/?year=2026")
    assert resp.status_code == 200
    body = resp.json()
    assert body["computed"]["amount"] == "35.00" and body["computed"]["rate"] == "0.01"
    assert body["declaration"]["base"] == "3500.00" and body["needs_declaration"] is False
    assert [b["month"] for b in body["bills"]] == ["2026-01"]
    assert body["standard"]["employed"][0]["up_to"] == "3000.00"
    other = member_factory(tree.branch_a)
    assert client.get(f"/api/v1/dues/members/{other.pk}/").status_code == 404


# ── declarations and arrangements ─────────────────────────────────────────────────────────────────


def test_declare_over_the_api(tree, secretary_a, member_factory, api):
    m = member_factory(tree.branch_a)
    payload = {"member": m.pk, "category": "retiree", "base": 5200, "effective_month": "2026-02"}
    resp = api(secretary_a).post("/api/v1/dues/declarations/", payload, format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["effective_month"] == "2026-02" and body["base"] == "5200.00" and body["declared_by_name"]
    listed = api(secretary_a).get(f"/api/v1/dues/declarations/?member={m.pk}").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]


def test_declaration_refused_by_the_rule_answers_with_the_article(tree, secretary_a, member_factory, api):
    m = member_factory(tree.branch_a, dues_category="farmer")
    payload = {"member": m.pk, "category": "farmer", "chosen_amount": "1.20", "effective_month": "2026-02"}
    resp = api(secretary_a).post("/api/v1/dues/declarations/", payload, format="json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert "chosen_amount" in error["fields"] and "第六条" in error["article"]
    assert not DuesDeclaration.objects.exists()


def test_declaration_for_another_branchs_member_refused(tree, secretary_b, member_factory, api):
    m = member_factory(tree.branch_a)
    payload = {"member": m.pk, "category": "employed", "base": "3000", "effective_month": "2026-02"}
    resp = api(secretary_b).post("/api/v1/dues/declarations/", payload, format="json")
    assert resp.status_code == 400 and "member" in resp.json()["error"]["fields"]


def test_branch_arrangement_over_the_api(tree, secretary_a, api):
    client = api(secretary_a)
    resp = client.post(
        "/api/v1/dues/org-settings/",
        {
            "org": tree.branch_a.pk,
            "quarterly_allowed": True,
            "decided_on": "2026-01-10",
            "note": "支委会决定",
        },
        format="json",
    )
    assert resp.status_code == 200 and resp.json()["quarterly_allowed"] is True
    assert DuesOrgSetting.objects.get(org=tree.branch_a).decided_on == D(2026, 1, 10)
    assert client.get("/api/v1/dues/org-settings/").json()["results"][0]["org"] == tree.branch_a.pk
    group = client.post(
        "/api/v1/dues/org-settings/", {"org": tree.group_a.pk, "quarterly_allowed": True}, format="json"
    )
    assert group.status_code == 400


def test_money_is_written_with_two_decimals(tree, secretary_a, member_factory, api):
    m = member_factory(tree.branch_a)
    make_bill(m, amount="15")
    row = api(secretary_a).get("/api/v1/dues/bills/").json()["results"][0]
    assert row["amount"] == "15.00" and Decimal(row["amount"]) == Decimal("15")


def test_member_sees_only_own_declarations(tree, member_a, secretary_a, member_factory, api):
    other = member_factory(tree.branch_a)
    for m in (member_a.member, other):
        services.declaration_create(
            actor=secretary_a, member=m, category="employed", base="3000", effective_month=D(2026, 1, 1),
            today=D(2025, 12, 1),
        )  # fmt: skip
    rows = api(member_a).get("/api/v1/dues/declarations/").json()["results"]
    assert [row["member"] for row in rows] == [member_a.member.pk]
    assert api(member_a).post("/api/v1/dues/declarations/", {}, format="json").status_code == 403


# Query parameters the dues API reads as numbers: one strict reading everywhere (ASCII digits, at most 18
# of them, years 1949–2999). "²" passes str.isdigit() but is no number; 23 digits overflow the database.
SUPERSCRIPT_TWO, HUGE = "%C2%B2", "9" * 23
BAD_PARAMETERS = [
    ("summary, year 0", "/api/v1/dues/summary/?period=0000", "period"),
    ("summary, month of year 9999", "/api/v1/dues/summary/?period=9999-12", "period"),
    ("summary, year 9999", "/api/v1/dues/summary/?period=9999", "period"),
    ("summary, range in year 9999", "/api/v1/dues/summary/?from=9999-01&to=9999-12", "from"),
    ("payments, year 0", "/api/v1/dues/payments/?year=0", "year"),
    ("payments, year 99999", "/api/v1/dues/payments/?year=99999", "year"),
    ("remittances, year 99999", "/api/v1/dues/remittances/?year=99999", "year"),
    ("bills, year 1900", "/api/v1/dues/bills/?year=1900", "year"),
    ("payments, member ²", f"/api/v1/dues/payments/?member={SUPERSCRIPT_TWO}", "member"),
    ("payments, huge member", f"/api/v1/dues/payments/?member={HUGE}", "member"),
    ("payments, huge org", f"/api/v1/dues/payments/?org={HUGE}", "org"),
    ("bills, org ²", f"/api/v1/dues/bills/?org={SUPERSCRIPT_TWO}", "org"),
    ("bills, huge member", f"/api/v1/dues/bills/?member={HUGE}", "member"),
    ("declarations, huge member", f"/api/v1/dues/declarations/?member={HUGE}", "member"),
    ("reductions, member ²", f"/api/v1/dues/reductions/?member={SUPERSCRIPT_TWO}", "member"),
    ("arrears, min_months ²", f"/api/v1/dues/arrears/?min_months={SUPERSCRIPT_TWO}", "min_months"),
    ("arrears, huge min_months", f"/api/v1/dues/arrears/?min_months={HUGE}", "min_months"),
    ("arrears, a day in 9999", "/api/v1/dues/arrears/?on=9999-12-31", "on"),
    ("statements, org ²", f"/api/v1/dues/statements/?org={SUPERSCRIPT_TWO}", "org"),
]


@pytest.mark.parametrize(("case", "url", "field"), BAD_PARAMETERS, ids=[c for c, _u, _f in BAD_PARAMETERS])
def test_bad_numbers_and_years_answer_400_in_the_error_format(admin_user, api, case, url, field):
    resp = api(admin_user).get(url)
    assert resp.status_code == 400, (case, resp.status_code)
    error = resp.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], (case, error)


@pytest.mark.parametrize("org", [SUPERSCRIPT_TWO, HUGE])
def test_report_of_an_organisation_that_is_no_number_is_not_found(admin_user, api, org):
    for url in ("/api/v1/dues/summary/", "/api/v1/dues/arrears/"):
        assert api(admin_user).get(f"{url}?org={org}").status_code == 404


def test_calculate_with_an_organisation_that_is_no_number(admin_user, api):
    resp = api(admin_user).get(f"/api/v1/dues/calculate?category=employed&base=4000&org={SUPERSCRIPT_TWO}")
    assert resp.status_code == 400 and "org" in resp.json()["error"]["fields"]


def test_huge_ids_in_a_request_body_are_refused(admin_user, tree, api):
    resp = api(admin_user).post(
        "/api/v1/dues/payments/",
        {"member": int(HUGE), "months": ["2026-01"], "method": "cash"},
        format="json",
    )
    assert resp.status_code == 400 and "member" in resp.json()["error"]["fields"]
