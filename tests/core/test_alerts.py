"""Alerts: producers, the idempotent refresh, resolution, dismissal, scoping, the API and the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from dangjian.core import alerts as registry
from dangjian.core.alerts import AlertSpec, alert_producer, alerts_refresh
from dangjian.core.models import Alert, AuditEntry
from dangjian.core.selectors import alert_summary, alerts_for, alerts_in_subtree
from dangjian.core.services import alert_dismiss

DAY = dt.date(2026, 6, 1)


@pytest.fixture
def producers(monkeypatch):
    """A clean registry for the test (the apps' own producers are left out)."""
    monkeypatch.setattr(registry, "_PRODUCERS", {})
    monkeypatch.setattr(registry, "_discovered", True)
    return registry._PRODUCERS


@pytest.fixture
def wanted(producers, tree):
    """A producer whose answer the test controls: ``wanted[key] = (org, severity, message)``."""
    state: dict[str, tuple[Any, str, str]] = {}

    @alert_producer("test.overdue", label="逾期")
    def overdue(on: dt.date):
        for key, (org, severity, message) in sorted(state.items()):
            yield AlertSpec(
                key=key, org=org, severity=severity, message=message, due_date=on, rule_ref="test@1"
            )

    return state


def _open() -> dict[str, tuple[str, str]]:
    return {a.dedupe_key: (a.severity, a.message) for a in Alert.objects.filter(status="open")}


def test_refresh_opens_what_is_produced_and_is_idempotent(tree, wanted):
    wanted["a"] = (tree.branch_a, "warning", "谈话逾期")
    wanted["b"] = (tree.branch_b.pk, "danger", "审批超期")  # an org id is enough
    first = alerts_refresh(on=DAY)
    assert (first.created, first.updated, first.resolved) == (2, 0, 0)
    assert _open() == {"test.overdue:a": ("warning", "谈话逾期"), "test.overdue:b": ("danger", "审批超期")}
    alert = Alert.objects.get(dedupe_key="test.overdue:b")
    assert (alert.org_path, alert.due_date, alert.rule_ref, alert.kind) == (
        tree.branch_b.path,
        DAY,
        "test@1",
        "test.overdue",
    )
    again = alerts_refresh(on=DAY)
    assert (again.created, again.updated, again.resolved) == (0, 0, 0)
    assert Alert.objects.count() == 2


def test_a_changed_alert_is_updated_in_place(tree, wanted):
    wanted["a"] = (tree.branch_a, "warning", "谈话逾期 3 天")
    alerts_refresh(on=DAY)
    pk = Alert.objects.get().pk
    wanted["a"] = (tree.branch_a, "danger", "谈话逾期 40 天")
    result = alerts_refresh(on=DAY)
    assert (result.created, result.updated) == (0, 1)
    assert Alert.objects.get().pk == pk and _open() == {"test.overdue:a": ("danger", "谈话逾期 40 天")}


def test_an_alert_no_longer_produced_is_resolved_and_can_come_back(tree, wanted):
    wanted["a"] = (tree.branch_a, "warning", "x")
    alerts_refresh(on=DAY)
    del wanted["a"]
    assert alerts_refresh(on=DAY).resolved == 1
    old = Alert.objects.get()
    assert old.status == Alert.Status.RESOLVED and old.resolved_at is not None
    assert alerts_refresh(on=DAY).resolved == 0  # idempotent
    wanted["a"] = (tree.branch_a, "warning", "x")
    assert alerts_refresh(on=DAY).created == 1  # the condition came back: a new alert
    assert Alert.objects.filter(status="open").count() == 1 and Alert.objects.count() == 2


def test_a_dismissed_alert_stays_dismissed_while_its_condition_lasts(tree, wanted, secretary_a):
    wanted["a"] = (tree.branch_a, "warning", "x")
    alerts_refresh(on=DAY)
    alert_dismiss(actor=secretary_a, alert=Alert.objects.get(), reason="已电话联系")
    for _ in range(2):
        result = alerts_refresh(on=DAY)
        assert (result.created, result.updated, result.resolved) == (0, 0, 0)
    assert not _open()
    # The condition clears: the dismissed alert records it; when it comes back, a new alert opens.
    del wanted["a"]
    alerts_refresh(on=DAY)
    dismissed = Alert.objects.get()
    assert dismissed.status == Alert.Status.DISMISSED and dismissed.resolved_at is not None
    wanted["a"] = (tree.branch_a, "warning", "x")
    assert alerts_refresh(on=DAY).created == 1


def test_a_failing_producer_is_skipped_and_its_alerts_kept(tree, wanted, producers):
    wanted["a"] = (tree.branch_a, "warning", "x")
    alerts_refresh(on=DAY)

    @alert_producer("test.broken")
    def broken(on: dt.date):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    Alert.objects.create(kind="test.broken", org=tree.branch_a, message="old", dedupe_key="test.broken:1")
    result = alerts_refresh(on=DAY)
    assert result.failed == ["test.broken"]
    assert (
        Alert.objects.get(dedupe_key="test.broken:1").status == Alert.Status.OPEN
    )  # not resolved by mistake
    assert Alert.objects.get(dedupe_key="test.overdue:a").status == Alert.Status.OPEN


def test_one_open_alert_per_condition(tree):
    Alert.objects.create(kind="k", org=tree.branch_a, message="x", dedupe_key="k:1")
    Alert.objects.create(kind="k", org=tree.branch_a, message="x", dedupe_key="k:1", status="resolved")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind="k", org=tree.branch_a, message="x", dedupe_key="k:1")


