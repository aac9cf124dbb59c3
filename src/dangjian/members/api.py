"""Member register endpoints: list with filters, create, retrieve, update, reveal personal data."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from dangjian.core.api import ScopedModelViewSet
from dangjian.members import selectors, services
from dangjian.members.models import Member, MemberStatusChange
from dangjian.orgs.models import Organization

WRITE_FIELDS = [
    "name", "gender", "ethnicity", "birth_date", "id_number", "phone", "education", "degree", "occupation",
    "work_unit", "position", "native_place", "address", "latitude", "longitude", "join_date", "full_date",
    "status", "org", "group", "dues_category",
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
            "org", "org_name", "group", "dues_category", "id_number", "phone",
        ]  # fmt: skip
        read_only_fields = ["id_number_masked", "phone_masked"]

    def get_party_standing(self, obj: Member) -> int | None:
        return obj.party_standing_years()

    def to_internal_value(self, data):  # validation is MemberForm's, shared with pages and imports
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


@extend_schema(parameters=_FILTERS)
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
        field = request.data.get("field", "")
        return Response(
            {"field": field, "value": services.member_reveal(actor=request.user, member=member, field=field)}
        )
