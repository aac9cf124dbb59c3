"""Dues money over the API: payments, hardship reductions and remittances (issue 4).

- ``GET/POST /api/v1/dues/payments/`` (the contract: record a payment), ``GET /api/v1/dues/payments/{id}/``,
  ``POST /api/v1/dues/payments/{id}/reverse/``;
- ``GET/POST /api/v1/dues/reductions/``, ``GET …/{id}/``, ``POST …/{id}/decide/`` (the branch, then the
  higher committee), ``POST …/{id}/withdraw/``;
- ``GET/POST /api/v1/dues/remittances/``, ``GET …/{id}/``, ``POST …/{id}/confirm/`` and
  ``POST …/{id}/return/`` (the receiving organisation).

Months are written ``YYYY-MM`` (``YYYY-MM-DD`` is accepted and means its month). A payment sent again
with the same ``source_key`` (or ``Idempotency-Key`` header) by the same user and with the same request
answers 200 with the payment booked the first time, and books nothing; keys are the caller's own (another
user's identical key is a different key), and a key reused for a different request (another member,
other months, method or amounts) answers 409 ``idempotency_key_reused``. A refusal by a dues rule answers 400 with
``{"error": {"code": "rule_violation", "rule": "dues", "article": ..., "violation": ..., "message": ...}}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import can, path_prefix_q
from dangjian.dues import payments, reductions, remittances, rules
from dangjian.dues.api import MonthField, int_param, year_param
from dangjian.dues.models import DuesBill, DuesPayment, DuesPaymentMonth, DuesReduction, DuesRemittance
from dangjian.dues.payments import IdempotencyKeyReusedError, RuleViolationError
from dangjian.members.models import Member
from dangjian.orgs.models import Organization


def rule_violation_response(exc: RuleViolationError) -> Response:
    v = exc.violation
    fields = {v.field: [v.message]} if v.field else {}
    return Response(
        {
            "error": {
                "code": "rule_violation",
                "rule": v.rule,
                "article": v.article,
                "message": v.message,
                "violation": v.code,
                "rule_version": v.rule_ref,
                "fields": fields,
            }
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def _user_name(user: Any) -> str:
    return (user.full_name or user.username) if user is not None else ""


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_reused"


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


# ── payments ──────────────────────────────────────────────────────────────────────────────────────


class PaymentMonthSerializer(serializers.ModelSerializer):
    month = MonthField(source="bill.month", read_only=True)

    class Meta:
        model = DuesPaymentMonth
        fields = ["bill", "month", "amount"]


class PaymentSerializer(serializers.ModelSerializer):
    """A payment as booked: the months it settled, the extra, how and by whom it was paid."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)
    method_display = serializers.CharField(source="get_method_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    months = PaymentMonthSerializer(many=True, read_only=True)
    recorded_by_name = serializers.SerializerMethodField()
    ledger_hash = serializers.CharField(source="ledger_entry.hash", read_only=True, default=None)

    class Meta:
        model = DuesPayment
        fields = [
            "id", "member", "member_name", "org", "org_name", "paid_on", "method", "method_display", "reference",
            "months", "dues_amount", "extra_amount", "total", "extra_to_central", "by_proxy", "proxy_name",
            "status", "status_display", "reversal_reason", "rule_ref", "ledger_entry", "ledger_hash",
            "reversal_entry", "recorded_by", "recorded_by_name", "recorded_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_recorded_by_name(self, obj: DuesPayment) -> str:
        return _user_name(obj.recorded_by)


class PaymentCreateSerializer(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    months = serializers.ListField(child=MonthField(), required=False, default=list)
    # Not a choice field: any other value is refused by the rule (no advance by the org, no deduction
    # from pay), with the article.
    method = serializers.CharField(max_length=32, help_text="cash, bank_transfer or online")
    paid_on = serializers.DateField(required=False)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    extra_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, default=Decimal("0.00"), min_value=Decimal("0")
    )
    by_proxy = serializers.BooleanField(required=False, default=False)
    proxy_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)
    source_key = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=80,
        help_text="An idempotency key: the same key sent again returns the first payment.",
    )


