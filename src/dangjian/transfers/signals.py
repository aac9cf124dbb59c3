"""Signals of the transfers app: the hooks through which a member's other records follow them.

``member_relation_moved(member, from_org, to_org, date)`` is sent (by members.services.member_relation_move,
inside its transaction) when a member's organisation relation moves to another branch. The dues and
points accounts, built later, connect a receiver that moves the member's account to the new branch
without rewriting its history (the old rows keep the org they were booked at).
"""

from __future__ import annotations

from django.dispatch import Signal

member_relation_moved = Signal()
