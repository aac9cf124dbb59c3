"""Background jobs: create a Job, run its handler as a huey task with progress, report its status.

An app registers a handler per job kind in its ``tasks.py`` (which huey's consumer imports)::

    @job_handler("members.import")
    def run_import(job: Job, progress: JobProgress) -> dict: ...

and starts work with ``job_start(actor=..., kind=..., params=..., input_file=(name, data))``: the job row
is written at once, and the task is queued when the surrounding transaction commits (so a worker never
looks for a job that is not yet visible). Small jobs run inline with ``job_execute`` through the same
path, so a page or API answers the same way whether the work ran in the background or not.

A handler returns the job's ``result`` (JSON) and may attach an ``output_file``; raising ``JobFailed``
ends the job as failed with a message for the user (e.g. "3 rows have errors"); any other exception
fails it with a generic message and is logged. The uploaded input file is deleted when the job ends:
it may hold personal data.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from huey.contrib.djhuey import db_task

from dangjian.core.models import Job

logger = logging.getLogger(__name__)

Handler = Callable[[Job, "JobProgress"], dict[str, Any]]
_HANDLERS: dict[str, Handler] = {}


class JobFailed(Exception):
    """An expected failure: the job ends as failed, ``message`` shown to the user, ``result`` kept."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result or {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


class JobProgress:
    """Callable that records progress on the job row, at most every ``interval`` seconds."""

    def __init__(self, job: Job, interval: float = 0.5) -> None:
        self.job = job
        self.interval = interval
        self._last: float | None = None  # the first call always writes

    def __call__(self, done: int, total: int | None = None, message: str | None = None, force: bool = False):
        now = time.monotonic()
        self.job.progress = done
        if total is not None:
            self.job.total = total
        if message is not None:
            self.job.message = message
        if not force and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        # Only the progress fields: a worker must not overwrite anything else on the row.
        Job.objects.filter(pk=self.job.pk).update(
            progress=self.job.progress, total=self.job.total, message=self.job.message
        )


def job_create(
    *,
    actor: Any,
    kind: str,
    params: dict[str, Any] | None = None,
    input_file: tuple[str, bytes] | None = None,
    total: int = 0,
) -> Job:
    """A queued job owned by ``actor``; the user's language is kept so messages come back in it."""
    params = {"language": translation.get_language() or "zh-hans", **(params or {})}
    job = Job(kind=kind, created_by=actor, params=params, total=total)
    if input_file is not None:
        name, data = input_file
        params.setdefault("filename", name)
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        # The stored name is ours, never the uploader's (no path tricks, no personal data in names).
        job.input_file.save(f"{kind}.{suffix if suffix.isalnum() else 'bin'}", ContentFile(data), save=False)
    job.save()
    return job


def job_start(*, background: bool = True, **kwargs: Any) -> Job:
    """Create a job and run it: queued for a worker (after commit), or at once when ``background`` is off."""
    job = job_create(**kwargs)
    if background:
        job_enqueue(job)
        return job
    return job_execute(job.pk)


def job_enqueue(job: Job) -> None:
    transaction.on_commit(lambda: run_job_task(job.pk))


@db_task()
def run_job_task(job_id: int) -> None:
    """The huey task: run the job's handler (idempotent: a finished job is not run again)."""
    job_execute(job_id)


def job_execute(job_id: int) -> Job:
    """Run a job's handler now, recording status, progress, result and the finish time."""
    job = Job.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        return job
    handler = _HANDLERS.get(job.kind)
    if handler is None:
        _load_handlers()
        handler = _HANDLERS.get(job.kind)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    job.status = Job.Status.RUNNING
    with translation.override(job.params.get("language") or "zh-hans"):
        try:
            if handler is None:
                raise RuntimeError(f"no handler for job kind {job.kind!r}")
            job.result = handler(job, JobProgress(job)) or {}
            job.status = Job.Status.SUCCEEDED
        except JobFailed as failure:
            job.status = Job.Status.FAILED
            job.message = failure.message
            job.result = failure.result
        except Exception:
            logger.exception("job %s (%s) failed", job.pk, job.kind)
            job.status = Job.Status.FAILED
            job.message = _("The job stopped because of an internal error. Nothing was changed.")
            job.result = {}
    job.finished_at = timezone.now()
    if job.input_file:
        job.input_file.delete(save=False)
    job.save()
    return job


def _load_handlers() -> None:
    """Import every app's tasks module so its handlers register (a web process may not have yet)."""
    from django.apps import apps
    from django.utils.module_loading import module_has_submodule

    for config in apps.get_app_configs():
        if config.name.startswith("dangjian.") and module_has_submodule(config.module, "tasks"):
            __import__(f"{config.name}.tasks")


def jobs_for(user: Any) -> QuerySet[Job]:
    """The jobs a user may look at: their own (a job holds that user's uploads and results)."""
    return Job.objects.restrict(user, "view")


def job_file_url(job: Job) -> str | None:
    return reverse("api:job-file", args=[job.pk]) if job.output_file else None


def job_status(job: Job) -> dict[str, Any]:
    """What the API and the progress fragment show about a job."""
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "status_display": str(job.get_status_display()),
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "finished": job.finished,
        "message": job.message,
        "result": job.result,
        "file_url": job_file_url(job),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def job_files_purge(*, older_than_days: int | None = None) -> int:
    """Delete the output files (exports, error files) of jobs that ended more than N days ago.

    They may hold personal data in clear (an export by a role that may reveal), so they are kept only
    as long as a user needs to download them (``DANGJIAN_JOB_FILE_DAYS``, default 7). Returns how many
    files were deleted; the job rows stay, with their results, as the record of what was done.
    """
    from django.conf import settings

    days = settings.JOB_FILE_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - dt.timedelta(days=days)
    purged = 0
    for job in Job.objects.filter(finished_at__lt=cutoff).exclude(output_file=""):
        job.output_file.delete(save=False)
        job.output_file = ""
        job.save(update_fields=["output_file"])
        purged += 1
    return purged
