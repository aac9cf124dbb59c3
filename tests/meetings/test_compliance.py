"""Compliance of organization life: held / not yet / missed / not required per branch, kind and period,
across period boundaries (支部工作条例 第十四条至第十六条, RULES.md §3), the page and the API."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from dangjian.core.models import RuleOverride
from dangjian.meetings import compliance
from dangjian.meetings.compliance import HELD, MISSED, NOT_REQUIRED, NOT_YET
from dangjian.meetings.models import Meeting
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgType
from tests.conftest import make_member

D = dt.date


def meeting(org, kind, day, status="held"):
    starts = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    return Meeting.objects.create(
        org=org, kind=kind, title=f"{kind} {day}", starts_at=starts, date=day, status=status
    )


TERM_START = D(2020, 1, 1)


def committee(branch, *, start=TERM_START, end=None, titles=("secretary", "organization", "publicity")):
    term = CommitteeTerm.objects.create(org=branch, start_date=start, term_years=3, end_date=end)
    for title in titles:
        CommitteePosition.objects.create(term=term, title=title, member=make_member(branch))
    return term


def cell(table_or_row, kind, day, branch=None):
    row = table_or_row
    if hasattr(table_or_row, "rows"):
        row = next(r for r in table_or_row.rows if r.branch.pk == branch.pk)
    return row.cell(kind, day)


# (why, meeting dates held, reference day, the day whose period is asked, status): general meetings
# are quarterly (第十四条).
GENERAL = [
    ("held on 31 March counts for Q1", [D(2025, 3, 31)], D(2025, 5, 1), D(2025, 2, 1), HELD),
    ("held on 1 April counts for Q2, not Q1", [D(2025, 4, 1)], D(2025, 5, 1), D(2025, 2, 1), MISSED),
    ("…and Q2 is held", [D(2025, 4, 1)], D(2025, 5, 1), D(2025, 5, 1), HELD),
    ("Q1 on its last day is still open", [], D(2025, 3, 31), D(2025, 3, 1), NOT_YET),
    ("Q1 the day after is missed", [], D(2025, 4, 1), D(2025, 3, 1), MISSED),
    ("Q4 on 31 December is open", [], D(2025, 12, 31), D(2025, 11, 1), NOT_YET),
    ("Q4 on 1 January next year is missed", [], D(2026, 1, 1), D(2025, 11, 1), MISSED),
    ("a future quarter is not yet", [], D(2025, 2, 1), D(2025, 8, 1), NOT_YET),
]


@pytest.mark.parametrize(("why", "held", "on", "day", "status"), GENERAL, ids=[g[0] for g in GENERAL])
def test_general_meeting_quarters(why, held, on, day, status, tree, secretary_a):
    for d in held:
        meeting(tree.branch_a, "general_meeting", d)
    table = compliance.compliance_table(secretary_a, tree.branch_a, 2025, on=on)
    assert cell(table, "general_meeting", day, tree.branch_a).status == status, why


def test_leap_february_theme_day(tree, secretary_a):
    """主题党日 monthly (第十五条): held on 29 February 2024 counts for February, the month closes on the 29th."""
    meeting(tree.branch_a, "theme_day", D(2024, 2, 29))
    row = compliance.branch_compliance(tree.branch_a, 2024, on=D(2024, 2, 29))
    feb = row.cell("theme_day", D(2024, 2, 10))
    assert feb.status == HELD and feb.period.end == D(2024, 2, 29)
    assert (
        compliance.branch_compliance(tree.branch_b, 2024, on=D(2024, 3, 1))
        .cell("theme_day", D(2024, 2, 1))
        .status
        == MISSED
    )
    assert (
        compliance.branch_compliance(tree.branch_b, 2024, on=D(2024, 2, 29))
        .cell("theme_day", D(2024, 2, 1))
        .status
        == NOT_YET
    )


def test_planned_and_cancelled_meetings_do_not_count(tree):
    meeting(tree.branch_a, "theme_day", D(2025, 1, 10), status="planned")
    m = meeting(tree.branch_a, "theme_day", D(2025, 1, 12), status="planned")
    Meeting.objects.filter(pk=m.pk).update(status="cancelled", cancel_reason="雨")
    row = compliance.branch_compliance(tree.branch_a, 2025, on=D(2025, 2, 1))
    assert row.cell("theme_day", D(2025, 1, 1)).status == MISSED


def test_committee_meetings_only_for_a_branch_with_a_committee(tree):
    """第十条: a secretary alone (below 7 full members) is not a committee; 第十四条: monthly once elected."""
    committee(tree.branch_b, titles=("secretary", "deputy_secretary"))
    committee(tree.branch_a, start=D(2025, 4, 15))
    on = D(2025, 7, 1)
    b = compliance.branch_compliance(tree.branch_b, 2025, on=on)
    assert {c.status for c in b.cells["committee_meeting"]} == {NOT_REQUIRED}
    a = compliance.branch_compliance(tree.branch_a, 2025, on=on)
    assert a.cell("committee_meeting", D(2025, 3, 1)).status == NOT_REQUIRED  # before the term
    assert a.cell("committee_meeting", D(2025, 4, 1)).status == MISSED  # term began within April
    assert a.cell("committee_meeting", D(2025, 7, 1)).status == NOT_YET


def test_ended_committee_term_stops_the_requirement(tree):
    committee(tree.branch_a, start=D(2020, 1, 1), end=D(2025, 2, 10))
    row = compliance.branch_compliance(tree.branch_a, 2025, on=D(2025, 6, 1))
    assert row.cell("committee_meeting", D(2025, 2, 1)).status == MISSED
    assert row.cell("committee_meeting", D(2025, 3, 1)).status == NOT_REQUIRED


def test_group_meetings_held_only_when_every_group_met(tree):
    """第十四条: 党小组会 monthly — for each group. The branch's cell is held when all its groups met."""
    group_b = Organization.objects.add_child(
        Organization.objects.get(pk=tree.branch_a.pk),
        {"org_type": OrgType.GROUP, "code": "T0007", "name": "第二党小组", "founded_on": D(2025, 3, 1)},
    )
    meeting(tree.group_a, "group_meeting", D(2025, 1, 20))
    meeting(tree.group_a, "group_meeting", D(2025, 3, 5))
    meeting(tree.group_a, "group_meeting", D(2025, 4, 5))
    meeting(group_b, "group_meeting", D(2025, 4, 30))
    row = compliance.branch_compliance(tree.branch_a, 2025, on=D(2025, 5, 10))
    jan, feb, mar, apr = (row.cell("group_meeting", D(2025, m, 1)) for m in (1, 2, 3, 4))
    assert (jan.status, jan.count, jan.needed) == (HELD, 1, 1)  # only group A existed
    assert feb.status == MISSED
    assert (mar.status, mar.count, mar.needed) == (MISSED, 1, 2)  # the new group did not meet
    assert (apr.status, apr.count, apr.needed) == (HELD, 2, 2)
    # A branch without groups has no group-meeting requirement.
    other = compliance.branch_compliance(tree.branch_b, 2025, on=D(2025, 5, 10))
    assert {c.status for c in other.cells["group_meeting"]} == {NOT_REQUIRED}


