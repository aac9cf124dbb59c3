"""Every write of transfers, flow certificates and status proposals: one transaction, an audit row.

Who acts where: the sending org creates, sends and cancels a transfer; the receiving org accepts,
returns (退回) or puts it on hold (挂起), both with a reason. For a letter out of the platform the
sending org records the return slip (回执) as the acceptance; for one into the platform, the receiving
org records the incoming letter and accepts it. The sending org stays responsible until acceptance.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.scoping import can
from dangjian.members import services as member_services
from dangjian.members.choices import CURRENT_STATUSES, MemberStatus
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.transfers import rules
from dangjian.transfers.models import (
    OPEN_STATUSES,
    FlowCertificate,
    FlowReport,
    FlowStatus,
    ProposalStatus,
    StatusProposal,
    Transfer,
    TransferEvent,
    TransferKind,
    TransferStatus,
)
from dangjian.transfers.rules import RuleViolationError

_SUFFIXES = ("区委", "市委", "县委", "党委", "党工委", "党总支", "党支部", "委员会", "街道", "社区")


def _denied() -> PermissionDenied:
    return PermissionDenied(_("This is outside the part of the organisation tree you manage."))


def _short_name(name: str) -> str:
    """东城区委 → 东城: the place part of an organisation's name, for letter numbers."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name[:4] or "外"


def _letter_number(org_name: str, year: int) -> str:
    prefix = f"{year}-{_short_name(org_name)}-"
    last = (
        Transfer.objects.filter(letter_number__startswith=prefix)
        .order_by("-letter_number")
        .values_list("letter_number", flat=True)
        .first()
    )
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:04d}"


def _event(transfer: Transfer, action: str, actor: Any, reason: str = "") -> None:
    TransferEvent.objects.create(
        transfer=transfer, action=action, status=transfer.status, reason=reason, actor=actor
    )
    audit_log(
        actor=actor,
        action=f"transfer.{action}",
        obj=transfer,
        org=transfer.from_org or transfer.to_org,
        changes={"status": transfer.status, "reason": reason} if reason else {"status": transfer.status},
    )


def transfer_create(
    *,
    actor: Any,
    member: Member,
    kind: str,
    reason: str,
    to_org: Organization | None = None,
    outside_org_name: str = "",
    outside_org_address: str = "",
    dues_paid_until: str = "",
    send: bool = False,
    on: dt.date | None = None,
) -> Transfer:
    """A transfer of ``member``: within the platform (to ``to_org``), out of it (to an outside org named
    in the letter) or into it (a letter from outside received by ``to_org``, the member's branch here)."""
    on = on or timezone.localdate()
    if kind not in TransferKind.values:
        raise ValidationError({"kind": _("Unknown kind of transfer.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the transfer.")})
    if member.status not in CURRENT_STATUSES:
        raise ValidationError({"member": _("Only a current member's relation can be transferred.")})
    if member.transfers.filter(status__in=(*OPEN_STATUSES, TransferStatus.DRAFT)).exists():
        raise ValidationError({"member": _("This member already has a transfer in progress.")})
    from_org: Organization | None = member.org
    if kind == TransferKind.INTO:
        # The receiving branch records a letter from outside for a member it entered in its register.
        to_org, from_org = member.org, None
        if not can(actor, "change", to_org):
            raise _denied()
        if not outside_org_name.strip():
            raise ValidationError({"outside_org_name": _("Name the sending organisation.")})
    else:
        if not can(actor, "change", member.org):
            raise _denied()
        if kind == TransferKind.WITHIN:
            if to_org is None:
                raise ValidationError({"to_org": _("Choose the receiving organisation.")})
            if to_org.status != OrgStatus.ACTIVE or to_org.org_type not in BRANCH_TYPES:
                raise ValidationError({"to_org": _("The receiving organisation must be an active branch.")})
            if to_org.pk == member.org_id:
                raise ValidationError({"to_org": _("The member already belongs to this organisation.")})
        else:
            to_org = None
            if not outside_org_name.strip():
                raise ValidationError({"outside_org_name": _("Name the receiving organisation.")})
    if not dues_paid_until and kind != TransferKind.INTO:
        # The letter says up to which month dues are paid: from the dues ledger unless typed in.
        from dangjian.dues.selectors import member_paid_up_to

        paid = member_paid_up_to(member)
        dues_paid_until = f"{paid:%Y-%m}" if paid else ""
    r = rules.rule_for(on, from_org or to_org)
    with transaction.atomic():
        for _attempt in range(5):
            transfer = Transfer(
                member=member,
                kind=kind,
                from_org=from_org,
                to_org=to_org,
                from_org_path=from_org.path if from_org else "",
                to_org_path=to_org.path if to_org else "",
                outside_org_name=outside_org_name.strip(),
                outside_org_address=outside_org_address.strip(),
                reason=reason.strip(),
                dues_paid_until=dues_paid_until,
                letter_number=_letter_number((from_org or to_org).name, on.year),  # type: ignore[union-attr]
                rule_ref=r.ref,
                created_by=actor,
            )
            try:
                with transaction.atomic():
                    transfer.save()
                break
            except IntegrityError:  # another letter took the number meanwhile
                continue
        else:
            raise ValidationError(_("Could not number the letter; try again."))
        _event(transfer, "created", actor)
        if send or kind == TransferKind.INTO:
            _send(transfer, actor=actor, on=on)
    return transfer


