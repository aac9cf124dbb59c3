"""Tamper-evident ledgers (design: Ledgers): append-only hash chains per account, daily anchors.

Dues use it now; points and the mall reuse it. Every amount is appended with :func:`ledger_append`;
nothing updates or deletes an entry, a correction is :func:`ledger_reverse`.

The chain. An entry's hash is ``sha256(prev_hash ‖ payload)``: ``prev_hash`` is the previous entry's
hash as 32 raw bytes (32 zero bytes for the first entry) and ``payload`` the UTF-8 JSON of every column
but ``id``, ``prev_hash`` and ``hash``, with sorted keys and no spaces (:func:`canonical_payload`).
Amounts are written with two decimals, dates in ISO form, times in UTC with microseconds. ``data`` may
hold strings, integers, booleans, null, lists and mappings (no floats: they do not survive a database
round trip unchanged).

The account row. ``LedgerAccount`` holds the balance, the last sequence number and the head hash; it is
locked (``select_for_update``) while an entry is appended, so writers on one account queue, sequence
numbers have no gaps and the balance is always the chain's sum. ``allow_negative=False`` refuses an
append that would overdraw (the mall).

Anchors. Once a day :func:`ledger_anchor` commits to every chain head at once. The accounts are put in
``ANCHOR_BUCKETS`` buckets by id (``id % ANCHOR_BUCKETS``); a bucket's hash is the sha256 of the
``"<account id>:<seq>:<head hash>\\n"`` lines of its accounts in id order (sha256 of nothing when it is
empty); the root is the binary Merkle root over the bucket hashes in bucket order (a node is
``sha256(0x01 ‖ left ‖ right)``; an odd node at the end of a level is carried up unchanged). Buckets keep
re-checking linear: between two anchors only the buckets whose accounts moved are hashed again.

:func:`verify_ledgers` re-reads every entry once, in id order, and re-computes every hash, sequence,
balance, account row and anchor; it returns the problems found, the first one naming the ledger, the
account and the sequence number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.models import LedgerAccount, LedgerAnchor, LedgerEntry

GENESIS = "0" * 64
ANCHOR_BUCKETS = 1024
CENT = Decimal("0.01")


# ── the payload and its hash ──────────────────────────────────────────────────────────────────────


def money(value: Any) -> Decimal:
    """A two-decimal amount. Refuses what would need rounding: a ledger never rounds silently."""
    amount = Decimal(str(value))
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValidationError(_("An amount has at most two decimal places: %(value)s.") % {"value": value})
    return amount.quantize(CENT)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_json(value: Any, path: str = "data") -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path}: keys must be strings")
            _check_json(item, f"{path}.{k}")
        return
    raise TypeError(f"{path}: {type(value).__name__} cannot be stored in a ledger entry (use a string)")


def canonical_payload(
    *,
    ledger: str,
    account: str,
    seq: int,
    kind: str,
    amount: Decimal,
    balance_after: Decimal,
    occurred_on: dt.date,
    source_key: str | None,
    reverses: int | None,
    data: dict[str, Any],
    actor: int | None,
    created_at: dt.datetime,
) -> bytes:
    return json.dumps(
        {
            "ledger": ledger,
            "account": account,
            "seq": seq,
            "kind": kind,
            "amount": f"{amount:.2f}",
            "balance_after": f"{balance_after:.2f}",
            "occurred_on": occurred_on.isoformat(),
            "source_key": source_key,
            "reverses": reverses,
            "data": data,
            "actor": actor,
            "created_at": _utc(created_at),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def chain_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + payload).hexdigest()


# ── appending ─────────────────────────────────────────────────────────────────────────────────────


def account_get(ledger: str, key: str, org: Any = None) -> LedgerAccount:
    """The account (created on first use). Creating races are settled by the unique constraint."""
    account = LedgerAccount.objects.filter(ledger=ledger, key=key).first()
    if account is None:
        try:
            with transaction.atomic():
                account = LedgerAccount.objects.create(ledger=ledger, key=key, org=org)
        except IntegrityError:
            account = LedgerAccount.objects.get(ledger=ledger, key=key)
    if org is not None and account.org_id != getattr(org, "pk", org):
        LedgerAccount.objects.filter(pk=account.pk).update(org=org)
        account.org_id = getattr(org, "pk", org)
    return account


def account_balance(ledger: str, key: str) -> Decimal:
    row = LedgerAccount.objects.filter(ledger=ledger, key=key).values_list("balance", flat=True).first()
    return row if row is not None else Decimal("0.00")


def _same_account(earlier: LedgerEntry, account: LedgerAccount, source_key: str) -> LedgerEntry:
    # A source key names one fact on one account: reusing it for another account is a programming
    # error (two entries of one payment need two keys), never a silent "already booked".
    if earlier.account_id != account.pk:
        raise ValueError(f"source_key {source_key!r} is already booked on another account of this ledger")
    return earlier


@dataclass(frozen=True)
class Appended:
    entry: LedgerEntry
    created: bool  # False: an entry with this source_key was already booked (an idempotent resend)


def ledger_append(
    *,
    ledger: str,
    key: str,
    amount: Any,
    kind: str,
    occurred_on: dt.date,
    org: Any = None,
    source_key: str | None = None,
    data: dict[str, Any] | None = None,
    actor: Any = None,
    reverses: LedgerEntry | None = None,
    allow_negative: bool = True,
) -> Appended:
    """Append one entry to the account ``key`` of ``ledger``, in the caller's transaction (or its own).

    With a ``source_key`` already booked on this account, nothing is appended and the earlier entry is
    returned (``created=False``); a key is unique in its ledger, so the entries one fact books on
    several accounts need a key each (``pay:7:member``, ``pay:7:org``). With ``allow_negative=False`` an append that would take the balance
    below zero raises ``ValidationError`` (code ``insufficient_balance``)."""
    amount = money(amount)
    data = dict(data or {})
    _check_json(data)
    with transaction.atomic():
        account = account_get(ledger, key, org)
        account = LedgerAccount.objects.select_for_update().get(pk=account.pk)
        if source_key is not None:
            earlier = LedgerEntry.objects.filter(ledger=ledger, source_key=source_key).first()
            if earlier is not None:
                return Appended(_same_account(earlier, account, source_key), False)
        balance_after = account.balance + amount
        if not allow_negative and amount < 0 and balance_after < 0:
            raise ValidationError(
                _("The balance is %(balance)s; %(amount)s cannot be taken from it.")
                % {"balance": account.balance, "amount": -amount},
                code="insufficient_balance",
            )
        seq = account.seq + 1
        created_at = timezone.now()
        actor_id = getattr(actor, "pk", None)
        payload = canonical_payload(
            ledger=ledger,
            account=key,
            seq=seq,
            kind=kind,
            amount=amount,
            balance_after=balance_after,
            occurred_on=occurred_on,
            source_key=source_key,
            reverses=reverses.pk if reverses is not None else None,
            data=data,
            actor=actor_id,
            created_at=created_at,
        )
        digest = chain_hash(account.head_hash, payload)
        try:
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
                    ledger=ledger,
                    account=account,
                    seq=seq,
                    kind=kind,
                    amount=amount,
                    balance_after=balance_after,
                    occurred_on=occurred_on,
                    source_key=source_key,
                    reverses=reverses,
                    data=data,
                    actor_id=actor_id,
                    created_at=created_at,
                    prev_hash=account.head_hash,
                    hash=digest,
                )
        except IntegrityError:
            # The same source booked on another account at the same moment, or the entry reversed twice.
            if source_key is not None:
                earlier = LedgerEntry.objects.filter(ledger=ledger, source_key=source_key).first()
                if earlier is not None:
                    return Appended(_same_account(earlier, account, source_key), False)
            raise
        LedgerAccount.objects.filter(pk=account.pk).update(balance=balance_after, seq=seq, head_hash=digest)
    return Appended(entry, True)


def ledger_reverse(
    entry: LedgerEntry,
    *,
    occurred_on: dt.date,
    reason: str,
    actor: Any = None,
    kind: str = "reversal",
    source_key: str | None = None,
    allow_negative: bool = True,
) -> Appended:
    """Book the opposite of ``entry`` on its account. An entry is reversed at most once (a second
    reversal raises ``ValidationError``, code ``already_reversed``)."""
    if not reason.strip():
        raise ValidationError(_("Say why the entry is reversed."), code="reason_required")
    with transaction.atomic():
        LedgerAccount.objects.select_for_update().get(pk=entry.account_id)
        if LedgerEntry.objects.filter(reverses=entry).exists():
            raise ValidationError(_("This entry has already been reversed."), code="already_reversed")
        return ledger_append(
            ledger=entry.ledger,
            key=entry.account.key,
            amount=-entry.amount,
            kind=kind,
            occurred_on=occurred_on,
            source_key=source_key,
            data={"reason": reason.strip(), "reverses_seq": entry.seq},
            actor=actor,
            reverses=entry,
            allow_negative=allow_negative,
        )


# ── anchors ───────────────────────────────────────────────────────────────────────────────────────


def _leaf(account_id: int, seq: int, head: str) -> bytes:
    return f"{account_id}:{seq}:{head}\n".encode()


def merkle_root(nodes: list[bytes]) -> str:
    """The binary Merkle root of ``nodes`` (digests): ``sha256(0x01 ‖ left ‖ right)``, odd node carried."""
    if not nodes:
        return hashlib.sha256(b"").hexdigest()
    level = nodes
    while len(level) > 1:
        nxt = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


class _Buckets:
    """Chain heads grouped in buckets, re-hashing only the buckets that changed since the last root."""

    def __init__(self) -> None:
        self.heads: list[dict[int, tuple[int, str]]] = [{} for _ in range(ANCHOR_BUCKETS)]
        self.digests = [hashlib.sha256(b"").digest()] * ANCHOR_BUCKETS
        self.dirty: set[int] = set()

    def set(self, account_id: int, seq: int, head: str) -> None:
        b = account_id % ANCHOR_BUCKETS
        self.heads[b][account_id] = (seq, head)
        self.dirty.add(b)

    def root(self) -> str:
        for b in self.dirty:
            h = hashlib.sha256()
            bucket = self.heads[b]
            for account_id in sorted(bucket):
                h.update(_leaf(account_id, *bucket[account_id]))
            self.digests[b] = h.digest()
        self.dirty.clear()
        return merkle_root(list(self.digests))

    def count(self) -> int:
        return sum(len(b) for b in self.heads)


def ledger_anchor(day: dt.date | None = None) -> LedgerAnchor:
    """Write the anchor of ``day`` (default today) over every chain head; idempotent per day.

    On PostgreSQL the entry table is locked in SHARE mode for the moment it takes, which waits for the
    appends in flight and holds new ones back, so the heads read are exactly those of the entries up to
    the highest id read."""
    day = day or timezone.localdate()
    with transaction.atomic():
        existing = LedgerAnchor.objects.filter(day=day).first()
        if existing is not None:
            return existing
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {LedgerEntry._meta.db_table} IN SHARE MODE")
        through = LedgerEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        buckets = _Buckets()
        for account_id, seq, head in (
            LedgerAccount.objects.filter(seq__gt=0)
            .values_list("id", "seq", "head_hash")
            .iterator(chunk_size=5000)
        ):
            buckets.set(account_id, seq, head)
        previous = LedgerAnchor.objects.order_by("-day").first()
        return LedgerAnchor.objects.create(
            day=day,
            through_entry=through,
            accounts=buckets.count(),
            entries=LedgerEntry.objects.filter(id__lte=through).count(),
            root=buckets.root(),
            prev_root=previous.root if previous else GENESIS,
        )


# ── verification ──────────────────────────────────────────────────────────────────────────────────


@dataclass
class Problem:
    ledger: str
    account: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.ledger} / {self.account}"
        if self.seq is not None:
            where += f" #{self.seq}"
        return f"{where}: {self.message}"


@dataclass
class Verification:
    entries: int = 0
    accounts: int = 0
    anchors: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_ENTRY_COLUMNS = (
    "id",
    "account_id",
    "ledger",
    "seq",
    "kind",
    "amount",
    "balance_after",
    "occurred_on",
    "source_key",
    "reverses_id",
    "data",
    "actor_id",
    "created_at",
    "prev_hash",
    "hash",
)


def _entries(chunk: int) -> Iterator[tuple[Any, ...]]:
    # Keyset pagination: linear on every database, and memory bounded by one chunk.
    last = 0
    while True:
        rows = list(
            LedgerEntry.objects.filter(id__gt=last).order_by("id").values_list(*_ENTRY_COLUMNS)[:chunk]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify_ledgers(*, chunk: int = 20000, max_problems: int = 50) -> Verification:
    """Re-compute every chain, balance, account row and anchor, reading each entry once (linear time)."""
    result = Verification()
    accounts = {
        pk: (ledger, key, seq, head, balance)
        for pk, ledger, key, seq, head, balance in LedgerAccount.objects.values_list(
            "id", "ledger", "key", "seq", "head_hash", "balance"
        )
    }
    result.accounts = len(accounts)
    state: dict[int, tuple[int, str, Decimal]] = {}  # account id → (seq, hash, balance) as re-computed
    anchors = list(LedgerAnchor.objects.order_by("day"))
    result.anchors = len(anchors)
    buckets = _Buckets()
    anchor_i = 0
    prev_root = GENESIS
    entries_seen = 0

    anchor_problems: list[Problem] = []

    def problem(ledger: str, account: str, seq: int | None, message: str) -> None:
        target = anchor_problems if ledger == "anchor" else result.problems
        if len(target) < max_problems:
            target.append(Problem(ledger, account, seq, message))

    def close_anchors(upto: int | None) -> None:
        nonlocal anchor_i, prev_root
        while anchor_i < len(anchors) and (upto is None or anchors[anchor_i].through_entry < upto):
            anchor = anchors[anchor_i]
            label = _("anchor of %(day)s") % {"day": anchor.day.isoformat()}
            if anchor.prev_root != prev_root:
                problem(
                    "anchor",
                    label,
                    None,
                    _("does not follow the previous anchor (one was removed or changed)"),
                )
            if buckets.root() != anchor.root or anchor.entries != entries_seen:
                problem("anchor", label, None, _("its root does not match the chain heads it recorded"))
            prev_root = anchor.root
            anchor_i += 1

    for row in _entries(chunk):
        (pk, account_id, ledger, seq, kind, amount, balance_after, occurred_on, source_key, reverses_id, data, actor_id,
         created_at, prev_hash, digest) = row  # fmt: skip
        close_anchors(pk)
        result.entries += 1
        entries_seen += 1
        account = accounts.get(account_id)
        key = account[1] if account else f"#{account_id}"
        if account is None:
            problem(ledger, key, seq, _("the entry's account row is missing"))
            continue
        last_seq, last_hash, balance = state.get(account_id, (0, GENESIS, Decimal("0.00")))
        if ledger != account[0]:
            problem(ledger, key, seq, _("the entry names another ledger than its account"))
        if seq != last_seq + 1:
            if seq <= last_seq:
                problem(account[0], key, seq, _("sequence number repeated or out of order"))
            else:
                problem(
                    account[0],
                    key,
                    last_seq + 1,
                    _("entry missing (the next entry found is number %(seq)s)") % {"seq": seq},
                )
        if prev_hash != last_hash:
            problem(account[0], key, seq, _("does not follow the previous entry of the account"))
        expected = chain_hash(
            prev_hash,
            canonical_payload(
                ledger=ledger,
                account=key,
                seq=seq,
                kind=kind,
                amount=amount,
                balance_after=balance_after,
                occurred_on=occurred_on,
                source_key=source_key,
                reverses=reverses_id,
                data=data,
                actor=actor_id,
                created_at=created_at,
            ),
        )
        if expected != digest:
            problem(account[0], key, seq, _("its content was changed after it was written"))
        if balance + amount != balance_after:
            problem(
                account[0], key, seq, _("the balance after it is not the previous balance plus its amount")
            )
        state[account_id] = (seq, digest, balance_after)
        buckets.set(account_id, seq, digest)
    close_anchors(None)

    for account_id, (ledger, key, seq, head, balance) in accounts.items():
        last_seq, last_hash, last_balance = state.get(account_id, (0, GENESIS, Decimal("0.00")))
        if (seq, head) != (last_seq, last_hash):
            problem(
                ledger,
                key,
                last_seq + 1 if seq > last_seq else seq,
                _("the account row says %(seq)s entries, the chain has %(found)s")
                % {"seq": seq, "found": last_seq}
                if seq != last_seq
                else _("the account row's head hash is not the last entry's hash"),
            )
        elif balance != last_balance:
            problem(ledger, key, None, _("the account's balance is not the sum of its entries"))
    # A broken entry is named before the anchors it also breaks: it is the more precise finding.
    result.problems.extend(anchor_problems)
    return result
