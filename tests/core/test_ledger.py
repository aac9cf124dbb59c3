"""The hash-chained ledger (ARCHITECTURE.md "Ledgers"): appends, idempotence, reversals, overdraft,
and verification that names the first broken entry when a row is altered, deleted or swapped."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections

from dangjian.core.ledger import (
    GENESIS,
    account_balance,
    chain_hash,
    ledger_anchor,
    ledger_append,
    ledger_reverse,
    merkle_root,
    verify_ledgers,
)
from dangjian.core.models import LedgerAccount, LedgerAnchor, LedgerEntry

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 1)


def book(key: str, amount: str, source: str | None = None, **kw) -> LedgerEntry:
    return ledger_append(
        ledger="test", key=key, amount=amount, kind="pay", occurred_on=DAY, source_key=source, **kw
    ).entry


@pytest.fixture
def chains(admin_user):
    """Two accounts with three and two entries, anchored once after the first three entries."""
    book("m:1", "10.00", "s1", actor=admin_user, data={"months": ["2026-01"], "method": "cash"})
    book("m:1", "15.50", "s2")
    book("m:2", "0.20", "s3")
    ledger_anchor(DAY)
    book("m:1", "-5.00", "s4")
    book("m:2", "1.00", "s5")
    ledger_anchor(DAY + dt.timedelta(days=1))
    return LedgerEntry.objects.order_by("id")


def test_append_chains_entries_and_keeps_the_balance(chains):
    first, second = LedgerEntry.objects.filter(account__key="m:1").order_by("seq")[:2]
    assert first.seq == 1 and first.prev_hash == GENESIS
    assert second.seq == 2 and second.prev_hash == first.hash
    assert account_balance("test", "m:1") == Decimal("20.50")
    account = LedgerAccount.objects.get(ledger="test", key="m:1")
    assert account.seq == 3 and account.head_hash == LedgerEntry.objects.get(account=account, seq=3).hash
    assert verify_ledgers().ok


def test_same_source_books_once():
    a = ledger_append(
        ledger="test", key="m:1", amount="10", kind="pay", occurred_on=DAY, source_key="bank:42"
    )
    b = ledger_append(
        ledger="test", key="m:1", amount="10", kind="pay", occurred_on=DAY, source_key="bank:42"
    )
    assert a.created and not b.created and a.entry.pk == b.entry.pk
    assert account_balance("test", "m:1") == Decimal("10.00")


def test_reversal_is_a_new_entry_and_happens_once(admin_user):
    entry = book("m:1", "30.00")
    rev = ledger_reverse(entry, occurred_on=DAY, reason="记错金额", actor=admin_user).entry
    assert rev.amount == Decimal("-30.00") and rev.reverses == entry and rev.seq == 2
    assert account_balance("test", "m:1") == Decimal("0.00")
    with pytest.raises(ValidationError) as exc:
        ledger_reverse(entry, occurred_on=DAY, reason="again", actor=admin_user)
    assert exc.value.code == "already_reversed"
    with pytest.raises(ValidationError):
        ledger_reverse(rev, occurred_on=DAY, reason="  ")
    assert LedgerEntry.objects.count() == 2


def test_overdraft_refused_when_not_allowed():
    book("p:1", "5.00")
    with pytest.raises(ValidationError) as exc:
        book("p:1", "-5.01", allow_negative=False)
    assert exc.value.code == "insufficient_balance"
    book("p:1", "-5.00", allow_negative=False)
    assert account_balance("test", "p:1") == Decimal("0.00")


@pytest.mark.parametrize("amount", ["0.001", "1.005", "nan"])
def test_amounts_are_never_rounded_silently(amount):
    with pytest.raises((ValidationError, ArithmeticError, ValueError)):
        book("m:1", amount)
    assert not LedgerEntry.objects.exists()


def test_floats_cannot_be_stored_in_data():
    with pytest.raises(TypeError):
        book("m:1", "1.00", data={"rate": 0.005})


def test_hash_is_sha256_of_previous_hash_and_payload():
    import hashlib

    assert chain_hash(GENESIS, b"x") == hashlib.sha256(bytes(32) + b"x").hexdigest()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    one = hashlib.sha256(b"a").digest()
    assert merkle_root([one]) == one.hex()


def test_anchor_is_idempotent_per_day(chains):
    again = ledger_anchor(DAY)
    assert LedgerAnchor.objects.count() == 2 and again.day == DAY
    latest = LedgerAnchor.objects.order_by("day").last()
    assert latest.prev_root == LedgerAnchor.objects.get(day=DAY).root and latest.entries == 5


# ── tampering, each detected with the right entry named ─────────────────────────────────────────


def first_problem():
    result = verify_ledgers()
    assert not result.ok
    return result.problems[0]


def test_altered_amount_is_named(chains):
    entry = LedgerEntry.objects.get(account__key="m:1", seq=2)
    LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("155.00"))
    p = first_problem()
    assert (p.ledger, p.account, p.seq) == ("test", "m:1", 2)


def test_altered_data_is_named(chains):
    entry = LedgerEntry.objects.get(account__key="m:1", seq=1)
    LedgerEntry.objects.filter(pk=entry.pk).update(data={"months": ["2026-02"], "method": "cash"})
    p = first_problem()
    assert (p.account, p.seq) == ("m:1", 1)


def test_altered_row_recomputed_consistently_breaks_the_next_link(chains):
    """Someone rewrites entry 2 and its own hash: entry 3 no longer follows it."""
    entry = LedgerEntry.objects.get(account__key="m:1", seq=2)
    LedgerEntry.objects.filter(pk=entry.pk).update(hash="f" * 64)
    problems = verify_ledgers().problems
    assert (problems[0].account, problems[0].seq) == ("m:1", 2)
    assert any(p.seq == 3 for p in problems)


def test_deleted_row_is_named(chains):
    LedgerEntry.objects.filter(account__key="m:1", seq=2).delete()
    p = first_problem()
    assert (p.account, p.seq) == ("m:1", 2)
    assert "2" in p.message or "missing" in p.message.lower() or "缺" in p.message


def test_deleted_last_row_is_caught_by_the_account_row():
    book("m:9", "1.00")
    book("m:9", "2.00")
    LedgerEntry.objects.filter(account__key="m:9", seq=2).delete()
    p = first_problem()
    assert (p.account, p.seq) == ("m:9", 2)


def test_swapped_rows_are_named(chains):
    a = LedgerEntry.objects.get(account__key="m:1", seq=1)
    b = LedgerEntry.objects.get(account__key="m:1", seq=2)
    # Swap every column but the id, as someone reordering history would.
    cols = ["seq", "kind", "amount", "balance_after", "source_key", "data", "created_at", "prev_hash", "hash"]
    va = {c: getattr(a, c) for c in cols}
    vb = {c: getattr(b, c) for c in cols}
    LedgerEntry.objects.filter(pk=a.pk).update(source_key=None, seq=99)
    LedgerEntry.objects.filter(pk=b.pk).update(**va)
    LedgerEntry.objects.filter(pk=a.pk).update(**vb)
    # Read in the order they were written, the chain now starts with entry 2: entry 1 is where it breaks.
    p = first_problem()
    assert (p.ledger, p.account, p.seq) == ("test", "m:1", 1)


def test_altered_balance_row_is_named(chains):
    LedgerAccount.objects.filter(ledger="test", key="m:2").update(balance=Decimal("999.00"))
    p = first_problem()
    assert (p.ledger, p.account) == ("test", "m:2")


def test_altered_anchor_is_named(chains):
    LedgerAnchor.objects.filter(day=DAY).update(root="0" * 64)
    p = first_problem()
    assert p.ledger == "anchor" and DAY.isoformat() in p.account


def test_deleted_anchor_breaks_the_next(chains):
    LedgerAnchor.objects.filter(day=DAY).delete()
    p = first_problem()
    assert p.ledger == "anchor" and (DAY + dt.timedelta(days=1)).isoformat() in p.account


def test_a_whole_chain_rewritten_is_caught_by_the_anchor(chains):
    """Rewrite account m:2 consistently (new amounts, recomputed hashes, account row): only the anchor
    taken before the rewrite can tell."""
    from dangjian.core.ledger import canonical_payload

    account = LedgerAccount.objects.get(ledger="test", key="m:2")
    prev, balance = GENESIS, Decimal("0")
    for e in LedgerEntry.objects.filter(account=account).order_by("seq"):
        balance += Decimal("100.00")
        payload = canonical_payload(
            ledger=e.ledger, account=account.key, seq=e.seq, kind=e.kind, amount=Decimal("100.00"),
            balance_after=balance, occurred_on=e.occurred_on, source_key=e.source_key, reverses=None,
            data=e.data, actor=e.actor_id, created_at=e.created_at,
        )  # fmt: skip
        digest = chain_hash(prev, payload)
        LedgerEntry.objects.filter(pk=e.pk).update(
            amount=Decimal("100.00"), balance_after=balance, prev_hash=prev, hash=digest
        )
        prev = digest
    LedgerAccount.objects.filter(pk=account.pk).update(balance=balance, head_hash=prev)
    p = first_problem()
    assert p.ledger == "anchor"


def test_command_exit_codes(chains, capsys):
    call_command("verify_ledgers")
    assert "ledgers intact" in capsys.readouterr().out
    LedgerEntry.objects.filter(account__key="m:1", seq=2).update(kind="refund")
    with pytest.raises(SystemExit) as exc:
        call_command("verify_ledgers")
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "test / m:1 #2" in err


# ── concurrency (PostgreSQL: real row locks between connections) ────────────────────────────────


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_book_each_exactly_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections are tested on PostgreSQL")
    ledger_append(ledger="test", key="m:c", amount="0", kind="open", occurred_on=DAY)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                # Every payment is sent twice, by two threads: each books once.
                ledger_append(
                    ledger="test", key="m:c", amount="1.00", kind="pay", occurred_on=DAY,
                    source_key=f"pay:{(n // 2)}:{i}",
                )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert LedgerEntry.objects.filter(account__key="m:c").count() == 1 + 4 * 10
    assert account_balance("test", "m:c") == Decimal("40.00")
    assert sorted(LedgerEntry.objects.filter(account__key="m:c").values_list("seq", flat=True)) == list(
        range(1, 42)
    )
    assert verify_ledgers().ok


def test_a_source_key_names_one_account():
    book("m:1", "1.00", "pay:7")
    with pytest.raises(ValueError):
        book("org:1", "1.00", "pay:7")
    assert LedgerEntry.objects.count() == 1
