"""Background jobs of the member register: xlsx import and export (run by huey, see core/jobs.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dangjian.core.jobs import JobFailed, JobProgress, job_handler, job_start
from dangjian.core.models import Job
from dangjian.core.spreadsheets import SpreadsheetError
from dangjian.members.exports import export_filename, member_export
from dangjian.members.imports import check_size, inspect_upload, member_import

IMPORT_JOB = "members.import"
EXPORT_JOB = "members.export"


def import_start(*, actor: Any, upload: Any, background: bool) -> tuple[Job | None, str, str]:
    """Check an upload (size, type, headers) and run its import job now or in the background.

    Returns (job, "", "") — the job finished when it ran now — or (None, message, code) for a file
    that cannot be imported at all. Large files always run in the background.
    """
    if upload is None:
        return None, _("Choose an .xlsx file to upload."), "required"
    try:
        check_size(upload.size)
        data = upload.read()
        rows = inspect_upload(data)
    except SpreadsheetError as problem:
        return None, problem.message, problem.code
    job = job_start(
        actor=actor,
        kind=IMPORT_JOB,
        input_file=(upload.name or "members.xlsx", data),
        total=rows,
        background=background or rows > settings.IMPORT_JOB_THRESHOLD,
    )
    return job, "", ""


def export_start(*, actor: Any, params: dict[str, str]) -> Job:
    """Queue a large export as a job (the page shows its progress, then the download)."""
    return job_start(actor=actor, kind=EXPORT_JOB, params={"filters": params})


@job_handler(IMPORT_JOB)
def run_import(job: Job, progress: JobProgress) -> dict[str, Any]:
    """Check and import the uploaded workbook; on errors attach the error file and fail the job."""
    with job.input_file.open("rb") as f:
        data = f.read()
    filename = job.params.get("filename", "")
    outcome = member_import(actor=job.created_by, data=data, filename=filename, progress=progress)
    result = outcome.summary()
    if outcome.error_file is not None:
        stem = filename.rsplit(".", 1)[0] or "members"
        name = f"{stem}-错误说明.xlsx"
        job.output_file.save(f"import-errors-{job.pk}.xlsx", ContentFile(outcome.error_file), save=False)
        result["file_name"] = name
    if not outcome.ok:
        if outcome.message:
            message = outcome.message
        else:
            n = result["error_rows"]
            message = ngettext(
                "%(n)d row has errors; nothing was imported. Download the error file, fix the rows and "
                "upload it again.",
                "%(n)d rows have errors; nothing was imported. Download the error file, fix the rows and "
                "upload it again.",
                n,
            ) % {"n": n}
        raise JobFailed(message, result)
    job.message = ngettext("%(n)d member imported.", "%(n)d members imported.", outcome.imported) % {
        "n": outcome.imported
    }
    progress(outcome.rows, outcome.rows, job.message, force=True)
    return result


@job_handler(EXPORT_JOB)
def run_export(job: Job, progress: JobProgress) -> dict[str, Any]:
    """Write the filtered member list to xlsx as the job's output file."""
    export = member_export(actor=job.created_by, params=job.params.get("filters", {}), progress=progress)
    name = export_filename(timezone.localtime())
    job.output_file.save(f"export-{job.pk}.xlsx", ContentFile(export.data), save=False)
    job.message = ngettext("%(n)d member exported.", "%(n)d members exported.", export.count) % {
        "n": export.count
    }
    if export.count == 0:
        job.message = _("No members match the filters; the file has only the headers.")
    return {"count": export.count, "revealed": export.revealed, "file_name": name}
