"""Background jobs (core/jobs.py): running a handler with progress, failures, the queue, and who may
see a job and its file."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.utils import translation

from dangjian.core import jobs
from dangjian.core.jobs import JobFailed, job_execute, job_start, job_status, jobs_for
from dangjian.core.models import Job


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def handlers():
    """Register test handlers for the duration of a test."""
    saved = dict(jobs._HANDLERS)
    calls: list[dict] = []

    @jobs.job_handler("test.count")
    def count(job, progress):
        data = job.input_file.open("rb").read() if job.input_file else b""
        for i in range(1, 4):
            progress(i, 3, force=True)
            calls.append(
                {"progress": Job.objects.get(pk=job.pk).progress, "language": translation.get_language()}
            )
        job.output_file.save("out.txt", ContentFile(data.upper()), save=False)
        return {"done": 3, "file_name": "result.txt"}

    @jobs.job_handler("test.refuse")
    def refuse(job, progress):
        raise JobFailed("3 rows have errors", {"errors": 3})

    @jobs.job_handler("test.crash")
    def crash(job, progress):
        raise ZeroDivisionError

    yield calls
    jobs._HANDLERS.clear()
    jobs._HANDLERS.update(saved)


def test_job_runs_with_progress_result_and_output_file(secretary_a, handlers):
    with translation.override("en"):
        job = job_start(
            actor=secretary_a, kind="test.count", input_file=("名单.xlsx", b"abc"), background=False
        )
    assert job.status == Job.Status.SUCCEEDED and job.finished and job.finished_at
    assert job.result == {"done": 3, "file_name": "result.txt"}
    assert [c["progress"] for c in handlers] == [1, 2, 3]  # written to the row while running
    assert {c["language"] for c in handlers} == {"en"}  # the starter's language
    assert job.progress == job.total == 3 and job.percent == 100
    assert job.output_file.read() == b"ABC"
    assert not job.input_file  # the upload (personal data) is removed once done
    assert job.params["filename"] == "名单.xlsx"


def test_expected_failure_keeps_message_and_result(secretary_a, handlers):
    job = job_start(actor=secretary_a, kind="test.refuse", background=False)
    assert job.status == Job.Status.FAILED
    assert job.message == "3 rows have errors" and job.result == {"errors": 3}


def test_unexpected_failure_is_logged_and_reported_generically(secretary_a, handlers, caplog):
    with translation.override("en"):
        job = job_start(actor=secretary_a, kind="test.crash", background=False)
    assert job.status == Job.Status.FAILED
    assert "internal error" in job.message
    assert "ZeroDivisionError" in caplog.text


def test_background_job_is_queued_after_commit(secretary_a, handlers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_start(actor=secretary_a, kind="test.count")
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    assert len(callbacks) == 1
    callbacks[0]()  # huey runs immediately in tests
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_a_finished_job_is_not_run_again(secretary_a, handlers):
    job = job_start(actor=secretary_a, kind="test.count", background=False)
    handlers.clear()
    job_execute(job.pk)
    assert handlers == []


def test_users_see_only_their_own_jobs(secretary_a, secretary_b, admin_user):
    mine = Job.objects.create(kind="x", created_by=secretary_a)
    Job.objects.create(kind="x", created_by=secretary_b)
    assert list(jobs_for(secretary_a)) == [mine]
    assert not jobs_for(admin_user).filter(pk=mine.pk).exists()


def test_job_status_api(secretary_a, secretary_b, api, handlers):
    job = job_start(actor=secretary_a, kind="test.count", background=False)
    resp = api(secretary_a).get(f"/api/v1/jobs/{job.pk}/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "succeeded" and body["percent"] == 100 and body["result"]["done"] == 3
    assert body["file_url"] == f"/api/v1/jobs/{job.pk}/file/"
    assert set(body) == set(job_status(job))
    assert api(secretary_b).get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert api().get(f"/api/v1/jobs/{job.pk}/").status_code == 401
    assert api(secretary_a).get("/api/v1/jobs/999999/").status_code == 404


def test_job_file_download_is_for_the_owner_only(secretary_a, secretary_b, admin_user, api, handlers):
    job = job_start(actor=secretary_a, kind="test.count", input_file=("a.txt", b"xyz"), background=False)
    resp = api(secretary_a).get(f"/api/v1/jobs/{job.pk}/file/")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content) == b"XYZ"
    assert "result.txt" in resp["Content-Disposition"]
    assert api(secretary_b).get(f"/api/v1/jobs/{job.pk}/file/").status_code == 404
    assert api(admin_user).get(f"/api/v1/jobs/{job.pk}/file/").status_code == 404


def test_job_without_file_is_404(secretary_a, api):
    job = Job.objects.create(kind="x", created_by=secretary_a)
    assert api(secretary_a).get(f"/api/v1/jobs/{job.pk}/file/").status_code == 404


def test_progress_is_throttled(secretary_a):
    job = Job.objects.create(kind="x", created_by=secretary_a, total=100)
    progress = jobs.JobProgress(job, interval=3600)
    progress(1, 100)  # the first call writes
    progress(50, 100)  # within the interval: kept in memory only
    assert Job.objects.get(pk=job.pk).progress == 1
    progress(60, 100, "Saving", force=True)
    saved = Job.objects.get(pk=job.pk)
    assert (saved.progress, saved.message) == (60, "Saving")
