"""What the generic permission suite (tests/test_permissions.py) needs to know about each API endpoint.

Every URL name under /api/v1/ must appear in ``ENDPOINTS`` (the suite enumerates the URL resolver and
fails for an endpoint without a sample). A scoped endpoint declares how to build an object inside
branch_a (the in-scope sample), one inside branch_b (out of scope for the branch_a personas), and a
valid body for each write method. The personas are the fixtures of tests/conftest.py, by name.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from openpyxl import Workbook, load_workbook

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.models import Alert, Job, RuleOverride
from dangjian.core.scoping import Role
from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member, MemberDiscipline

API_PREFIX = "api/v1/"
SAFE = ("GET", "HEAD", "OPTIONS")
_seq = itertools.count(1)


@dataclass
class Ctx:
    """What a sample builder gets: the shared tree, every persona, and the member factory."""

    tree: Any
    people: dict[str, User]
    make_member: Callable[..., Member]


# Kinds: PUBLIC answers anonymous callers; AUTHENTICATED answers any logged-in user the same way (it is
# about the caller, not the tree); LIST and DETAIL are scoped collections and objects.
PUBLIC, AUTHENTICATED, LIST, DETAIL = "public", "authenticated", "list", "detail"


def json_ids(response: Any) -> set[Any]:
    return {row["id"] for row in response.json()["results"]}


@dataclass(frozen=True)
class Endpoint:
    """One URL name under /api/v1/ and how to exercise it."""

    kind: str
    # The in-scope object (in branch_a) and an out-of-scope one (in branch_b): LIST and DETAIL only.
    build: Callable[[Ctx], models.Model] | None = None
    build_other: Callable[[Ctx], models.Model] | None = None
    # A valid request body per write method, for the persona in ``writer``.
    payload: dict[str, Callable[[Ctx], dict[str, Any]]] = field(default_factory=dict)
    multipart: bool = False  # send the payload as a form upload, not JSON
    # The rows a write could create or change, to prove that a refused write saved nothing.
    rows: Callable[[], models.QuerySet] | None = None
    # What a list answer shows, and how an object appears in it (default: the ids of a JSON page).
    visible: Callable[[Any], set[Any]] = json_ids
    ident: Callable[[Any], Any] = lambda obj: obj.pk
    writer: str = "secretary_a"  # in scope, may write (or read, on read-only endpoints)
    reader: str = "auditor"  # in scope, read-only
    stranger: str = "secretary_b"  # holds a role, but on another branch
    # Public endpoints: the request an anonymous caller makes, and the answer it gets.
    public_call: tuple[str, Callable[[Ctx], dict[str, Any]] | None, int] | None = None
    # Answers that differ from the generic ones, or cases for more personas: {(persona, method): status}.
    expect: dict[tuple[str, str], int] = field(default_factory=dict)


def _member_payload(ctx: Ctx) -> dict[str, Any]:
    n = next(_seq)
    birth = dt.date(1985, 3, 1) + dt.timedelta(days=n)
    return {
        "name": f"新党员{n}",
        "ethnicity": "汉族",
        "id_number": make_id_number("110102", birth, 500 + n * 2 + 1),
        "phone": f"139{n:08d}",
        "education": "bachelor",
        "degree": "bachelor",
        "occupation": "worker",
        "join_date": "2010-07-01",
        "full_date": "2011-07-01",
        "status": "full",
        "org": ctx.tree.branch_a.pk,
        "dues_category": "employed",
    }


def import_workbook(rows: list[dict[str, Any]]) -> bytes:
    """An import file in the template's format (members/imports.py COLUMNS), one member per dict."""
    from dangjian.members.imports import COLUMNS

    wb = Workbook()
    ws = wb.active
    ws.append([c.header for c in COLUMNS])
    for row in rows:
        ws.append([row.get(c.field, "") for c in COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _import_payload(ctx: Ctx) -> dict[str, Any]:
    n = next(_seq)
    row = {
        "name": f"导入党员{n}",
        "ethnicity": "汉族",
        "id_number": make_id_number("110103", dt.date(1984, 1, 1) + dt.timedelta(days=n), 700 + n * 2),
        "education": "大学本科",
        "occupation": "专业技术人员",
        "join_date": "2012-07-01",
        "full_date": "2013-07-01",
        "status": "正式党员",
        "org": ctx.tree.branch_a.code,
        "dues_category": "在职",
    }
    return {"file": ContentFile(import_workbook([row]), name="members.xlsx")}


def xlsx_names(response: Any) -> set[Any]:
    """The member names in an exported workbook (its first sheet, the column headed 姓名 or Name)."""
    ws = load_workbook(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    ).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    column = next(i for i, h in enumerate(rows[0]) if h in ("姓名", "Name", "name"))
    return {r[column] for r in rows[1:] if r and r[column]}


def _role_payload(ctx: Ctx) -> dict[str, Any]:
    appointee = User.objects.create_user(username=f"appointee{next(_seq)}", password="x")
    return {"username": appointee.username, "org": ctx.tree.branch_a.pk, "role": Role.COMMITTEE_MEMBER}


def _role_on(org_attr: str) -> Callable[[Ctx], RoleAssignment]:
    def build(ctx: Ctx) -> RoleAssignment:
        user = User.objects.create_user(username=f"weiyuan{next(_seq)}", password="x")
        return RoleAssignment.objects.create(
            user=user, org=getattr(ctx.tree, org_attr), role=Role.COMMITTEE_MEMBER
        )

    return build


def _member_in(org_attr: str) -> Callable[[Ctx], Member]:
    return lambda ctx: ctx.make_member(getattr(ctx.tree, org_attr))


def _member_with_login(org_attr: str, *, active: bool) -> Callable[[Ctx], Member]:
    """A member of the org with a login: an active one, or one that was closed (停用)."""

    def build(ctx: Ctx) -> Member:
        n = next(_seq)
        user = User.objects.create_user(username=f"denglu{n}", password="x", is_active=active)
        org = getattr(ctx.tree, org_attr)
        RoleAssignment.objects.create(user=user, org=org, role=Role.MEMBER, active=active)
        return ctx.make_member(org, user=user)

    return build


def _job_of(persona: str) -> Callable[[Ctx], Job]:
    def build(ctx: Ctx) -> Job:
        job = Job(kind="members.export", created_by=ctx.people[persona], status=Job.Status.SUCCEEDED)
        job.output_file.save("export.xlsx", ContentFile(b"PK\x03\x04 not really a workbook"), save=False)
        job.save()
        return job

    return build


_members = {
    "build": _member_in("branch_a"),
    "build_other": _member_in("branch_b"),
    "rows": Member.objects.all,
}
# The member's login. The sample's login was closed: the writer's POST reopens it (201) and DELETE of a
# closed login is a no-op (204); tests/members/test_accounts.py covers opening, closing and refusals.
_member_account = {
    "build": _member_with_login("branch_a", active=False),
    "build_other": _member_with_login("branch_b", active=False),
    "rows": lambda: User.objects.filter(is_active=True),
    "expect": {("writer", "POST"): 201},
}
_orgs = {"build": lambda ctx: ctx.tree.branch_a, "build_other": lambda ctx: ctx.tree.branch_b}
_roles = {
    "build": _role_on("branch_a"),
    "build_other": _role_on("branch_b"),
    "rows": lambda: RoleAssignment.objects.filter(active=True),
    # Only an org manager appoints (issue 2: "an org manager appoints ... within their subtree").
    "writer": "district_manager",
    # A secretary sees the appointments of the branch, but appointing is an org manager's.
    "expect": {("secretary_a", "GET"): 200, ("secretary_a", "POST"): 403, ("secretary_a", "DELETE"): 403},
}
_jobs = {
    # A job holds its owner's uploads and results: only the owner sees it, whatever their role.
    "build": _job_of("secretary_a"),
    "build_other": _job_of("secretary_b"),
    "expect": {("reader", "GET"): 404, ("org_manager", "GET"): 404},
}


def _override_on(org_attr: str) -> Callable[[Ctx], RuleOverride]:
    def build(ctx: Ctx) -> RuleOverride:
        return RuleOverride.objects.create(
            key="org.terms",
            org=getattr(ctx.tree, org_attr),
            effective_from=dt.date(2020, 1, 1),
            params={"warn_days_before_end": 60},
            reason="本地做法",
        )

    return build


def _override_payload(ctx: Ctx) -> dict[str, Any]:
    # A new date each time (one override per organisation, rule and date), always in the future.
    day = dt.date.today() + dt.timedelta(days=next(_seq))
    return {
        "key": "org.terms",
        "org": ctx.tree.branch_a.pk,
        "params": {"warn_days_before_end": 120},
        "effective_from": day.isoformat(),
        "reason": "换届筹备需要更早提醒",
    }


def _alert_in(org_attr: str) -> Callable[[Ctx], Alert]:
    def build(ctx: Ctx) -> Alert:
        org = getattr(ctx.tree, org_attr)
        return Alert.objects.create(
            kind="test.sample", org=org, message="样例预警", dedupe_key=f"test.sample:{next(_seq)}"
        )

    return build


_overrides = {
    "build": _override_on("branch_a"),
    "build_other": _override_on("branch_b"),
    "rows": RuleOverride.objects.all,
    # Only an org manager sets local rules (core.scoping: manage_rules); a secretary reads them.
    "writer": "district_manager",
    "expect": {("secretary_a", "GET"): 200, ("secretary_a", "POST"): 403},
}

# Developing members: a case in the org with its application (step 1) recorded, and one attachment.
_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _case_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.recruitment.models import CaseStep, RecruitmentCase

        n = next(_seq)
        org = getattr(ctx.tree, org_attr)
        birth = dt.date(1998, 1, 1) + dt.timedelta(days=n)
        case = RecruitmentCase(
            name=f"申请人{n}", gender="male", birth_date=birth, education="bachelor", occupation="worker",
            org=org, org_path=org.path, application_date=dt.date(2024, 6, 1), last_step=1,
            last_step_date=dt.date(2024, 6, 1),
        )  # fmt: skip
        case.set_id_number(make_id_number("110106", birth, 101 + 2 * n))
        case.save()
        CaseStep.objects.create(case=case, step=1, date=dt.date(2024, 6, 1), rule_ref="recruitment@2014")
        return case

    return build


def _attachment_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.recruitment.models import CaseAttachment

        case = _case_in(org_attr)(ctx)
        attachment = CaseAttachment(
            step=case.steps.get(), kind="application", original_name="申请书.png", content_type="image/png",
            size=len(_PNG),
        )  # fmt: skip
        attachment.file.save("scan.png", ContentFile(_PNG), save=False)
        attachment.save()
        return attachment

    return build


def _case_payload(ctx: Ctx) -> dict[str, Any]:
    n = next(_seq)
    birth = dt.date(1999, 2, 1) + dt.timedelta(days=n)
    return {
        "name": f"入党申请人{n}",
        "ethnicity": "汉族",
        "id_number": make_id_number("110107", birth, 201 + 2 * n),
        "education": "bachelor",
        "occupation": "worker",
        "org": ctx.tree.branch_a.pk,
    }


def _case_rows() -> Any:
    from dangjian.recruitment.models import RecruitmentCase

    return RecruitmentCase.objects.all()


def _step_rows() -> Any:
    from dangjian.recruitment.models import CaseStep

    return CaseStep.objects.all()


def _attachment_rows() -> Any:
    from dangjian.recruitment.models import CaseAttachment

    return CaseAttachment.objects.all()


_cases = {"build": _case_in("branch_a"), "build_other": _case_in("branch_b"), "rows": _case_rows}


# Relation transfers (issue 3): both sides see a transfer. The samples are letters out of / into the
# platform, so the branch_b stranger is on neither side; tests/transfers/test_api.py covers a transfer
# between branch_a and branch_b (the receiving secretary sees and accepts it).
def _transfer_in(org_attr: str, kind: str = "out_of_platform") -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.transfers.models import Transfer

        org = getattr(ctx.tree, org_attr)
        member = ctx.make_member(org)
        today = dt.date.today()
        outgoing = kind == "out_of_platform"
        return Transfer.objects.create(
            member=member, kind=kind, from_org=org if outgoing else None, to_org=None if outgoing else org,
            from_org_path=org.path if outgoing else "", to_org_path="" if outgoing else org.path,
            outside_org_name="外省某党支部", reason="工作调动", letter_number=f"T-{org_attr}-{next(_seq)}",
            issued_on=today, valid_until=today + dt.timedelta(days=30), status="sent",
        )  # fmt: skip

    return build


def _transfer_rows() -> Any:
    from dangjian.transfers.models import Transfer

    return Transfer.objects.all()


def _transfer_payload(ctx: Ctx) -> dict[str, Any]:
    member = ctx.make_member(ctx.tree.branch_a)
    return {
        "member": member.pk,
        "kind": "out_of_platform",
        "outside_org_name": "外省某党支部",
        "reason": "迁居",
    }


def _flow_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.transfers.models import FlowCertificate

        org = getattr(ctx.tree, org_attr)
        return FlowCertificate.objects.create(
            member=ctx.make_member(org), home_org=org, home_org_path=org.path, outside_host_name="深圳某党支部",
            number=f"LD-{org_attr}-{next(_seq)}", start=dt.date(2026, 1, 1),
        )  # fmt: skip

    return build


def _flow_rows() -> Any:
    from dangjian.transfers.models import FlowCertificate

    return FlowCertificate.objects.all()


_transfers = {
    "build": _transfer_in("branch_a"),
    "build_other": _transfer_in("branch_b"),
    "rows": _transfer_rows,
}
_incoming = {
    "build": _transfer_in("branch_a", "into_platform"),
    "build_other": _transfer_in("branch_b", "into_platform"),
    "rows": _transfer_rows,
}


# Dues money (issue 4, dues/money_api.py): payments, hardship reductions and remittances. Samples go
# through the services (as the admin), so each has its bills and ledger entries; tests/dues/ covers
# the rules and test_money_api.py the answers.
def _dues_bill(member: Any, month: dt.date) -> Any:
    from dangjian.dues.models import DuesBill

    return DuesBill.objects.create(
        member=member, org=member.org, org_path=member.org.path, month=month, category="employed",
        base="4000.00", rate="0.01", standard_amount="30.00", amount="30.00", rule_ref="dues@2008",
    )  # fmt: skip


def _dues_paid(ctx: Ctx, org: Any) -> Any:
    """A member of ``org`` who paid this month's 30.00 (so that ``org`` holds 30.00 on the ledger)."""
    from dangjian.dues.payments import payment_record

    member = ctx.make_member(org)
    today = dt.date.today()
    _dues_bill(member, today.replace(day=1))
    return payment_record(
        actor=ctx.people["admin_user"],
        member=member,
        months=[today.replace(day=1)],
        method="cash",
        paid_on=today,
    )


def _dues_payment_in(org_attr: str) -> Callable[[Ctx], Any]:
    return lambda ctx: _dues_paid(ctx, getattr(ctx.tree, org_attr))


def _dues_payment_payload(ctx: Ctx) -> dict[str, Any]:
    member = ctx.make_member(ctx.tree.branch_a)
    month = dt.date.today().replace(day=1)
    _dues_bill(member, month)
    return {"member": member.pk, "months": [f"{month:%Y-%m}"], "method": "cash", "amount": "30.00"}


def _dues_reduction_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.dues.reductions import reduction_propose

        return reduction_propose(
            actor=ctx.people["admin_user"], member=ctx.make_member(getattr(ctx.tree, org_attr)), kind="waive",
            start_month=dt.date(2026, 1, 1), end_month=dt.date(2026, 6, 1), reason="家庭困难",
        )  # fmt: skip

    return build


def _dues_remittance_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.dues.remittances import remittance_record

        org = getattr(ctx.tree, org_attr)
        _dues_paid(ctx, org)
        today = dt.date.today()
        return remittance_record(
            actor=ctx.people["admin_user"], from_org=org, period_start=today, period_end=today, amount="30.00",
            remitted_on=today,
        )  # fmt: skip

    return build


def _dues_remittance_payload(ctx: Ctx) -> dict[str, Any]:
    _dues_paid(ctx, ctx.tree.branch_a)
    month = f"{dt.date.today():%Y-%m}"
    return {"from_org": ctx.tree.branch_a.pk, "period_start": month, "period_end": month, "amount": "30.00"}


def _dues_rows(name: str) -> Callable[[], Any]:
    def rows() -> Any:
        from dangjian.dues import models

        return getattr(models, name).objects.all()

    return rows


_dues_payments = {
    "build": _dues_payment_in("branch_a"),
    "build_other": _dues_payment_in("branch_b"),
    "rows": _dues_rows("DuesPayment"),
}
_dues_reductions = {
    "build": _dues_reduction_in("branch_a"),
    "build_other": _dues_reduction_in("branch_b"),
    "rows": _dues_rows("DuesReduction"),
}
_dues_remittances = {
    "build": _dues_remittance_in("branch_a"),
    "build_other": _dues_remittance_in("branch_b"),
    "rows": _dues_rows("DuesRemittance"),
}


# Dues bills, declarations and a branch's arrangements (issue 4, dues/api.py).
def _bill_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.dues.models import DuesBill

        org = getattr(ctx.tree, org_attr)
        return DuesBill.objects.create(
            member=ctx.make_member(org), org=org, org_path=org.path, month=dt.date.today().replace(day=1),
            category="student", standard_amount="0.20", amount="0.20", rule_ref="dues@2008",
        )  # fmt: skip

    return build


def _declaration_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.dues.models import DuesDeclaration

        return DuesDeclaration.objects.create(
            member=ctx.make_member(getattr(ctx.tree, org_attr)), category="employed", base="4500.00",
            effective_month=dt.date(2026, 1, 1),
        )  # fmt: skip

    return build


def _dues_setting_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.dues.models import DuesOrgSetting

        return DuesOrgSetting.objects.create(org=getattr(ctx.tree, org_attr), quarterly_allowed=False)

    return build


_dues_bills = {
    "build": _bill_in("branch_a"),
    "build_other": _bill_in("branch_b"),
    "rows": _dues_rows("DuesBill"),
}
_dues_declarations = {
    "build": _declaration_in("branch_a"),
    "build_other": _declaration_in("branch_b"),
    "rows": _dues_rows("DuesDeclaration"),
}


# Bank-statement imports (issue 4, dues/statements.py): an import with one line the treasurer ignored,
# so that confirming books nothing and needs no bills; tests/dues/test_statement*.py cover the booking.
def _statement_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.dues.models import DuesStatement, DuesStatementLine

        org = getattr(ctx.tree, org_attr)
        n = next(_seq)
        statement = DuesStatement.objects.create(
            org=org, org_path=org.path, filename=f"流水{n}.csv", sha256=f"{n:064x}",
            uploaded_by=ctx.people["admin_user"],
        )  # fmt: skip
        DuesStatementLine.objects.create(
            statement=statement, row=2, paid_on=dt.date(2026, 3, 5), amount="30.00", payer="路人", line_key=f"{n:064x}",
            match="unmatched", decision="ignore",
        )  # fmt: skip
        return statement

    return build


def _statement_upload(ctx: Ctx) -> dict[str, Any]:
    n = next(_seq)
    text = f"交易日期,收入金额,对方户名,附言\n2026-03-05,30.00,付款人{n},党费\n"
    return {"org": ctx.tree.branch_a.pk, "file": ContentFile(text.encode("gbk"), name=f"流水{n}.csv")}


_dues_statements = {
    "build": _statement_in("branch_a"),
    "build_other": _statement_in("branch_b"),
    "rows": _dues_rows("DuesStatement"),
}


# Organization life (issue 5, meetings/appraisal_api.py): 谈心谈话, life meeting notes, 民主评议党员.
# tests/meetings/test_appraisal.py and test_life.py cover the rules and the secrecy of the mutual ratings.
def _talk_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.meetings.models import TalkRecord

        org = getattr(ctx.tree, org_attr)
        return TalkRecord.objects.create(
            org=org, date=dt.date.today(), initiator=ctx.make_member(org), partner=ctx.make_member(org),
            topic="谈心谈话",
        )  # fmt: skip

    return build


def _talk_payload(ctx: Ctx) -> dict[str, Any]:
    org = ctx.tree.branch_a
    return {
        "org": org.pk,
        "initiator": ctx.make_member(org).pk,
        "partner": ctx.make_member(org).pk,
        "date": dt.date.today().isoformat(),
        "topic": "思想交流",
    }


def _appraisal_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from dangjian.meetings.models import Appraisal

        org = getattr(ctx.tree, org_attr)
        return Appraisal.objects.create(
            org=org, year=dt.date.today().year, member=ctx.make_member(org), self_assessment="自我评价"
        )

    return build


def _appraisal_open_payload(ctx: Ctx) -> dict[str, Any]:
    ctx.make_member(ctx.tree.branch_a)  # someone without an appraisal yet, so that opening makes a row
    return {"org": ctx.tree.branch_a.pk, "year": dt.date.today().year}


def _life_meeting_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from django.utils import timezone

        from dangjian.meetings.models import Meeting

        now = timezone.now()
        return Meeting.objects.create(
            org=getattr(ctx.tree, org_attr), kind="life_meeting", title="年度组织生活会", starts_at=now,
            date=timezone.localdate(now),
        )  # fmt: skip

    return build


def _meetings_rows(name: str) -> Callable[[], Any]:
    def rows() -> Any:
        from dangjian.meetings import models

        return getattr(models, name).objects.all()

    return rows


_appraisals = {
    "build": _appraisal_in("branch_a"),
    "build_other": _appraisal_in("branch_b"),
    "rows": _meetings_rows("Appraisal"),
}


# Meetings (issue 5, meetings/api.py): a general meeting of the org planned through the service, so that
# its attendees come from the roster (a member is made first, so someone is expected). The payloads find
# the sample meeting as the org's latest one. tests/meetings/test_api.py covers members and the bodies.
def _meeting_in(org_attr: str, *, days: float = 1, leave: bool = False) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from django.utils import timezone

        from dangjian.meetings import services

        org = getattr(ctx.tree, org_attr)
        ctx.make_member(org)
        start = timezone.now() + dt.timedelta(days=days)
        meeting = services.meeting_create(
            actor=ctx.people["admin_user"], org=org, kind="general_meeting", title="支部党员大会",
            starts_at=start, ends_at=start + dt.timedelta(hours=2),
        )  # fmt: skip
        if leave:
            attendee = meeting.attendees.select_related("member").first()
            services.leave_request(
                actor=ctx.people["admin_user"], meeting=meeting, member=attendee.member, reason="出差"
            )
        return meeting

    return build


def _sample_attendee(ctx: Ctx, **filters: Any) -> Any:
    from dangjian.meetings.models import Attendee

    return (
        Attendee.objects.filter(meeting__org=ctx.tree.branch_a, **filters)
        .order_by("-meeting_id", "id")
        .first()
    )


def _meeting_create_payload(ctx: Ctx) -> dict[str, Any]:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    return {
        "org": ctx.tree.branch_a.pk,
        "kind": "general_meeting",
        "title": "第二季度支部党员大会",
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
        "place": "党员活动室",
    }


_meetings = {
    "build": _meeting_in("branch_a"),
    "build_other": _meeting_in("branch_b"),
    "rows": _meetings_rows("Meeting"),
}
_meetings_started = {
    "build": _meeting_in("branch_a", days=-0.01),
    "build_other": _meeting_in("branch_b", days=-0.01),
    "rows": _meetings_rows("Attendee"),
}
_meetings_leave = {
    "build": _meeting_in("branch_a", leave=True),
    "build_other": _meeting_in("branch_b", leave=True),
    "rows": _meetings_rows("Attendee"),
}


# Transcripts and keywords (issue 5, meetings/transcript_api.py): a meeting held yesterday with a ready
# transcript (so that keywords answer 200); the writer posts pasted text (201). tests/meetings/
# test_transcripts.py covers uploads, the 409 without a ready transcript and the member's 403.
def _transcribed_meeting_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from django.utils import timezone

        from dangjian.meetings.models import Meeting, Transcript, TranscriptSegment

        start = timezone.now() - dt.timedelta(days=1)
        meeting = Meeting.objects.create(
            org=getattr(ctx.tree, org_attr), kind="general_meeting", title="支部党员大会", starts_at=start,
            date=timezone.localdate(start), status="held",
        )  # fmt: skip
        transcript = Transcript(
            meeting=meeting, source="txt", original_name="记录.txt", size=30, status="ready", progress=100,
            text="王建国：部署三会一课和主题党日。",
            analysis={"tfidf": [["三会一课", 1.0]], "textrank": [], "frequent": [["三会一课", 1]],
                      "summary": [], "version": "1"},
        )  # fmt: skip
        transcript.file.save(
            "transcript.txt", ContentFile("王建国：部署三会一课和主题党日。".encode()), save=False
        )
        transcript.save()
        TranscriptSegment.objects.create(
            transcript=transcript, index=1, speaker="王建国", text="部署三会一课和主题党日。"
        )
        return meeting

    return build


_transcribed = {
    "build": _transcribed_meeting_in("branch_a"),
    "build_other": _transcribed_meeting_in("branch_b"),
    "rows": _meetings_rows("Transcript"),
}


# QR check-in (issue 5, meetings/checkin_api.py): a meeting going on now, member_a expected in branch_a.
# The code (GET) is for those who run the meeting — not the read-only auditor, not members (it is the
# proof of being in the room); checking in (POST) is a member's, with a code of that meeting: the
# secretary_a persona has no register entry (403). tests/meetings/test_checkin.py covers the refusals.
def _checkin_meeting_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from django.utils import timezone

        from dangjian.meetings.models import Attendee, Meeting

        org = getattr(ctx.tree, org_attr)
        start = timezone.now() - dt.timedelta(minutes=5)
        meeting = Meeting.objects.create(
            org=org, kind="general_meeting", title="支部党员大会", starts_at=start,
            ends_at=start + dt.timedelta(hours=2), date=timezone.localdate(start),
        )  # fmt: skip
        member = ctx.people["member_a"].member if org_attr == "branch_a" else ctx.make_member(org)
        Attendee.objects.create(meeting=meeting, member=member, expected=True, can_vote=True)
        return meeting

    return build


def _checkin_payload(ctx: Ctx) -> dict[str, Any]:
    from dangjian.meetings.checkin import token_for
    from dangjian.meetings.models import Meeting

    return {"token": token_for(Meeting.objects.filter(org=ctx.tree.branch_a).order_by("-id").first())}


# Votes of a meeting (issue 5, meetings/vote_api.py): a general meeting held yesterday with two full members
# present (their votes counted from the attendance); the writer records a decision (201). The compliance
# table is about the caller's own subtree: any role holder gets theirs, an outsider 404 (tests/meetings/
# test_compliance.py covers ?org= inside and outside the scope and the 400s).
def _voting_meeting_in(org_attr: str) -> Callable[[Ctx], Any]:
    def build(ctx: Ctx) -> Any:
        from django.utils import timezone

        from dangjian.meetings.models import Attendee, Meeting

        org = getattr(ctx.tree, org_attr)
        start = timezone.now() - dt.timedelta(days=1)
        meeting = Meeting.objects.create(
            org=org, kind="general_meeting", title="支部党员大会", starts_at=start,
            date=timezone.localdate(start), status="held",
        )  # fmt: skip
        for _ in range(2):
            Attendee.objects.create(
                meeting=meeting, member=ctx.make_member(org), can_vote=True, status="present"
            )
        return meeting

    return build


_voting = {
    "build": _voting_meeting_in("branch_a"),
    "build_other": _voting_meeting_in("branch_b"),
    "rows": _meetings_rows("Vote"),
}


ENDPOINTS: dict[str, Endpoint] = {
    "api:meeting-votes": Endpoint(
        DETAIL,
        payload={
            "POST": lambda ctx: {
                "kind": "decision",
                "title": "关于开展主题党日的决定",
                "yes": 2,
                "no": 0,
                "abstain": 0,
            }
        },
        expect={("writer", "POST"): 201},
        **_voting,
    ),  # fmt: skip
    "api:meeting-compliance": Endpoint(AUTHENTICATED, expect={("outsider", "GET"): 404}),
    "api:meeting-checkin": Endpoint(
        DETAIL,
        build=_checkin_meeting_in("branch_a"),
        build_other=_checkin_meeting_in("branch_b"),
        rows=lambda: _meetings_rows("Attendee")().filter(status="present"),
        payload={"POST": _checkin_payload},
        expect={
            ("reader", "GET"): 403,
            ("member_a", "GET"): 403,
            ("writer", "POST"): 403,
            ("member_a", "POST"): 200,
        },
    ),
    # Transcripts and keywords (issue 5, meetings/transcript_api.py): creating a transcript answers 201.
    "api:meeting-transcript": Endpoint(
        DETAIL,
        payload={
            "POST": lambda ctx: {"text": "王建国：同志们，现在开会。\n李红梅：讨论发展党员和党费收缴。"}
        },
        expect={("writer", "POST"): 201},
        **_transcribed,
    ),
    "api:meeting-keywords": Endpoint(DETAIL, **_transcribed),
    # Meetings (issue 5, meetings/api.py): list and plan, detail and change, cancel, attendance, leave.
    "api:meeting-list": Endpoint(LIST, payload={"POST": _meeting_create_payload}, **_meetings),
    "api:meeting-detail": Endpoint(
        DETAIL, payload={"PATCH": lambda ctx: {"title": "支部党员大会（调整议程）"}}, **_meetings
    ),
    "api:meeting-cancel": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"reason": "与上级会议冲突"}}, **_meetings
    ),
    "api:meeting-attendance": Endpoint(
        DETAIL,
        payload={
            "POST": lambda ctx: {"marks": [{"member": _sample_attendee(ctx).member_id, "status": "present"}]}
        },
        **_meetings_started,
    ),
    "api:meeting-leave": Endpoint(
        DETAIL,
        payload={"POST": lambda ctx: {"member": _sample_attendee(ctx).member_id, "reason": "出差在外"}},
        **_meetings,
    ),
    "api:meeting-leave-decide": Endpoint(
        DETAIL,
        payload={
            "POST": lambda ctx: {
                "attendee": _sample_attendee(ctx, leave_status="requested").pk,
                "approve": True,
            }
        },
        **_meetings_leave,
    ),
    # Organization life (issue 5): 谈心谈话, 民主评议党员 and life meeting notes (meetings/appraisal_api.py).
    "api:talk-list": Endpoint(
        LIST,
        build=_talk_in("branch_a"),
        build_other=_talk_in("branch_b"),
        rows=_meetings_rows("TalkRecord"),
        payload={"POST": _talk_payload},
    ),
    # A member sees only their own appraisal (the sample is a fellow member's): not in the list, 404 on it.
    "api:appraisal-list": Endpoint(
        LIST, payload={"POST": _appraisal_open_payload}, expect={("member_a", "GET"): 200}, **_appraisals
    ),
    "api:appraisal-detail": Endpoint(
        DETAIL,
        payload={"PATCH": lambda ctx: {"rating": "qualified"}},
        expect={("member_a", "GET"): 404, ("member_a", "PATCH"): 404},
        **_appraisals,
    ),
    # The mutual rating is a fellow member's, through their own login: member_a rates a member of
    # branch_a; the secretary (no register entry here) and the auditor see the appraisal but may not rate.
    "api:appraisal-rate": Endpoint(
        DETAIL,
        payload={"POST": lambda ctx: {"rating": "excellent"}},
        writer="member_a",
        expect={("secretary_a", "POST"): 403},
        build=_appraisal_in("branch_a"),
        build_other=_appraisal_in("branch_b"),
        rows=_meetings_rows("MutualRating"),
    ),
    "api:life-note-list": Endpoint(
        DETAIL,
        build=_life_meeting_in("branch_a"),
        build_other=_life_meeting_in("branch_b"),
        rows=_meetings_rows("LifeMeetingNote"),
        payload={
            "POST": lambda ctx: {
                "member": ctx.make_member(ctx.tree.branch_a).pk,
                "kind": "self_criticism",
                "text": "理论学习不够深入",
            }
        },
        expect={("writer", "POST"): 201, ("member_a", "GET"): 404},
    ),
    # Public: log in, read the API description, probe health.
    "api:token": Endpoint(
        PUBLIC,
        public_call=("POST", lambda ctx: {"username": "shuji1", "password": "Test@Pass2026"}, 200),
    ),
    "api:schema": Endpoint(PUBLIC, public_call=("GET", None, 200)),
    "api:docs": Endpoint(PUBLIC, public_call=("GET", None, 200)),
    # About the caller, not the tree.
    "api:api-root": Endpoint(AUTHENTICATED),
    "api:me": Endpoint(AUTHENTICATED),
    # The import template: for anyone who may add members somewhere (it lists the codes they may use).
    "api:member-import-template": Endpoint(
        AUTHENTICATED, expect={("outsider", "GET"): 403, ("reader", "GET"): 403, ("member_a", "GET"): 403}
    ),
    # The organisation tree (read-only over the API).
    "api:org-list": Endpoint(LIST, **_orgs),
    "api:org-detail": Endpoint(DETAIL, **_orgs),
    "api:org-children": Endpoint(DETAIL, **_orgs),
    "api:org-stats": Endpoint(DETAIL, **_orgs),
    # The member register.
    "api:member-list": Endpoint(LIST, payload={"POST": _member_payload}, **_members),
    "api:member-detail": Endpoint(
        DETAIL,
        payload={
            "PATCH": lambda ctx: {"work_unit": "示范市第一中学"},
            "PUT": lambda ctx: {"work_unit": "示范市第二中学", "position": "教师"},
        },
        **_members,
    ),
    "api:member-history": Endpoint(
        DETAIL,
        # "flowing" is not a status (a flow certificate records it): a change the register does record.
        payload={"POST": lambda ctx: {"status": "historical", "date": "2026-01-05", "reason": "转出"}},
        **{**_members, "expect": {**_members.get("expect", {}), ("writer", "POST"): 201}},
    ),
    # Status events (suspend / restore / remove / death / historical), each one service with its rules.
    "api:member-status-events": Endpoint(
        DETAIL,
        payload={"POST": lambda ctx: {"event": "death", "date": "2026-01-05", "reason": "病故"}},
        **{**_members, "expect": {**_members.get("expect", {}), ("writer", "POST"): 201}},
    ),
    "api:member-reveal": Endpoint(DETAIL, payload={"POST": lambda ctx: {"field": "id_number"}}, **_members),
    # Party discipline (党纪处分): read with the member, recorded by those who may change them.
    "api:member-discipline": Endpoint(
        DETAIL,
        payload={
            "POST": lambda ctx: {
                "kind": "warning",
                "decided_on": "2025-03-01",
                "decided_by": ctx.tree.branch_a.pk,
                "reason": "无故不参加组织生活",
            }
        },
        **{**_members, "rows": lambda: MemberDiscipline.objects.all(), "expect": {("writer", "POST"): 201}},
    ),
    "api:member-export": Endpoint(LIST, visible=xlsx_names, ident=lambda m: m.name, **_members),
    "api:member-import": Endpoint(LIST, payload={"POST": _import_payload}, multipart=True, **_members),
    "api:member-account": Endpoint(
        DETAIL,
        payload={
            "POST": lambda ctx: {"username": f"kaitong{next(_seq)}", "password": "Shouquan#7319x"},
            "DELETE": lambda ctx: {},
        },
        **_member_account,
    ),
    "api:member-account-password": Endpoint(
        DETAIL,
        build=_member_with_login("branch_a", active=True),
        build_other=_member_with_login("branch_b", active=True),
        payload={"POST": lambda ctx: {"password": "Chongzhi@2026"}},
        expect={("writer", "POST"): 204},
    ),
    # Background jobs.
    "api:job-detail": Endpoint(DETAIL, **_jobs),
    "api:job-file": Endpoint(DETAIL, **_jobs),
    # Appointments.
    "api:roleassignment-list": Endpoint(LIST, payload={"POST": _role_payload}, **_roles),
    "api:roleassignment-detail": Endpoint(DETAIL, payload={"DELETE": lambda ctx: {}}, **_roles),
    # The rulebook: the rules in force are the same for every logged-in caller (an ?org= outside the
    # caller's scope is 404: tests/core/test_rules_api.py); local overrides are scoped like the tree.
    "api:rules": Endpoint(AUTHENTICATED),
    "api:ruleoverride-list": Endpoint(LIST, payload={"POST": _override_payload}, **_overrides),
    # Alerts of the nightly checks, scoped by their organisation.
    "api:alert-list": Endpoint(LIST, build=_alert_in("branch_a"), build_other=_alert_in("branch_b")),
    # Developing members (issue 3): cases, their steps (201 on success, the contract), attachments.
    "api:recruitment-case-list": Endpoint(LIST, payload={"POST": _case_payload}, **_cases),
    "api:recruitment-case-detail": Endpoint(DETAIL, **_cases),
    "api:recruitment-case-steps": Endpoint(
        DETAIL,
        build=_case_in("branch_a"),
        build_other=_case_in("branch_b"),
        rows=_step_rows,
        payload={"POST": lambda ctx: {"step": 2, "date": "2024-06-10", "handled_by": "王书记"}},
        expect={("writer", "POST"): 201},
    ),
    "api:recruitment-case-stop": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"date": "2024-07-01", "reason": "本人撤回入党申请"}}, **_cases
    ),
    "api:recruitment-case-reveal": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"field": "id_number"}}, **_cases
    ),
    "api:recruitment-case-attachments": Endpoint(
        DETAIL,
        build=_case_in("branch_a"),
        build_other=_case_in("branch_b"),
        rows=_attachment_rows,
        multipart=True,
        payload={
            "POST": lambda ctx: {
                "step": 1,
                "kind": "application",
                "file": ContentFile(_PNG, name="申请书.png"),
            }
        },
        expect={("writer", "POST"): 201},
    ),
    "api:recruitment-attachment-detail": Endpoint(
        DETAIL, build=_attachment_in("branch_a"), build_other=_attachment_in("branch_b")
    ),
    # Relation transfers and flow certificates (issue 3).
    "api:transfer-list": Endpoint(LIST, payload={"POST": _transfer_payload}, **_transfers),
    "api:transfer-detail": Endpoint(DETAIL, **_incoming),
    "api:transfer-accept": Endpoint(DETAIL, payload={"POST": lambda ctx: {}}, **_incoming),
    "api:transfer-return": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"reason": "材料不全"}}, **_incoming
    ),
    "api:transfer-hold": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"reason": "待核实党费"}}, **_incoming
    ),
    "api:transfer-cancel": Endpoint(DETAIL, payload={"POST": lambda ctx: {}}, **_incoming),
    "api:flow-certificate-list": Endpoint(
        LIST,
        build=_flow_in("branch_a"),
        build_other=_flow_in("branch_b"),
        rows=_flow_rows,
        payload={
            "POST": lambda ctx: {
                "member": ctx.make_member(ctx.tree.branch_a).pk,
                "outside_host_name": "深圳某党支部",
                "start": "2026-03-01",
            }
        },
    ),
    # Dues (issue 4, dues/api.py). The calculator is the same for every logged-in caller; called without
    # parameters (as the suite does) it asks for them: 400 for everyone (tests/dues/test_api.py checks
    # the answers).
    "api:dues-calculate": Endpoint(
        AUTHENTICATED,
        expect={(p, "GET"): 400 for p in ("outsider", "stranger", "reader", "writer")},
    ),
    # Bills: a member sees their own; generating the month's bills is for those who may add in the org.
    "api:dues-bill-list": Endpoint(LIST, **_dues_bills),
    "api:dues-bill-detail": Endpoint(DETAIL, **_dues_bills),
    "api:dues-bill-generate": Endpoint(
        LIST,
        payload={"POST": lambda ctx: {"month": f"{dt.date.today():%Y-%m}", "org": ctx.tree.branch_a.pk}},
        **_dues_bills,
    ),
    "api:dues-declaration-list": Endpoint(
        LIST,
        payload={
            "POST": lambda ctx: {
                "member": ctx.make_member(ctx.tree.branch_a).pk,
                "category": "employed",
                "base": "4500.00",
                "effective_month": "2026-01",
            }
        },
        **_dues_declarations,
    ),
    "api:dues-declaration-detail": Endpoint(DETAIL, **_dues_declarations),
    # Setting a branch's arrangement creates or replaces it: 200, not 201.
    "api:dues-org-setting-list": Endpoint(
        LIST,
        build=_dues_setting_in("branch_a"),
        build_other=_dues_setting_in("branch_b"),
        rows=_dues_rows("DuesOrgSetting"),
        payload={"POST": lambda ctx: {"org": ctx.tree.branch_a.pk, "quarterly_allowed": True}},
        expect={("writer", "POST"): 200},
    ),
    # Reports on the caller's highest organisation (without ?org=); someone who sees no subtree: 404.
    # tests/dues/test_api.py covers ?org= inside and outside the caller's scope.
    "api:dues-summary": Endpoint(AUTHENTICATED, expect={("outsider", "GET"): 404}),
    "api:dues-arrears": Endpoint(AUTHENTICATED, expect={("outsider", "GET"): 404}),
    "api:dues-member": Endpoint(DETAIL, build=_member_in("branch_a"), build_other=_member_in("branch_b")),
    # Dues money (issue 4, dues/money_api.py). Confirming or returning a remittance is the receiving
    # organisation's (district_a for branch_a's remittance), not the sender's.
    "api:dues-payment-list": Endpoint(LIST, payload={"POST": _dues_payment_payload}, **_dues_payments),
    "api:dues-payment-detail": Endpoint(DETAIL, **_dues_payments),
    "api:dues-payment-reverse": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"reason": "重复录入"}}, **_dues_payments
    ),
    "api:dues-reduction-list": Endpoint(
        LIST,
        payload={
            "POST": lambda ctx: {
                "member": ctx.make_member(ctx.tree.branch_a).pk,
                "kind": "waive",
                "start_month": "2026-01",
                "end_month": "2026-03",
                "reason": "因病生活困难",
            }
        },
        **_dues_reductions,
    ),
    "api:dues-reduction-detail": Endpoint(DETAIL, **_dues_reductions),
    "api:dues-reduction-decide": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"approve": True}}, **_dues_reductions
    ),
    "api:dues-reduction-withdraw": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"reason": "困难已解除"}}, **_dues_reductions
    ),
    "api:dues-remittance-list": Endpoint(
        LIST, payload={"POST": _dues_remittance_payload}, **_dues_remittances
    ),
    "api:dues-remittance-detail": Endpoint(DETAIL, **_dues_remittances),
    "api:dues-remittance-confirm": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {}}, writer="district_manager", **_dues_remittances
    ),
    "api:dues-remittance-return": Endpoint(
        DETAIL,
        payload={"POST": lambda ctx: {"reason": "金额不符"}},
        writer="district_manager",
        **_dues_remittances,
    ),
    # Bank-statement imports (issue 4, dues/statement_api.py).
    "api:dues-statement-list": Endpoint(
        LIST, payload={"POST": _statement_upload}, multipart=True, **_dues_statements
    ),
    "api:dues-statement-detail": Endpoint(DETAIL, **_dues_statements),
    "api:dues-statement-lines": Endpoint(
        DETAIL, payload={"PATCH": lambda ctx: {"row": 2, "decision": "ignore"}}, **_dues_statements
    ),
    "api:dues-statement-confirm": Endpoint(DETAIL, payload={"POST": lambda ctx: {}}, **_dues_statements),
    "api:dues-statement-discard": Endpoint(
        DETAIL, payload={"POST": lambda ctx: {"reason": "传错了文件"}}, **_dues_statements
    ),
}

