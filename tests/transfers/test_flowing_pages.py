"""Flowing-member pages (list, issue, renew, end, yearly report), the daily jobs, the yearly-report alert and
the introduction letter as .docx."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from dangjian.core.alerts import alerts_refresh, producers
from dangjian.core.models import Alert
from dangjian.transfers import rules, services
from dangjian.transfers.models import FlowCertificate, FlowReport, Transfer

D = dt.date


def _cert(actor, member, **kw) -> FlowCertificate:
    kw.setdefault("start", timezone.localdate() - dt.timedelta(days=40))
    kw.setdefault("outside_host_name", "深圳某园区党委")
    return services.flow_certificate_issue(actor=actor, member=member, **kw)


# --- list and scope --------------------------------------------------------------------------------------


def test_list_shows_member_home_host_period_and_last_report(tree, secretary_a, member_factory, client):
    m = member_factory(tree.branch_a)
    c = _cert(secretary_a, m, place="深圳市南山区")
    services.flow_report_add(actor=secretary_a, certificate=c, date=D(2025, 12, 1), summary="参加组织生活")
    client.force_login(secretary_a)
    body = client.get("/transfers/flowing/").content.decode()
    for text in (c.number, m.name, tree.branch_a.name, "深圳某园区党委", "2025-12-01", f"{c.start:%Y-%m-%d}"):
        assert text in body
    assert "/transfers/flowing/" in client.get("/transfers/").content.decode()  # reachable from the list
    ended = client.get("/transfers/flowing/?status=ended").content.decode()
    assert c.number not in ended


def test_host_secretary_sees_name_and_branch_only(tree, secretary_a, secretary_b, member_factory, client):
    m = member_factory(tree.branch_a)
    c = _cert(secretary_a, m, host_org=tree.branch_b, outside_host_name="", place="秘密地址")
    services.flow_report_add(actor=secretary_a, certificate=c, date=D(2025, 12, 1), summary="机密汇报内容")
    client.force_login(secretary_b)
    body = client.get("/transfers/flowing/").content.decode()
    assert m.name in body and tree.branch_a.name in body
    assert c.number not in body and "秘密地址" not in body and "2025-12-01" not in body
    detail = client.get(f"/transfers/flowing/{c.pk}/").content.decode()
    assert m.name in detail and "机密汇报内容" not in detail and c.number not in detail
    assert 'data-testid="form-report"' in detail and 'data-testid="form-end"' not in detail
    # The host cannot end the certificate, even by posting.
    assert client.post(f"/transfers/flowing/{c.pk}/", {"op": "end", "date": "2026-01-01"}).status_code == 403


def test_outsider_sees_nothing(tree, secretary_a, outsider, member_factory, client):
    c = _cert(secretary_a, member_factory(tree.branch_a))
    client.force_login(outsider)
    assert c.member.name not in client.get("/transfers/flowing/").content.decode()
    assert client.get(f"/transfers/flowing/{c.pk}/").status_code == 404


# --- issue form ------------------------------------------------------------------------------------------


def test_issue_with_a_host_found_on_the_whole_platform(tree, secretary_a, member_factory, client):
    m = member_factory(tree.branch_a)
    client.force_login(secretary_a)
    found = client.post("/transfers/flowing/new/", {"op": "search", "q": "西城", "member": m.pk})
    assert found.status_code == 200
    body = found.content.decode()
    assert tree.branch_b.name in body and tree.branch_b.code in body
    assert f'value="{m.pk}" selected' in body  # the search kept the member chosen
    resp = client.post("/transfers/flowing/new/", {"op": "save", "member": m.pk, "host_org": tree.branch_b.pk,
                                                   "start": "2026-01-05", "end": "2026-12-31", "fixed_place": "on"})  # fmt: skip
    assert resp.status_code == 302, resp.content.decode()[:2000]
    c = FlowCertificate.objects.get(member=m)
    assert c.host_org == tree.branch_b and c.host_org_path == tree.branch_b.path and c.fixed_place
    assert resp["Location"] == f"/transfers/flowing/{c.pk}/"


def test_issue_to_an_outside_host(tree, secretary_a, member_factory, client):
    m = member_factory(tree.branch_a)
    client.force_login(secretary_a)
    resp = client.post("/transfers/flowing/new/", {"op": "save", "member": m.pk, "outside_host_name": "上海某商会党支部",
                                                   "place": "上海市浦东新区", "start": "2026-02-01"})  # fmt: skip
    assert resp.status_code == 302
    c = FlowCertificate.objects.get(member=m)
    assert c.host_org is None and c.host_name == "上海某商会党支部" and not c.fixed_place


@pytest.mark.parametrize(
    "post, field",
    [
        ({"start": "2026-02-01"}, "host_org"),  # no host at all (service)
        ({"start": "2026-02-01", "end": "2026-01-01", "outside_host_name": "某地"}, "end"),  # service
        ({"start": "not a date", "outside_host_name": "某地"}, "start"),  # form
        ({"start": "2026-02-01", "outside_host_name": "某地", "host_org": "B"}, "outside_host_name"),  # both
    ],
)
def test_issue_errors_shown_and_nothing_lost(tree, secretary_a, member_factory, client, post, field):
    m = member_factory(tree.branch_a)
    if post.get("host_org") == "B":
        post = {**post, "host_org": tree.branch_b.pk}
    client.force_login(secretary_a)
    resp = client.post(
        "/transfers/flowing/new/", {"op": "save", "member": m.pk, "place": "某街道某号", **post}
    )
    assert resp.status_code == 400
    body = resp.content.decode()
    assert "invalid-feedback" in body and (f'data-testid="error-{field}"' in body or "alert-danger" in body)
    assert "某街道某号" in body and f'value="{m.pk}" selected' in body
    if post.get("host_org"):
        assert f'value="{tree.branch_b.pk}" selected' in body  # the chosen host stays chosen
    assert not FlowCertificate.objects.exists()


def test_second_active_certificate_refused_on_the_member_field(tree, secretary_a, member_factory, client):
    m = member_factory(tree.branch_a)
    _cert(secretary_a, m)
    client.force_login(secretary_a)
    resp = client.post("/transfers/flowing/new/", {"op": "save", "member": m.pk, "outside_host_name": "x",
                                                   "start": "2026-02-01"})  # fmt: skip
    assert resp.status_code == 400 and b'data-testid="error-member"' in resp.content


def test_issue_form_offers_only_members_in_scope(tree, secretary_a, member_factory, client):
    mine, theirs = member_factory(tree.branch_a), member_factory(tree.branch_b)
    client.force_login(secretary_a)
    body = client.get("/transfers/flowing/new/").content.decode()
    assert mine.name in body and theirs.name not in body
    resp = client.post("/transfers/flowing/new/", {"op": "save", "member": theirs.pk, "outside_host_name": "x",
                                                   "start": "2026-02-01"})  # fmt: skip
    assert resp.status_code == 400 and not FlowCertificate.objects.exists()


# --- renew, end, yearly report ---------------------------------------------------------------------------


def test_renew_end_and_report_from_the_detail_page(tree, secretary_a, member_factory, client):
    c = _cert(secretary_a, member_factory(tree.branch_a), end=timezone.localdate() + dt.timedelta(days=30))
    client.force_login(secretary_a)
    url = f"/transfers/flowing/{c.pk}/"
    assert client.get(url).status_code == 200
    new_end = timezone.localdate() + dt.timedelta(days=400)
    assert client.post(url, {"op": "renew", "end": f"{new_end:%Y-%m-%d}"}).status_code == 302
    resp = client.post(url, {"op": "report", "date": "2026-01-10", "summary": "参加组织生活6次，交纳党费"})
    assert resp.status_code == 302
    # A second report in the same year: refused beside the date, the summary kept.
    again = client.post(url, {"op": "report", "date": "2026-03-10", "summary": "第二次汇报草稿"})
    assert again.status_code == 400
    assert b'data-testid="error-date"' in again.content and "第二次汇报草稿" in again.content.decode()
    assert client.post(url, {"op": "end", "date": "2026-04-01", "reason": "返回原籍"}).status_code == 302
    c.refresh_from_db()
    assert c.status == "ended" and c.end == D(2026, 4, 1) and c.ended_reason == "返回原籍"
    assert FlowReport.objects.filter(certificate=c, year=2026).count() == 1
    # Ended: no more forms.
    assert b'data-testid="form-renew"' not in client.get(url).content


def test_renew_to_an_earlier_date_is_shown_on_the_form(tree, secretary_a, member_factory, client):
    c = _cert(secretary_a, member_factory(tree.branch_a))
    client.force_login(secretary_a)
    resp = client.post(f"/transfers/flowing/{c.pk}/", {"op": "renew", "end": "2000-01-01"})
    assert resp.status_code == 400 and b'data-testid="error-end"' in resp.content
    assert b'value="2000-01-01"' in resp.content


def test_host_secretary_records_the_yearly_report(tree, secretary_a, secretary_b, member_factory, client):
    c = _cert(secretary_a, member_factory(tree.branch_a), host_org=tree.branch_b, outside_host_name="")
    client.force_login(secretary_b)
    resp = client.post(
        f"/transfers/flowing/{c.pk}/", {"op": "report", "date": "2026-02-01", "summary": "表现良好"}
    )
    assert resp.status_code == 302
    assert FlowReport.objects.get(certificate=c).actor == secretary_b


def test_list_query_count_does_not_grow_with_rows(tree, secretary_a, member_factory, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(secretary_a)

    def count() -> int:
        client.get("/transfers/flowing/")  # warm the per-request caches the same way each time
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/transfers/flowing/").status_code == 200
        return len(ctx)

    _cert(secretary_a, member_factory(tree.branch_a))
    one = count()
    for _ in range(6):
        _cert(secretary_a, member_factory(tree.branch_a))
    assert count() == one


# --- daily jobs and alerts -------------------------------------------------------------------------------


def test_expire_task_runs_at_half_past_one_and_is_idempotent(tree, secretary_a, member_factory):
    from dangjian.transfers.tasks import transfers_expire_daily

    task = transfers_expire_daily.s()
    assert task.validate_datetime(dt.datetime(2026, 6, 1, 1, 30))
    assert not task.validate_datetime(dt.datetime(2026, 6, 1, 2, 0))
    t = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="within",
                                 to_org=tree.branch_b, reason="x", send=True,
                                 on=timezone.localdate() - dt.timedelta(days=60))  # fmt: skip
    assert transfers_expire_daily.call_local() == 1
    t.refresh_from_db()
    assert t.status == "expired"
    assert transfers_expire_daily.call_local() == 0
    assert t.events.filter(action="expired").count() == 1


def test_the_alert_refresh_covers_every_transfers_producer():
    kinds = set(producers())
    assert {
        "transfers.letter_expiring",
        "transfers.not_received",
        "transfers.lost_contact",
        "transfers.fixed_place",
        "transfers.flow_report_overdue",
    } <= kinds


@pytest.mark.parametrize(
    "start, last_report, on, alert",
    [
        # 12 calendar months from the start when no report was made (yearly report, confidence S).
        (D(2025, 3, 1), None, D(2026, 3, 1), False),
        (D(2025, 3, 1), None, D(2026, 3, 2), True),
        # From the latest report.
        (D(2024, 1, 1), D(2025, 6, 30), D(2026, 6, 30), False),
        (D(2024, 1, 1), D(2025, 6, 30), D(2026, 7, 1), True),
    ],
)
def test_yearly_report_overdue_alert(tree, secretary_a, member_factory, start, last_report, on, alert):
    c = _cert(secretary_a, member_factory(tree.branch_a), start=start, fixed_place=False)
    if last_report:
        FlowReport.objects.create(certificate=c, year=last_report.year, date=last_report, summary="x")
    alerts_refresh(on=on, kinds=["transfers.flow_report_overdue"])
    found = Alert.objects.filter(kind="transfers.flow_report_overdue", status="open")
    assert found.exists() is alert
    if alert:
        a = found.get()
        assert a.org_id == tree.branch_a.pk and a.rule_ref == "transfers@2019"
        assert "可信度S" in a.message and a.url == f"/transfers/flowing/{c.pk}/"
        # A report clears it at the next refresh.
        FlowReport.objects.create(certificate=c, year=on.year, date=on, summary="补报")
        alerts_refresh(on=on, kinds=["transfers.flow_report_overdue"])
        assert not Alert.objects.filter(kind="transfers.flow_report_overdue", status="open").exists()


def test_flow_report_due_reads_the_rulebook():
    r = rules.rule_for(D(2026, 1, 1))
    assert int(r["flow_report_interval_months"]) == 12
    assert rules.flow_report_due(D(2025, 8, 31), None, r) == D(2026, 8, 31)
    assert rules.flow_report_due(D(2020, 1, 1), D(2024, 2, 29), r) == D(2025, 2, 28)


def test_rules_for_orgs_matches_rule_for_with_local_overrides(tree):
    from dangjian.core.models import RuleOverride

    RuleOverride.objects.create(
        key="transfers", org=tree.district_a, effective_from=D(2020, 1, 1),
        params={"flow_report_interval_months": 6}, reason="本区要求每半年汇报",
    )  # fmt: skip
    on = D(2026, 3, 1)
    many = rules.rules_for_orgs(on, [tree.branch_a, tree.branch_b, tree.branch_a])
    for org in (tree.branch_a, tree.branch_b):
        one = rules.rule_for(on, org)
        assert many[org.pk].ref == one.ref and many[org.pk].params == one.params
    assert int(many[tree.branch_a.pk]["flow_report_interval_months"]) == 6


# --- introduction letter as .docx ------------------------------------------------------------------------


def test_letter_docx_opens_and_matches_the_print_page(tree, secretary_a, secretary_b, member_factory, client):
    from docx import Document

    m = member_factory(tree.branch_a)
    t = services.transfer_create(actor=secretary_a, member=m, kind="within", to_org=tree.branch_b,
                                 reason="工作调动", send=True, dues_paid_until="2026-02")  # fmt: skip
    client.force_login(secretary_a)
    assert b"letter.docx" in client.get(f"/transfers/{t.pk}/letter/").content
    resp = client.get(f"/transfers/{t.pk}/letter.docx")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats-officedocument")
    text = "\n".join(p.text for p in Document(io.BytesIO(b"".join(resp.streaming_content))).paragraphs)
    assert text.count(t.letter_number) == 2  # the letter and its return slip
    for part in (m.name, m.id_number_masked, tree.branch_a.name, tree.branch_b.name, "2026年2月", "回　执"):
        assert part in text
    assert f"{t.valid_until.year}年{t.valid_until.month}月{t.valid_until.day}日" in text
    # Both sides may download it; an outsider gets 404, a draft has no letter yet.
    client.force_login(secretary_b)
    assert client.get(f"/transfers/{t.pk}/letter.docx").status_code == 200


def test_letter_docx_without_dues_leaves_a_blank_line(tree, secretary_a, outsider, member_factory, client):
    from docx import Document

    t = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="out_of_platform",
                                 outside_org_name="外省某党支部", reason="迁居", send=True)  # fmt: skip
    client.force_login(secretary_a)
    resp = client.get(f"/transfers/{t.pk}/letter.docx")
    text = "\n".join(p.text for p in Document(io.BytesIO(b"".join(resp.streaming_content))).paragraphs)
    assert "党费已交到＿＿＿＿年＿＿月" in text and "外省某党支部" in text
    draft = services.transfer_create(actor=secretary_a, member=member_factory(tree.branch_a), kind="within",
                                     to_org=tree.branch_b, reason="x")  # fmt: skip
    assert client.get(f"/transfers/{draft.pk}/letter.docx").status_code == 403
    client.force_login(outsider)
    assert client.get(f"/transfers/{t.pk}/letter.docx").status_code == 404
    assert Transfer.objects.count() == 2
