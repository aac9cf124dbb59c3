"""Signals of the member register, through which other apps keep their records in line with it.

``member_status_changed(member, from_status, to_status, date, actor)`` is sent by
members.services.member_change_status, inside its transaction, after every status change (every status
event goes through it). transfers ends the flow certificate of a member who is no longer a current member.
"""

from __future__ import annotations

from django.dispatch import Signal

member_status_changed = Signal()
