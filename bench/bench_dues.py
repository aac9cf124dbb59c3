"""Dues at scale: the monthly bills and the subtree summary for N members, each against raw SQL.

    python bench/bench_dues.py                     # 100,000 members, fresh SQLite in a temp dir
    python bench/bench_dues.py --database-url postgres://postgres@127.0.0.1:5432/dangjian_bench_dues

Seeds ``dangjian seed``'s synthetic province and one dues declaration per member who needs one (a base
for the employed and retirees, a chosen amount for farmers), then, in the same run on the same database:

(a) ``dues.services.bills_generate(month=...)`` for everyone, against one hand-written
    ``INSERT … SELECT`` computing the same bills (band rates in a CASE, the latest declaration joined);
    the bills are deleted between runs, and both must produce the same number of bills and the same total;
(b) ``dues.selectors.summary(org=<root>, period_start=<month>)`` against the raw ``GROUP BY`` of the bills
    by child organisation and category (with 70 % of the bills marked paid); the totals are compared.

Medians of ``--runs`` runs. Target (issue 4): each within 3× of its raw SQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import _pg_admin, setup_environment, timed  # noqa: E402

TARGET_RATIO = 3.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--runs", type=int, default=5, help="timed runs of the bills (the summary runs 6x as often)"
    )
    p.add_argument("--database-url", help="PostgreSQL URL of a database to create, use and drop")
    p.add_argument("--data-dir", help="use this DANGJIAN_DATA_DIR instead of a temporary one")
    p.add_argument("--reuse", action="store_true", help="benchmark existing data instead of seeding")
    p.add_argument("--keep", action="store_true", help="keep the data directory / database afterwards")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    return p.parse_args()


def seed_declarations(month: dt.date) -> int:
    from dangjian.dues.models import DuesDeclaration
    from dangjian.members.models import Member

    rng = random.Random(7)
    rows = []
    for member_id, category in Member.objects.values_list("id", "dues_category").iterator(chunk_size=10000):
        if category in ("employed", "other"):
            base = (
                Decimal(rng.choice([2800, 3000, 4200, 5000, 7600, 10000, 14500]))
                + Decimal(rng.randint(0, 99)) / 100
            )
            rows.append(
                DuesDeclaration(member_id=member_id, category=category, base=base, effective_month=month)
            )
        elif category == "retiree":
            base = Decimal(rng.choice([3200, 5000, 6100])) + Decimal(rng.randint(0, 99)) / 100
            rows.append(
                DuesDeclaration(member_id=member_id, category=category, base=base, effective_month=month)
            )
        elif category == "farmer":
            amount = Decimal(rng.choice(["0.20", "0.50", "1.00"]))
            rows.append(
                DuesDeclaration(
                    member_id=member_id, category=category, chosen_amount=amount, effective_month=month
                )
            )
    DuesDeclaration.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def raw_bills(cursor: Any, vendor: str, month: dt.date, statuses: list[str], rule_ref: str) -> None:
    """The month's bills, computed and inserted by one statement (the baseline of (a))."""
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    p = (lambda d: d.isoformat()) if vendor == "sqlite" else (lambda d: d)
    cat = "COALESCE(d.category, m.dues_category)"
    rate = (
        f"CASE WHEN {cat} IN ('employed', 'other') THEN (CASE WHEN d.base <= 3000 THEN 0.005 WHEN d.base <= 5000 "
        f"THEN 0.01 WHEN d.base <= 10000 THEN 0.015 ELSE 0.02 END) WHEN {cat} = 'retiree' THEN "
        f"(CASE WHEN d.base <= 5000 THEN 0.005 ELSE 0.01 END) END"
    )
    amount = (
        f"CASE WHEN {cat} IN ('employed', 'other', 'retiree') THEN ROUND(d.base * ({rate}) + 0.0000001, 2) "
        f"WHEN {cat} = 'farmer' THEN d.chosen_amount ELSE 0.20 END"
    )
    now = "CURRENT_TIMESTAMP"
    in_status = ", ".join(["%s"] * len(statuses))
    cursor.execute(
        f"""
        INSERT INTO dues_duesbill (member_id, month, org_id, org_path, category, base, rate, standard_amount,
                                   amount, paid_amount, status, declaration_id, reduction_id, rule_ref, created_at)
        SELECT m.id, %s, m.org_id, m.org_path, {cat}, d.base, {rate}, {amount}, {amount}, 0, 'open', d.id, NULL,
               %s, {now}
        FROM members_member m
        LEFT JOIN dues_duesdeclaration d ON d.member_id = m.id AND d.effective_month = (
            SELECT MAX(d2.effective_month) FROM dues_duesdeclaration d2
            WHERE d2.member_id = m.id AND d2.effective_month <= %s)
        WHERE m.status IN ({in_status}) AND m.join_date < %s
          AND (d.id IS NOT NULL OR m.dues_category NOT IN ('employed', 'other', 'retiree', 'farmer'))
        """,  # noqa: S608
        [p(month), rule_ref, p(month), *statuses, p(nxt)],
    )


