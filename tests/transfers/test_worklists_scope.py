"""The four worklists per org subtree, and scope: both sides see a transfer; the member's other data
stays with the sending branch until acceptance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dangjian.core.scoping import scope_q
from dangjian.members.models import Member
from dangjian.transfers import selectors, services
from dangjian.transfers.models import Transfer


@pytest.fixture
def today():
    return timezone.localdate()


def _send(actor, member, to_org, on, reason="工作调动"):
    return services.transfer_create(
        actor=actor, member=member, kind="within", to_org=to_org, reason=reason, send=True, on=on
    )


def test_tuple_scope_path_field_matches_either_path(
    tree, secretary_a, secretary_b, district_manager, member_factory, today
):
    t = _send(secretary_a, member_factory(tree.branch_a), tree.branch_b, today)
    for user in (secretary_a, secretary_b, district_manager):
        assert Transfer.objects.restrict(user).filter(pk=t.pk).exists()
    # Existing single-field behaviour is unchanged.
    q = scope_q(Member, secretary_a, "view")
    assert "org_path" in str(q)


def test_receiving_secretary_sees_transfer_not_member_until_accepted(
    tree, secretary_a, secretary_b, member_factory, api, today
):
    m = member_factory(tree.branch_a)
    t = _send(secretary_a, m, tree.branch_b, today)
    client_b = api(secretary_b)
    assert client_b.get(f"/api/v1/transfers/{t.pk}/").json()["member_name"] == m.name
    assert client_b.get(f"/api/v1/members/{m.pk}/").status_code == 404
    assert client_b.post(f"/api/v1/transfers/{t.pk}/accept/").status_code == 200
    assert client_b.get(f"/api/v1/members/{m.pk}/").status_code == 200
    assert api(secretary_a).get(f"/api/v1/members/{m.pk}/").status_code == 404


def test_worklists(tree, secretary_a, secretary_b, member_factory, today):
    incoming = _send(secretary_b, member_factory(tree.branch_b), tree.branch_a, today)
    late = _send(secretary_b, member_factory(tree.branch_b), tree.branch_a, today - dt.timedelta(days=25))
    Transfer.objects.filter(pk=late.pk).update(sent_at=timezone.now() - dt.timedelta(days=25))
    outgoing = _send(secretary_a, member_factory(tree.branch_a), tree.branch_b, today)
    done = _send(secretary_b, member_factory(tree.branch_b), tree.branch_a, today)
    services.transfer_accept(actor=secretary_a, transfer=done, on=today)
    proposal = services.status_proposal_create(
        actor=secretary_a,
        member=member_factory(tree.branch_a),
        inactive_since=today - dt.timedelta(days=400),
        reason="x",
    )
    services.flow_certificate_issue(
        actor=secretary_a,
        member=member_factory(tree.branch_a),
        start=today - dt.timedelta(days=170),
        outside_host_name="深圳",
    )
    w = selectors.worklists(secretary_a)
    assert set(w.todo) == {incoming, late}
    assert list(w.proposals) == [proposal]
    assert list(w.pending) == [outgoing]
    assert late in w.coming and outgoing in w.coming  # late expires in 5 days, within the 30-day window
    assert len(w.flowing_due) == 1
    assert list(w.history) == [done]
    assert w.overdue_approvals == 1
    assert w.expiring_letters == 1
    assert w.counts() == {"todo": 3, "pending": 1, "coming": 4, "history": 1}
    # The other side: branch_b's to-do holds nothing; its pending holds what it sent.
    wb = selectors.worklists(secretary_b)
    assert set(wb.todo) == {outgoing} and set(wb.pending) == {incoming, late}


def test_foreign_org_search_shows_name_and_code_only(tree):
    found = selectors.foreign_org_search("西城")
    assert found == [{"id": tree.branch_b.pk, "name": tree.branch_b.name, "code": tree.branch_b.code}]
    assert selectors.foreign_org_search("T0006")[0]["id"] == tree.branch_b.pk
