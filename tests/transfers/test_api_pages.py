"""The transfers API (rule_violation envelope, cross-branch create) and the pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dangjian.core.alerts import alerts_refresh
from dangjian.core.models import Alert
from dangjian.transfers import services
from dangjian.transfers.demo import load_transfers_demo
from dangjian.transfers.models import FlowCertificate, Transfer


def test_api_create_to_a_branch_outside_scope_then_expired_accept(
    tree, secretary_a, secretary_b, member_factory, api
):
    m = member_factory(tree.branch_a)
    resp = api(secretary_a).post(
        "/api/v1/transfers/",
        {"member": m.pk, "kind": "within", "to_org": tree.branch_b.pk, "reason": "调动"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    t = Transfer.objects.get(pk=resp.json()["id"])
    Transfer.objects.filter(pk=t.pk).update(valid_until=timezone.localdate() - dt.timedelta(days=1))
    resp = api(secretary_b).post(f"/api/v1/transfers/{t.pk}/accept/")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "rule_violation" and err["rule"] == "transfers" and err["article"]


def test_api_return_needs_reason(tree, secretary_a, secretary_b, member_factory, api):
    t = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="within",
                                 to_org=tree.branch_b, reason="x", send=True)  # fmt: skip
    assert api(secretary_b).post(f"/api/v1/transfers/{t.pk}/return/", {}, format="json").status_code == 400
    assert (
        api(secretary_a).post(f"/api/v1/transfers/{t.pk}/return/", {"reason": "x"}, format="json").status_code
        == 403
    )


@pytest.mark.parametrize("tab", ["todo", "pending", "coming", "history"])
def test_worklist_pages_render(tree, secretary_a, client, tab, member_factory):
    for _ in range(3):
        member_factory(tree.branch_a)
    client.force_login(secretary_a)
    resp = client.get(f"/transfers/?tab={tab}")
    assert resp.status_code == 200
    assert b"tab-history" in resp.content


def test_form_detail_letter_and_actions(tree, secretary_a, secretary_b, member_factory, client):
    m = member_factory(tree.branch_a)
    client.force_login(secretary_a)
    assert client.get("/transfers/new/?q=西城").status_code == 200
    resp = client.post("/transfers/new/", {"member": m.pk, "kind": "within", "to_org": tree.branch_b.pk,
                                           "reason": "调动", "send": "1", "dues_paid_until": "2026-02"})  # fmt: skip
    assert resp.status_code == 302, resp.content[:500]
    t = Transfer.objects.get()
    assert client.get(f"/transfers/{t.pk}/").status_code == 200
    letter = client.get(f"/transfers/{t.pk}/letter/")
    assert letter.status_code == 200 and t.letter_number.encode() in letter.content
    assert m.id_number_masked.encode() in letter.content and b"@media print" in letter.content
    client.force_login(secretary_b)
    assert b"action-accept" in client.get(f"/transfers/{t.pk}/").content
    client.post(f"/transfers/{t.pk}/accept/")
    t.refresh_from_db()
    assert t.status == "accepted"
    assert client.get("/transfers/flowing/").status_code == 200


def test_outsider_gets_404_on_detail(tree, secretary_a, outsider, member_factory, client):
    t = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="within",
                                 to_org=tree.branch_b, reason="x", send=True)  # fmt: skip
    client.force_login(outsider)
    assert client.get(f"/transfers/{t.pk}/").status_code == 404


def test_alerts(tree, secretary_a, member_factory):
    today = timezone.localdate()
    t = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="within",
                                 to_org=tree.branch_b, reason="x", send=True, on=today - dt.timedelta(days=25))  # fmt: skip
    Transfer.objects.filter(pk=t.pk).update(sent_at=timezone.now() - dt.timedelta(days=25))
    services.flow_certificate_issue(actor=secretary_a, member=member_factory(tree.branch_a),
                                    start=today - dt.timedelta(days=200), outside_host_name="深圳")  # fmt: skip
    alerts_refresh(on=today)
    kinds = set(Alert.objects.values_list("kind", flat=True))
    assert {"transfers.letter_expiring", "transfers.not_received", "transfers.fixed_place"} <= kinds
    assert Alert.objects.filter(kind="transfers.letter_expiring").count() == 2  # both sides


def test_demo_fills_every_worklist_and_is_idempotent(tree, admin_user, secretary_a, member_factory):
    from dangjian.transfers import selectors

    for org in (tree.branch_a, tree.branch_b):
        for _ in range(10):
            member_factory(org)
    # A third branch so that transfers can go to two others.
    from dangjian.orgs.models import Organization, OrgType

    c = Organization.objects.add_child(
        Organization.objects.get(pk=tree.district_b.pk),
        {"org_type": OrgType.BRANCH, "code": "T0099", "name": "第三党支部", "sector": "community"},
    )
    for _ in range(5):
        member_factory(c)
    made = load_transfers_demo(actor=admin_user, focus=tree.branch_a)
    assert made > 0
    assert load_transfers_demo(actor=admin_user, focus=tree.branch_a) == 0
    counts = selectors.worklists(secretary_a).counts()
    assert all(counts[k] > 0 for k in ("todo", "pending", "coming", "history")), counts
    assert FlowCertificate.objects.count() == 3
