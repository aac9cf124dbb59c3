"""API benchmark at scale: seed N members, then time two endpoints against raw SQL on the same database.

    python bench/bench_api.py                      # 100,000 members, fresh SQLite in a temp dir
    python bench/bench_api.py --database-url postgres://postgres@127.0.0.1:5432/dangjian_bench

(a) ``GET /api/v1/orgs/{root}/stats/`` through Django's test client as the system administrator, against
    hand-written SQL (cursor.execute) computing the same numbers; the two results are compared.
(b) the first page of ``GET /api/v1/members/?org={root}``, against the raw SQL for that page (the count
    and the first 20 rows with their branch); the ids are compared.

Both are timed in the same run on the same database, median of ``--runs`` runs after a warm-up; the
ratios API/SQL are printed with the targets (stats within 3x of SQL; member page under 50 ms median).
With a PostgreSQL URL the database is created first (it must not exist) and dropped at the end
(``--keep`` keeps it, and ``--reuse`` benchmarks an existing one without seeding).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_STATS_RATIO = 3.0
TARGET_PAGE_MS = 50.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=30, help="timed runs of each measurement (median reported)")
    p.add_argument("--database-url", help="PostgreSQL URL of a database to create, use and drop")
    p.add_argument("--data-dir", help="use this DANGJIAN_DATA_DIR instead of a temporary one")
    p.add_argument("--reuse", action="store_true", help="benchmark existing data instead of seeding")
    p.add_argument("--keep", action="store_true", help="keep the data directory / database afterwards")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    return p.parse_args()


# --------------------------------------------------------------------------------------------------
# Environment: a fresh data directory (and database) before Django reads its settings
# --------------------------------------------------------------------------------------------------


def _pg_admin(url: str, sql: str) -> None:
    import psycopg
    from dj_database_url import parse
    from psycopg import sql as pgsql

    cfg = parse(url)
    with psycopg.connect(
        dbname="postgres",
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
        autocommit=True,
    ) as conn:
        conn.execute(pgsql.SQL(sql).format(pgsql.Identifier(cfg["NAME"])))


def setup_environment(args: argparse.Namespace) -> tuple[Path, bool]:
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="dangjian-bench-"))
    os.environ["DANGJIAN_DATA_DIR"] = str(data_dir)
    os.environ["DANGJIAN_DEBUG"] = "0"  # no query log, no debug cursor: the production code path
    os.environ.setdefault("DANGJIAN_ALLOWED_HOSTS", "testserver,localhost")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dangjian.settings"
    created_db = False
    if args.database_url:
        os.environ["DANGJIAN_DATABASE_URL"] = args.database_url
        if not args.reuse:
            _pg_admin(args.database_url, "CREATE DATABASE {}")
            created_db = True
    import django

    django.setup()
    return data_dir, created_db


# --------------------------------------------------------------------------------------------------
# Raw SQL: the same numbers as the two endpoints, written by hand
# --------------------------------------------------------------------------------------------------


def _upper(prefix: str) -> str:
    from dangjian.core.scoping import path_prefix_upper

    return path_prefix_upper(prefix)


def _p(value: Any, vendor: str) -> Any:
    return value.isoformat() if vendor == "sqlite" and isinstance(value, dt.date) else value


def raw_stats(cursor: Any, vendor: str, path: str, today: dt.date) -> dict[str, Any]:
    """The stats endpoint's numbers in four hand-written statements (the fastest form found on both
    databases): statuses over all members; gender x ethnicity x education and the age and standing bands
    over current members, each grouped in one pass; organisations by type and sector."""
    from dangjian.members.choices import CURRENT_STATUSES, HAN, HIGHER_EDUCATION, MemberStatus
    from dangjian.members.selectors import AGE_BANDS, STANDING_BANDS, _years_before

    lo_hi = [path, _upper(path)]
    where = "org_path >= %s AND org_path < %s"
    cur = "status IN ({})".format(", ".join(f"'{s}'" for s in CURRENT_STATUSES))

    cursor.execute(f"SELECT status, COUNT(*) FROM members_member WHERE {where} GROUP BY status", lo_hi)
    by_status = dict.fromkeys(MemberStatus.values, 0) | dict(cursor.fetchall())

    cursor.execute(
        f"SELECT gender, ethnicity, education, COUNT(*) FROM members_member WHERE {where} AND {cur} "
        "GROUP BY gender, ethnicity, education",
        lo_hi,
    )
    total = female = minority = higher = 0
    by_education: dict[str, int] = {}
    by_ethnicity: dict[str, int] = {}
    for gender, ethnicity, education, n in cursor.fetchall():
        total += n
        female += n if gender == "female" else 0
        minority += n if ethnicity != HAN else 0
        higher += n if education in HIGHER_EDUCATION else 0
        by_education[education] = by_education.get(education, 0) + n
        by_ethnicity[ethnicity] = by_ethnicity.get(ethnicity, 0) + n

    def band_case(field: str, bands: list[tuple[int, int]]) -> tuple[str, list[Any]]:
        whens, params = [], []
        for i, (lo, hi) in enumerate(bands):
            whens.append(f"WHEN {field} > %s AND {field} <= %s THEN {i}")
            params += [_p(_years_before(today, hi + 1), vendor), _p(_years_before(today, lo), vendor)]
        return f"CASE {' '.join(whens)} END", params

    age_sql, age_params = band_case("birth_date", AGE_BANDS)
    standing_sql, standing_params = band_case("full_date", STANDING_BANDS)
    cursor.execute(
        f"SELECT {age_sql} AS a, {standing_sql} AS s, COUNT(*) FROM members_member WHERE {where} AND {cur} "
        "GROUP BY a, s",
        [*age_params, *standing_params, *lo_hi],
    )
    ages = [0] * len(AGE_BANDS)
    standings = [0] * len(STANDING_BANDS)
    for a, st, n in cursor.fetchall():
        if a is not None:
            ages[a] += n
        if st is not None:
            standings[st] += n

    cursor.execute(
        "SELECT org_type, sector, COUNT(*) FROM orgs_organization "
        "WHERE path >= %s AND path < %s AND status = 'active' GROUP BY org_type, sector",
        lo_hi,
    )
    by_type: dict[str, int] = {}
    by_sector: dict[str, int] = {}
    for org_type, sector, n in cursor.fetchall():
        by_type[org_type] = by_type.get(org_type, 0) + n
        by_sector[sector] = by_sector.get(sector, 0) + n
    return {
        "members": total,
        "by_status": by_status,
        "female": female,
        "minority": minority,
        "higher_education": higher,
        "age_and_standing": [*ages, *standings],
        "by_education": by_education,
        "by_ethnicity": by_ethnicity,
        "orgs_by_type": by_type,
        "orgs_by_sector": by_sector,
    }


def api_stats_comparable(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "members": data["members"],
        "by_status": data["by_status"],
        "female": data["by_gender"]["female"],
        "minority": None,  # the API gives percentages: compared below
        "higher_education": None,
        "age_and_standing": [*data["by_age"].values(), *data["by_standing"].values()],
        "by_education": data["by_education"],
        "by_ethnicity": data["by_ethnicity"],
        "orgs_by_type": data["orgs_by_type"],
        "orgs_by_sector": data["orgs_by_sector"],
    }


def raw_member_page(cursor: Any, path: str, page_size: int = 20) -> tuple[int, list[int]]:
    lo_hi = [path, _upper(path)]
    cursor.execute("SELECT COUNT(*) FROM members_member WHERE org_path >= %s AND org_path < %s", lo_hi)
    count = cursor.fetchone()[0]
    cursor.execute(
        "SELECT m.id, m.name, m.gender, m.ethnicity, m.birth_date, m.id_number_masked, m.phone_masked, "
        "m.education, m.degree, m.occupation, m.work_unit, m.position, m.native_place, m.address, "
        "m.latitude, m.longitude, m.join_date, m.full_date, m.status, m.org_id, m.group_id, "
        "m.dues_category, o.name "
        "FROM members_member m JOIN orgs_organization o ON o.id = m.org_id "
        "WHERE m.org_path >= %s AND m.org_path < %s ORDER BY m.org_path, m.name, m.id LIMIT %s",
        [*lo_hi, page_size],
    )
    return count, [r[0] for r in cursor.fetchall()]


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------


def timed(fn: Any, runs: int, warmup: int = 3) -> tuple[float, Any]:
    """Median wall time in milliseconds over ``runs`` calls (after ``warmup``), and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main() -> int:
    args = parse_args()
    data_dir, created_db = setup_environment(args)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from dangjian.accounts.models import RoleAssignment, User
    from dangjian.core.management.commands.seed import ProgressBar
    from dangjian.core.scoping import Role
    from dangjian.members.models import Member
    from dangjian.orgs.demo import seed_province
    from dangjian.orgs.models import Organization

    vendor = connection.vendor
    try:
        call_command("migrate", interactive=False, verbosity=0)
        seed_seconds = None
        if not (args.reuse and Member.objects.exists()):
            t0 = time.perf_counter()
            seed_province(members=args.members, seed=args.seed, progress=ProgressBar(sys.stderr))
            seed_seconds = time.perf_counter() - t0
        with connection.cursor() as cursor:  # fresh statistics for the planners, as after a real load
            cursor.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE")
        root = Organization.objects.get_root_nodes().first()
        admin, _created = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
        RoleAssignment.objects.get_or_create(user=admin, org=root, role=Role.ADMIN, active=True)
        client = Client()
        client.force_login(admin)
        today = dt.date.today()
        members = Member.objects.count()

        stats_url = f"/api/v1/orgs/{root.pk}/stats/"
        page_url = f"/api/v1/members/?org={root.pk}"

        def api_get(url: str) -> Any:
            response = client.get(url, HTTP_ACCEPT="application/json")
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
            return response.json()

        def sql_stats() -> dict[str, Any]:
            with connection.cursor() as cursor:
                return raw_stats(cursor, vendor, root.path, today)

        def sql_page() -> tuple[int, list[int]]:
            with connection.cursor() as cursor:
                return raw_member_page(cursor, root.path)

        stats_api_ms, stats_api = timed(lambda: api_get(stats_url), args.runs)
        stats_sql_ms, stats_sql = timed(sql_stats, args.runs)
        page_api_ms, page_api = timed(lambda: api_get(page_url), args.runs)
        page_sql_ms, page_sql = timed(sql_page, args.runs)
        with CaptureQueriesContext(connection) as stats_queries:
            api_get(stats_url)
        with CaptureQueriesContext(connection) as page_queries:
            api_get(page_url)

        # The two sides must compute the same numbers, or the comparison means nothing.
        mine = api_stats_comparable(stats_api)
        for key, value in mine.items():
            if value is not None and value != stats_sql[key]:
                raise SystemExit(f"stats differ on {key}: API {value!r} vs SQL {stats_sql[key]!r}")
        total = stats_sql["members"] or 1
        for key in ("minority", "higher_education"):
            if stats_api[f"{key}_pct"] != round(stats_sql[key] * 100 / total, 1):
                raise SystemExit(f"stats differ on {key}")
        if page_api["count"] != page_sql[0] or [m["id"] for m in page_api["results"]] != page_sql[1]:
            raise SystemExit("the member page differs between the API and the SQL")

        stats_ratio = stats_api_ms / stats_sql_ms
        page_ratio = page_api_ms / page_sql_ms
        ok_stats = stats_ratio <= TARGET_STATS_RATIO
        ok_page = page_api_ms < TARGET_PAGE_MS
        print()
        print(f"database      {vendor} ({connection.settings_dict['NAME']})")
        print(f"members       {members:,} in {Organization.objects.count():,} organisations")
        if seed_seconds is not None:
            print(f"seed          {seed_seconds:.1f} s ({members / seed_seconds:,.0f} members/s)")
        print(f"runs          median of {args.runs} after 3 warm-up runs")
        print()
        print(f"{'measurement':<34}{'API ms':>9}{'SQL ms':>9}{'ratio':>8}  queries  target")
        print(
            f"{'stats of the root subtree':<34}{stats_api_ms:9.1f}{stats_sql_ms:9.1f}{stats_ratio:8.2f}"
            f"  {len(stats_queries):>7}  ratio <= {TARGET_STATS_RATIO:g}: {'met' if ok_stats else 'MISSED'}"
        )
        print(
            f"{'member list, first page (root)':<34}{page_api_ms:9.1f}{page_sql_ms:9.1f}{page_ratio:8.2f}"
            f"  {len(page_queries):>7}  API < {TARGET_PAGE_MS:g} ms: {'met' if ok_page else 'MISSED'}"
        )
        return 0 if (ok_stats and ok_page) or not args.check else 1
    finally:
        connection.close()
        if not args.keep:
            if created_db:
                _pg_admin(args.database_url, "DROP DATABASE IF EXISTS {}")
            if not args.data_dir:
                shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
