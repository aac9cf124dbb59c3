"""Organisation endpoints: the tree, one organisation, its children and its subtree statistics."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import path_prefix_q
from dangjian.orgs import selectors
from dangjian.orgs.models import Organization


class OrganizationSerializer(serializers.ModelSerializer):
    parent = serializers.SerializerMethodField()
    type_display = serializers.CharField(source="get_org_type_display", read_only=True)
    sector_display = serializers.CharField(source="get_sector_display", read_only=True)
    has_children = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = [
            "id", "code", "name", "short_name", "org_type", "type_display", "sector", "sector_display",
            "parent", "depth", "has_children", "founded_on", "address", "latitude", "longitude",
            "contact_name", "contact_phone", "status",
        ]  # fmt: skip

    def get_parent(self, obj: Organization) -> int | None:
        return selectors.parent_id(obj)

    def get_has_children(self, obj: Organization) -> bool:
        return obj.numchild > 0


class OrganizationDetailSerializer(OrganizationSerializer):
    flags = serializers.SerializerMethodField()
    committee = serializers.SerializerMethodField()

    class Meta(OrganizationSerializer.Meta):
        fields = [*OrganizationSerializer.Meta.fields, "flags", "committee"]

    def get_flags(self, obj: Organization) -> list[dict[str, str]]:
        return [f.as_dict() for f in selectors.org_flags(obj)]

    def get_committee(self, obj: Organization) -> dict | None:
        return selectors.committee_summary(obj)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("parent", int, description="Only the direct sub-organisations of this one."),
            OpenApiParameter("q", str, description="Search in names, or codes starting with it."),
        ]
    )
)
class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Organisations the user may see. ``?parent=`` lists one level; ``?q=`` searches names and codes."""

    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    filterset_fields = ["org_type", "sector", "status", "depth"]

    def get_queryset(self):
        qs = super().get_queryset().order_by("path")
        parent = self.request.query_params.get("parent")
        if parent is not None and self.action == "list":
            if not parent.isdigit():
                raise exceptions.ValidationError({"parent": [_("Give the id of an organisation.")]})
            # The parent must be visible too; the children are those of them the user may see.
            top = qs.filter(pk=int(parent)).first()
            if top is None:
                return qs.none()
            qs = qs.filter(path_prefix_q("path", top.path), depth=top.depth + 1)
        q = self.request.query_params.get("q")
        if q:
            qs = qs.filter(name__icontains=q) | qs.filter(code__istartswith=q)
        return qs

    def paginate_queryset(self, queryset):
        # Every list page (the list and children) resolves its rows' parents in one query, not one per row.
        page = super().paginate_queryset(queryset)
        return selectors.attach_parents(page) if page is not None else None

    def get_serializer_class(self):
        return OrganizationDetailSerializer if self.action == "retrieve" else OrganizationSerializer

    @action(detail=True)
    def children(self, request, pk=None):
        """The organisation's direct sub-organisations (those the user may see)."""
        org = self.get_object()
        qs = self.get_queryset().filter(path_prefix_q("path", org.path), depth=org.depth + 1)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrganizationSerializer(page, many=True).data)

    @extend_schema(responses={200: dict})
    @action(detail=True)
    def stats(self, request, pk=None):
        """Aggregates over the whole subtree: members by status, gender, age, ethnicity, education,
        党龄; organisations by type and sector."""
        org = self.get_object()
        return Response(selectors.org_stats(org))
