"""Demo transfers and flowing members: something in each of the four worklists of a focus branch.

``load_transfers_demo(*, actor, today=None, focus=None) -> int`` (idempotent: does nothing when any
transfer exists). ``focus`` is the branch whose secretary shows the demo; by default the branch of the
first active secretary appointment (shuji1 in ``dangjian demo``). Returns the number of rows made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from dangjian.accounts.models import RoleAssignment
from dangjian.core.scoping import Role
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.transfers import services
from dangjian.transfers.models import FlowStatus, Transfer, TransferKind


def _members(branch: Organization, n: int, skip: set[int]) -> list[Member]:
    """Full members at home: not away already with a flow certificate (the city's flowing members)."""
    qs = (
        Member.objects.filter(org=branch, status=MemberStatus.FULL)
        .exclude(pk__in=skip)
        .exclude(flow_certificates__status=FlowStatus.ACTIVE)
        .order_by("id")
    )
    found = list(qs[:n])
    skip.update(m.pk for m in found)
    return found


def _backdate(t: Transfer, days_ago: int) -> None:
    """Make the letter look sent ``days_ago`` (on the object too: a later save must not undo it)."""
    t.sent_at = timezone.now() - dt.timedelta(days=days_ago)
    Transfer.objects.filter(pk=t.pk).update(sent_at=t.sent_at)


def load_transfers_demo(
    *, actor: Any, today: dt.date | None = None, focus: Organization | None = None
) -> int:
    if Transfer.objects.exists():
        return 0
    today = today or timezone.localdate()
    if focus is None:
        ra = (
            RoleAssignment.objects.filter(role=Role.SECRETARY, active=True, org__org_type__in=BRANCH_TYPES)
            .order_by("id")
            .first()
        )
        focus = ra.org if ra else None
    branches = Organization.objects.filter(org_type__in=BRANCH_TYPES, status=OrgStatus.ACTIVE).order_by(
        "path"
    )
    focus = focus or branches.first()
    if focus is None:
        return 0
    others = [b for b in branches.exclude(pk=focus.pk)[:200] if Member.objects.filter(org=b).count() >= 4][:3]
    if len(others) < 2:
        return 0
    b, c = others[0], others[1]
    used: set[int] = set()
    mine = _members(focus, 9, used)
    theirs = _members(b, 4, used)
    if len(mine) < 9 or len(theirs) < 4:
        return 0
    made = 0
    d = dt.timedelta
    with transaction.atomic():
        # 待办: incoming from another branch (one recent, one on hold), and a letter from outside.
        t = services.transfer_create(actor=actor, member=theirs[0], kind=TransferKind.WITHIN, to_org=focus,
                                     reason="工作调动", send=True, on=today - d(days=3))  # fmt: skip
        _backdate(t, 3)
        t = services.transfer_create(actor=actor, member=theirs[1], kind=TransferKind.WITHIN, to_org=focus,
                                     reason="居住地变更", send=True, on=today - d(days=20))  # fmt: skip
        _backdate(t, 20)  # overdue: not received within 15 days
        services.transfer_hold(actor=actor, transfer=t, reason="党费缴纳记录待核实")
        t = services.transfer_create(actor=actor, member=mine[0], kind=TransferKind.INTO,
                                     outside_org_name="河北省保定市某街道党工委第三党支部", reason="随迁落户",
                                     on=today - d(days=2))  # fmt: skip
        # 未办结 / 即将办理: sent by us, one expiring within 7 days.
        t = services.transfer_create(actor=actor, member=mine[1], kind=TransferKind.WITHIN, to_org=b,
                                     reason="工作单位变动", send=True, on=today - d(days=5), dues_paid_until=f"{today:%Y-%m}")  # fmt: skip
        _backdate(t, 5)
        t = services.transfer_create(actor=actor, member=mine[2], kind=TransferKind.WITHIN, to_org=c,
                                     reason="退休后回原籍居住", send=True, on=today - d(days=25))  # fmt: skip
        _backdate(t, 25)
        t = services.transfer_create(actor=actor, member=mine[3], kind=TransferKind.OUT,
                                     outside_org_name="上海市浦东新区某公司党支部", outside_org_address="上海市浦东新区世纪大道100号",
                                     reason="跨省工作调动", send=True, on=today - d(days=10), dues_paid_until=f"{today:%Y-%m}")  # fmt: skip
        _backdate(t, 10)
        # 审批记录: accepted into the focus branch, returned, cancelled.
        t = services.transfer_create(actor=actor, member=theirs[2], kind=TransferKind.WITHIN, to_org=focus,
                                     reason="工作调动", send=True, on=today - d(days=40))  # fmt: skip
        services.transfer_accept(actor=actor, transfer=t, on=today - d(days=35))
        t = services.transfer_create(actor=actor, member=mine[4], kind=TransferKind.WITHIN, to_org=b,
                                     reason="居住地变更", send=True, on=today - d(days=30))  # fmt: skip
        services.transfer_return(actor=actor, transfer=t, reason="接收支部名称有误，请核对后重新转出")
        services.transfer_cancel(actor=actor, transfer=t, reason="改为转往其他支部")
        t = services.transfer_create(actor=actor, member=theirs[3], kind=TransferKind.WITHIN, to_org=focus,
                                     reason="工作调动", send=True, on=today - d(days=60))  # fmt: skip
        services.transfer_return(actor=actor, transfer=t, reason="介绍信信息不全")
        made += 9
        # Flowing members: one past 6 months at a fixed place, one near it, one elsewhere.
        for member, months, host in (
            (mine[5], 7, "广东省深圳市南山区某园区党委"),
            (mine[6], 5, "浙江省杭州市某商会党支部"),
        ):
            cert = services.flow_certificate_issue(actor=actor, member=member, start=today - d(days=30 * months),
                                                   outside_host_name=host, place=host[:6])  # fmt: skip
            made += 1
        # A yearly report of one of them (the flowing list shows each certificate's latest report).
        services.flow_report_add(actor=actor, certificate=cert, date=today - d(days=10),
                                 summary="在流入地参加主题党日活动3次，按时交纳党费，思想工作情况良好。")  # fmt: skip
        services.flow_certificate_issue(actor=actor, member=mine[7], start=today - d(days=40), host_org=b,
                                        fixed_place=False)  # fmt: skip
        # A proposal to treat a member as having left (党章 第九条), waiting for the branch.
        services.status_proposal_create(actor=actor, member=mine[8], inactive_since=today - d(days=220),
                                        reason="连续七个月未参加组织生活、未交纳党费，经多次联系无果", on=today)  # fmt: skip
        made += 2
    return made