def raw_summary(cursor: Any, vendor: str, path: str, steplen: int, month: dt.date) -> dict[str, Any]:
    from dangjian.core.scoping import path_prefix_upper

    p = month.isoformat() if vendor == "sqlite" else month
    substr = "SUBSTR" if vendor == "sqlite" else "SUBSTRING"
    cursor.execute(
        f"""
        SELECT {substr}(org_path, 1, %s) AS child, category,
               SUM(CASE WHEN status <> 'waived' THEN amount ELSE 0 END),
               SUM(CASE WHEN paid_amount < amount THEN paid_amount ELSE amount END),
               SUM(CASE WHEN status IN ('open', 'part_paid') THEN amount - paid_amount ELSE 0 END),
               COUNT(*), SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END)
        FROM dues_duesbill WHERE org_path >= %s AND org_path < %s AND month = %s
        GROUP BY 1, 2
        """,  # noqa: S608
        [len(path) + steplen, path, path_prefix_upper(path), p],
    )
    rows = cursor.fetchall()
    due = sum(Decimal(str(r[2])) for r in rows)
    paid = sum(Decimal(str(r[3])) for r in rows)
    return {"due": due.quantize(Decimal("0.01")), "paid": paid.quantize(Decimal("0.01")), "groups": len(rows)}