# Outside /api/v1/ but public and part of the contract.
EXTRA_PUBLIC = {"healthz": ("/healthz", "GET", 200)}


def _walk(patterns: list, prefix: str = "", namespace: str = "") -> list[tuple[str, str, URLPattern]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            found += _walk(p.url_patterns, prefix + str(p.pattern), ns)
        else:
            found.append((prefix + str(p.pattern), f"{namespace}{p.name}" if p.name else "", p))
    return found


def _methods(pattern: URLPattern) -> list[str]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:  # a router viewset route: {"get": "list", "post": "create"} (DRF adds "head" on first use)
        return sorted(m.upper() for m in actions if m not in ("options", "head"))
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    names = getattr(view, "http_method_names", ["get"])
    return sorted(m.upper() for m in names if m not in ("options", "head") and hasattr(view, m))


def api_endpoints() -> dict[str, list[str]]:
    """Every URL name under /api/v1/ with its methods, read from the URL resolver."""
    endpoints: dict[str, list[str]] = {}
    for route, name, pattern in _walk(get_resolver().url_patterns):
        if not route.lstrip("^").startswith(API_PREFIX):
            continue
        key = name or f"<unnamed {route}>"
        endpoints[key] = sorted(set(endpoints.get(key, [])) | set(_methods(pattern)))
    return endpoints