def test_founded_and_dissolved_branches(tree):
    young = Organization.objects.add_child(
        Organization.objects.get(pk=tree.district_a.pk),
        {"org_type": OrgType.BRANCH, "code": "T0010", "name": "新建支部", "founded_on": D(2025, 5, 20)},
    )
    row = compliance.branch_compliance(young, 2025, on=D(2025, 12, 1))
    assert row.cell("general_meeting", D(2025, 3, 1)).status == NOT_REQUIRED
    assert row.cell("general_meeting", D(2025, 5, 1)).status == MISSED  # founded within Q2
    Organization.objects.filter(pk=tree.branch_b.pk).update(status="dissolved", dissolved_on=D(2025, 2, 15))
    gone = compliance.branch_compliance(
        Organization.objects.get(pk=tree.branch_b.pk), 2025, on=D(2025, 12, 1)
    )
    assert gone.cell("theme_day", D(2025, 1, 1)).status == MISSED
    # dissolved within February: not judged on February, Q1 or the year (review: a yearly life
    # meeting "missed" by a branch dissolved in February)
    assert gone.cell("theme_day", D(2025, 2, 1)).status == NOT_REQUIRED
    assert gone.cell("general_meeting", D(2025, 2, 1)).status == NOT_REQUIRED
    assert gone.cell("life_meeting", D(2025, 2, 1)).status == NOT_REQUIRED
    assert gone.cell("theme_day", D(2025, 3, 1)).status == NOT_REQUIRED