def _send(transfer: Transfer, *, actor: Any, on: dt.date) -> None:
    r = rules.rule_for(on, transfer.from_org or transfer.to_org)
    transfer.status = TransferStatus.SENT
    transfer.issued_on = on
    transfer.valid_until = rules.letter_valid_until(on, r)
    transfer.rule_ref = r.ref
    transfer.sent_at = timezone.now()
    transfer.save()
    _event(transfer, "sent", actor)


def _sender_check(actor: Any, transfer: Transfer) -> None:
    org = transfer.from_org or transfer.to_org  # into the platform: the recording branch
    if not can(actor, "change", org):
        raise _denied()


def _receiver_check(actor: Any, transfer: Transfer) -> None:
    # Out of the platform: the sending org records the return slip.
    org = transfer.to_org or transfer.from_org
    if not can(actor, "change", org):
        raise _denied()


def _status_in(transfer: Transfer, allowed: tuple[str, ...]) -> None:
    if transfer.status not in allowed:
        raise ValidationError(
            {
                "status": _("Not possible while the transfer is “%(status)s”.")
                % {"status": transfer.get_status_display()}
            }
        )


def transfer_send(*, actor: Any, transfer: Transfer, on: dt.date | None = None) -> Transfer:
    """Issue the letter (draft → sent; a returned transfer can be sent again after correction)."""
    _sender_check(actor, transfer)
    _status_in(transfer, (TransferStatus.DRAFT, TransferStatus.RETURNED))
    with transaction.atomic():
        _send(transfer, actor=actor, on=on or timezone.localdate())
    return transfer


def transfer_accept(*, actor: Any, transfer: Transfer, on: dt.date | None = None) -> Transfer:
    """The receiving side accepts: the member's relation moves now (never before), an expired letter is
    refused with the rule that sets its validity."""
    on = on or timezone.localdate()
    _receiver_check(actor, transfer)
    _status_in(transfer, OPEN_STATUSES)
    r = rules.rule_for(on, transfer.from_org or transfer.to_org)
    violation = rules.check_letter_valid(valid_until=transfer.valid_until, on=on, r=r)
    if violation:
        raise RuleViolationError(violation)
    with transaction.atomic():
        member = transfer.member
        if transfer.kind == TransferKind.WITHIN:
            member_services.member_relation_move(
                actor=actor, member=member, to_org=transfer.to_org, date=on, reason=transfer.letter_number
            )
            _recruitment_follow(member=member, to_org=transfer.to_org)
            _flow_follow(actor=actor, member=member, to_org=transfer.to_org, on=on)
        elif transfer.kind == TransferKind.OUT:
            # The relation left the platform: the register keeps the member as a historical record.
            member_services.member_change_status(
                actor=actor,
                member=member,
                status=MemberStatus.HISTORICAL,
                date=on,
                reason=_("Relation transferred to %(org)s (letter %(number)s)")
                % {"org": transfer.outside_org_name, "number": transfer.letter_number},
            )
        transfer.status = TransferStatus.ACCEPTED
        transfer.decided_by, transfer.decided_at = actor, timezone.now()
        transfer.save()
        _event(transfer, "accepted", actor)
    return transfer