def test_the_daily_task_runs_at_two(tree, wanted):
    from dangjian.core.tasks import alerts_daily

    task = alerts_daily.s()
    assert task.validate_datetime(dt.datetime(2026, 6, 1, 2, 0))
    assert not task.validate_datetime(dt.datetime(2026, 6, 1, 3, 0))
    wanted["a"] = (tree.branch_a, "info", "x")
    assert alerts_daily.call_local() == {
        "created": 1,
        "updated": 0,
        "resolved": 0,
        "notified": 0,
        "failed": 0,
    }


def test_the_apps_producers_are_discovered():
    assert "members.political_birthday" in registry.producers()


# --- scope -------------------------------------------------------------------------------------------------


@pytest.fixture
def two_alerts(tree):
    a = Alert.objects.create(kind="k", org=tree.branch_a, message="第一支部的预警", dedupe_key="k:a")
    b = Alert.objects.create(kind="k", org=tree.branch_b, message="第二支部的预警", dedupe_key="k:b")
    return a, b


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("admin_user", {"a", "b"}),
        ("org_manager", {"a", "b"}),
        ("district_manager", {"a"}),
        ("secretary_a", {"a"}),
        ("secretary_b", {"b"}),  # secretary_b sees none of branch_a's
        ("auditor", {"a", "b"}),
        ("member_a", set()),
        ("resident", set()),
        ("outsider", set()),
    ],
)
def test_alerts_are_scoped_like_everything_else(two_alerts, people, persona, sees):
    a, b = two_alerts
    names = {a.pk: "a", b.pk: "b"}
    assert {names[pk] for pk in alerts_for(people[persona]).values_list("pk", flat=True)} == sees


def test_subtree_and_summary(tree, org_manager):
    for i in range(12):
        Alert.objects.create(
            kind="k",
            org=tree.group_a,
            message=f"m{i}",
            dedupe_key=f"k:{i}",
            severity="danger" if i < 2 else "info",
        )
    Alert.objects.create(
        kind="k", org=tree.branch_b, message="other", dedupe_key="k:other", severity="warning"
    )
    Alert.objects.create(kind="k", org=tree.branch_a, message="closed", dedupe_key="k:c", status="resolved")
    summary = alert_summary(alerts_in_subtree(org_manager, tree.branch_a))
    assert summary.counts == {"info": 10, "warning": 0, "danger": 2} and summary.total == 12
    assert len(summary.top) == 10 and [a.severity for a in summary.top[:3]] == ["danger", "danger", "info"]
    assert alert_summary(alerts_for(org_manager)).counts["warning"] == 1


# --- dismissing --------------------------------------------------------------------------------------------


def test_dismiss_is_audited(two_alerts, secretary_a):
    a, _b = two_alerts
    alert_dismiss(actor=secretary_a, alert=a, reason="已处理")
    a.refresh_from_db()
    assert (a.status, a.dismissed_by, a.dismiss_reason) == ("dismissed", secretary_a, "已处理")
    entry = AuditEntry.objects.get(action="alert.dismissed")
    assert entry.org_id == a.org_id and entry.changes["reason"] == "已处理"


@pytest.mark.parametrize("persona", ["auditor", "secretary_b", "member_a"])
def test_who_may_not_dismiss(two_alerts, people, persona):
    from django.core.exceptions import PermissionDenied

    a, _b = two_alerts
    with pytest.raises(PermissionDenied):
        alert_dismiss(actor=people[persona], alert=a)
    a.refresh_from_db()
    assert a.status == "open" and not AuditEntry.objects.filter(action="alert.dismissed").exists()


# --- API ---------------------------------------------------------------------------------------------------


