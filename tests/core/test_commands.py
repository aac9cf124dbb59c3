"""The command-line entry points: demo, seed, serve/worker plumbing, keys, and production refusal."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import translation

from dangjian.cli import ensure_local_keys
from dangjian.core.management.commands.seed import ProgressBar
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization


class _Rollback(Exception):
    pass


def _seeded(seed: int, members: int = 500) -> list[tuple[str, str, str]]:
    """Seed inside a savepoint, read (branch code, name, masked ID) in order, and roll it all back."""
    rows: list[tuple[str, str, str]] = []
    with pytest.raises(_Rollback), transaction.atomic():
        call_command("seed", members=members, seed=seed, no_progress=True, stdout=io.StringIO())
        assert Member.objects.count() == members
        assert 10 <= Organization.objects.filter(org_type__in=BRANCH_TYPES).count() <= 16  # ~40 a branch
        rows = list(
            Member.objects.order_by("org__code", "pk").values_list("org__code", "name", "id_number_masked")
        )
        with pytest.raises(CommandError, match="empty database"), translation.override("en"):
            call_command("seed", members=10, no_progress=True, stdout=io.StringIO())  # never on top of data
        raise _Rollback
    return rows


@pytest.mark.django_db
def test_seed_is_deterministic_and_refuses_to_run_twice():
    first, again, other = _seeded(7), _seeded(7), _seeded(8)
    assert len(first) == 500 and first == again
    assert [r[1] for r in first] != [r[1] for r in other]


def test_progress_bar_prints_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    bar = ProgressBar(out)
    for done in range(0, 101, 5):
        bar("members", done, 100)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and lines[-1].startswith("members") and "100%" in lines[-1]


@pytest.mark.django_db
def test_demo_command_prints_the_address_and_the_accounts(settings):
    settings.LANGUAGE_CODE = "en"  # the command speaks the site's language
    out = io.StringIO()
    call_command("demo", "--no-serve", "--port", "8123", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8123/" in text and "Dangjian@2026" in text
    for username in ("admin", "zuzhibu", "shuji1", "shuji2", "dangyuan1", "qunzhong1"):
        assert f"  {username} " in text
    again = io.StringIO()
    call_command("demo", "--no-serve", stdout=again)
    assert "nothing changed" in again.getvalue()


def test_keys_are_generated_once_with_private_permissions(tmp_path: Path):
    created = ensure_local_keys(tmp_path)
    assert sorted(p.name for p in created) == ["field_key", "secret_key"]
    secret = (tmp_path / "secret_key").read_text().strip()
    assert len(secret) >= 50
    for name in ("secret_key", "field_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert ensure_local_keys(tmp_path) == []  # a second run keeps them: they decrypt stored data
    assert (tmp_path / "secret_key").read_text().strip() == secret


def test_embedded_consumer_runs_jobs_in_threads():
    from huey import MemoryHuey

    from dangjian.core.management.commands.serve import EmbeddedConsumer

    huey = MemoryHuey("embedded-test", immediate=False)

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    consumer = EmbeddedConsumer(huey, workers=1, worker_type="thread", periodic=False)
    consumer.start()
    try:
        result = add(2, 3)
        assert result.get(blocking=True, timeout=5) == 5
    finally:
        consumer.stop(graceful=True)


def _dangjian(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANGJIAN_")}
    clean.update({"DANGJIAN_DATA_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(
        [sys.executable, "-m", "dangjian", *args],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_with_the_defaults(tmp_path: Path):
    result = _dangjian(["check"], {"DANGJIAN_ENV": "production"}, tmp_path)
    assert result.returncode != 0
    for missing in ("DANGJIAN_SECRET_KEY", "DANGJIAN_FIELD_KEY", "DANGJIAN_ALLOWED_HOSTS"):
        assert missing in result.stderr


def test_production_deploy_check_is_clean_with_proper_settings(tmp_path: Path):
    env = {
        "DANGJIAN_ENV": "production",
        "DANGJIAN_SECRET_KEY": "k" * 10 + "-production-secret-" + str(time.time_ns()) + "x" * 30,
        "DANGJIAN_FIELD_KEY": "a-field-key-for-the-test-only",
        "DANGJIAN_ALLOWED_HOSTS": "dangjian.example.org",
    }
    result = _dangjian(["check", "--deploy"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "security." not in output and "dangjian.E" not in output
