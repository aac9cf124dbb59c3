"""``GET /api/v1/alerts/``: the alerts within the caller's scope, most urgent first.

Filters: ``kind``, ``severity``, ``status`` (``open`` by default; ``resolved``, ``dismissed`` or ``all``)
and ``org`` (that organisation's subtree; 404 outside the caller's scope).

One item per matter: a matter raised for several organisations (both sides of a transfer) is one item
when the caller sees several of them, with ``orgs`` naming each and ``alerts`` their ids; the other
fields are those of its most urgent alert. A caller who sees one side gets that side's alert alone.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.response import Response

from dangjian.core.alerts import expand, kind_label, matters
from dangjian.core.api import ScopedViewSet
from dangjian.core.models import Alert
from dangjian.core.scoping import path_prefix_q
from dangjian.core.selectors import alert_filter


class AlertSerializer(serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()
    org_name = serializers.CharField(source="org.name", read_only=True)
    subject_type = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "kind_label",
            "severity",
            "status",
            "org",
            "org_name",
            "subject_type",
            "subject_id",
            "subject_repr",
            "member",
            "due_date",
            "message",
            "url",
            "rule_ref",
            "created_at",
            "resolved_at",
            "dismissed_at",
        ]

    def get_kind_label(self, alert: Alert) -> str:
        return kind_label(alert.kind)

    def get_subject_type(self, alert: Alert) -> str:
        ct = alert.subject_type
        return f"{ct.app_label}.{ct.model}" if ct else ""


@extend_schema(
    parameters=[
        OpenApiParameter("kind", OpenApiTypes.STR),
        OpenApiParameter("severity", OpenApiTypes.STR, enum=Alert.Severity.values),
        OpenApiParameter("status", OpenApiTypes.STR, enum=[*Alert.Status.values, "all"]),
        OpenApiParameter("org", OpenApiTypes.INT, description="an organisation's subtree"),
    ]
)
class AlertViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Alerts raised by the nightly checks, restricted to the caller's part of the tree."""

    queryset = Alert.objects.select_related("org", "subject_type")
    serializer_class = AlertSerializer
    filter_backends: list[Any] = []  # the filters below (status defaults to open)

    def list(self, request, *args, **kwargs):  # type: ignore[override]
        qs = self.get_queryset()
        rows = matters(qs.order_by())
        page = self.paginate_queryset(rows)
        items = [self._item(m) for m in expand(qs, page if page is not None else rows)]
        return self.get_paginated_response(items) if page is not None else Response(items)

    def _item(self, matter: Any) -> dict[str, Any]:
        data = dict(self.get_serializer(matter.first).data)
        data["orgs"] = [{"id": o.pk, "name": o.name} for o in matter.orgs]
        data["alerts"] = matter.ids
        return data

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        params = self.request.query_params
        raw = params.get("org")
        if raw:
            organization = apps.get_model("orgs", "Organization")  # core imports no app
            org = (
                organization.objects.restrict(self.request.user, "view").filter(pk=raw).first()
                if raw.isdigit()
                else None
            )
            if org is None:
                raise Http404
            qs = qs.filter(path_prefix_q("org_path", org.path))
        return alert_filter(qs, {k: params.get(k) for k in ("kind", "severity", "status")}).by_severity()