def _recruitment_follow(*, member: Member, to_org: Any) -> None:
    """The member's recruitment file (RecruitmentCase) follows them to the new branch.

    Hook: recruitment has no service for this yet; the file's org and path copy are updated here so the
    new branch sees the case and its steps; the steps keep their dates and signatories.
    """
    try:
        from dangjian.recruitment.models import RecruitmentCase
    except ImportError:  # pragma: no cover
        return
    RecruitmentCase.objects.filter(member=member).update(org=to_org, org_path=to_org.path)


def _decide(actor: Any, transfer: Transfer, status: str, action: str, reason: str) -> Transfer:
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason.")})
    with transaction.atomic():
        transfer.status = status
        transfer.decision_reason = reason.strip()
        transfer.decided_by, transfer.decided_at = actor, timezone.now()
        transfer.save()
        _event(transfer, action, actor, reason.strip())
    return transfer


def transfer_return(*, actor: Any, transfer: Transfer, reason: str) -> Transfer:
    """退回: the receiving side sends the transfer back with a reason; the member stays where they were."""
    _receiver_check(actor, transfer)
    _status_in(transfer, OPEN_STATUSES)
    return _decide(actor, transfer, TransferStatus.RETURNED, "returned", reason)


def transfer_hold(*, actor: Any, transfer: Transfer, reason: str) -> Transfer:
    """挂起: the receiving side holds the transfer with a reason (e.g. missing dues record)."""
    _receiver_check(actor, transfer)
    _status_in(transfer, (TransferStatus.SENT,))
    return _decide(actor, transfer, TransferStatus.ON_HOLD, "held", reason)


def transfer_cancel(*, actor: Any, transfer: Transfer, reason: str = "") -> Transfer:
    """The sending side withdraws a transfer not yet accepted."""
    _sender_check(actor, transfer)
    _status_in(transfer, (TransferStatus.DRAFT, *OPEN_STATUSES, TransferStatus.RETURNED))
    return _decide(
        actor, transfer, TransferStatus.CANCELLED, "cancelled", reason or _("Withdrawn by the sender")
    )


def transfers_expire(*, on: dt.date | None = None) -> int:
    """Mark open letters past their validity as expired (a daily job; the sender issues a new one)."""
    on = on or timezone.localdate()
    count = 0
    for transfer in Transfer.objects.filter(status__in=OPEN_STATUSES, valid_until__lt=on):
        with transaction.atomic():
            transfer.status = TransferStatus.EXPIRED
            transfer.save(update_fields=["status", "updated_at"])
            _event(transfer, "expired", None)
        count += 1
    return count


# --- flowing members -----------------------------------------------------------------------------


