"""Pages for the member register's xlsx import and export, and the progress page of their jobs.

Thin: the work is in imports.py / exports.py, run through the job helpers of core/jobs.py, the same
path the API (io_api.py) takes.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_http_methods

from dangjian.core.job_views import job_file_response
from dangjian.core.jobs import jobs_for
from dangjian.core.models import Job
from dangjian.core.scoping import can
from dangjian.members import exports
from dangjian.members.imports import COLUMNS, template_workbook
from dangjian.members.io_api import xlsx_response
from dangjian.members.tasks import EXPORT_JOB, IMPORT_JOB, export_start, import_start

# Exports above this many members run as a job with a progress bar (the API always answers at once).


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_l("Workbook (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )
    background = forms.BooleanField(
        label=_l("Run in the background and show the progress"),
        required=False,
        help_text=_l("Large files always run in the background."),
    )


def _ensure_can_import(request: HttpRequest) -> None:
    if not can(request.user, "add"):
        raise PermissionDenied(_("Your role cannot add members to any branch."))


@login_required
@require_http_methods(["GET", "POST"])
def member_import(request: HttpRequest) -> HttpResponse:
    """Upload a workbook; the import runs (now or as a job) and the job page shows the outcome."""
    _ensure_can_import(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            job, message, _code = import_start(
                actor=request.user,
                upload=form.cleaned_data["file"],
                background=form.cleaned_data["background"],
            )
            if job is not None:
                return redirect("members:job", pk=job.pk)
            form.add_error("file", message)
        status = 400
    recent = jobs_for(request.user).filter(kind=IMPORT_JOB)[:5]
    context = {
        "form": form,
        "columns": COLUMNS,
        "recent": recent,
        "max_mb": settings.IMPORT_MAX_BYTES // 1048576,
        "threshold": settings.IMPORT_JOB_THRESHOLD,
    }
    return render(request, "members/io/import.html", context, status=status)


@login_required
@require_GET
def import_template(request: HttpRequest) -> HttpResponse:
    _ensure_can_import(request)
    return xlsx_response(template_workbook(request.user), "党员信息导入模板.xlsx")


@login_required
@require_GET
def member_export(request: HttpRequest) -> HttpResponse:
    """The member list with the page's filters as xlsx; a large one runs as a job."""
    params = exports.export_filters(request.GET)
    if exports.export_queryset(request.user, params).count() > settings.EXPORT_JOB_THRESHOLD:
        return redirect("members:job", pk=export_start(actor=request.user, params=params).pk)
    export = exports.member_export(actor=request.user, params=params)
    return xlsx_response(export.data, exports.export_filename())


def _job(request: HttpRequest, pk: int) -> Job:
    return get_object_or_404(jobs_for(request.user), pk=pk)


def _job_context(job: Job) -> dict:
    result = job.result or {}
    errors = result.get("errors") or []
    return {
        "job": job,
        "result": result,
        "is_import": job.kind == IMPORT_JOB,
        "is_export": job.kind == EXPORT_JOB,
        "errors": errors[:50],
        "more_errors": max(len(errors) - 50, 0),
    }


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's page: a progress bar while it runs, then its outcome."""
    job = _job(request, pk)
    return render(request, "members/io/job.html", _job_context(job))


@login_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The fragment the job page polls every second (HTMX) until the job has finished."""
    job = _job(request, pk)
    return render(request, "members/io/_job_status.html", _job_context(job))


@login_required
@require_GET
def job_file(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's output (the export, or an import's error file): only for the user who started it."""
    return job_file_response(_job(request, pk))
