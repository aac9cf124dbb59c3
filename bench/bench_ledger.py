"""Ledger verification at scale: ``verify_ledgers`` over N entries, against a bare scan in the same run.

    python bench/bench_ledger.py                        # 1,000,000 entries, fresh SQLite in a temp dir
    python bench/bench_ledger.py --database-url postgres://postgres@127.0.0.1:5432/dangjian_bench_ledger

Seeding writes ``--accounts`` chains of ``--entries / --accounts`` entries each, hashed exactly as
``core.ledger.ledger_append`` hashes them (``canonical_payload`` and ``chain_hash``), with bulk inserts,
and one anchor. Then, in the same run on the same database:

(a) ``verify_ledgers()`` — every chain, balance, account row and the anchor re-computed;
(b) the baseline: the same rows read with a raw cursor in the same keyset-paginated order, and one
    sha256 over each row's bytes — the least any verification must do.

It prints entries per second for both and the ratio (a)/(b). The verification must run in time linear in
the number of entries: run it at two sizes (``--entries 100000`` and the default) and compare the rates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--database-url", help="PostgreSQL URL of a database to create, use and drop")
    p.add_argument("--keep", action="store_true")
    return p.parse_args()


def _pg_admin(url: str, sql: str) -> None:
    import psycopg
    from dj_database_url import parse
    from psycopg import sql as pgsql

    cfg = parse(url)
    with psycopg.connect(
        dbname="postgres", user=cfg["USER"] or None, host=cfg["HOST"] or None, port=cfg["PORT"] or None,
        autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(pgsql.SQL(sql).format(pgsql.Identifier(cfg["NAME"])))


def seed(entries: int, accounts: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from dangjian.core.ledger import GENESIS, canonical_payload, chain_hash, ledger_anchor
    from dangjian.core.models import LedgerAccount, LedgerEntry

    rng = random.Random(1)
    per = max(1, entries // accounts)
    t0 = time.perf_counter()
    day = dt.date(2026, 1, 1)
    with transaction.atomic():
        LedgerAccount.objects.bulk_create(
            [LedgerAccount(ledger="dues", key=f"member:{i}") for i in range(1, accounts + 1)], batch_size=5000
        )
    ids = list(LedgerAccount.objects.order_by("id").values_list("id", "key"))
    heads = {}
    batch: list[LedgerEntry] = []
    now = timezone.now()
    written = 0
    # Entry k of every account, round-robin, so ids interleave accounts as real appends do.
    for k in range(1, per + 1):
        for account_id, key in ids:
            prev, balance = heads.get(account_id, (GENESIS, Decimal("0.00")))
            amount = Decimal(rng.choice(["15.00", "30.00", "0.20", "45.60", "150.00"]))
            balance += amount
            data = {"months": [f"2026-{(k - 1) % 12 + 1:02d}"], "method": "bank_transfer"}
            payload = canonical_payload(
                ledger="dues", account=key, seq=k, kind="payment", amount=amount, balance_after=balance,
                occurred_on=day, source_key=f"b:{account_id}:{k}", reverses=None, data=data, actor=None,
                created_at=now,
            )  # fmt: skip
            digest = chain_hash(prev, payload)
            batch.append(
                LedgerEntry(
                    ledger="dues",
                    account_id=account_id,
                    seq=k,
                    kind="payment",
                    amount=amount,
                    balance_after=balance,
                    occurred_on=day,
                    source_key=f"b:{account_id}:{k}",
                    data=data,
                    created_at=now,
                    prev_hash=prev,
                    hash=digest,
                )  # fmt: skip
            )
            heads[account_id] = (digest, balance)
            if len(batch) >= 5000:
                LedgerEntry.objects.bulk_create(batch)
                written += len(batch)
                batch = []
                print(f"\rseeding {written:,}/{per * accounts:,}", end="", file=sys.stderr)
    LedgerEntry.objects.bulk_create(batch)
    with transaction.atomic():
        objs = [LedgerAccount(id=a, seq=per, head_hash=h, balance=b) for a, (h, b) in heads.items()]
        LedgerAccount.objects.bulk_update(objs, ["seq", "head_hash", "balance"], batch_size=2000)
    ledger_anchor(day)
    print(f"\rseeded {per * accounts:,} entries in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def baseline_scan(chunk: int = 20000) -> int:
    from django.db import connection

    from dangjian.core.models import LedgerEntry

    table = LedgerEntry._meta.db_table
    cols = (
        "id, account_id, ledger, seq, kind, amount, balance_after, occurred_on, source_key, reverses_id, data, "
        "actor_id, created_at, prev_hash, hash"
    )
    n, last = 0, 0
    with connection.cursor() as cur:
        while True:
            cur.execute(f"SELECT {cols} FROM {table} WHERE id > %s ORDER BY id LIMIT %s", [last, chunk])
            rows = cur.fetchall()
            if not rows:
                return n
            for row in rows:
                hashlib.sha256(repr(row).encode()).digest()
            n += len(rows)
            last = rows[-1][0]


def main() -> int:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="dangjian-bench-ledger-"))
    os.environ["DANGJIAN_DATA_DIR"] = str(data_dir)
    os.environ["DANGJIAN_DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "dangjian.settings"
    if args.database_url:
        os.environ["DANGJIAN_DATABASE_URL"] = args.database_url
        _pg_admin(args.database_url, "CREATE DATABASE {}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from dangjian.core.ledger import verify_ledgers

    try:
        call_command("migrate", interactive=False, verbosity=0)
        seed(args.entries, args.accounts)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
        baseline_scan()  # warm the cache for both
        t0 = time.perf_counter()
        result = verify_ledgers()
        t_verify = time.perf_counter() - t0
        assert result.ok, result.problems[:3]
        t0 = time.perf_counter()
        n = baseline_scan()
        t_base = time.perf_counter() - t0
        print(f"database       {connection.vendor}")
        print(
            f"entries        {result.entries:,} in {result.accounts:,} accounts, {result.anchors} anchor(s)"
        )
        print(f"verify_ledgers {t_verify:.1f} s  {result.entries / t_verify:,.0f} entries/s")
        print(f"bare scan      {t_base:.1f} s  {n / t_base:,.0f} entries/s (read + one sha256 per row)")
        print(f"ratio          {t_verify / t_base:.2f}x the bare scan")
        return 0
    finally:
        connection.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            if args.database_url:
                _pg_admin(args.database_url, "DROP DATABASE IF EXISTS {}")


if __name__ == "__main__":
    sys.exit(main())