def _certificate_number(year: int) -> str:
    prefix = f"LD{year}-"
    # The longest number first: past 99999 a year, "LD2026-100000" sorts before "LD2026-99999" as text.
    last = (
        FlowCertificate.objects.filter(number__startswith=prefix)
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    return f"{prefix}{(int(last.rsplit('-', 1)[1]) + 1) if last else 1:05d}"


def flow_certificate_issue(
    *,
    actor: Any,
    member: Member,
    start: dt.date,
    end: dt.date | None = None,
    host_org: Organization | None = None,
    outside_host_name: str = "",
    place: str = "",
    fixed_place: bool = True,
) -> FlowCertificate:
    """Issue a 活动证 to a member going away: the home branch issues it, the host may be anywhere.

    The active certificate is the one record that the member is flowing (流动党员): the member's status
    stays full or probationary (the vote rules need it), and the statistics count the certificates."""
    if not can(actor, "change", member.org):
        raise _denied()
    if member.status not in CURRENT_STATUSES:
        raise ValidationError({"member": _("Only a current member can receive a flow certificate.")})
    if host_org is None and not outside_host_name.strip():
        raise ValidationError(
            {"host_org": _("Choose the host organisation or name one outside the platform.")}
        )
    if end is not None and end < start:
        raise ValidationError({"end": _("The end cannot be before the start.")})
    if member.flow_certificates.filter(status=FlowStatus.ACTIVE).exists():
        raise ValidationError({"member": _("This member already has an active flow certificate.")})
    with transaction.atomic():
        cert = FlowCertificate.objects.create(
            member=member,
            home_org=member.org,
            home_org_path=member.org.path,
            host_org=host_org,
            host_org_path=host_org.path if host_org else "",
            outside_host_name=outside_host_name.strip(),
            place=place,
            fixed_place=fixed_place,
            number=_certificate_number(start.year),
            start=start,
            end=end,
        )
        audit_log(actor=actor, action="flow.issued", obj=cert, org=member.org)
    return cert


def flow_certificate_renew(*, actor: Any, certificate: FlowCertificate, end: dt.date) -> FlowCertificate:
    if not can(actor, "change", certificate.home_org):
        raise _denied()
    if certificate.status != FlowStatus.ACTIVE or end < certificate.start:
        raise ValidationError({"end": _("Only an active certificate can be renewed, to a later date.")})
    with transaction.atomic():
        certificate.end = end
        certificate.save(update_fields=["end"])
        audit_log(
            actor=actor,
            action="flow.renewed",
            obj=certificate,
            org=certificate.home_org,
            changes={"end": end},
        )
    return certificate


def flow_certificate_end(
    *, actor: Any, certificate: FlowCertificate, date: dt.date, reason: str
) -> FlowCertificate:
    """The member is back (or settled): the certificate ends and they are no longer counted as flowing."""
    if not can(actor, "change", certificate.home_org):
        raise _denied()
    if certificate.status != FlowStatus.ACTIVE:
        raise ValidationError({"status": _("This certificate has already ended.")})
    with transaction.atomic():
        _end(certificate, actor=actor, date=date, reason=reason)
    return certificate


def _end(certificate: FlowCertificate, *, actor: Any, date: dt.date, reason: str) -> None:
    certificate.status, certificate.end, certificate.ended_reason = FlowStatus.ENDED, date, reason[:200]
    certificate.save(update_fields=["status", "end", "ended_reason"])
    audit_log(
        actor=actor,
        action="flow.ended",
        obj=certificate,
        org=certificate.home_org,  # filed under the home branch, which answers for the member
        changes={"date": date, "reason": reason},
    )


def _flow_follow(*, actor: Any, member: Member, to_org: Organization, on: dt.date) -> None:
    """The member's relation moved to ``to_org`` (an accepted transfer): an active certificate hosted
    there ends (the member now belongs where they live, 条例 第三十条); any other moves to the new home
    branch, which is responsible for the flowing member from now on."""
    for cert in FlowCertificate.objects.filter(member=member, status=FlowStatus.ACTIVE):
        if cert.host_org_id == to_org.pk:
            reason = _("Relation transferred to the host organisation")
            _end(cert, actor=actor, date=max(on, cert.start), reason=reason)
            continue
        before = cert.home_org_id
        cert.home_org, cert.home_org_path = to_org, to_org.path
        cert.save(update_fields=["home_org", "home_org_path"])
        audit_log(
            actor=actor,
            action="flow.home_moved",
            obj=cert,
            org=to_org,
            changes={"home_org": [before, to_org.pk]},
        )


def flow_certificates_end_for_former_member(*, actor: Any, member: Member, date: dt.date, status: str) -> int:
    """A member who is no longer a current member (suspended, left, deceased, a historical record) is no
    longer a flowing member either: their active certificate ends (members.signals.member_status_changed,
    in the status change's transaction). Returns the number of certificates ended."""
    if status in CURRENT_STATUSES:
        return 0
    label = dict(MemberStatus.choices).get(status, status)
    ended = 0
    with transaction.atomic():
        for cert in FlowCertificate.objects.filter(member=member, status=FlowStatus.ACTIVE):
            reason = _("The member is now “%(status)s”") % {"status": label}
            _end(cert, actor=actor, date=max(date, cert.start), reason=reason)
            ended += 1
    return ended


def flow_report_add(*, actor: Any, certificate: FlowCertificate, date: dt.date, summary: str) -> FlowReport:
    """The yearly report of a flowing member, recorded by the home or the host organisation."""
    orgs = [o for o in (certificate.home_org, certificate.host_org) if o is not None]
    if not any(can(actor, "change", o) for o in orgs):
        raise _denied()
    if not summary.strip():
        raise ValidationError({"summary": _("Write the report.")})
    if certificate.reports.filter(year=date.year).exists():
        raise ValidationError({"date": _("This year's report is already recorded.")})
    with transaction.atomic():
        report = FlowReport.objects.create(
            certificate=certificate, year=date.year, date=date, summary=summary.strip(), actor=actor
        )
        audit_log(
            actor=actor,
            action="flow.reported",
            obj=certificate,
            org=certificate.home_org,
            changes={"year": date.year},
        )
    return report


# --- treated as having left (党章 第九条): a proposal the branch confirms ---------------------------


def status_proposal_create(
    *, actor: Any, member: Member, inactive_since: dt.date, reason: str, on: dt.date | None = None
) -> StatusProposal:
    """Propose treating a member as having left after 6 consecutive months of inactivity. Never changes
    the member's status: the branch confirms or rejects the proposal (status_proposal_decide)."""
    on = on or timezone.localdate()
    if not can(actor, "change", member.org):
        raise _denied()
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the proposal.")})
    r = rules.rule_for(on, member.org)
    violation = rules.check_inactive(inactive_since=inactive_since, on=on, r=r)
    if violation:
        raise RuleViolationError(violation)
    if member.status_proposals.filter(status=ProposalStatus.PROPOSED).exists():
        raise ValidationError({"member": _("A proposal for this member is already waiting.")})
    with transaction.atomic():
        proposal = StatusProposal.objects.create(
            member=member,
            org=member.org,
            org_path=member.org.path,
            to_status=MemberStatus.LEFT,
            inactive_since=inactive_since,
            reason=reason.strip(),
            proposed_by=actor,
            proposed_on=on,
            rule_ref=r.ref,
        )
        audit_log(actor=actor, action="member.leave_proposed", obj=member, changes={"proposal": proposal.pk})
    return proposal


def status_proposal_decide(
    *, actor: Any, proposal: StatusProposal, confirm: bool, date: dt.date | None = None, note: str = ""
) -> StatusProposal:
    """The branch's decision on a proposal: confirming records the status change (a new event)."""
    date = date or timezone.localdate()
    if not can(actor, "change", proposal.org):
        raise _denied()
    if proposal.status != ProposalStatus.PROPOSED:
        raise ValidationError({"status": _("This proposal has already been decided.")})
    with transaction.atomic():
        proposal.status = ProposalStatus.CONFIRMED if confirm else ProposalStatus.REJECTED
        proposal.decided_by, proposal.decided_on, proposal.decision_note = actor, date, note
        proposal.save()
        if confirm:
            member_services.member_change_status(
                actor=actor,
                member=proposal.member,
                status=proposal.to_status,
                date=date,
                reason=_("Treated as having left the Party (%(article)s): %(reason)s")
                % {
                    "article": rules.rule_for(date, proposal.org)["articles"]["inactive"],
                    "reason": proposal.reason,
                },
            )
        audit_log(
            actor=actor,
            action="member.leave_confirmed" if confirm else "member.leave_rejected",
            obj=proposal.member,
            changes={"proposal": proposal.pk, "note": note},
        )
    return proposal
