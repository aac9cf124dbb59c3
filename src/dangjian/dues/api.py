"""Dues over the API (issue 4's contract).

- ``GET /api/v1/dues/calculate?category=&base=&on=`` → ``{"amount": "15.00", "rate": "0.005" | null,
  "rule": "dues@2008"}`` (plus the base used, the article and the band); any logged-in user. A farmer's
  chosen amount is ``chosen_amount=``. A base that is negative, not a number or has more than two
  decimals answers 400 in the error format, with the rule and the article.
- ``GET /api/v1/dues/bills/?member=&year=`` (also ``org=``, ``month=YYYY-MM``, ``status=``),
  ``GET /api/v1/dues/bills/{id}/``; ``POST /api/v1/dues/bills/generate/`` ``{"month": "YYYY-MM",
  "org": id}`` bills the month now for a subtree the caller may add in (the daily job does it anyway).
- ``GET /api/v1/dues/summary/?org=&period=YYYY-MM`` (``period=YYYY`` for a year, or ``from=&to=``):
  due, paid, outstanding, collection rate, by child organisation and by category. Without ``org``, the
  caller's highest organisation.
- ``GET /api/v1/dues/arrears/?org=&on=``: members owing dues, months owed and consecutive months.
- ``GET /api/v1/dues/members/{id}/?year=``: a member's year (bills, payments, owed, how computed).
- ``GET/POST /api/v1/dues/declarations/`` (``?member=``), ``GET /api/v1/dues/declarations/{id}/``.
- ``GET/POST /api/v1/dues/org-settings/``: a branch's decision on quarterly payment (POST sets it, 200).

Money is written as strings with two decimals ("15.00"), rates as decimals ("0.005"), months as
``YYYY-MM``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import can, is_system_admin, orgs_with, path_prefix_q
from dangjian.dues import rules, selectors, services
from dangjian.dues.models import DuesBill, DuesDeclaration, DuesOrgSetting
from dangjian.dues.rules import DuesRuleError
from dangjian.members.choices import DuesCategory
from dangjian.members.models import Member
from dangjian.orgs.models import Organization

_YEAR = re.compile(r"^\d{4}$")


def rule_error_response(exc: DuesRuleError) -> Response:
    """A refused input as the API's error format, with the rule and the article that refused it."""
    fields = {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    first = next(iter(fields.values()))[0]
    return Response(
        {
            "error": {
                "code": "invalid",
                "message": _("Please correct the highlighted fields: %(first)s") % {"first": first},
                "fields": fields,
                "violation": exc.violation,
                "rule": rules.RULE_KEY,
                "article": exc.article,
                "rule_version": exc.rule_ref,
            }
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def invalid(field: str, message: str) -> Response:
    return Response(
        {
            "error": {
                "code": "invalid",
                "message": _("Please correct the highlighted fields: %(first)s") % {"first": message},
                "fields": {field: [message]},
            }
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def parse_date(raw: Any, default: dt.date | None = None) -> dt.date | None:
    if raw in (None, ""):
        return default
    try:
        day = dt.date.fromisoformat(str(raw))
    except ValueError:
        return None
    return day if rules.month_in_range(day) else None


class CalculateView(APIView):
    """The monthly dues of a category on a base, with the rate (null for a fixed or chosen amount) and
    the rule version that decided it."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "category",
                OpenApiTypes.STR,
                required=True,
                enum=list(rules.CATEGORIES),
                description="dues category",
            ),
            OpenApiParameter(
                "base", OpenApiTypes.STR, description="monthly base in yuan (after-tax pay or total pension)"
            ),
            OpenApiParameter(
                "chosen_amount", OpenApiTypes.STR, description="a farmer's chosen amount (0.20–1.00)"
            ),
            OpenApiParameter(
                "social_insurance",
                OpenApiTypes.STR,
                description="personal social-insurance contributions (deducted where the rule says so)",
            ),
            OpenApiParameter("on", OpenApiTypes.DATE, description="date (default: today)"),
            OpenApiParameter("org", OpenApiTypes.INT, description="organisation whose local options apply"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        on = parse_date(params.get("on"), timezone.localdate())
        if on is None:
            return invalid("on", _("Enter a valid date (YYYY-MM-DD)."))
        org = None
        if params.get("org"):
            org_id = rules.parse_int(params["org"])
            org = (
                Organization.objects.restrict(request.user, "view").filter(pk=org_id).first()
                if org_id is not None
                else None
            )
            if org is None:
                return invalid("org", _("Choose an organisation you can see."))
        category = params.get("category", "")
        if not category:
            return invalid("category", _("Choose a dues category."))
        try:
            result = rules.dues_calculate(
                category=category,
                base=params.get("base"),
                chosen_amount=params.get("chosen_amount"),
                social_insurance=params.get("social_insurance"),
                on=on,
                org=org,
            )
        except DuesRuleError as exc:
            return rule_error_response(exc)
        return Response(result.as_dict())


# ── helpers ───────────────────────────────────────────────────────────────────────────────────────


def parse_month(raw: Any) -> dt.date | None:
    """``YYYY-MM`` (or a date of the month) → the month's first day; None if invalid (``rules.parse_month``)."""
    return rules.parse_month(raw, strict=True)


def month_key(day: dt.date | None) -> str | None:
    return f"{day:%Y-%m}" if day else None


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def int_param(request: Request, name: str) -> int | None:
    """A whole-number query parameter (an id, a count), or None when absent; 400 when it is not one."""
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    number = rules.parse_int(value)
    if number is None:
        raise exceptions.ValidationError({name: [_("Give a whole number.")]})
    return number


def _year_message() -> str:
    return _("Enter a year from %(min)s to %(max)s.") % {"min": rules.YEAR_MIN, "max": rules.YEAR_MAX}


def year_param(request: Request, name: str = "year") -> int | None:
    """A year query parameter in the years dues accept, or None when absent; 400 otherwise."""
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    year = rules.parse_year(value)
    if year is None:
        raise exceptions.ValidationError({name: [_year_message()]})
    return year


def _report_org(request: Request) -> Organization:
    """The organisation a report is about: ``?org=`` if the caller sees its whole subtree, else 404;
    without it, the caller's highest organisation (the root for a system administrator)."""
    raw = request.query_params.get("org")
    user = request.user
    if raw not in (None, ""):
        org_id = rules.parse_int(raw)
        if org_id is None:
            raise Http404
        org = Organization.objects.filter(pk=org_id).first()
        if org is None or not can(user, "view", org):
            raise Http404
        return org
    tops = orgs_with(user, "view")
    if tops:
        return tops[0]
    if is_system_admin(user):
        root = Organization.objects.filter(depth=1).order_by("path").first()
        if root is not None:
            return root
    raise Http404


@extend_schema_field(OpenApiTypes.STR)
class MonthField(serializers.Field):
    """A month as ``YYYY-MM`` (or a date of it), held as its first day."""

    default_error_messages = {"invalid": gettext_lazy("Enter a month as YYYY-MM, for example 2026-03.")}

    def to_internal_value(self, data: Any) -> dt.date:
        month = parse_month(data)
        if month is None:
            self.fail("invalid")
        return month  # type: ignore[return-value]

    def to_representation(self, value: dt.date) -> str:
        return f"{value:%Y-%m}"


@extend_schema_field(OpenApiTypes.STR)
class AmountField(serializers.CharField):
    """A yuan amount as typed ("4500", "4500.50", 4500): checked by the dues rules, not here, so that
    a bad value answers with the rule's own message and article."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)


# ── bills ─────────────────────────────────────────────────────────────────────────────────────────


class BillSerializer(serializers.ModelSerializer):
    """A monthly bill: what was due, how it was computed (base × rate, or a fixed amount, and the rule
    version), what was paid and what is outstanding."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)
    month = MonthField(read_only=True)
    category_display = serializers.CharField(source="get_category_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    outstanding = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)
    rate = serializers.SerializerMethodField()

    class Meta:
        model = DuesBill
        fields = [
            "id", "member", "member_name", "org", "org_name", "month", "category", "category_display", "base",
            "rate", "standard_amount", "amount", "paid_amount", "outstanding", "status", "status_display",
            "declaration", "reduction", "rule_ref", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_rate(self, obj: DuesBill) -> str | None:
        return None if obj.rate is None else str(obj.rate.normalize())


class GenerateSerializer(serializers.Serializer):
    month = MonthField()
    org = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)


class GenerateResultSerializer(serializers.Serializer):
    month = serializers.CharField()
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    needs_declaration = serializers.ListField(child=serializers.IntegerField())


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("member", OpenApiTypes.INT, description="member id"),
            OpenApiParameter("year", OpenApiTypes.INT, description="year, e.g. 2026"),
            OpenApiParameter("month", OpenApiTypes.STR, description="month, YYYY-MM"),
            OpenApiParameter(
                "org", OpenApiTypes.INT, description="collected in, or members of, this subtree"
            ),
            OpenApiParameter("status", OpenApiTypes.STR, description="open, part_paid, paid or waived"),
        ]
    ),
    generate=extend_schema(request=GenerateSerializer, responses={201: GenerateResultSerializer}),
)
class DuesBillViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Monthly bills within the caller's scope (a member: their own)."""

    queryset = DuesBill.objects.select_related("member", "org")
    serializer_class = BillSerializer

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        params = self.request.query_params
        member = int_param(self.request, "member")
        if member is not None:
            qs = qs.filter(member_id=member)
        year = year_param(self.request)
        if year is not None:
            qs = qs.filter(month__gte=dt.date(year, 1, 1), month__lte=dt.date(year, 12, 1))
        if params.get("month"):
            month = parse_month(params["month"])
            if month is None:
                raise exceptions.ValidationError(
                    {"month": [_("Enter a month as YYYY-MM, for example 2026-03.")]}
                )
            qs = qs.filter(month=month)
        org_id = int_param(self.request, "org")
        if org_id is not None:
            org = Organization.objects.restrict(self.request.user, "view").filter(pk=org_id).first()
            if org is None:
                return qs.none()
            qs = qs.filter(path_prefix_q("org_path", org.path) | path_prefix_q("member__org_path", org.path))
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs.order_by("-month", "member_id")

    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = GenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        if v["month"] > rules.month_start(timezone.localdate()):
            raise exceptions.ValidationError({"month": [_("Choose a month up to the current one.")]})
        org = Organization.objects.restrict(request.user, "add").filter(pk=v["org"]).first()
        if org is None:
            raise exceptions.ValidationError({"org": [_("Choose an organisation you manage.")]})
        result = services.bills_generate(month=v["month"], org=org, actor=request.user)
        return Response(
            {
                "month": month_key(result.month),
                "created": result.created,
                "skipped": result.skipped,
                "needs_declaration": list(result.needs_declaration),
            },
            status=status.HTTP_201_CREATED,
        )


# ── declarations ──────────────────────────────────────────────────────────────────────────────────


class DeclarationSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True)
    effective_month = MonthField(read_only=True)
    category_display = serializers.CharField(source="get_category_display", read_only=True)
    declared_by_name = serializers.SerializerMethodField()
    has_attachment = serializers.SerializerMethodField()

    class Meta:
        model = DuesDeclaration
        fields = [
            "id", "member", "member_name", "category", "category_display", "base", "chosen_amount",
            "social_insurance", "effective_month", "pay_at_host", "note", "has_attachment", "declared_by_name",
            "declared_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_declared_by_name(self, obj: DuesDeclaration) -> str:
        user = obj.declared_by
        return (user.full_name or user.username) if user is not None else ""

    def get_has_attachment(self, obj: DuesDeclaration) -> bool:
        return bool(obj.attachment)


class DeclarationCreateSerializer(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    category = serializers.ChoiceField(choices=DuesCategory.choices)
    base = AmountField()
    chosen_amount = AmountField()
    social_insurance = AmountField()
    effective_month = MonthField()
    pay_at_host = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    attachment = serializers.FileField(required=False, allow_null=True)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("member", OpenApiTypes.INT, description="member id")]),
    create=extend_schema(request=DeclarationCreateSerializer, responses={201: DeclarationSerializer}),
)
class DuesDeclarationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Dues base declarations; a new one is recorded by the member's branch (replacing one of the same
    month), and recomputes the member's unpaid bills from that month."""

    queryset = DuesDeclaration.objects.select_related("member", "declared_by")
    serializer_class = DeclarationSerializer

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action == "list":
            member = int_param(self.request, "member")
            if member is not None:
                qs = qs.filter(member_id=member)
        return qs.order_by("member_id", "-effective_month", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = DeclarationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        member = Member.objects.restrict(request.user, "change").filter(pk=v["member"]).first()
        if member is None:
            raise exceptions.ValidationError(
                {"member": [_("Choose a member of an organisation you manage.")]}
            )
        try:
            declaration = services.declaration_create(
                actor=request.user,
                member=member,
                category=v["category"],
                base=v.get("base"),
                chosen_amount=v.get("chosen_amount"),
                social_insurance=v.get("social_insurance"),
                effective_month=v["effective_month"],
                pay_at_host=v["pay_at_host"],
                note=v["note"],
                attachment=v.get("attachment"),
            )
        except DuesRuleError as exc:
            return rule_error_response(exc)
        return Response(DeclarationSerializer(declaration).data, status=status.HTTP_201_CREATED)


# ── a branch's arrangements ───────────────────────────────────────────────────────────────────────


class OrgSettingSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)

    class Meta:
        model = DuesOrgSetting
        fields = ["id", "org", "org_name", "quarterly_allowed", "decided_on", "note", "updated_at"]
        read_only_fields = ["id", "org_name", "updated_at"]


