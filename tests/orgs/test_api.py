"""Organisation endpoints: the tree, children, subtree statistics against a hand-built tree, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dangjian.orgs.models import CommitteePosition, Organization, OrgType, Sector
from dangjian.orgs.services import committee_term_start
from dangjian.transfers.models import FlowCertificate

TODAY = dt.date.today()


def years_ago(years: int, days: int = 100) -> dt.date:
    """A date ``years`` whole years and ``days`` days before today (well inside an age band)."""
    try:
        d = TODAY.replace(year=TODAY.year - years)
    except ValueError:
        d = TODAY.replace(year=TODAY.year - years, day=28)
    return d - dt.timedelta(days=days)


def test_list_shape_and_parent(tree, org_manager, api):
    resp = api(org_manager).get("/api/v1/orgs/")
    assert resp.status_code == 200
    rows = {r["id"]: r for r in resp.json()["results"]}
    assert set(rows) == {
        o.pk
        for o in (tree.city, tree.district_a, tree.district_b, tree.branch_a, tree.group_a, tree.branch_b)
    }
    branch = rows[tree.branch_a.pk]
    assert branch["parent"] == tree.district_a.pk and rows[tree.city.pk]["parent"] is None
    assert (branch["org_type"], branch["code"], branch["has_children"], branch["depth"]) == (
        "branch",
        "T0004",
        True,
        3,
    )
    assert [r["id"] for r in resp.json()["results"]] == sorted(
        rows, key=lambda pk: Organization.objects.get(pk=pk).path
    )


def test_list_filters(tree, org_manager, api):
    client = api(org_manager)
    branches = {r["id"] for r in client.get("/api/v1/orgs/?org_type=branch").json()["results"]}
    assert branches == {tree.branch_a.pk, tree.branch_b.pk}
    assert {r["id"] for r in client.get("/api/v1/orgs/?q=西城").json()["results"]} == {
        tree.district_b.pk,
        tree.branch_b.pk,
    }
    assert {r["id"] for r in client.get("/api/v1/orgs/?depth=2").json()["results"]} == {
        tree.district_a.pk,
        tree.district_b.pk,
    }


def test_children(tree, org_manager, secretary_a, api):
    client = api(org_manager)
    resp = client.get(f"/api/v1/orgs/{tree.city.pk}/children/")
    assert resp.status_code == 200
    assert [r["id"] for r in resp.json()["results"]] == [tree.district_a.pk, tree.district_b.pk]
    assert [r["id"] for r in client.get(f"/api/v1/orgs/{tree.branch_a.pk}/children/").json()["results"]] == [
        tree.group_a.pk
    ]
    assert client.get(f"/api/v1/orgs/{tree.group_a.pk}/children/").json()["count"] == 0
    # a secretary sees their branch's children, and not the city's
    assert api(secretary_a).get(f"/api/v1/orgs/{tree.city.pk}/children/").status_code == 404


def test_detail_has_flags_and_committee(tree, secretary_a, org_manager, member_factory, api):
    sec = member_factory(tree.branch_a)
    for _ in range(6):
        member_factory(tree.branch_a)
    resp = api(secretary_a).get(f"/api/v1/orgs/{tree.branch_a.pk}/")
    assert [f["code"] for f in resp.json()["flags"]] == [
        "committee_missing"
    ]  # 支部工作条例 第十条: 7 full members
    assert resp.json()["flags"][0]["rule"] == "org.structure@2018"
    assert resp.json()["committee"] is None
    committee_term_start(
        actor=org_manager,  # elections are recorded by the organisation department (manage_org)
        org=tree.branch_a,
        start_date=years_ago(1, 0),
        positions=[(CommitteePosition.Title.SECRETARY, sec)],
    )
    data = api(secretary_a).get(f"/api/v1/orgs/{tree.branch_a.pk}/").json()
    committee = data["committee"]
    assert committee["term_years"] == 5 and committee["rule"] == "org.terms@2018"  # community: 5 years
    assert committee["positions"][0]["member"] == sec.pk
    assert 0 < committee["days_left"] <= 4 * 366


@pytest.fixture
def city(tree, member_factory):
    """A hand-built register: 4 current members in branch_a, 2 in branch_b (one of them away as a flowing
    member), plus one who left."""
    m = member_factory
    m(tree.branch_a, gender="female", ethnicity="回族", education="master", birth_date=years_ago(25), join_date=years_ago(4), full_date=years_ago(3))  # fmt: skip
    m(tree.branch_a, gender="male", education="bachelor", birth_date=years_ago(40), join_date=years_ago(15), full_date=years_ago(14))  # fmt: skip
    m(tree.branch_a, gender="male", education="high_school", birth_date=years_ago(65), join_date=years_ago(45), full_date=years_ago(44))  # fmt: skip
    m(tree.branch_a, gender="female", education="junior_college", status="probationary", birth_date=years_ago(22), join_date=years_ago(0, 60), full_date=None)  # fmt: skip
    m(tree.branch_b, gender="male", ethnicity="藏族", education="doctorate", birth_date=years_ago(33), join_date=years_ago(8), full_date=years_ago(7))  # fmt: skip
    away = m(tree.branch_b, gender="male", education="secondary_vocational", birth_date=years_ago(50), join_date=years_ago(25), full_date=years_ago(24))  # fmt: skip
    # 流动党员: a full member away with a flow certificate (活动证), the one record of flowing.
    FlowCertificate.objects.create(member=away, home_org=tree.branch_b, home_org_path=tree.branch_b.path, outside_host_name="外地某党支部", number="LD-T1", start=years_ago(0, 30))  # fmt: skip
    m(tree.branch_b, gender="female", status="left", birth_date=years_ago(45), join_date=years_ago(20), full_date=years_ago(19))  # fmt: skip
    return tree


def test_stats_of_the_city(city, org_manager, api):
    s = api(org_manager).get(f"/api/v1/orgs/{city.city.pk}/stats/").json()
    assert s["members"] == 6  # current members only: left is counted in by_status but not here
    assert s["by_status"] == {
        "probationary": 1,
        "full": 5,
        "suspended": 0,
        "left": 1,
        "deceased": 0,
        "historical": 0,
    }
    assert s["flowing"] == 1  # from the active flow certificates, not a status
    assert s["by_gender"] == {"male": 4, "female": 2}
    assert s["female_pct"] == 33.3
    assert s["minority_pct"] == 33.3
    assert s["higher_education_pct"] == 66.7  # master, bachelor, junior college, doctorate of 6
    assert s["by_age"] == {"0-30": 2, "31-35": 1, "36-45": 1, "46-55": 1, "56-60": 0, "61-70": 1, "71+": 0}
    assert s["by_standing"] == {"0-5": 1, "6-10": 1, "11-20": 1, "21-30": 1, "31-40": 0, "41-50": 1, "51+": 0}
    assert s["by_education"] == {
        "master": 1,
        "bachelor": 1,
        "high_school": 1,
        "junior_college": 1,
        "doctorate": 1,
        "secondary_vocational": 1,
    }
    assert s["by_ethnicity"] == {"汉族": 4, "回族": 1, "藏族": 1}
    assert s["orgs"] == 6
    assert s["orgs_by_type"] == {"committee": 3, "branch": 2, "group": 1}
    assert s["orgs_by_sector"] == {"organ": 3, "community": 3}
    assert s["org"] == {"id": city.city.pk, "name": "示范市委", "code": "T0001"}


def test_stats_of_a_district(city, district_manager, api):
    s = api(district_manager).get(f"/api/v1/orgs/{city.district_a.pk}/stats/").json()
    assert s["members"] == 4
    assert s["by_status"]["probationary"] == 1 and s["by_status"]["left"] == 0
    assert s["by_gender"] == {"male": 2, "female": 2}
    assert s["orgs_by_type"] == {"committee": 1, "branch": 1, "group": 1}
    assert api(district_manager).get(f"/api/v1/orgs/{city.district_b.pk}/stats/").status_code == 404


def test_stats_ignore_dissolved_orgs(city, org_manager, api):
    Organization.objects.filter(pk=city.group_a.pk).update(status="dissolved")
    s = api(org_manager).get(f"/api/v1/orgs/{city.city.pk}/stats/").json()
    assert s["orgs"] == 5 and "group" not in s["orgs_by_type"]


# Query counts: a list must not issue one query per row (house style, "Query counts locked").


def _grow(tree, n: int, prefix: str) -> None:
    for i in range(n):
        Organization.objects.add_child(
            Organization.objects.get(pk=tree.district_a.pk),
            {
                "org_type": OrgType.BRANCH,
                "code": f"{prefix}{i:04d}",
                "name": f"第{prefix}{i}支部",
                "sector": Sector.ENTERPRISE,
            },
        )


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    assert resp.status_code == 200
    return len(ctx.captured_queries)


# (url, queries): token + user, role assignments, count, page, parents of the page (+ the object itself)
ORG_LISTS = [("/api/v1/orgs/?page_size=100", 5), ("/api/v1/orgs/{district_a}/children/?page_size=100", 6)]


@pytest.mark.parametrize(("url", "queries"), ORG_LISTS)
def test_org_lists_query_count_does_not_grow(tree, org_manager, api, url, queries, django_assert_num_queries):
    client = api(org_manager)
    url = url.format(district_a=tree.district_a.pk)
    _grow(tree, 5, "Q")
    small = _count(client, url)
    _grow(tree, 45, "R")
    with django_assert_num_queries(queries):
        resp = client.get(url)
    assert len(resp.json()["results"]) >= 50
    assert small == queries, f"{url}: {small} queries with 5 rows, {queries} with 50"


def test_group_stats_count_the_members_assigned_to_the_group(tree, org_manager, api, member_factory):
    member_factory(tree.branch_a, group=tree.group_a)
    member_factory(tree.branch_a)
    stats = api(org_manager).get(f"/api/v1/orgs/{tree.group_a.pk}/stats/").json()
    assert stats["members"] == 1
    assert api(org_manager).get(f"/api/v1/orgs/{tree.branch_a.pk}/stats/").json()["members"] == 2