def _payment_queryset():
    return DuesPayment.objects.select_related(
        "member", "org", "recorded_by", "ledger_entry"
    ).prefetch_related(
        Prefetch("months", queryset=DuesPaymentMonth.objects.select_related("bill").order_by("bill__month"))
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("member", int, description="Payments of this member."),
            OpenApiParameter("org", int, description="Payments collected in this organisation's subtree."),
            OpenApiParameter("year", int, description="Paid in this year."),
            OpenApiParameter("status", str, description="booked or reversed."),
        ]
    ),
    create=extend_schema(
        request=PaymentCreateSerializer, responses={201: PaymentSerializer, 200: PaymentSerializer}
    ),
    reverse=extend_schema(request=ReasonSerializer, responses={200: PaymentSerializer}),
)
class DuesPaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Dues payments in the user's scope; recording one is the issue's contract (``POST``)."""

    queryset = _payment_queryset()
    serializer_class = PaymentSerializer
    filterset_fields: list[str] = []

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        member = int_param(self.request, "member")
        if member is not None:
            qs = qs.filter(member_id=member)
        org = int_param(self.request, "org")
        if org is not None:
            top = Organization.objects.filter(pk=org).first()
            qs = qs.filter(path_prefix_q("org_path", top.path)) if top else qs.none()
        year = year_param(self.request)
        if year is not None:
            qs = qs.filter(paid_on__year=year)
        if self.request.query_params.get("status"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs

    def create(self, request, *args, **kwargs):
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = PaymentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        # The member's own branch, or the host organisation collecting their bills (流动党员 paying there).
        member = (
            Member.objects.filter(pk=v["member"])
            .filter(
                Q(pk__in=Member.objects.restrict(request.user, "change").values("pk"))
                | Q(pk__in=DuesBill.objects.restrict(request.user, "change").values("member_id"))
            )
            .select_related("org")
            .first()
        )
        if member is None:
            raise exceptions.ValidationError({"member": [_("Choose a member whose dues you collect.")]})
        key = (v["source_key"] or request.headers.get("Idempotency-Key", "")).strip()[:80]
        try:
            payment = payments.payment_record(
                actor=request.user,
                member=member,
                months=v["months"],
                method=v["method"],
                paid_on=v.get("paid_on") or timezone.localdate(),
                reference=v["reference"],
                extra_amount=v["extra_amount"],
                by_proxy=v["by_proxy"],
                proxy_name=v["proxy_name"],
                amount=v.get("amount"),
                # The caller's own key: another user sending the same key is another request.
                source_key=f"api:{request.user.pk}:{key}" if key else None,
            )
        except RuleViolationError as exc:
            return rule_violation_response(exc)
        except IdempotencyKeyReusedError as exc:
            raise IdempotencyKeyReused(exc.messages[0]) from exc
        replayed = getattr(payment, "replayed", False)
        payment = _payment_queryset().get(pk=payment.pk)
        return Response(
            PaymentSerializer(payment).data,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        )

    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        """Reverse a payment recorded by mistake (a reason is required): the bills open again."""
        payment = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payments.payment_reverse(actor=request.user, payment=payment, reason=body.validated_data["reason"])
        return Response(PaymentSerializer(_payment_queryset().get(pk=payment.pk)).data)


# ── reductions ────────────────────────────────────────────────────────────────────────────────────


class ReductionSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    start_month = MonthField(read_only=True)
    end_month = MonthField(read_only=True)
    higher_org_name = serializers.CharField(source="higher_org.name", read_only=True, default="")
    proposed_by_name = serializers.SerializerMethodField()
    branch_decided_by_name = serializers.SerializerMethodField()
    higher_decided_by_name = serializers.SerializerMethodField()

    class Meta:
        model = DuesReduction
        fields = [
            "id", "member", "member_name", "kind", "kind_display", "monthly_amount", "start_month", "end_month",
            "reason", "status", "status_display", "proposed_by", "proposed_by_name", "proposed_at",
            "branch_decided_by", "branch_decided_by_name", "branch_decided_at", "higher_org", "higher_org_name",
            "higher_decided_by", "higher_decided_by_name", "higher_decided_at", "decision_reason",
        ]  # fmt: skip
        read_only_fields = fields

    def get_proposed_by_name(self, obj: DuesReduction) -> str:
        return _user_name(obj.proposed_by)

    def get_branch_decided_by_name(self, obj: DuesReduction) -> str:
        return _user_name(obj.branch_decided_by)

    def get_higher_decided_by_name(self, obj: DuesReduction) -> str:
        return _user_name(obj.higher_decided_by)


class ReductionCreateSerializer(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    kind = serializers.ChoiceField(choices=DuesReduction.Kind.choices)
    start_month = MonthField()
    end_month = MonthField()
    reason = serializers.CharField(max_length=300)
    monthly_amount = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, allow_null=True, min_value=Decimal("0")
    )


class DecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


def _reduction_queryset():
    return DuesReduction.objects.select_related(
        "member", "higher_org", "proposed_by", "branch_decided_by", "higher_decided_by"
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("member", int, description="Reductions of this member."),
            OpenApiParameter(
                "status", str, description="proposed, branch_approved, approved, rejected, withdrawn."
            ),
        ]
    ),
    create=extend_schema(request=ReductionCreateSerializer, responses={201: ReductionSerializer}),
    decide=extend_schema(request=DecisionSerializer, responses={200: ReductionSerializer}),
    withdraw=extend_schema(request=ReasonSerializer, responses={200: ReductionSerializer}),
)
class DuesReductionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Hardship reductions and waivers: proposed by the branch, approved by the branch and then the
    higher committee (两级审批)."""

    queryset = _reduction_queryset()
    serializer_class = ReductionSerializer
    filterset_fields: list[str] = []

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        member = int_param(self.request, "member")
        if member is not None:
            qs = qs.filter(member_id=member)
        if self.request.query_params.get("status"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs

    def create(self, request, *args, **kwargs):
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = ReductionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        member = (
            Member.objects.restrict(request.user, "change")
            .select_related("org")
            .filter(pk=v["member"])
            .first()
        )
        if member is None:
            raise exceptions.ValidationError(
                {"member": [_("Choose a member of an organisation you manage.")]}
            )
        reduction = reductions.reduction_propose(
            actor=request.user,
            member=member,
            kind=v["kind"],
            start_month=v["start_month"],
            end_month=v["end_month"],
            reason=v["reason"],
            monthly_amount=v.get("monthly_amount"),
        )
        return Response(
            ReductionSerializer(_reduction_queryset().get(pk=reduction.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """The next approval: the branch's, then the higher committee's (someone else)."""
        reduction = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            reductions.reduction_decide(
                actor=request.user,
                reduction=reduction,
                approve=body.validated_data["approve"],
                reason=body.validated_data["reason"],
            )
        except RuleViolationError as exc:
            return rule_violation_response(exc)
        return Response(ReductionSerializer(_reduction_queryset().get(pk=reduction.pk)).data)

    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """The branch withdraws a reduction not yet approved."""
        reduction = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reductions.reduction_withdraw(
            actor=request.user, reduction=reduction, reason=body.validated_data["reason"]
        )
        return Response(ReductionSerializer(_reduction_queryset().get(pk=reduction.pk)).data)


# ── remittances ───────────────────────────────────────────────────────────────────────────────────


class RemittanceSerializer(serializers.ModelSerializer):
    from_org_name = serializers.CharField(source="from_org.name", read_only=True)
    to_org_name = serializers.CharField(source="to_org.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    period_start = MonthField(read_only=True)
    period_end = MonthField(read_only=True)
    recorded_by_name = serializers.SerializerMethodField()
    confirmed_by_name = serializers.SerializerMethodField()
    return_reason = serializers.SerializerMethodField()

    class Meta:
        model = DuesRemittance
        fields = [
            "id", "from_org", "from_org_name", "to_org", "to_org_name", "period_start", "period_end", "amount",
            "central_amount", "remitted_on", "reference", "note", "status", "status_display", "return_reason",
            "sent_entry", "received_entry", "recorded_by", "recorded_by_name", "recorded_at", "confirmed_by",
            "confirmed_by_name", "confirmed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_recorded_by_name(self, obj: DuesRemittance) -> str:
        return _user_name(obj.recorded_by)

    def get_confirmed_by_name(self, obj: DuesRemittance) -> str:
        return _user_name(obj.confirmed_by)

    def get_return_reason(self, obj: DuesRemittance) -> str:
        # The reason is kept on the ledger entry that booked the amount back on the sender's account.
        if obj.status != DuesRemittance.Status.RETURNED or obj.sent_entry is None:
            return ""
        back = getattr(obj.sent_entry, "reversed_by", None)
        return str((back.data or {}).get("reason", "")) if back is not None else ""


class RemittanceCreateSerializer(serializers.Serializer):
    from_org = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    period_start = MonthField()
    period_end = MonthField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    central_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, default=Decimal("0.00"), min_value=Decimal("0")
    )
    remitted_on = serializers.DateField(required=False)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


def _remittance_queryset():
    return DuesRemittance.objects.select_related(
        "from_org", "to_org", "recorded_by", "confirmed_by", "sent_entry__reversed_by"
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("org", int, description="Remittances sent or received by this organisation."),
            OpenApiParameter("year", int, description="Remitted in this year."),
            OpenApiParameter("status", str, description="sent, confirmed or returned."),
        ]
    ),
    create=extend_schema(request=RemittanceCreateSerializer, responses={201: RemittanceSerializer}),
    confirm=extend_schema(request=None, responses={200: RemittanceSerializer}),
    return_=extend_schema(request=ReasonSerializer, responses={200: RemittanceSerializer}),
)
class DuesRemittanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Dues passed up the tree (上缴): both ends see a remittance; the receiving end confirms or returns."""

    queryset = _remittance_queryset()
    serializer_class = RemittanceSerializer
    filterset_fields: list[str] = []

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        org = int_param(self.request, "org")
        if org is not None:
            qs = qs.filter(Q(from_org_id=org) | Q(to_org_id=org))
        year = year_param(self.request)
        if year is not None:
            qs = qs.filter(remitted_on__year=year)
        if self.request.query_params.get("status"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs

    def create(self, request, *args, **kwargs):
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = RemittanceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        org = Organization.objects.restrict(request.user, "change").filter(pk=v["from_org"]).first()
        if org is None:
            raise exceptions.ValidationError({"from_org": [_("Choose an organisation you manage.")]})
        try:
            remittance = remittances.remittance_record(
                actor=request.user,
                from_org=org,
                period_start=v["period_start"],
                period_end=v["period_end"],
                amount=v["amount"],
                remitted_on=v.get("remitted_on") or timezone.localdate(),
                reference=v["reference"],
                central_amount=v["central_amount"],
                note=v["note"],
            )
        except RuleViolationError as exc:
            return rule_violation_response(exc)
        return Response(
            RemittanceSerializer(_remittance_queryset().get(pk=remittance.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """The receiving organisation confirms the money arrived."""
        remittance = self.get_object()
        remittances.remittance_confirm(actor=request.user, remittance=remittance)
        return Response(RemittanceSerializer(_remittance_queryset().get(pk=remittance.pk)).data)

    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, pk=None):
        """The receiving organisation returns a remittance it cannot confirm (a reason is required)."""
        remittance = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        remittances.remittance_return(
            actor=request.user, remittance=remittance, reason=body.validated_data["reason"]
        )
        return Response(RemittanceSerializer(_remittance_queryset().get(pk=remittance.pk)).data)
