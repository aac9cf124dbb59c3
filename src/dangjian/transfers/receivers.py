"""What transfers does when the member register changes (connected in TransfersConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from dangjian.members.signals import member_status_changed


@receiver(member_status_changed, dispatch_uid="transfers.end_flow_certificates")
def end_flow_certificates(
    sender: Any, *, member: Any, to_status: str, date: Any, actor: Any, **kwargs: Any
) -> None:
    """A member who leaves the current statuses is no longer a flowing member: their certificate ends."""
    from dangjian.transfers.services import flow_certificates_end_for_former_member

    flow_certificates_end_for_former_member(actor=actor, member=member, date=date, status=to_status)
