"""API for the member register's xlsx import and export (the pages in io_views.py do the same)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core import spreadsheets as xl
from dangjian.core.models import Job
from dangjian.core.scoping import can
from dangjian.members.exports import export_filename, member_export
from dangjian.members.imports import template_workbook
from dangjian.members.tasks import import_start

XLSX = xl.XLSX_CONTENT_TYPE
TRUE = ("1", "true", "yes", "on")


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"  # may hold personal data
    return response


def ensure_can_import(user: Any) -> None:
    if not can(user, "add"):
        raise exceptions.PermissionDenied(_("Your role cannot add members to any branch."))


def _error(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


_ROW_ERRORS = inline_serializer(
    "ImportRowError",
    many=True,
    fields={
        "row": serializers.IntegerField(help_text="the row number in the uploaded sheet"),
        "field": serializers.CharField(allow_null=True),
        "column": serializers.CharField(allow_null=True, help_text="the column header as uploaded"),
        "code": serializers.CharField(),
        "message": serializers.CharField(),
    },
)


class MemberImportView(APIView):
    """Import members from an xlsx file (the template's columns): all rows or none."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="members_import",
        request={
            "multipart/form-data": inline_serializer(
                "MemberImportRequest",
                {
                    "file": serializers.FileField(help_text="an .xlsx workbook in the template's format"),
                    "async": serializers.BooleanField(
                        required=False, help_text="run as a background job even when small"
                    ),
                },
            )
        },
        responses={
            201: inline_serializer(
                "MemberImportDone",
                {
                    "imported": serializers.IntegerField(),
                    "job": serializers.IntegerField(),
                    "warnings": serializers.ListField(child=serializers.CharField()),
                },
            ),
            202: inline_serializer(
                "MemberImportQueued",
                {"job": serializers.IntegerField(), "status_url": serializers.CharField()},
            ),
            400: OpenApiResponse(
                inline_serializer(
                    "MemberImportRejected",
                    {
                        "error": inline_serializer(
                            "ImportErrorEnvelope",
                            {
                                "code": serializers.CharField(),
                                "message": serializers.CharField(),
                                "fields": serializers.DictField(),
                            },
                        ),
                        "error_file": serializers.CharField(
                            allow_null=True,
                            help_text="the uploaded rows with a 错误说明 column (only for you)",
                        ),
                        "job": serializers.IntegerField(allow_null=True),
                        "errors": _ROW_ERRORS,
                        "warnings": serializers.ListField(child=serializers.CharField()),
                    },
                ),
                description="nothing was imported: a file problem, or rows with errors",
            ),
            403: OpenApiResponse(description="your role cannot add members"),
        },
        description=(
            "Every row is checked first; if any row has an error nothing is saved and `error_file` "
            "points to the uploaded rows with a 错误说明 column. Files over IMPORT_JOB_THRESHOLD rows, "
            "or with `async=true`, run as a job: 202 with its id (poll GET /api/v1/jobs/{id}/)."
        ),
    )
    def post(self, request: Request) -> Response:
        ensure_can_import(request.user)
        flag = str(request.data.get("async") or request.query_params.get("async") or "").lower()
        job, message, code = import_start(
            actor=request.user, upload=request.FILES.get("file"), background=flag in TRUE
        )
        if job is None:
            fields = {"file": [message]}
            return Response(
                {
                    **_error(code, message, fields),
                    "error_file": None,
                    "job": None,
                    "errors": [],
                    "warnings": [],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not job.finished:
            return Response(
                {"job": job.pk, "status_url": reverse("api:job-detail", args=[job.pk])},
                status=status.HTTP_202_ACCEPTED,
            )
        result = job.result or {}
        if job.status == Job.Status.SUCCEEDED:
            return Response(
                {
                    "imported": result.get("imported", 0),
                    "job": job.pk,
                    "warnings": result.get("warnings", []),
                },
                status=status.HTTP_201_CREATED,
            )
        file_url = reverse("api:job-file", args=[job.pk]) if job.output_file else None
        return Response(
            {
                **_error(result.get("code") or "import_invalid", job.message),
                "error_file": request.build_absolute_uri(file_url) if file_url else None,
                "job": job.pk,
                "errors": result.get("errors", []),
                "warnings": result.get("warnings", []),
            },
            status=status.HTTP_400_BAD_REQUEST,
        )


class MemberImportTemplateView(APIView):
    """Download the xlsx import template (Chinese headers, a sample row, dropdowns, instructions)."""

    @extend_schema(
        operation_id="members_import_template",
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="the template")},
    )
    def get(self, request: Request) -> HttpResponse:
        ensure_can_import(request.user)
        return xlsx_response(template_workbook(request.user), "党员信息导入模板.xlsx")


_EXPORT_FILTERS = [
    OpenApiParameter(
        "org", int, description="organisation id; includes its subtree unless descendants=false"
    ),
    OpenApiParameter("descendants", bool),
    OpenApiParameter("status", str, description="comma-separated statuses"),
    OpenApiParameter("gender", str),
    OpenApiParameter("education", str),
    OpenApiParameter("age_min", int),
    OpenApiParameter("age_max", int),
    OpenApiParameter("join_year", int),
    OpenApiParameter("q", str, description="name, work unit, or the start of the masked ID number"),
]


class MemberExportView(APIView):
    """The member list as xlsx, with the list's filters, within your scope; ID and phone masked unless
    your role may reveal them for every exported member (then the export is audited as a reveal)."""

    @extend_schema(
        operation_id="members_export",
        parameters=_EXPORT_FILTERS,
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="the member list")},
    )
    def get(self, request: Request) -> HttpResponse:
        export = member_export(actor=request.user, params=request.query_params)
        return xlsx_response(export.data, export_filename())
