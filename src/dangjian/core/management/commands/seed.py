"""``dangjian seed --members N [--seed S]``: a deterministic synthetic province at any scale.

The tree is sized to N (about ``--per-branch`` members a branch, at most ``--fanout`` children a
committee); members are made by the demo city's person generator and stored with bulk inserts in one
transaction. The same ``--seed`` gives the same people. Seeding fills an empty database only: it refuses
(exit status 1, nothing written) when organisations or members exist, so it can never duplicate data.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class ProgressBar:
    """A plain-text progress bar on a stream: redrawn in place on a terminal, a line per tenth otherwise."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._last_tenth: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        total = max(total, 1)
        fraction = min(done / total, 1.0)
        elapsed = time.monotonic() - self.start
        line = (
            f"{stage:<13} [{'#' * int(fraction * self.width):<{self.width}}] {fraction:4.0%} "
            f"{done:>{len(str(total))}}/{total}  {elapsed:6.1f}s"
        )
        if self.tty:
            now = time.monotonic()
            if done >= total or now - self._last_draw > 0.1:
                self._last_draw = now
                self.stream.write("\r" + line + ("\n" if done >= total else ""))
                self.stream.flush()
            return
        tenth = int(fraction * 10)
        if self._last_tenth.get(stage) != tenth:
            self._last_tenth[stage] = tenth
            self.stream.write(line + "\n")
            self.stream.flush()


class Command(BaseCommand):
    help = (
        "Seed a deterministic synthetic province with N members into an empty database "
        "(refuses when organisations or members already exist)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--members", type=int, required=True, help=gettext_lazy("number of members"))
        parser.add_argument(
            "--seed", type=int, default=1, help=gettext_lazy("random seed (same seed, same data)")
        )
        parser.add_argument(
            "--per-branch", type=int, default=40, help=gettext_lazy("average members per branch (default 40)")
        )
        parser.add_argument(
            "--fanout",
            type=int,
            default=10,
            help=gettext_lazy("sub-organisations per committee level (default 10)"),
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, help=gettext_lazy("members per insert batch")
        )
        parser.add_argument("--no-progress", action="store_true", help=gettext_lazy("no progress bar"))

    def handle(self, *args: Any, **options: Any) -> None:
        from dangjian.orgs.demo import SeedRefused, seed_province

        if options["members"] < 1 or options["per_branch"] < 3 or options["fanout"] < 2:
            raise CommandError(
                _("--members must be at least 1, --per-branch at least 3, --fanout at least 2.")
            )
        progress = None if options["no_progress"] else ProgressBar(self.stderr._out)
        started = time.monotonic()
        try:
            root = seed_province(
                members=options["members"],
                seed=options["seed"],
                per_branch=options["per_branch"],
                fanout=options["fanout"],
                batch_size=options["batch_size"],
                **({"progress": progress} if progress else {}),
            )
        except SeedRefused as exc:
            raise CommandError(
                _(
                    "The database already holds organisations or members; seed only fills an empty database. "
                    "Use a fresh DANGJIAN_DATA_DIR (or DANGJIAN_DATABASE_URL)."
                )
            ) from exc
        from dangjian.members.models import Member
        from dangjian.orgs.models import Organization

        self.stdout.write(
            _("Seeded %(members)d members in %(orgs)d organisations under %(root)s in %(seconds).1f s.")
            % {
                "members": Member.objects.count(),
                "orgs": Organization.objects.count(),
                "root": root.name,
                "seconds": time.monotonic() - started,
            }
        )
