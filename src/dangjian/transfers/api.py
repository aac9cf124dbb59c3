"""Relation transfers and flow certificates over the API.

``GET/POST /api/v1/transfers/``, ``GET /api/v1/transfers/{id}/``,
``POST /api/v1/transfers/{id}/accept|return|hold|cancel/``, ``GET/POST /api/v1/flow-certificates/``.
Both sides of a transfer see it (scoped by the sending and the receiving org); only the side whose turn
it is may act (services). A refusal by a rule answers 400 with
``{"error": {"code": "rule_violation", "rule": "transfers", "article": ..., "message": ...}}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import can
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.transfers import services
from dangjian.transfers.models import FlowCertificate, Transfer, TransferKind
from dangjian.transfers.rules import RuleViolationError


def rule_violation_response(exc: RuleViolationError) -> Response:
    v = exc.violation
    return Response(
        {
            "error": {
                "code": "rule_violation",
                "rule": v.rule,
                "article": v.article,
                "message": v.message,
                "violation": v.code,
                "rule_version": v.rule_ref,
                "earliest_date": v.earliest.isoformat() if v.earliest else None,
                "fields": {},
            }
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


class TransferSerializer(serializers.ModelSerializer):
    """A transfer as either side sees it: the member's name and masked ID number only."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    member_id_number = serializers.CharField(source="member.id_number_masked", read_only=True)
    from_org_name = serializers.CharField(source="from_name", read_only=True)
    to_org_name = serializers.CharField(source="to_name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id", "member", "member_name", "member_id_number", "kind", "kind_display", "from_org",
            "from_org_name", "to_org", "to_org_name", "outside_org_name", "outside_org_address", "reason",
            "letter_number", "issued_on", "valid_until", "dues_paid_until", "status", "status_display",
            "decision_reason", "decided_at", "rule_ref", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class TransferCreateSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=TransferKind.choices)
    to_org = serializers.IntegerField(required=False, allow_null=True)
    outside_org_name = serializers.CharField(required=False, allow_blank=True, default="")
    outside_org_address = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField()
    dues_paid_until = serializers.RegexField(r"^\d{4}-\d{2}$", required=False, allow_blank=True, default="")
    send = serializers.BooleanField(required=False, default=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Transfer.objects.select_related("member", "from_org", "to_org")
    serializer_class = TransferSerializer
    filterset_fields: list[str] = []

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.request.query_params.get("status"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs

    def create(self, request, *args, **kwargs):
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        data = TransferCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member = Member.objects.restrict(request.user, "change").filter(pk=v["member"]).first()
        if member is None:
            raise exceptions.ValidationError(
                {"member": [_("Choose a member of an organisation you manage.")]}
            )
        to_org = None
        if v.get("to_org"):
            # Any active branch of the platform: the receiving side may be outside the sender's scope.
            to_org = Organization.objects.filter(
                pk=v["to_org"], status=OrgStatus.ACTIVE, org_type__in=BRANCH_TYPES
            ).first()
            if to_org is None:
                raise exceptions.ValidationError({"to_org": [_("Choose an active branch.")]})
        try:
            transfer = services.transfer_create(
                actor=request.user,
                member=member,
                kind=v["kind"],
                reason=v["reason"],
                to_org=to_org,
                outside_org_name=v["outside_org_name"],
                outside_org_address=v["outside_org_address"],
                dues_paid_until=v["dues_paid_until"],
                send=v["send"],
            )
        except RuleViolationError as exc:
            return rule_violation_response(exc)
        return Response(TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)

    def _act(self, request, func, *, needs_reason: bool = False, **extra: Any) -> Response:
        transfer = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kwargs: dict[str, Any] = dict(extra)
        if needs_reason or body.validated_data["reason"]:
            kwargs["reason"] = body.validated_data["reason"]
        try:
            transfer = func(actor=request.user, transfer=transfer, **kwargs)
        except RuleViolationError as exc:
            return rule_violation_response(exc)
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        return Response(TransferSerializer(transfer).data)

    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._act(request, services.transfer_accept)

    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, pk=None):
        return self._act(request, services.transfer_return, needs_reason=True)

    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        return self._act(request, services.transfer_hold, needs_reason=True)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(request, services.transfer_cancel)


class FlowCertificateSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True)
    host_name = serializers.CharField(read_only=True)
    member = serializers.IntegerField(source="member_id")
    host_org = serializers.IntegerField(source="host_org_id", required=False, allow_null=True)

    class Meta:
        model = FlowCertificate
        fields = [
            "id", "member", "member_name", "home_org", "host_org", "host_name", "outside_host_name", "place",
            "fixed_place", "number", "start", "end", "status",
        ]  # fmt: skip
        read_only_fields = ["id", "home_org", "number", "status"]


class FlowCertificateViewSet(mixins.ListModelMixin, ScopedViewSet):
    queryset = FlowCertificate.objects.select_related("member", "home_org", "host_org")
    serializer_class = FlowCertificateSerializer

    def create(self, request, *args, **kwargs):
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        ser = FlowCertificateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        member = Member.objects.restrict(request.user, "change").filter(pk=v["member_id"]).first()
        if member is None:
            raise exceptions.ValidationError(
                {"member": [_("Choose a member of an organisation you manage.")]}
            )
        host = None
        if v.get("host_org_id"):
            host = Organization.objects.filter(pk=v["host_org_id"], status=OrgStatus.ACTIVE).first()
            if host is None:
                raise exceptions.ValidationError({"host_org": [_("Choose an active organisation.")]})
        cert = services.flow_certificate_issue(
            actor=request.user,
            member=member,
            start=v["start"] if isinstance(v["start"], dt.date) else dt.date.fromisoformat(v["start"]),
            end=v.get("end"),
            host_org=host,
            outside_host_name=v.get("outside_host_name", ""),
            place=v.get("place", ""),
            fixed_place=v.get("fixed_place", True),
        )
        return Response(FlowCertificateSerializer(cert).data, status=status.HTTP_201_CREATED)
