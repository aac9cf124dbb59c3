"""One record of who is flowing (流动党员): the active flow certificate (活动证), never the member's status.

A flowing member keeps their standing, full or probationary (党章 第七条: the vote depends on it), and the
home page, the statistics, the flowing list and the vote counts all read the certificates.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from dangjian.core.models import AuditEntry
from dangjian.members import selectors as member_selectors
from dangjian.members import services as member_services
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member
from dangjian.orgs.selectors import org_stats
from dangjian.transfers import services
from dangjian.transfers.models import FlowCertificate, FlowStatus

D = dt.date
START = D(2025, 9, 1)


def _issue(actor, member, **kwargs):
    kwargs.setdefault("outside_host_name", "广东省深圳市某园区党委")
    return services.flow_certificate_issue(actor=actor, member=member, start=START, **kwargs)


def test_issuing_a_certificate_keeps_the_standing_and_counts_the_member_as_flowing(
    tree, secretary_a, member_factory
):
    full = member_factory(tree.branch_a)
    probationary = member_factory(tree.branch_a, status=MemberStatus.PROBATIONARY, full_date=None)
    member_factory(tree.branch_a)  # at home
    for m in (full, probationary):
        _issue(secretary_a, m)
        m.refresh_from_db()
    assert (full.status, probationary.status) == (MemberStatus.FULL, MemberStatus.PROBATIONARY)
    stats = org_stats(tree.city)
    assert stats["flowing"] == 2 and stats["members"] == 3
    assert "flowing" not in stats["by_status"]  # a count by status: every member is in exactly one
    assert sum(stats["by_status"].values()) == 3
    assert org_stats(tree.branch_b)["flowing"] == 0


def test_ending_the_certificate_ends_the_flowing(tree, secretary_a, member_factory):
    cert = _issue(secretary_a, member_factory(tree.branch_a))
    services.flow_certificate_end(actor=secretary_a, certificate=cert, date=D(2026, 1, 5), reason="返回")
    assert org_stats(tree.city)["flowing"] == 0


def test_a_flowing_member_hosted_elsewhere_counts_at_home_not_at_the_host(tree, secretary_a, member_factory):
    _issue(secretary_a, member_factory(tree.branch_a), host_org=tree.branch_b, outside_host_name="")
    assert org_stats(tree.district_a)["flowing"] == 1  # 党内统计: counted through the relation
    assert org_stats(tree.district_b)["flowing"] == 0
    assert org_stats(tree.district_b)["members"] == 0


def test_a_party_group_counts_its_members_away(tree, secretary_a, member_factory):
    _issue(secretary_a, member_factory(tree.branch_a, group=tree.group_a))
    _issue(secretary_a, member_factory(tree.branch_a))
    assert org_stats(tree.group_a)["flowing"] == 1


def test_statistics_api_and_home_page_agree_with_the_certificates(
    tree, secretary_a, org_manager, member_factory, api, web
):
    for _ in range(3):
        _issue(secretary_a, member_factory(tree.branch_a))
    ended = _issue(secretary_a, member_factory(tree.branch_a))
    services.flow_certificate_end(actor=secretary_a, certificate=ended, date=D(2026, 1, 5), reason="返回")
    assert api(org_manager).get(f"/api/v1/orgs/{tree.city.pk}/stats/").json()["flowing"] == 3
    home = web(org_manager).get("/")
    assert home.context["stats"]["flowing"] == 3
    body = home.content.decode()
    assert 'href="/transfers/flowing/?side=home"' in body
    # The list the home page links to shows the same members.
    listed = web(org_manager).get("/transfers/flowing/?side=home").context["rows"]
    assert len(listed) == 3 and all(r["c"].status == FlowStatus.ACTIVE for r in listed)


def test_the_flowing_list_separates_members_away_from_members_hosted_here(
    tree, secretary_a, secretary_b, member_factory, web
):
    out = _issue(secretary_a, member_factory(tree.branch_a), host_org=tree.branch_b, outside_host_name="")
    came = _issue(secretary_b, member_factory(tree.branch_b), host_org=tree.branch_a, outside_host_name="")
    client = web(secretary_a)

    def numbers(query: str) -> set[str]:
        return {r["c"].number for r in client.get(f"/transfers/flowing/{query}").context["rows"]}

    assert numbers("") == {out.number, came.number}
    assert numbers("?side=home") == {out.number}
    assert numbers("?side=host") == {came.number}
    assert numbers("?side=nonsense") == {out.number, came.number}


@pytest.mark.parametrize(
    ("why", "status", "away", "host", "votes"),
    [
        ("a full member away keeps the vote at home (RULES.md §4)", MemberStatus.FULL, True, None, True),
        (
            "a probationary member away has no vote (党章 第七条)",
            MemberStatus.PROBATIONARY,
            True,
            None,
            False,
        ),
        ("a full member at home votes (党章 第四条)", MemberStatus.FULL, False, None, True),
        (
            "a member hosted here from another branch has no vote here (RULES.md §4)",
            MemberStatus.FULL,
            True,
            "here",
            False,
        ),
    ],
)
def test_vote_counts_respect_flowing_members(tree, secretary_a, secretary_b, member_factory, why, status, away, host, votes):  # fmt: skip
    home = tree.branch_b if host == "here" else tree.branch_a
    full_date = D(2006, 7, 1) if status == MemberStatus.FULL else None
    member = member_factory(home, status=status, full_date=full_date)
    if away:
        actor = secretary_b if host == "here" else secretary_a
        _issue(actor, member, host_org=tree.branch_a if host == "here" else None)
    voting = member_selectors.voting_members(tree.branch_a, D(2026, 1, 5))
    assert voting.filter(pk=member.pk).exists() is votes, why


@pytest.mark.parametrize("event", ["death", "historical", "remove"])
def test_a_member_who_is_no_longer_current_is_no_longer_flowing(tree, secretary_a, member_factory, event):
    member = member_factory(tree.branch_a)
    cert = _issue(secretary_a, member)
    member_services.member_status_event(
        actor=secretary_a, member=member, event=event, date=D(2026, 1, 5), reason="据实记录"
    )
    cert.refresh_from_db()
    assert cert.status == FlowStatus.ENDED and cert.end == D(2026, 1, 5)
    assert str(member.get_status_display()) in cert.ended_reason
    assert AuditEntry.objects.filter(action="flow.ended", object_id=str(cert.pk)).exists()
    assert org_stats(tree.city)["flowing"] == 0


def test_a_transfer_to_the_host_ends_the_certificate_and_one_elsewhere_moves_it(
    tree, secretary_a, secretary_b, org_manager, member_factory
):
    to_host, elsewhere = member_factory(tree.branch_a), member_factory(tree.branch_a)
    hosted = _issue(secretary_a, to_host, host_org=tree.branch_b, outside_host_name="")
    other = _issue(secretary_a, elsewhere)
    for m in (to_host, elsewhere):
        t = services.transfer_create(
            actor=secretary_a, member=m, kind="within", to_org=tree.branch_b, reason="定居", send=True
        )
        services.transfer_accept(actor=secretary_b, transfer=t)
    hosted.refresh_from_db()
    other.refresh_from_db()
    assert hosted.status == FlowStatus.ENDED  # 条例 第三十条: settled at the host, the relation moved there
    assert other.status == FlowStatus.ACTIVE
    assert (other.home_org, other.home_org_path) == (tree.branch_b, tree.branch_b.path)
    assert org_stats(tree.district_b)["flowing"] == 1 and org_stats(tree.district_a)["flowing"] == 0


def test_one_active_certificate_per_member_in_the_database(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    cert = _issue(secretary_a, member)
    with pytest.raises(IntegrityError), transaction.atomic():
        FlowCertificate.objects.create(
            member=member, home_org=tree.branch_a, home_org_path=tree.branch_a.path,
            outside_host_name="x", number="LD-X", start=START,
        )  # fmt: skip
    services.flow_certificate_end(actor=secretary_a, certificate=cert, date=D(2026, 1, 5), reason="返回")
    assert _issue(secretary_a, member).status == FlowStatus.ACTIVE  # a new period after the last one ended


def test_the_register_refuses_the_status_flowing_in_the_database(tree, member_factory):
    member = member_factory(tree.branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(status="flowing")


def test_certificate_numbers_keep_counting_past_five_digits(tree, secretary_a, member_factory):
    FlowCertificate.objects.create(
        member=member_factory(tree.branch_b), home_org=tree.branch_b, home_org_path=tree.branch_b.path,
        outside_host_name="x", number="LD2025-99999", start=START, status=FlowStatus.ENDED,
    )  # fmt: skip
    FlowCertificate.objects.create(
        member=member_factory(tree.branch_b), home_org=tree.branch_b, home_org_path=tree.branch_b.path,
        outside_host_name="x", number="LD2025-100000", start=START, status=FlowStatus.ENDED,
    )  # fmt: skip
    assert _issue(secretary_a, member_factory(tree.branch_a)).number == "LD2025-100001"


def test_the_member_page_shows_the_standing_and_the_certificate(tree, secretary_a, member_factory, web):
    member = member_factory(tree.branch_a)
    client = web(secretary_a)
    assert 'data-testid="member-flowing"' not in client.get(f"/members/{member.pk}/").content.decode()
    cert = _issue(secretary_a, member)
    body = client.get(f"/members/{member.pk}/").content.decode()
    assert "正式党员" in body and 'data-testid="member-flowing"' in body
    assert f"/transfers/flowing/{cert.pk}/" in body and "广东省深圳市某园区党委" in body
