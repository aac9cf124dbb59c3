"""``dangjian verify_ledgers``: re-compute every ledger chain and anchor; exit 1 naming the first break."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Re-compute every ledger hash chain, balance and daily anchor; exit non-zero if any was altered."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--chunk", type=int, default=20000, help="entries read per query")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        from dangjian.core.ledger import verify_ledgers

        started = time.perf_counter()
        result = verify_ledgers(chunk=options["chunk"])
        took = time.perf_counter() - started
        rate = result.entries / took if took > 0 else 0.0
        summary = (
            f"{result.entries} entries, {result.accounts} accounts, {result.anchors} anchors "
            f"checked in {took:.2f} s ({rate:,.0f} entries/s)"
        )
        if result.ok:
            self.stdout.write(f"ledgers intact: {summary}")
            return
        self.stderr.write(f"LEDGER BROKEN — first broken entry: {result.problems[0]}")
        for p in result.problems[1:]:
            self.stderr.write(f"  also: {p}")
        self.stderr.write(summary)
        sys.exit(1)
