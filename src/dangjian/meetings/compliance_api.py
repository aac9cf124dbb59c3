"""Compliance of organization life over the API (issue 5's contract).

``GET /api/v1/meetings/compliance/?org=<id>&year=<YYYY>`` → for every branch of the organisation's
subtree the caller may see: per kind, the cells of the year's periods (``period`` ``2025-03`` /
``2025-Q1`` / ``2025``, ``start``, ``end``, ``status`` held / not_yet / missed / not_required, ``count``
of meetings held — for group meetings the groups that met of ``needed`` —, ``closing_soon`` and the
``rule_ref`` of a cell judged by another rule version than the table's), a summary per kind (held,
missed, not yet, ``rate`` = held ÷ periods due, in percent) and the table's ``rule_ref``.

Without ``org``: the caller's highest organisation; without ``year``: this year. An ``org`` that is not
a number or a ``year`` out of bounds → 400 naming the parameter; an organisation outside the caller's
scope (or missing) → 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core.scoping import can, is_system_admin, orgs_with
from dangjian.meetings import compliance
from dangjian.orgs.models import Organization


def report_org(user: Any, raw: str | None) -> Organization:
    """``raw`` (an id) if the user sees that organisation's subtree, else 404; without it, the user's
    highest organisation (the root for a system administrator). ``ValueError`` for a non-number."""
    if raw not in (None, ""):
        try:
            org_id = int(str(raw).strip())
        except ValueError:
            raise ValueError(_("Give the organisation as its number (id).")) from None
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


class ComplianceView(APIView):
    """三会一课 compliance of a subtree for a year: rows of branches, cells per kind and period."""

    @extend_schema(
        parameters=[
            OpenApiParameter("org", OpenApiTypes.INT, description="organisation (default: your highest)"),
            OpenApiParameter("year", OpenApiTypes.INT, description="YYYY (default: this year)"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        try:
            org = report_org(request.user, request.query_params.get("org"))
        except ValueError as exc:
            raise exceptions.ValidationError({"org": [str(exc)]}) from None
        raw_year = request.query_params.get("year")
        try:
            year = (
                compliance.check_year(raw_year) if raw_year not in (None, "") else timezone.localdate().year
            )
        except ValueError as exc:
            raise exceptions.ValidationError({"year": [str(exc)]}) from None
        try:
            table = compliance.compliance_table(request.user, org, year)
        except PermissionDenied:
            raise Http404 from None
        return Response(table.as_dict())
