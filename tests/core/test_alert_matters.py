"""One matter once: an alert raised for both sides of a transfer is one row for a user who sees both
organisations, while each side's secretary sees (and dismisses) their own."""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.core import alerts as registry
from dangjian.core.alerts import AlertSpec, alert_producer, alerts_refresh, dedupe_key, matter_of
from dangjian.core.models import Alert

DAY = dt.date(2026, 6, 1)


@pytest.fixture
def producers(monkeypatch):
    monkeypatch.setattr(registry, "_PRODUCERS", {})
    monkeypatch.setattr(registry, "_discovered", True)


@pytest.fixture
def letter(producers, tree):
    """One letter expiring, raised for the sending (branch_a) and the receiving (branch_b) side, and a
    one-sided alert of branch_a."""
    state = {"on": True}

    @alert_producer("test.letter", label="介绍信即将到期")
    def produce(on: dt.date):
        if state["on"]:
            for side, org in (("from", tree.branch_a), ("to", tree.branch_b)):
                yield AlertSpec(key="t1", side=side, org=org, message="介绍信2026-第一-0001即将到期",
                                due_date=DAY, severity="warning")  # fmt: skip
        yield AlertSpec(key="c9", org=tree.branch_a, message="某党员失联六个月", severity="danger")

    alerts_refresh(on=DAY)
    return state


def test_each_side_is_its_own_alert_with_a_shared_matter(letter, tree):
    keys = dict(Alert.objects.values_list("dedupe_key", "org_id"))
    assert keys == {"test.letter:t1:from": tree.branch_a.pk, "test.letter:t1:to": tree.branch_b.pk,
                    "test.letter:c9": tree.branch_a.pk}  # fmt: skip
    assert matter_of("test.letter:t1:from") == matter_of("test.letter:t1:to") == "test.letter:t1"
    assert matter_of("test.letter:c9") == "test.letter:c9"


@pytest.mark.parametrize(
    ("persona", "rows"),
    [
        (
            "org_manager",
            [
                ("某党员失联六个月", ["第一党支部"]),
                ("介绍信2026-第一-0001即将到期", ["第一党支部", "西城第二党支部"]),
            ],
        ),
        (
            "auditor",
            [
                ("某党员失联六个月", ["第一党支部"]),
                ("介绍信2026-第一-0001即将到期", ["第一党支部", "西城第二党支部"]),
            ],
        ),
        (
            "secretary_a",
            [("某党员失联六个月", ["第一党支部"]), ("介绍信2026-第一-0001即将到期", ["第一党支部"])],
        ),
        ("secretary_b", [("介绍信2026-第一-0001即将到期", ["西城第二党支部"])]),
    ],
)
def test_the_alert_list_shows_a_matter_once_with_every_side_the_user_sees(letter, people, web, persona, rows):
    resp = web(people[persona]).get("/alerts/")
    page = resp.context["page"]
    assert page.paginator.count == len(rows)
    assert [(m.message, [o.name for o in m.orgs]) for m in page.object_list] == rows
    body = resp.content.decode()
    assert body.count("介绍信2026-第一-0001即将到期") == 1
    assert ('data-testid="alert-sides"' in body) is (len(rows[-1][1]) > 1)


@pytest.mark.parametrize(("persona", "total"), [("org_manager", 2), ("secretary_a", 2), ("secretary_b", 1)])
def test_the_home_card_counts_a_matter_once(letter, people, web, persona, total):
    summary = web(people[persona]).get("/").context["alerts"]
    assert summary.total == total and summary.counts["warning"] == 1
    assert len(summary.top) == total
    assert sum("介绍信" in m.message for m in summary.top) == 1