class OrgSettingSetSerializer(serializers.Serializer):
    org = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    quarterly_allowed = serializers.BooleanField()
    decided_on = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


@extend_schema_view(
    create=extend_schema(request=OrgSettingSetSerializer, responses={200: OrgSettingSerializer})
)
class DuesOrgSettingViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Whether a branch's members may pay quarterly. POST sets it (creating or replacing), answering 200."""

    queryset = DuesOrgSetting.objects.select_related("org").order_by("org__path")
    serializer_class = OrgSettingSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, "change"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = OrgSettingSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        org = Organization.objects.restrict(request.user, "change").filter(pk=v["org"]).first()
        if org is None:
            raise exceptions.ValidationError({"org": [_("Choose an organisation you manage.")]})
        setting = services.org_setting_set(
            actor=request.user,
            org=org,
            quarterly_allowed=v["quarterly_allowed"],
            decided_on=v["decided_on"],
            note=v["note"],
        )
        return Response(OrgSettingSerializer(setting).data)


# ── reports ───────────────────────────────────────────────────────────────────────────────────────


def _summary_row_json(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "org":
            out["org"] = value.pk if value is not None else None
        elif key == "collection_rate":
            out[key] = None if value is None else str(value)
        elif isinstance(value, Decimal):
            out[key] = money(value)
        elif isinstance(value, dt.date):
            out[key] = month_key(value)
        else:
            out[key] = value
    return out


def _period(request: Request) -> tuple[dt.date, dt.date]:
    params = request.query_params
    if params.get("period"):
        raw = str(params["period"]).strip()
        if _YEAR.match(raw):
            year = rules.parse_year(raw)
            if year is None:
                raise exceptions.ValidationError({"period": [_year_message()]})
            return dt.date(year, 1, 1), dt.date(year, 12, 1)
        month = parse_month(raw)
        if month is None:
            raise exceptions.ValidationError(
                {
                    "period": [
                        _("Enter the period as YYYY-MM (a month) or YYYY (a year), from %(min)s to %(max)s.")
                        % {"min": rules.YEAR_MIN, "max": rules.YEAR_MAX}
                    ]
                }
            )
        return month, month
    if params.get("from") or params.get("to"):
        start, end = parse_month(params.get("from")), parse_month(params.get("to") or params.get("from"))
        if start is None or end is None:
            raise exceptions.ValidationError(
                {
                    "from": [
                        _("Enter months as YYYY-MM, for example 2026-03, from %(min)s to %(max)s.")
                        % {"min": rules.YEAR_MIN, "max": rules.YEAR_MAX}
                    ]
                }
            )
        if end < start or (end.year - start.year) * 12 + end.month - start.month > 120:
            raise exceptions.ValidationError(
                {"to": [_("Choose an end month after the start, at most ten years later.")]}
            )
        return start, end
    month = rules.month_start(timezone.localdate())
    return month, month


class SummaryView(APIView):
    """Collection of a subtree for a period: due, paid, outstanding, collection rate (paid ÷ due, null
    when nothing was due), by child organisation and by category, and the voluntary extra dues."""

    @extend_schema(
        parameters=[
            OpenApiParameter("org", OpenApiTypes.INT, description="organisation (default: your highest)"),
            OpenApiParameter(
                "period", OpenApiTypes.STR, description="YYYY-MM, or YYYY for a year (default: this month)"
            ),
            OpenApiParameter(
                "from", OpenApiTypes.STR, description="first month, YYYY-MM (instead of period)"
            ),
            OpenApiParameter("to", OpenApiTypes.STR, description="last month, YYYY-MM"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        org = _report_org(request)
        start, end = _period(request)
        data = selectors.summary(actor=request.user, org=org, period_start=start, period_end=end)
        body = _summary_row_json({k: v for k, v in data.items() if k not in ("org", "by_org", "by_category")})
        body["org"] = {"id": org.pk, "name": org.name}
        body["by_org"] = [_summary_row_json(row) for row in data["by_org"]]
        body["by_category"] = [_summary_row_json(row) for row in data["by_category"]]
        return Response(body)


class ArrearsView(APIView):
    """Members of a subtree owing dues on a date: months owed, the longest run of consecutive months
    (党章 第九条 counts six), the amount, and whether an approved reduction covers any of them."""

    @extend_schema(
        parameters=[
            OpenApiParameter("org", OpenApiTypes.INT, description="organisation (default: your highest)"),
            OpenApiParameter("on", OpenApiTypes.DATE, description="date (default: today)"),
            OpenApiParameter(
                "min_months", OpenApiTypes.INT, description="only members owing this many months"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        org = _report_org(request)
        on = parse_date(request.query_params.get("on"), timezone.localdate())
        if on is None:
            raise exceptions.ValidationError({"on": [_("Enter a valid date (YYYY-MM-DD).")]})
        min_months = int_param(request, "min_months") or 1
        rows = selectors.arrears(actor=request.user, org=org, on=on, min_months=min_months)
        return Response(
            {
                "org": {"id": org.pk, "name": org.name},
                "on": on.isoformat(),
                "count": len(rows),
                "results": [
                    {
                        "member": row["member"].pk,
                        "member_name": row["member"].name,
                        "org": row["member"].org_id,
                        "org_name": row["member"].org.name,
                        "months": [month_key(m) for m in row["months"]],
                        "months_owed": row["months_owed"],
                        "consecutive": row["consecutive"],
                        "since": month_key(row["since"]),
                        "amount": money(row["amount"]),
                        "reduction": row["reduction"],
                        "consecutive_without_reduction": row["unexcused"],
                    }
                    for row in rows
                ],
            }
        )


class MemberDuesView(APIView):
    """A member's dues for a year: bills, payments, what is owed, the declaration in effect and how the
    amount is computed. 404 for a member outside the caller's scope (a member sees only their own)."""

    @extend_schema(
        parameters=[OpenApiParameter("year", OpenApiTypes.INT, description="year (default: this year)")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int) -> Response:
        member = Member.objects.restrict(request.user, "view").filter(pk=pk).select_related("org").first()
        if member is None:
            raise Http404
        year = year_param(request) or timezone.localdate().year
        data = selectors.member_dues(actor=request.user, member=member, year=year)
        declaration = data["declaration"]
        computed = data["computed"]
        return Response(
            {
                "member": member.pk,
                "member_name": member.name,
                "org": member.org_id,
                "org_name": member.org.name,
                "year": year,
                "category": data["category"],
                "declaration": DeclarationSerializer(declaration).data if declaration is not None else None,
                "computed": computed.as_dict() if computed is not None else None,
                "needs_declaration": data["needs_declaration"],
                "due": money(data["due"]),
                "paid": money(data["paid"]),
                "outstanding": money(data["outstanding"]),
                "extra": money(data["extra"]),
                "owed": money(data["owed"]),
                "owed_months": [month_key(m) for m in data["owed_months"]],
                "bills": BillSerializer(data["bills"], many=True).data,
                "payments": [
                    {
                        "id": p.pk,
                        "paid_on": p.paid_on.isoformat(),
                        "method": p.method,
                        "dues_amount": money(p.dues_amount),
                        "extra_amount": money(p.extra_amount),
                        "status": p.status,
                        "months": [month_key(pm.bill.month) for pm in p.months.all()],
                        "by_proxy": p.by_proxy,
                    }
                    for p in data["payments"]
                ],
                "standard": data["standard"],
            }
        )
