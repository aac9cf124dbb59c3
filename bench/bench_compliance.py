"""三会一课 compliance at scale: 5,000 branches × a year of meetings, against a raw SQL count.

    python bench/bench_compliance.py                   # 5,000 branches, fresh SQLite in a temp dir
    python bench/bench_compliance.py --database-url postgres://postgres@127.0.0.1:5432/dangjian_bench_meet

Builds, with ``bulk_create`` on a throwaway database (no services: this measures the read), a city
committee, ``--districts`` district committees and ``--branches`` branches below them; a third of the
branches with two party groups, half with an elected committee (secretary and two members); and a year of
meetings: every required kind of every branch (12 theme days, 4 general meetings, 4 lectures, 12
committee meetings where there is a committee, 12 meetings of each group, the life meeting and the
appraisal), about 8 % of them left planned (not held) so that red cells exist. Then, in the same run on
the same database:

- ``meetings.compliance.compliance_table(admin, <root>, year)``: the whole subtree's table (every branch ×
  kind × period, the summary), against
- the raw SQL count it rests on: held meetings of the subtree grouped by organisation, kind and month.

Both are checked to count the same meetings before anything is printed. Medians of ``--runs`` runs after
warm-up. The table does strictly more (periods, groups, committees, rule versions per branch, one Python
object per cell), so the ratio says what that costs on top of the one aggregate. Target (issue 5): the
whole subtree in a few fixed queries, within 10× of the raw count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import _pg_admin, setup_environment, timed  # noqa: E402

TARGET_RATIO = 10.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--branches", type=int, default=5000)
    p.add_argument("--districts", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--database-url", help="PostgreSQL URL of a database to create, use and drop")
    p.add_argument("--data-dir", help="use this DANGJIAN_DATA_DIR instead of a temporary one")
    p.add_argument("--reuse", action="store_true", help="benchmark existing data instead of building it")
    p.add_argument("--keep", action="store_true", help="keep the data directory / database afterwards")
    p.add_argument("--check", action="store_true", help="exit with status 1 when the target is missed")
    return p.parse_args()


def build(args: argparse.Namespace, year: int) -> dict[str, int]:
    """The tree, committees, groups and a year of meetings, with bulk inserts (paths made by treebeard's
    own path function, so the tree is a valid materialized path tree)."""
    from django.utils import timezone

    from dangjian.meetings.models import Meeting
    from dangjian.members.models import Member
    from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgType

    rng = random.Random(args.seed)
    root = Organization.objects.add_root(
        {"org_type": OrgType.COMMITTEE, "code": "B0", "name": "基准市委", "founded_on": dt.date(1990, 1, 1)}
    )
    per_district = -(-args.branches // args.districts)
    districts = [
        Organization(
            path=Organization._get_path(root.path, 2, i + 1),
            depth=2,
            numchild=0,
            org_type=OrgType.COMMITTEE,
            code=f"B{i + 1}",
            name=f"基准区委{i + 1}",
            founded_on=dt.date(1990, 1, 1),
        )  # fmt: skip
        for i in range(args.districts)
    ]
    Organization.objects.bulk_create(districts, batch_size=2000)
    branches: list[Organization] = []
    for d_index, district in enumerate(districts):
        for j in range(per_district):
            n = d_index * per_district + j
            if n >= args.branches:
                break
            branches.append(
                Organization(
                    path=Organization._get_path(district.path, 3, j + 1),
                    depth=3,
                    numchild=0,
                    org_type=OrgType.BRANCH,
                    code=f"BB{n}",
                    name=f"基准第{n}党支部",
                    founded_on=dt.date(2000, 7, 1),
                )  # fmt: skip
            )
            district.numchild += 1
    Organization.objects.bulk_create(branches, batch_size=2000)
    Organization.objects.bulk_update(districts, ["numchild"], batch_size=2000)
    root.numchild = len(districts)
    root.save(update_fields=["numchild"])
    branches = list(Organization.objects.filter(org_type=OrgType.BRANCH).order_by("path"))

    groups: list[Organization] = []
    with_groups = {b.pk for b in branches if rng.random() < 1 / 3}
    for b in branches:
        if b.pk in with_groups:
            for k in (1, 2):
                groups.append(
                    Organization(
                        path=Organization._get_path(b.path, 4, k),
                        depth=4,
                        numchild=0,
                        org_type=OrgType.GROUP,
                        code=f"BG{b.pk}-{k}",
                        name=f"第{k}党小组",
                        founded_on=dt.date(2000, 7, 1),
                    )  # fmt: skip
                )
            b.numchild = 2
    Organization.objects.bulk_create(groups, batch_size=2000)
    Organization.objects.bulk_update([b for b in branches if b.numchild], ["numchild"], batch_size=2000)
    groups_of: dict[str, list[int]] = {}
    for gid, gpath in Organization.objects.filter(org_type=OrgType.GROUP).values_list("pk", "path"):
        groups_of.setdefault(gpath[:-4], []).append(gid)

    committee = [b for b in branches if rng.random() < 0.5]
    members = []
    for b in committee:
        for k in range(3):
            members.append(
                Member(
                    name=f"委员{b.pk}-{k}",
                    gender="male",
                    birth_date=dt.date(1975, 1, 1),
                    id_number_encrypted="x",
                    id_number_index=f"bench-{b.pk}-{k}",
                    id_number_masked="x",
                    education="bachelor",
                    occupation="professional",
                    join_date=dt.date(2000, 7, 1),
                    full_date=dt.date(2001, 7, 1),
                    status="full",
                    org=b,
                    org_path=b.path,
                )  # fmt: skip
            )
    Member.objects.bulk_create(members, batch_size=5000)
    by_org: dict[int, list[int]] = {}
    for mid, org_id in Member.objects.values_list("pk", "org_id"):
        by_org.setdefault(org_id, []).append(mid)
    terms = CommitteeTerm.objects.bulk_create(
        [CommitteeTerm(org=b, start_date=dt.date(year - 1, 3, 1), term_years=3) for b in committee],
        batch_size=5000,
    )
    if not all(t.pk for t in terms):  # SQLite before 3.35 does not return ids from bulk inserts
        terms = list(CommitteeTerm.objects.order_by("id"))
    positions = []
    for term in terms:
        for title, mid in zip(("secretary", "organization", "publicity"), by_org[term.org_id], strict=False):
            positions.append(CommitteePosition(term=term, title=title, member_id=mid))
    CommitteePosition.objects.bulk_create(positions, batch_size=5000)

    tz = timezone.get_current_timezone()
    rows: list[Meeting] = []

    def add(org_id: int, kind: str, day: dt.date) -> None:
        status = "planned" if rng.random() < 0.08 else "held"
        starts = dt.datetime.combine(day, dt.time(9, 0), tzinfo=tz)
        rows.append(Meeting(org_id=org_id, kind=kind, title=kind, starts_at=starts, date=day, status=status))

    committee_ids = {b.pk for b in committee}
    for b in branches:
        for m in range(1, 13):
            add(b.pk, "theme_day", dt.date(year, m, rng.randint(1, 28)))
            if b.pk in committee_ids:
                add(b.pk, "committee_meeting", dt.date(year, m, rng.randint(1, 28)))
            for gid in groups_of.get(b.path, ()):
                add(gid, "group_meeting", dt.date(year, m, rng.randint(1, 28)))
        for q in range(4):
            add(b.pk, "general_meeting", dt.date(year, 3 * q + rng.randint(1, 3), rng.randint(1, 28)))
            add(b.pk, "party_lecture", dt.date(year, 3 * q + rng.randint(1, 3), rng.randint(1, 28)))
        add(b.pk, "life_meeting", dt.date(year, rng.randint(10, 12), rng.randint(1, 28)))
        add(b.pk, "democratic_appraisal", dt.date(year, rng.randint(10, 12), rng.randint(1, 28)))
        if len(rows) >= 20000:
            Meeting.objects.bulk_create(rows, batch_size=5000)
            rows.clear()
    Meeting.objects.bulk_create(rows, batch_size=5000)
    return {
        "branches": len(branches),
        "groups": len(groups),
        "committees": len(committee),
        "meetings": Meeting.objects.count(),
    }


def raw_count(cursor: Any, vendor: str, path: str, year: int) -> list[tuple[int, str, int, int]]:
    """Held meetings of the subtree by organisation, kind and month: the aggregate the table rests on."""
    from dangjian.core.scoping import path_prefix_upper

    month = "CAST(strftime('%%m', m.date) AS INTEGER)" if vendor == "sqlite" else "EXTRACT(MONTH FROM m.date)"
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    p = (lambda d: d.isoformat()) if vendor == "sqlite" else (lambda d: d)
    cursor.execute(
        f"""
        SELECT m.org_id, m.kind, {month} AS month, COUNT(*)
        FROM meetings_meeting m JOIN orgs_organization o ON o.id = m.org_id
        WHERE o.path >= %s AND o.path < %s AND m.status = 'held' AND m.date >= %s AND m.date <= %s
        GROUP BY m.org_id, m.kind, {month}
        """,  # noqa: S608
        [path, path_prefix_upper(path) or "ZZZZ", p(first), p(last)],
    )
    return cursor.fetchall()


def main() -> int:
    args = parse_args()
    data_dir, created_db = setup_environment(args)
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dangjian.accounts.models import RoleAssignment, User
    from dangjian.core.scoping import Role
    from dangjian.meetings import compliance
    from dangjian.meetings.models import Meeting
    from dangjian.orgs.models import Organization

    vendor = connection.vendor
    year = dt.date.today().year - 1  # a whole closed year: every period judged
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if not (args.reuse and Meeting.objects.exists()):
            t0 = time.perf_counter()
            facts = build(args, year)
            print(
                f"built {facts['branches']:,} branches, {facts['groups']:,} groups, {facts['committees']:,} "
                f"committees, {facts['meetings']:,} meetings in {time.perf_counter() - t0:.0f} s"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE")
        root = Organization.objects.get_root_nodes().first()
        admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
        RoleAssignment.objects.get_or_create(user=admin, org=root, role=Role.ADMIN, active=True)

        def table() -> Any:
            admin.__dict__.pop("_role_assignments", None)
            return compliance.compliance_table(admin, root, year)

        def sql() -> Any:
            with connection.cursor() as cursor:
                return raw_count(cursor, vendor, root.path, year)

        with CaptureQueriesContext(connection) as queries:
            table()
        table_ms, got = timed(table, args.runs)
        sql_ms, want = timed(sql, args.runs * 3)

        # The same meetings counted: every held meeting falls in exactly one cell of a required kind.
        counted = sum(c.count for row in got.rows for k, cells in row.cells.items() if k != "group_meeting"
                      for c in cells)  # fmt: skip
        branch_ids = {row.branch.pk for row in got.rows}
        raw_total = sum(n for org_id, kind, _m, n in want if org_id in branch_ids and kind != "group_meeting")
        if counted != raw_total:
            raise SystemExit(f"counts differ: table {counted:,} vs raw SQL {raw_total:,}")
        cells = sum(len(cs) for row in got.rows for cs in row.cells.values())
        ratio = table_ms / sql_ms
        print()
        print(f"database   {vendor}")
        print(
            f"subtree    {len(got.rows):,} branches, {Meeting.objects.count():,} meetings in {year}; "
            f"{cells:,} cells; {len(queries.captured_queries)} queries for the table"
        )
        for kind, s in got.summary.items():
            print(f"  {kind:<22} held {s.held:>6,}  missed {s.missed:>6,}  rate {s.rate}%")
        print(f"{'measurement':<40}{'table':>10}{'raw SQL':>10}{'ratio':>8}  target")
        print(
            f"{'compliance_table (root subtree, year)':<40}{table_ms:8.0f}ms{sql_ms:8.0f}ms{ratio:8.2f}"
            f"  <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'MISSED'}"
        )
        print(f"medians of {args.runs} (table) and {args.runs * 3} (SQL) runs after warm-up")
        return 0 if ratio <= TARGET_RATIO or not args.check else 1
    finally:
        connection.close()
        if not args.keep:
            if created_db:
                _pg_admin(args.database_url, "DROP DATABASE IF EXISTS {}")
            if not args.data_dir:
                shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
