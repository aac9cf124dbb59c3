from __future__ import annotations


def test_secretary_sees_only_own_branch_members(tree, secretary_a, member_factory, api):
    mine = member_factory(tree.branch_a)
    member_factory(tree.branch_b)
    resp = api(secretary_a).get("/api/v1/members/")
    assert resp.status_code == 200
    assert [m["id"] for m in resp.json()["results"]] == [mine.pk]


def test_healthz(client, db):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"
