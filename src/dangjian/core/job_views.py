"""API for background jobs: status and progress, and the job's output file (owner only)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core.jobs import job_status, jobs_for
from dangjian.core.models import Job

JobStatusSerializer = inline_serializer(
    "JobStatus",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.CharField(help_text="e.g. members.import, members.export"),
        "status": serializers.CharField(help_text="queued, running, succeeded or failed"),
        "status_display": serializers.CharField(),
        "progress": serializers.IntegerField(help_text="units done (rows for an import)"),
        "total": serializers.IntegerField(),
        "percent": serializers.IntegerField(),
        "finished": serializers.BooleanField(),
        "message": serializers.CharField(),
        "result": serializers.DictField(help_text='e.g. {"imported": 120} or {"errors": 3, ...}'),
        "file_url": serializers.CharField(allow_null=True, help_text="the output (or error) file"),
        "created_at": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


def job_file_response(job: Job) -> FileResponse:
    if not job.output_file:
        raise Http404
    name = (job.result or {}).get("file_name") or job.output_file.name.rsplit("/", 1)[-1]
    return FileResponse(job.output_file.open("rb"), as_attachment=True, filename=name)


class JobDetailView(APIView):
    """A background job you started: status, progress and result."""

    @extend_schema(responses={200: JobStatusSerializer, 404: OpenApiResponse(description="not your job")})
    def get(self, request: Request, pk: int) -> Response:
        return Response(job_status(get_object_or_404(jobs_for(request.user), pk=pk)))


class JobFileView(APIView):
    """Download a job's output file (an export, or an import's error file). Only for the job's owner."""

    @extend_schema(
        responses={
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiResponse(
                description="the file"
            ),
            404: OpenApiResponse(description="no such job of yours, or it has no file"),
        }
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        return job_file_response(get_object_or_404(jobs_for(request.user), pk=pk))
