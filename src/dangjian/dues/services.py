"""Every write of dues declarations, monthly bills and a branch's dues arrangements: one transaction and
an audit row each. Payments, reductions, remittances and statement imports have their own modules.

Who owes dues, month by month (RULES.md §2, 中组发〔2008〕3号):

- probationary and full members from the month the branch general meeting admitted them
  (``Member.join_date``); not suspended, left, deceased or historical members;
- at the home branch, unless the member's declaration says they pay at the host organisation and they
  hold an active activity certificate (流动党员活动证) of an organisation on the platform covering the month;
- the amount from the declaration in effect that month (or, where the rule fixes amounts for the year,
  the one in effect in January: ``rules.effective_declaration``), minus an approved hardship reduction;
- a member of a fixed-amount category (student, unemployed, low income) needs no declaration; for the
  others (a base, or a farmer's choice) no bill is made until one exists, and the member is listed as
  needing a declaration (``BillsResult.needs_declaration``).

A bill is computed once, keeping the rule version that computed it. Later changes reach only bills
nobody has paid anything on (``bills_recompute``): a late declaration of a pay change, an approved
reduction. A bill whose amount comes to 0.00 (a base so small that its dues round to nothing) is made
settled — status "paid" with nothing paid — rather than "waived", which means a hardship waiver: nothing
is owed, so it never appears in arrears, reminders or the 党章 第九条 alert.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.scoping import can, is_system_admin, path_prefix_q
from dangjian.dues import rules
from dangjian.dues.models import BillStatus, DuesBill, DuesDeclaration, DuesOrgSetting, DuesReduction
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization

ZERO = Decimal("0.00")
_ATTACHMENT_TYPES = {b"%PDF-": "pdf", b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}


def _denied() -> PermissionDenied:
    return PermissionDenied(_("This is outside the part of the organisation tree you manage."))


# ── computing bills ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class BillsResult:
    """What one run of ``bills_generate`` did: bills created, members skipped because their bill for the
    month already existed, and the members who need a declaration before a bill can be made."""

    month: dt.date
    created: int
    skipped: int
    needs_declaration: tuple[int, ...] = field(default=())


class _Declaration(NamedTuple):
    """The fields of a declaration that compute a bill (read as tuples: the monthly job reads them all)."""

    pk: int
    member_id: int
    category: str
    base: Decimal | None
    chosen_amount: Decimal | None
    social_insurance: Decimal | None
    effective_month: dt.date
    pay_at_host: bool


@dataclass
class _Context:
    """Everything needed to compute bills for a set of members and months, read in a few queries."""

    declarations: dict[int, list[Any]]
    reductions: dict[int, list[Any]]
    hosts: dict[int, list[Any]]
    rules_by_org: dict[tuple[int, dt.date], Any]


def _member_scope_q(org: Organization | None, prefix: str = "") -> Q:
    return path_prefix_q(f"{prefix}org_path", org.path) if org is not None else Q()


def _load_context(member_filter: Q, months: list[dt.date], orgs: Iterable[Any]) -> _Context:
    """The declarations, approved reductions, host organisations and rule versions for ``months`` of the
    members matching ``member_filter`` (a Q on ``member__…``)."""
    last = max(months)
    first = min(months)
    declarations: dict[int, list[Any]] = defaultdict(list)
    for row in (
        DuesDeclaration.objects.filter(member_filter, effective_month__lte=last)
        .order_by("member_id", "effective_month")
        .values_list(*_Declaration._fields)
        .iterator(chunk_size=5000)
    ):
        d = _Declaration._make(row)
        declarations[d.member_id].append(d)
    reductions: dict[int, list[Any]] = defaultdict(list)
    for red in DuesReduction.objects.filter(
        member_filter, status=DuesReduction.Status.APPROVED, start_month__lte=last, end_month__gte=first
    ).order_by("id"):
        reductions[red.member_id].append(red)
    # Flowing members paying at the host: their active certificates of an organisation on the platform.
    # (One filter() call: its conditions hold for the same certificate; the months are checked in _host_for.)
    wanted = {member_id for member_id, items in declarations.items() if any(d.pay_at_host for d in items)}
    hosts: dict[int, list[Any]] = defaultdict(list)
    if wanted:
        rows = Member.objects.filter(
            pk__in=wanted, flow_certificates__status="active", flow_certificates__host_org__isnull=False
        ).values_list(
            "pk",
            "flow_certificates__host_org_id",
            "flow_certificates__host_org__path",
            "flow_certificates__start",
            "flow_certificates__end",
        )
        for member_id, host_id, host_path, start, end in rows:
            hosts[member_id].append(SimpleNamespace(org_id=host_id, path=host_path, start=start, end=end))
    rules_by_org: dict[tuple[int, dt.date], Any] = {}
    org_list = list({o.pk: o for o in orgs}.values())
    for month in months:
        for org_id, r in rules.rules_for_orgs(month, org_list).items():
            rules_by_org[(org_id, month)] = r
    return _Context(declarations, reductions, hosts, rules_by_org)


def _host_for(ctx: _Context, member_id: int, month: dt.date) -> Any | None:
    end_of_month = rules.add_months(month, 1) - dt.timedelta(days=1)
    for cert in ctx.hosts.get(member_id, ()):
        if cert.start <= end_of_month and (cert.end is None or cert.end >= month):
            return cert
    return None


def _reduction_for(ctx: _Context, member_id: int, month: dt.date) -> Any | None:
    found = [r for r in ctx.reductions.get(member_id, ()) if r.start_month <= month <= r.end_month]
    return found[-1] if found else None  # the latest approved one


def _initial_status(amount: Decimal, waived: bool) -> str:
    """A new bill's status: waived under an approved waiver; settled ("paid", with 0.00 paid) when the
    standard itself comes to 0.00 (a tiny base rounds to nothing) — there is nothing to pay, so it is
    never owed, reminded or counted towards the six months of 党章 第九条; open otherwise."""
    if waived:
        return BillStatus.WAIVED
    return BillStatus.PAID if amount <= 0 else BillStatus.OPEN


def _compute(ctx: _Context, member: Any, month: dt.date) -> dict[str, Any] | None:
    """The fields of ``member``'s bill for ``month`` (``member`` has id, org_id, org_path and
    dues_category), or None when a declaration is needed first."""
    r = ctx.rules_by_org[(member.org_id, month)]
    declaration = rules.effective_declaration(
        ctx.declarations.get(member.id, ()), month, fix_for_year=bool(r["fix_for_year"])
    )
    category = declaration.category if declaration is not None else member.dues_category
    if declaration is None and rules.needs_declaration(category, r):
        return None
    try:
        calc = rules.amount_for(
            r,
            category=category,
            base=declaration.base if declaration is not None else None,
            chosen_amount=declaration.chosen_amount if declaration is not None else None,
            social_insurance=declaration.social_insurance if declaration is not None else None,
        )
    except rules.DuesRuleError:  # a declaration the rule in force no longer accepts: declare again
        return None
    amount, waived = calc.amount, False
    reduction = _reduction_for(ctx, member.id, month)
    if reduction is not None:
        amount, waived = rules.reduced(
            calc.amount, kind=reduction.kind, monthly_amount=reduction.monthly_amount
        )
    org_id, org_path = member.org_id, member.org_path
    if declaration is not None and declaration.pay_at_host:
        host = _host_for(ctx, member.id, month)
        if host is not None:
            org_id, org_path = host.org_id, host.path
    return {
        "org_id": org_id,
        "org_path": org_path,
        "category": category,
        "base": calc.base,
        "rate": calc.rate,
        "standard_amount": calc.amount,
        "amount": amount,
        "status": _initial_status(amount, waived),
        "declaration_id": declaration.pk if declaration is not None else None,
        "reduction_id": reduction.pk if reduction is not None else None,
        "rule_ref": calc.rule_ref,
    }


_INSERT_FIELDS = (
    "member", "month", "org", "org_path", "category", "base", "rate", "standard_amount", "amount", "paid_amount",
    "status", "declaration", "reduction", "rule_ref", "created_at",
)  # fmt: skip
_INSERT_BATCH = 500


def _bill_params(row: dict[str, Any], now: Any) -> list[Any]:
    return [
        row["member_id"], connection.ops.adapt_datefield_value(row["month"]), row["org_id"], row["org_path"],
        row["category"], row["base"], row["rate"], row["standard_amount"], row["amount"], ZERO, row["status"],
        row["declaration_id"], row["reduction_id"], row["rule_ref"], now,
    ]  # fmt: skip


def _insert_bills(rows: list[dict[str, Any]]) -> None:
    """Insert bills (``_compute`` values plus ``member_id`` and ``month``), skipping a member's month that
    already has one (a concurrent run: ``ON CONFLICT DO NOTHING``, SQLite and PostgreSQL alike).

    Not ``bulk_create``: at 100,000 members the ORM's model instances and per-field preparation cost
    several times the database's own work, and the monthly run is benchmarked against raw SQL. On
    PostgreSQL one ``INSERT … SELECT FROM unnest(arrays)`` per 5,000 bills (a statement with thousands of
    placeholders is slow to bind); elsewhere multi-row ``VALUES`` of 500. Only the model's own quoted table
    and column names are formatted into the SQL; every value is a parameter."""
    if not rows:
        return
    fields = [DuesBill._meta.get_field(name) for name in _INSERT_FIELDS]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(DuesBill._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"  # noqa: S608
            for start in range(0, len(rows), 5000):
                batch = [_bill_params(row, now) for row in rows[start : start + 5000]]
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
            return
        placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start : start + _INSERT_BATCH]
            params = [value for row in batch for value in _bill_params(row, now)]
            values_sql = ", ".join([placeholder] * len(batch))
            sql = f"INSERT INTO {table} ({columns}) VALUES {values_sql} ON CONFLICT DO NOTHING"  # noqa: S608
            cursor.execute(sql, params)


def _billable(qs: Any, month: dt.date) -> Any:
    """Members who owe dues for ``month``: current members admitted by the end of that month."""
    return qs.filter(status__in=CURRENT_STATUSES, join_date__lt=rules.add_months(month, 1))


def bills_generate(*, month: dt.date, org: Organization | None = None, actor: Any = None) -> BillsResult:
    """Create the month's bills for every member who owes dues (of ``org``'s subtree, or everyone).

    Idempotent: a member who already has a bill for the month is skipped, so the monthly job, a rerun
    and a secretary's manual run never bill twice (the unique constraint settles concurrent runs).
    ``actor`` None is the periodic job; a person needs ``add`` on ``org`` (everyone: a system admin).
    """
    month = rules.month_start(month)
    if actor is not None:
        if org is None and not is_system_admin(actor):
            raise _denied()
        if org is not None and not can(actor, "add", org):
            raise _denied()
    members = list(
        _billable(Member.objects.filter(_member_scope_q(org)), month).values_list(
            "id", "org_id", "org_path", "dues_category"
        )
    )
    existing_qs = DuesBill.objects.filter(month=month)
    if org is not None:
        existing_qs = existing_qs.filter(_member_scope_q(org, "member__"))
    existing = set(existing_qs.values_list("member_id", flat=True))
    todo = [SimpleNamespace(id=m[0], org_id=m[1], org_path=m[2], dues_category=m[3]) for m in members]
    todo = [m for m in todo if m.id not in existing]
    needs: list[int] = []
    new: list[dict[str, Any]] = []
    if todo:
        orgs = [SimpleNamespace(pk=m.org_id, path=m.org_path) for m in todo]
        ctx = _load_context(_member_scope_q(org, "member__"), [month], orgs)
        for m in todo:
            values = _compute(ctx, m, month)
            if values is None:
                needs.append(m.id)
                continue
            values.update(member_id=m.id, month=month)
            new.append(values)
    with transaction.atomic():
        created = 0
        if new:
            _insert_bills(new)
            # Counted, not assumed: a concurrent run may have created some of them (ignored conflicts).
            created = existing_qs.count() - len(existing)
        result = BillsResult(
            month=month, created=created, skipped=len(members) - len(todo), needs_declaration=tuple(needs)
        )
        if actor is None and not created:
            return result  # the daily job found nothing to do: nothing written, nothing to audit
        audit_log(
            actor=actor,
            action="dues.bills_generated",
            obj=org,
            org=org,
            changes={
                "month": month.isoformat(),
                "created": result.created,
                "skipped": result.skipped,
                "needs_declaration": len(needs),
            },
        )
    return result


_BILL_FIELDS = [
    "org", "org_path", "category", "base", "rate", "standard_amount", "amount", "status", "declaration",
    "reduction", "rule_ref",
]  # fmt: skip


def _target(member: Member) -> SimpleNamespace:
    return SimpleNamespace(
        id=member.pk, org_id=member.org_id, org_path=member.org_path, dues_category=member.dues_category
    )


def _recompute(member: Member, start: dt.date, end: dt.date | None) -> int:
    """Recompute the member's bills from ``start`` (to ``end``) that nobody has paid anything on."""
    qs = DuesBill.objects.select_for_update().filter(
        Q(status__in=[BillStatus.OPEN, BillStatus.WAIVED]) | Q(status=BillStatus.PAID, amount=0),
        member=member,
        month__gte=start,
        paid_amount=0,
    )
    if end is not None:
        qs = qs.filter(month__lte=end)
    bills = list(qs)
    if not bills:
        return 0
    months = sorted({b.month for b in bills})
    ctx = _load_context(
        Q(member_id=member.pk), months, [SimpleNamespace(pk=member.org_id, path=member.org_path)]
    )
    changed = []
    for bill in bills:
        values = _compute(ctx, _target(member), bill.month)
        if values is None:
            continue
        if any(getattr(bill, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(bill, k, v)
            changed.append(bill)
    if changed:
        DuesBill.objects.bulk_update(changed, _BILL_FIELDS)
    return len(changed)


def bills_recompute(
    *, actor: Any, member: Member, start_month: dt.date, end_month: dt.date | None = None
) -> int:
    """Recompute ``member``'s unpaid bills from ``start_month`` (to ``end_month``): after a late
    declaration. Bills with anything paid on them are left as they are. (An approved hardship reduction
    adjusts its period's bills in ``dues.reductions``, part-paid ones included.) Returns the number of bills changed."""
    if actor is not None and not can(actor, "change", member.org):
        raise _denied()
    start = rules.month_start(start_month)
    end = rules.month_start(end_month) if end_month else None
    with transaction.atomic():
        changed = _recompute(member, start, end)
        audit_log(
            actor=actor,
            action="dues.bills_recomputed",
            obj=member,
            org=member.org,
            changes={
                "from": start.isoformat(),
                "until": end.isoformat() if end else None,
                "changed": changed,
            },
        )
    return changed


def _backfill(member: Member, start: dt.date, today: dt.date) -> int:
    """Create the member's missing bills from ``start`` to the current month."""
    months = [m for m in rules.months_between(start, today) if m <= rules.month_start(today)]
    join = rules.month_start(member.join_date)
    months = [m for m in months if m >= join]
    if not months or member.status not in CURRENT_STATUSES:
        return 0
    have = set(DuesBill.objects.filter(member=member, month__in=months).values_list("month", flat=True))
    months = [m for m in months if m not in have]
    if not months:
        return 0
    ctx = _load_context(
        Q(member_id=member.pk), months, [SimpleNamespace(pk=member.org_id, path=member.org_path)]
    )
    new = []
    for month in months:
        values = _compute(ctx, _target(member), month)
        if values is not None:
            new.append({**values, "member_id": member.pk, "month": month})
    _insert_bills(new)
    return len(new)


# ── declarations ──────────────────────────────────────────────────────────────────────────────────


def _check_attachment(upload: Any) -> None:
    """A pay slip or pension statement: pdf, jpg or png (read from the content), not too large."""
    limit = getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    size = getattr(upload, "size", None) or 0
    if size == 0:
        raise ValidationError({"attachment": _("The file is empty.")})
    if size > limit:
        raise ValidationError(
            {"attachment": _("The file is larger than %(mb)d MB.") % {"mb": max(limit // (1024 * 1024), 1)}}
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not any(head.startswith(magic) for magic in _ATTACHMENT_TYPES):
        raise ValidationError(
            {"attachment": _("Attach a PDF, JPG or PNG file (a pay slip or pension statement).")}
        )


def declaration_create(
    *,
    actor: Any,
    member: Member,
    category: str,
    base: Any = None,
    chosen_amount: Any = None,
    effective_month: dt.date,
    pay_at_host: bool = False,
    note: str = "",
    attachment: Any = None,
    social_insurance: Any = None,
    today: dt.date | None = None,
) -> DuesDeclaration:
    """Record ``member``'s dues base from ``effective_month`` on (a change of pay applies from the month
    of the new pay, 规定 第十条; or from next January where the rule fixes amounts for the year).

    The input is checked by the calculator (a base for employed members and retirees, a farmer's amount
    within 0.20–1.00; errors name the field and the article). A second declaration for the same month
    replaces the first. Unpaid bills from that month are recomputed, and bills missing because the
    member had no declaration are created for the months a back payment can still cover
    (``back_payment_max_months``, up to the current month)."""
    if not can(actor, "change", member.org):
        raise _denied()
    if member.status not in CURRENT_STATUSES:
        raise ValidationError({"member": _("Only a current member declares a dues base.")})
    today = today or timezone.localdate()
    month = rules.month_start(effective_month)
    calc = rules.dues_calculate(
        category=category,
        base=base,
        chosen_amount=chosen_amount,
        social_insurance=social_insurance,
        on=month,
        org=member.org,
    )
    kind = rules.category_kind(category, rules.rule_for(month, member.org))
    chosen = calc.amount if kind == "chosen" else None
    base_value = rules.parse_money(base, field="base") if base not in (None, "") else None
    si_value = (
        rules.parse_money(social_insurance, field="social_insurance")
        if social_insurance not in (None, "")
        else None
    )
    if pay_at_host and not member.flow_certificates.filter(status="active", host_org__isnull=False).exists():
        raise ValidationError(
            {
                "pay_at_host": _(
                    "Only a flowing member holding an activity certificate of an organisation on the platform "
                    "can pay at the host (%(article)s)."
                )
                % {"article": rules.article(rules.rule_for(month, member.org), "where")}
            }
        )
    if attachment:
        _check_attachment(attachment)
    with transaction.atomic():
        declaration = (
            DuesDeclaration.objects.select_for_update().filter(member=member, effective_month=month).first()
        )
        before = None
        if declaration is not None:
            before = {
                "category": declaration.category,
                "base": declaration.base,
                "chosen_amount": declaration.chosen_amount,
                "pay_at_host": declaration.pay_at_host,
            }
        else:
            declaration = DuesDeclaration(member=member, effective_month=month)
        declaration.category = category
        declaration.base = base_value
        declaration.chosen_amount = chosen
        declaration.social_insurance = si_value
        declaration.pay_at_host = bool(pay_at_host)
        declaration.note = note.strip()[:200]
        declaration.declared_by = actor if getattr(actor, "is_authenticated", False) else None
        if attachment:
            declaration.attachment = attachment
        declaration.save()
        recomputed = _recompute(member, month, None)
        r = rules.rule_for(today, member.org)
        # The months a payment recorded today may still settle: the current one and
        # back_payment_max_months (6) before it, as payments.payment_record accepts.
        window = rules.add_months(rules.month_start(today), -int(r["back_payment_max_months"]))
        created = _backfill(member, max(month, window), today)
        audit_log(
            actor=actor,
            action="dues.declared",
            obj=declaration,
            org=member.org,
            changes={
                "member": member.pk,
                "effective_month": month.isoformat(),
                "category": category,
                "base": base_value,
                "chosen_amount": chosen,
                "amount": calc.amount,
                "rule": calc.rule_ref,
                "replaced": before,
                "bills_recomputed": recomputed,
                "bills_created": created,
            },
        )
    return declaration


# ── a branch's arrangements ───────────────────────────────────────────────────────────────────────


def org_setting_set(
    *,
    actor: Any,
    org: Organization,
    quarterly_allowed: bool,
    decided_on: dt.date | None = None,
    note: str = "",
) -> DuesOrgSetting:
    """Record the branch's decision whether members may pay quarterly (经党支部同意可每季度交纳)."""
    if not can(actor, "change", org):
        raise _denied()
    if org.org_type not in BRANCH_TYPES:
        raise ValidationError({"org": _("Only a branch decides how its members pay dues.")})
    with transaction.atomic():
        setting, created = DuesOrgSetting.objects.select_for_update().get_or_create(org=org)
        before = {"quarterly_allowed": setting.quarterly_allowed, "decided_on": setting.decided_on}
        setting.quarterly_allowed = bool(quarterly_allowed)
        setting.decided_on = decided_on
        setting.note = note.strip()[:200]
        setting.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        setting.save()
        audit_log(
            actor=actor,
            action="dues.org_setting_set",
            obj=setting,
            org=org,
            changes={
                "quarterly_allowed": setting.quarterly_allowed,
                "decided_on": decided_on,
                "before": None if created else before,
            },
        )
    return setting
