from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.utils import timezone

from dangjian.core.jobs import job_files_purge
from dangjian.core.models import Job


def test_old_job_files_are_deleted_but_the_job_record_stays(secretary_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    old = Job.objects.create(
        kind="members.export",
        created_by=secretary_a,
        status=Job.Status.SUCCEEDED,
        finished_at=timezone.now() - dt.timedelta(days=8),
    )
    old.output_file.save("old.xlsx", ContentFile(b"x"))
    fresh = Job.objects.create(
        kind="members.export",
        created_by=secretary_a,
        status=Job.Status.SUCCEEDED,
        finished_at=timezone.now() - dt.timedelta(days=1),
    )
    fresh.output_file.save("fresh.xlsx", ContentFile(b"y"))
    path = old.output_file.path

    assert job_files_purge(older_than_days=7) == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert not old.output_file and Job.objects.filter(pk=old.pk).exists()
    assert fresh.output_file
    assert not (tmp_path / path).exists()


def test_jobs_are_visible_to_their_owner_only(secretary_a, org_manager, admin_user):
    job = Job.objects.create(kind="members.export", created_by=secretary_a)
    assert list(Job.objects.restrict(secretary_a)) == [job]
    assert not Job.objects.restrict(org_manager).exists()
    assert not Job.objects.restrict(admin_user).exists()