def main() -> int:
    args = parse_args()
    data_dir, created_db = setup_environment(args)
    from django.core.management import call_command
    from django.db import connection, transaction

    from dangjian.accounts.models import RoleAssignment, User
    from dangjian.core.management.commands.seed import ProgressBar
    from dangjian.core.scoping import Role
    from dangjian.dues import rules as dues_rules
    from dangjian.dues.models import DuesBill
    from dangjian.dues.selectors import summary
    from dangjian.dues.services import CURRENT_STATUSES, bills_generate
    from dangjian.members.models import Member
    from dangjian.orgs.demo import seed_province
    from dangjian.orgs.models import Organization

    vendor = connection.vendor
    month = dt.date.today().replace(day=1)
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if not (args.reuse and Member.objects.exists()):
            t0 = time.perf_counter()
            seed_province(members=args.members, seed=args.seed, progress=ProgressBar(sys.stderr))
            declared = seed_declarations(month.replace(month=1))
            print(
                f"seeded {Member.objects.count():,} members, {declared:,} declarations in {time.perf_counter() - t0:.0f} s"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE")
        root = Organization.objects.get_root_nodes().first()
        admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
        RoleAssignment.objects.get_or_create(user=admin, org=root, role=Role.ADMIN, active=True)
        rule_ref = dues_rules.rule_for(month).ref

        def clear() -> None:
            DuesBill.objects.filter(month=month).delete()

        def run_orm() -> Any:
            clear()
            t0 = time.perf_counter()
            result = bills_generate(month=month)
            return time.perf_counter() - t0, result

        def run_sql() -> Any:
            clear()
            t0 = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                raw_bills(cursor, vendor, month, list(CURRENT_STATUSES), rule_ref)
            return time.perf_counter() - t0, None

        def totals() -> tuple[int, Decimal]:
            qs = DuesBill.objects.filter(month=month)
            return qs.count(), sum(qs.values_list("amount", flat=True), Decimal("0"))

        orm_times, sql_times = [], []
        run_orm()
        orm_totals = totals()
        run_sql()
        sql_totals = totals()
        for _ in range(args.runs):
            orm_times.append(run_orm()[0])
            sql_times.append(run_sql()[0])
        if (
            orm_totals[0] != sql_totals[0]
            or abs(orm_totals[1] - sql_totals[1]) > Decimal("0.01") * orm_totals[0]
        ):
            raise SystemExit(f"bills differ: ORM {orm_totals} vs SQL {sql_totals}")
        run_orm()  # leave the service's bills for the summary
        # 70 % of the bills paid, for a summary with something in every column.
        ids = list(DuesBill.objects.filter(month=month).values_list("id", flat=True))
        paid_ids = [i for n, i in enumerate(ids) if n % 10 < 7]
        for start in range(0, len(paid_ids), 5000):
            DuesBill.objects.filter(id__in=paid_ids[start : start + 5000]).update(
                paid_amount=models_f("amount"), status="paid"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if vendor == "sqlite" else "ANALYZE")

        def api_summary() -> dict[str, Any]:
            return summary(actor=admin, org=root, period_start=month)

        def sql_summary() -> dict[str, Any]:
            with connection.cursor() as cursor:
                return raw_summary(cursor, vendor, root.path, Organization.steplen, month)

        sum_ms, got = timed(api_summary, args.runs * 6)
        sql_ms, want = timed(sql_summary, args.runs * 6)
        total = got.get("total", got)
        if Decimal(str(total["due"])) != want["due"] or Decimal(str(total["paid"])) != want["paid"]:
            raise SystemExit(f"summary differs: service {total} vs SQL {want}")

        import statistics

        orm_s, sql_s = statistics.median(orm_times), statistics.median(sql_times)
        bills_ratio, sum_ratio = orm_s / sql_s, sum_ms / sql_ms
        print()
        print(f"database   {vendor}")
        print(
            f"members    {Member.objects.count():,}; bills for {month:%Y-%m}: {orm_totals[0]:,} totalling {orm_totals[1]:,}"
        )
        print(f"{'measurement':<36}{'service':>10}{'raw SQL':>10}{'ratio':>8}  target")
        print(
            f"{'bills_generate (one month, all)':<36}{orm_s * 1000:9.0f}ms{sql_s * 1000:8.0f}ms{bills_ratio:8.2f}"
            f"  <= {TARGET_RATIO:g}: {'met' if bills_ratio <= TARGET_RATIO else 'MISSED'}"
        )
        print(
            f"{'summary (root subtree, one month)':<36}{sum_ms:8.1f}ms{sql_ms:8.1f}ms{sum_ratio:8.2f}"
            f"  <= {TARGET_RATIO:g}: {'met' if sum_ratio <= TARGET_RATIO else 'MISSED'}"
        )
        ok = bills_ratio <= TARGET_RATIO and sum_ratio <= TARGET_RATIO
        return 0 if ok or not args.check else 1
    finally:
        connection.close()
        if not args.keep:
            if created_db:
                _pg_admin(args.database_url, "DROP DATABASE IF EXISTS {}")
            if not args.data_dir:
                shutil.rmtree(data_dir, ignore_errors=True)


def models_f(name: str) -> Any:
    from django.db.models import F

    return F(name)


if __name__ == "__main__":
    sys.exit(main())