def test_api_filters(tree, org_manager, api):
    Alert.objects.create(kind="k1", org=tree.branch_a, message="x", dedupe_key="1", severity="danger")
    Alert.objects.create(kind="k2", org=tree.branch_b, message="y", dedupe_key="2", severity="info")
    Alert.objects.create(kind="k1", org=tree.branch_a, message="z", dedupe_key="3", status="resolved")
    client = api(org_manager)

    def messages(query: str) -> list[str]:
        resp = client.get(f"/api/v1/alerts/{query}")
        assert resp.status_code == 200, resp.content
        return [row["message"] for row in resp.json()["results"]]

    assert messages("") == ["x", "y"]  # open ones, the most urgent first
    assert messages("?severity=info") == ["y"]
    assert messages("?kind=k1&status=all") == ["x", "z"]
    assert messages("?status=resolved") == ["z"]
    assert messages(f"?org={tree.district_a.pk}") == ["x"]
    row = client.get("/api/v1/alerts/").json()["results"][0]
    assert row["org_name"] == "第一党支部" and row["severity"] == "danger" and row["kind"] == "k1"


def test_api_org_outside_scope_is_404(tree, secretary_a, api):
    assert api(secretary_a).get(f"/api/v1/alerts/?org={tree.branch_b.pk}").status_code == 404


# --- pages -------------------------------------------------------------------------------------------------


def test_alert_list_page_filters_and_dismisses(web, tree, secretary_a, two_alerts):
    a, b = two_alerts
    client = web(secretary_a)
    resp = client.get("/alerts/")
    body = resp.content.decode()
    assert resp.status_code == 200 and "第一支部的预警" in body and "第二支部的预警" not in body
    assert client.get("/alerts/?severity=danger").context["page"].paginator.count == 0
    resp = client.post(f"/alerts/{a.pk}/dismiss/", {"reason": "已处理", "next": "/alerts/"})
    assert resp.status_code == 302 and resp["Location"] == "/alerts/"
    a.refresh_from_db()
    assert a.status == "dismissed"
    assert client.get("/alerts/").context["page"].paginator.count == 0
    assert client.get("/alerts/?status=dismissed").context["page"].paginator.count == 1
    # Another branch's alert: not found, like a missing one.
    assert client.post(f"/alerts/{b.pk}/dismiss/").status_code == 404


def test_a_reader_cannot_dismiss_from_the_page(web, auditor, two_alerts):
    a, _b = two_alerts
    client = web(auditor)
    assert client.get("/alerts/").context["page"].object_list[0].may_dismiss is False
    assert client.post(f"/alerts/{a.pk}/dismiss/").status_code == 403


def test_alert_card_on_home_and_org_page(web, tree, org_manager, secretary_b, two_alerts):
    resp = web(org_manager).get("/")
    assert resp.context["alerts"].total == 2 and "第一支部的预警" in resp.content.decode()
    resp = web(org_manager).get(f"/orgs/{tree.district_a.pk}/")
    body = resp.content.decode()
    assert resp.context["alerts"].total == 1 and "第一支部的预警" in body and "第二支部的预警" not in body
    assert f"/alerts/?org={tree.district_a.pk}" in body
    home_b = web(secretary_b).get("/")
    assert "第一支部的预警" not in home_b.content.decode() and home_b.context["alerts"].total == 1


def test_alert_lists_do_not_issue_a_query_per_row(web, api, tree, org_manager, member_factory):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n: int) -> None:
        for i in range(n):
            org = (tree.branch_a, tree.branch_b, tree.group_a)[i % 3]
            Alert.objects.create(
                kind=f"k{i % 4}",
                org=org,
                message=f"m{i}",
                dedupe_key=f"q:{Alert.objects.count()}",
                member=member_factory(tree.branch_a) if i % 2 else None,
            )

    page, client = web(org_manager), api(org_manager)
    add(1)
    page.get("/alerts/")
    client.get("/api/v1/alerts/")
    with CaptureQueriesContext(connection) as one_page:
        page.get("/alerts/")
    with CaptureQueriesContext(connection) as one_api:
        client.get("/api/v1/alerts/")
    add(30)
    with CaptureQueriesContext(connection) as many_page:
        page.get("/alerts/")
    with CaptureQueriesContext(connection) as many_api:
        client.get("/api/v1/alerts/")
    assert len(many_page) <= len(one_page) and len(many_api) <= len(one_api)


def test_a_too_long_dismissal_reason_is_refused_not_cut(tree, wanted, secretary_a):
    from django.core.exceptions import ValidationError

    wanted["a"] = (tree.branch_a, "warning", "x")
    alerts_refresh(on=DAY)
    with pytest.raises(ValidationError):
        alert_dismiss(actor=secretary_a, alert=Alert.objects.get(), reason="长" * 201)
    assert Alert.objects.get().status == Alert.Status.OPEN


def test_the_dismissed_list_shows_the_reason(tree, wanted, secretary_a, web):
    wanted["a"] = (tree.branch_a, "warning", "x")
    alerts_refresh(on=DAY)
    alert_dismiss(actor=secretary_a, alert=Alert.objects.get(), reason="已电话联系本人")
    assert "已电话联系本人" in web(secretary_a).get("/alerts/?status=dismissed").content.decode()
