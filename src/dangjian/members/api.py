"""Member register endpoints: list with filters, create, retrieve, update, reveal personal data, the login."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dangjian.core.api import ScopedModelViewSet
from dangjian.members import selectors, services
from dangjian.members.choices import (
    FLOWING_IS_NOT_A_STATUS,
    REGISTER_STATUS_CHOICES,
    MemberStatus,
    StatusEvent,
)
from dangjian.members.models import DisciplineKind, Member, MemberDiscipline, MemberStatusChange
from dangjian.orgs.models import Organization

WRITE_FIELDS = [
    "name", "gender", "ethnicity", "birth_date", "id_number", "phone", "education", "degree", "occupation",
    "work_unit", "position", "native_place", "address", "latitude", "longitude", "join_date", "full_date",
    "status", "org", "group", "dues_category", "last_contact_on",
]  # fmt: skip


class MemberSerializer(serializers.ModelSerializer):
    """A member as the API shows it: personal numbers masked."""

    org_name = serializers.CharField(source="org.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    id_number = serializers.CharField(write_only=True, required=False, label=_("ID number"))
    phone = serializers.CharField(write_only=True, required=False, allow_blank=True, label=_("phone"))
    party_standing = serializers.SerializerMethodField(label=_("years of full membership"))

    class Meta:
        model = Member
        fields = [
            "id", "name", "gender", "ethnicity", "birth_date", "id_number_masked", "phone_masked",
            "education", "degree", "occupation", "work_unit", "position", "native_place", "address",
            "latitude", "longitude", "join_date", "full_date", "party_standing", "status", "status_display",
            "org", "org_name", "group", "dues_category", "last_contact_on", "id_number", "phone",
        ]  # fmt: skip
        read_only_fields = ["id_number_masked", "phone_masked"]

    def get_party_standing(self, obj: Member) -> int | None:
        return obj.party_standing_years()

    def to_internal_value(self, data):  # validation is MemberForm's, shared with pages and imports
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Send a JSON object with the member's fields.")]}
            )
        not_scalar = [k for k, v in data.items() if not isinstance(v, str | int | float | bool | type(None))]
        if not_scalar:
            raise serializers.ValidationError(
                {k: [_("Expected a single value.")] for k in sorted(not_scalar)}
            )
        unknown = (
            set(data)
            - set(WRITE_FIELDS)
            - set(self.Meta.read_only_fields)
            - {"id", "org_name", "status_display", "party_standing"}
        )
        if unknown:
            raise serializers.ValidationError({k: [_("Unknown field.")] for k in sorted(unknown)})
        return {k: v for k, v in data.items() if k in WRITE_FIELDS}


class StatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberStatusChange
        fields = ["id", "from_status", "to_status", "date", "reason", "recorded_at"]


class StatusField(serializers.ChoiceField):
    """A status of the register; "flowing" is answered with where flowing is recorded (a certificate)."""

    def to_internal_value(self, data):
        if data == MemberStatus.FLOWING:
            raise serializers.ValidationError(str(FLOWING_IS_NOT_A_STATUS), code="flowing")
        return super().to_internal_value(data)


class StatusChangeRequestSerializer(serializers.Serializer):
    status = StatusField(choices=REGISTER_STATUS_CHOICES, label=_("status"))
    date = serializers.DateField(label=_("date"))
    reason = serializers.CharField(label=_("reason"), max_length=2000)


class StatusEventRequestSerializer(serializers.Serializer):
    """One status event (members.services.member_status_event); ``last_contact_on`` for a suspension."""

    event = serializers.ChoiceField(choices=StatusEvent.choices, label=_("event"))
    date = serializers.DateField(label=_("date"))
    reason = serializers.CharField(label=_("reason"), max_length=2000, required=False, allow_blank=True)
    last_contact_on = serializers.DateField(label=_("date of last contact"), required=False, allow_null=True)


def rule_violation_response(exc: Exception) -> Response:
    """A rule's refusal in the contract's envelope (as transfers and recruitment answer it)."""
    v = exc.violation  # type: ignore[attr-defined]
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


class DisciplineSerializer(serializers.ModelSerializer):
    decided_by_name = serializers.CharField(source="decided_by.name", read_only=True)

    class Meta:
        model = MemberDiscipline
        fields = [
            "id", "kind", "decided_on", "until", "rights_restored_on", "decided_by", "decided_by_name",
            "document_no", "reason", "restore_reason", "recorded_at",
        ]  # fmt: skip
        read_only_fields = fields


class DisciplineRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(DisciplineKind.choices)
    decided_on = serializers.DateField()
    decided_by = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())
    years = serializers.IntegerField(required=False, allow_null=True)
    document_no = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reason = serializers.CharField(max_length=1000)


class AccountSerializer(serializers.Serializer):
    """A member's login as the API shows it (never the password)."""

    username = serializers.CharField(read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    last_login = serializers.DateTimeField(read_only=True, allow_null=True)


class AccountOpenSerializer(serializers.Serializer):
    # Only shape here: the username and password rules are the service's, shared with the pages.
    username = serializers.CharField(label=_("username"), max_length=150)
    password = serializers.CharField(
        label=_("password"), max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class PasswordResetSerializer(serializers.Serializer):
    password = serializers.CharField(
        label=_("password"), max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


_FILTERS = [
    OpenApiParameter(
        "org", int, description="organisation id; includes its subtree unless descendants=false"
    ),
    OpenApiParameter("descendants", bool),
    OpenApiParameter("status", str),
    OpenApiParameter("gender", str),
    OpenApiParameter("education", str),
    OpenApiParameter("age_min", int),
    OpenApiParameter("age_max", int),
    OpenApiParameter("join_year", int),
    OpenApiParameter("q", str, description="name, work unit, or the start of the masked ID number"),
]


@extend_schema_view(list=extend_schema(parameters=_FILTERS))  # the filters are the list's, not every route's
class MemberViewSet(ScopedModelViewSet):
    """The member register, restricted to the user's part of the tree."""

    queryset = Member.objects.all()
    serializer_class = MemberSerializer
    filter_backends: list = []

    def get_queryset(self):
        qs = super().get_queryset().select_related("org")
        if self.action == "list":
            visible = Organization.objects.restrict(self.request.user, "view")
            qs = selectors.member_filter(qs, self.request.query_params, visible_orgs=visible)
        return qs

    def perform_create(self, serializer):
        return services.member_create(actor=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer):
        return services.member_update(
            actor=self.request.user, member=serializer.instance, data=serializer.validated_data
        )

    @action(detail=True)
    def history(self, request, pk=None):
        """The member's status history."""
        member = self.get_object()
        return Response(StatusChangeSerializer(member.status_changes.all(), many=True).data)

    @extend_schema(request=StatusChangeRequestSerializer, responses={201: StatusChangeSerializer})
    @history.mapping.post
    def change_status(self, request, pk=None):
        """Record a status change (suspended, left, deceased, ...) with its date and reason."""
        member = self.get_object()
        self.check_object_write(member)
        ser = StatusChangeRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.member_change_status(actor=request.user, member=member, **ser.validated_data)
        return Response(StatusChangeSerializer(member.status_changes.first()).data, status=201)

    @extend_schema(
        request=inline_serializer(
            "RevealRequest", {"field": serializers.ChoiceField(["id_number", "phone"])}
        ),
        responses={
            200: inline_serializer(
                "RevealResponse", {"field": serializers.CharField(), "value": serializers.CharField()}
            )
        },
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """Reveal the unmasked ID or phone number (audited; only roles that may reveal)."""
        member = self.get_object()
        field = request.data.get("field", "") if isinstance(request.data, Mapping) else ""
        return Response(
            {"field": field, "value": services.member_reveal(actor=request.user, member=member, field=field)}
        )

    @extend_schema(request=StatusEventRequestSerializer, responses={201: StatusChangeSerializer})
    @action(detail=True, methods=["post"], url_path="status-events", url_name="status-events")
    def status_events(self, request, pk=None):
        """Record a status event: ``suspend`` (needs ``last_contact_on`` unless the register has it; 6
        months without contact, 条例 第三十四条), ``restore``, ``remove`` (a suspended member 2 years after
        the suspension), ``death``, ``historical``. A rule's refusal answers 400 ``rule_violation``."""
        from dangjian.transfers.rules import RuleViolationError

        member = self._member_to_change()
        body = StatusEventRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.member_status_event(actor=request.user, member=member, **body.validated_data)
        except RuleViolationError as exc:
            return rule_violation_response(exc)
        change = member.status_changes.order_by("-recorded_at", "-id").first()
        return Response(StatusChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    def _member_to_change(self) -> Member:
        member = self.get_object()  # 404 outside the scope
        self.check_object_write(member)  # 403 for read-only roles
        return member

    @extend_schema(methods=["GET"], responses={200: DisciplineSerializer(many=True)})
    @extend_schema(
        methods=["POST"], request=DisciplineRequestSerializer, responses={201: DisciplineSerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def discipline(self, request, pk=None):
        """GET: the member's disciplinary measures (党纪处分), newest first. POST: record one (留党察看 takes
        ``years``, 1 or 2; 开除党籍 also records the member as having left)."""
        if request.method == "GET":
            member = self.get_object()
            rows = member.disciplines.select_related("decided_by")
            return Response(DisciplineSerializer(rows, many=True).data)
        member = self._member_to_change()
        body = DisciplineRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = services.discipline_record(actor=request.user, member=member, **body.validated_data)
        return Response(DisciplineSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: AccountSerializer})
    @extend_schema(methods=["POST"], request=AccountOpenSerializer, responses={201: AccountSerializer})
    @action(detail=True, methods=["get", "post"])
    def account(self, request, pk=None):
        """GET: the member's login (404 when they have none). POST: open (开通) a login for the member —
        or reopen their closed one — with a username and a password (the password rules apply)."""
        if request.method == "GET":
            member = self.get_object()
            if member.user is None:
                raise exceptions.NotFound()
            return Response(AccountSerializer(member.user).data)
        member = self._member_to_change()
        body = AccountOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = services.member_account_open(actor=request.user, member=member, **body.validated_data)
        return Response(AccountSerializer(member.user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @account.mapping.delete
    def account_close(self, request, pk=None):
        """Close (停用) the member's login: it can no longer log in or use its token. Closing a closed
        login changes nothing; a member without a login answers 404."""
        member = self._member_to_change()
        if member.user is None:
            raise exceptions.NotFound()
        services.member_account_close(actor=request.user, member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PasswordResetSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="account/password", url_name="account-password")
    def account_password(self, request, pk=None):
        """Set a new password on the member's login (重置密码)."""
        member = self._member_to_change()
        body = PasswordResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.member_account_reset_password(actor=request.user, member=member, **body.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
