"""Rulebook endpoints: the rules in force for an organisation, and its local overrides.

``GET /api/v1/rules/?org=<id>&on=<date>`` answers every logged-in user: without ``org`` the national
rules, with it the rules as they apply to that organisation (404 outside the caller's scope).
``GET/POST /api/v1/rules/overrides/`` lists the overrides within the caller's scope and sets or ends
one (org managers only, through ``core.services``, which validate the bounds and audit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core import rulebook, services
from dangjian.core.api import ScopedViewSet
from dangjian.core.models import RuleOverride
from dangjian.core.scoping import Action, can
from dangjian.core.selectors import rules_in_force


def _organizations() -> Any:
    # core imports no app (the design notes): the organisation model is reached through the registry.
    return apps.get_model("orgs", "Organization")


def _visible_org(user: Any, raw: Any) -> Any:
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise Http404 from None
    org = _organizations().objects.restrict(user, "view").filter(pk=pk).first()
    if org is None:
        raise Http404
    return org


def _item(item: Any) -> dict[str, Any]:
    """A rule in force as the API shows it, with the display names a page needs: ``labels`` (parameter
    → name), ``value_labels`` (parameter → code → name) and ``params_display`` (each value as read,
    e.g. 党员推荐、群团组织推优 for ``[member_recommendation, mass_organization_recommendation]``)."""
    return {
        **item.as_dict(),
        "labels": {p.name: p.label for p in item.params},
        "value_labels": item.national.value_labels,
        "params_display": {p.name: rulebook.display(item.national, p.name, p.value) for p in item.params},
    }


class RulesInForceView(APIView):
    """Every rule family in force on a date: version, source, confidence, pending flag, parameters (with
    their display names and values as read), the local overrides that apply (who set them and why), the
    overridable parameters and the history."""

    @extend_schema(
        parameters=[
            OpenApiParameter("org", OpenApiTypes.INT, description="organisation id (default: national)"),
            OpenApiParameter("on", OpenApiTypes.DATE, description="date (default: today)"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        org = (
            _visible_org(request.user, request.query_params["org"])
            if request.query_params.get("org")
            else None
        )
        on = timezone.localdate()
        if request.query_params.get("on"):
            try:
                on = dt.date.fromisoformat(request.query_params["on"])
            except ValueError:
                raise exceptions.ValidationError({"on": [_("Enter a valid date (YYYY-MM-DD).")]}) from None
        items = rules_in_force(org, on)
        return Response(
            {
                "org": org.pk if org else None,
                "on": on,
                "count": len(items),
                "results": [_item(i) for i in items],
            }
        )


class RuleOverrideSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    set_by = serializers.SerializerMethodField()

    class Meta:
        model = RuleOverride
        fields = [
            "id",
            "key",
            "org",
            "org_name",
            "kind",
            "effective_from",
            "params",
            "reason",
            "set_by",
            "created_at",
        ]

    def get_set_by(self, row: RuleOverride) -> str:
        return row.created_by.display_name if row.created_by else ""


class RuleOverrideRequestSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=100)
    org = serializers.IntegerField()
    effective_from = serializers.DateField()
    reason = serializers.CharField(max_length=500)
    params = serializers.DictField(required=False, default=dict)
    # true: end the organisation's local version from the date (the values from above apply again).
    end = serializers.BooleanField(required=False, default=False)


class RuleOverrideViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Local rule overrides in the caller's scope; POST sets (or, with ``end``, ends) one."""

    queryset = RuleOverride.objects.select_related("org", "created_by").order_by("-effective_from", "-id")
    serializer_class = RuleOverrideSerializer
    filterset_fields = ["key", "org", "kind"]

    @extend_schema(request=RuleOverrideRequestSerializer, responses={201: RuleOverrideSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, Action.MANAGE_RULES):  # refused outright, before any field is looked at
            raise exceptions.PermissionDenied(_("Only an organisation department can set local rules."))
        ser = RuleOverrideRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        org = _organizations().objects.restrict(request.user, "view").filter(pk=data["org"]).first()
        if org is None:
            raise exceptions.ValidationError({"org": [_("Unknown organisation.")]})
        common = {
            "actor": request.user,
            "org": org,
            "key": data["key"],
            "effective_from": data["effective_from"],
            "reason": data["reason"],
        }
        if data["end"]:
            row = services.rule_override_end(**common)
        else:
            row = services.rule_override_set(params=data["params"], **common)
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)