def test_the_api_lists_a_matter_once_with_its_organisations(letter, tree, org_manager, secretary_b, api):
    items = api(org_manager).get("/api/v1/alerts/").json()["results"]
    assert [i["message"] for i in items] == ["某党员失联六个月", "介绍信2026-第一-0001即将到期"]
    letter_item = items[1]
    assert [o["name"] for o in letter_item["orgs"]] == ["第一党支部", "西城第二党支部"]
    assert len(letter_item["alerts"]) == 2 and letter_item["org_name"] == "第一党支部"
    mine = api(secretary_b).get("/api/v1/alerts/").json()["results"]
    assert len(mine) == 1 and [o["id"] for o in mine[0]["orgs"]] == [tree.branch_b.pk]
    assert api(org_manager).get(f"/api/v1/alerts/?org={tree.district_b.pk}").json()["count"] == 1


def test_a_user_who_may_change_both_sides_dismisses_the_matter(letter, org_manager, web):
    client = web(org_manager)
    row = next(m for m in client.get("/alerts/").context["page"].object_list if len(m.orgs) == 2)
    assert row.may_dismiss
    assert client.post(f"/alerts/{row.pk}/dismiss/", {"reason": "已电话催办"}).status_code == 302
    sides = Alert.objects.filter(dedupe_key__startswith="test.letter:t1:")
    assert set(sides.values_list("status", flat=True)) == {"dismissed"}
    # Dismissed together, they are one row of the dismissed list too.
    assert client.get("/alerts/?status=dismissed").context["page"].paginator.count == 1


def test_each_secretary_dismisses_their_own_side_only(letter, secretary_a, secretary_b, web):
    mine = Alert.objects.get(dedupe_key="test.letter:t1:from")
    assert web(secretary_a).post(f"/alerts/{mine.pk}/dismiss/", {"reason": "已处理"}).status_code == 302
    status = dict(
        Alert.objects.filter(dedupe_key__startswith="test.letter:t1:").values_list("dedupe_key", "status")
    )
    assert status == {"test.letter:t1:from": "dismissed", "test.letter:t1:to": "open"}
    rows = web(secretary_b).get("/alerts/").context["page"].object_list
    assert [m.message for m in rows] == ["介绍信2026-第一-0001即将到期"]


def test_a_reader_of_both_sides_cannot_dismiss(letter, auditor, web):
    row = next(m for m in web(auditor).get("/alerts/").context["page"].object_list if len(m.orgs) == 2)
    assert row.may_dismiss is False
    assert web(auditor).post(f"/alerts/{row.pk}/dismiss/").status_code == 403
    assert not Alert.objects.filter(status="dismissed").exists()


def test_sides_resolved_together_stay_one_row(letter, org_manager, web):
    letter["on"] = False
    alerts_refresh(on=DAY + dt.timedelta(days=1))
    page = web(org_manager).get("/alerts/?status=resolved").context["page"]
    assert page.paginator.count == 1 and len(page.object_list[0].orgs) == 2


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (AlertSpec(key="t1", side="left", org=1, message="x"), "unknown side"),
        (AlertSpec(key="t1:from", org=1, message="x"), "ends like a side"),
        (AlertSpec(key="t" * 200, org=1, message="x"), "too long"),
    ],
)
def test_keys_that_would_confuse_the_matters_are_refused(spec, error):
    with pytest.raises(ValueError, match=error):
        dedupe_key("test.letter", spec)


def test_the_expiring_letter_of_a_real_transfer_is_one_matter(
    tree, secretary_a, org_manager, member_factory, web
):
    from dangjian.transfers import services

    t = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="within",
                                 to_org=tree.branch_b, reason="工作调动", send=True, on=DAY)  # fmt: skip
    alerts_refresh(on=t.valid_until - dt.timedelta(days=2), kinds=["transfers.letter_expiring"])
    assert Alert.objects.filter(kind="transfers.letter_expiring").count() == 2  # both sides raised
    page = web(org_manager).get("/alerts/?kind=transfers.letter_expiring").context["page"]
    assert page.paginator.count == 1
    assert [o.pk for o in page.object_list[0].orgs] == [tree.branch_a.pk, tree.branch_b.pk]