def test_life_meeting_and_appraisal_are_yearly(tree):
    meeting(tree.branch_a, "life_meeting", D(2025, 12, 28))
    meeting(tree.branch_a, "democratic_appraisal", D(2025, 1, 3))
    row = compliance.branch_compliance(tree.branch_a, 2025, on=D(2026, 1, 5))
    assert row.cell("life_meeting", D(2025, 6, 1)).status == HELD
    assert row.cell("democratic_appraisal", D(2025, 6, 1)).status == HELD
    assert len(row.cells["life_meeting"]) == 1 and row.cells["life_meeting"][0].period.label == "2025"


def test_local_override_makes_lectures_monthly_from_its_date(tree, org_manager):
    """党课 once a quarter is local practice (U): a district may ask for monthly lectures from a date."""
    RuleOverride.objects.create(
        key="meetings", org=tree.district_a, effective_from=D(2025, 7, 1),
        params={"party_lecture_period": "month"}, reason="区委要求每月一次党课", created_by=org_manager,
    )  # fmt: skip
    table = compliance.compliance_table(org_manager, tree.city, 2025, on=D(2025, 8, 15))
    a = next(r for r in table.rows if r.branch.pk == tree.branch_a.pk)
    b = next(r for r in table.rows if r.branch.pk == tree.branch_b.pk)
    assert [c.period.label for c in a.cells["party_lecture"]] == [
        "2025-Q1", "2025-Q2", "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12",
    ]  # fmt: skip
    assert [c.period.label for c in b.cells["party_lecture"]] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    # The table is judged by the city's rule; the district's months carry their own reference.
    assert table.rule_ref == "meetings@2018"
    july = a.cell("party_lecture", D(2025, 7, 1))
    assert (
        july.rule_ref.startswith("meetings@2018/local")
        and "+org" in july.rule_ref
        and a.cells["party_lecture"][0].rule_ref == ""
    )
    assert len(table.rule_refs) == 2
    assert [p.label for p in table.periods_of("party_lecture")][:2] == ["2025-01", "2025-02"]


def test_closing_soon_uses_the_warning_days(tree):
    """warn_days_before_period_end (10): on 21 March the quarter closes in 10 days → closing soon."""
    row = compliance.branch_compliance(tree.branch_a, 2025, on=D(2025, 3, 21))
    assert row.cell("general_meeting", D(2025, 3, 1)).closing_soon
    assert row.cell("theme_day", D(2025, 3, 1)).closing_soon  # March, the month, as well
    assert not row.cell("life_meeting", D(2025, 3, 1)).closing_soon  # the year is far from over
    row = compliance.branch_compliance(tree.branch_a, 2025, on=D(2025, 3, 20))
    assert not row.cell("general_meeting", D(2025, 3, 1)).closing_soon


def test_summary_rates(tree, org_manager):
    for q in (2, 5, 8):
        meeting(tree.branch_a, "general_meeting", D(2025, q, 10))
    meeting(tree.branch_b, "general_meeting", D(2025, 2, 10))
    table = compliance.compliance_table(org_manager, tree.city, 2025, on=D(2025, 10, 15))
    s = table.summary["general_meeting"]
    assert (s.held, s.missed, s.not_yet) == (4, 2, 2)
    assert s.rate == round(100 * 4 / 6, 1) and s.year_rate == 50.0
    assert "committee_meeting" not in table.kinds  # nobody has a committee
    assert table.as_dict()["summary"]["general_meeting"]["rate"] == s.rate


def test_table_is_scoped_to_the_actor(tree, secretary_a, org_manager):
    table = compliance.compliance_table(secretary_a, tree.branch_a, 2025, on=D(2025, 6, 1))
    assert [r.branch.pk for r in table.rows] == [tree.branch_a.pk]
    with pytest.raises(PermissionDenied):
        compliance.compliance_table(secretary_a, tree.city, 2025)
    with pytest.raises(PermissionDenied):
        compliance.compliance_table(secretary_a, tree.branch_b, 2025)
    everyone = compliance.compliance_table(org_manager, tree.city, 2025, on=D(2025, 6, 1))
    assert {r.branch.pk for r in everyone.rows} == {tree.branch_a.pk, tree.branch_b.pk}


