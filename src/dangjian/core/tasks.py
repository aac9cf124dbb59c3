"""The job queue (huey): embedded SQLite by default, Redis when configured, immediate in tests."""

from __future__ import annotations

from huey.contrib.djhuey import HUEY as huey  # noqa: N811  (the project-wide instance)

__all__ = ["huey"]