def test_fixed_number_of_queries_whatever_the_number_of_branches(tree, org_manager):
    def queries() -> int:
        org_manager.__dict__.pop("_role_assignments", None)
        with CaptureQueriesContext(connection) as ctx:
            compliance.compliance_table(org_manager, tree.city, 2025, on=D(2025, 6, 1))
        return len(ctx.captured_queries)

    compliance.compliance_table(org_manager, tree.city, 2025, on=D(2025, 6, 1))  # warm caches
    before = queries()
    district = Organization.objects.get(pk=tree.district_b.pk)
    for i in range(12):
        branch = Organization.objects.add_child(
            district, {"org_type": OrgType.BRANCH, "code": f"Q{i:04d}", "name": f"支部{i}"}
        )
        committee(branch)
        meeting(branch, "theme_day", D(2025, 1, 5))
        Organization.objects.add_child(
            Organization.objects.get(pk=branch.pk),
            {"org_type": OrgType.GROUP, "code": f"G{i:04d}", "name": f"小组{i}"},
        )
        district = Organization.objects.get(pk=district.pk)
    assert queries() == before <= 8


# --- the API -------------------------------------------------------------------------------------------


def test_api_returns_rows_cells_summary_and_rule(tree, secretary_a, api):
    meeting(tree.branch_a, "general_meeting", D(2025, 2, 10))
    resp = api(secretary_a).get(f"/api/v1/meetings/compliance/?org={tree.branch_a.pk}&year=2025")
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert data["rule_ref"] == "meetings@2018" and data["year"] == 2025
    [row] = data["rows"]
    assert row["branch"]["id"] == tree.branch_a.pk
    q1 = row["cells"]["general_meeting"][0]
    assert (q1["period"], q1["status"], q1["count"]) == ("2025-Q1", "held", 1)
    assert data["summary"]["general_meeting"]["held"] == 1


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("org=abc&year=2025", 400, "org"),
        ("org={a}&year=20x5", 400, "year"),
        ("org={a}&year=1999", 400, "year"),
        ("org={a}&year=2101", 400, "year"),
        ("org={b}&year=2025", 404, None),
        ("org=999999&year=2025", 404, None),
    ],
)
def test_api_validates_org_and_year(query, status, field, tree, secretary_a, api):
    url = "/api/v1/meetings/compliance/?" + query.format(a=tree.branch_a.pk, b=tree.branch_b.pk)
    resp = api(secretary_a).get(url)
    assert resp.status_code == status, resp.content
    if field:
        assert field in resp.json()["error"]["fields"]


def test_api_defaults_to_the_callers_organisation_and_this_year(tree, secretary_a, api):
    resp = api(secretary_a).get("/api/v1/meetings/compliance/")
    assert resp.status_code == 200
    assert resp.json()["org"]["id"] == tree.branch_a.pk
    assert resp.json()["year"] == timezone.localdate().year


# --- the page ------------------------------------------------------------------------------------------


def test_page_shows_red_amber_green(tree, org_manager, web):
    today = timezone.localdate()
    meeting(tree.branch_a, "theme_day", today.replace(day=1))
    resp = web(org_manager).get(f"/meetings/compliance/?org={tree.city.pk}&year={today.year}&kind=theme_day")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert tree.branch_a.name in html and tree.branch_b.name in html
    assert "cc-held" in html and "cc-not_yet" in html
    if today.month > 1:
        assert "cc-missed" in html


def test_page_overview_and_scope(tree, secretary_a, web):
    client = web(secretary_a)
    resp = client.get("/meetings/compliance/")
    assert resp.status_code == 200 and tree.branch_a.name in resp.content.decode()
    assert client.get(f"/meetings/compliance/?org={tree.branch_b.pk}").status_code == 404
    assert client.get("/meetings/compliance/?year=abc").status_code == 200  # falls back, says so


def test_page_export_xlsx(tree, org_manager, web):
    meeting(tree.branch_a, "general_meeting", D(2025, 2, 10))
    resp = web(org_manager).get(f"/meetings/compliance/export/?org={tree.city.pk}&year=2025")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.content))
    ws = wb.active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    names = [row[0] for row in values]
    assert tree.branch_a.name in names and tree.branch_b.name in names
    # One sheet per kind after the summary; branch_a's Q1 general meeting is "held", in green.
    general = wb.worksheets[1]
    row = next(r for r in general.iter_rows() if r[0].value == tree.branch_a.name)
    assert row[1].value == "Held" or row[1].value == "已召开"
    assert row[1].fill.fgColor.rgb.endswith("C6EFCE")
