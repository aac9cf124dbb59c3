"""The ``dangjian`` command: Django's manage.py with our settings."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

# Files in DATA_DIR that settings.py reads when the matching DANGJIAN_* variable is not set.
KEY_FILES = {"secret_key": 48, "field_key": 32}  # bytes of randomness (64 and 43 characters)


def data_dir() -> Path:
    """DATA_DIR exactly as settings.py computes it (settings may not be imported yet)."""
    return Path(os.environ.get("DANGJIAN_DATA_DIR") or str(Path.cwd() / "var")).resolve()


def ensure_local_keys(directory: Path | None = None) -> list[Path]:
    """Generate the secret key and the field-encryption key into DATA_DIR on first use (mode 0600).

    This runs before Django reads its settings, because settings.py reads these files at import time.
    Existing files are never replaced: the field key decrypts the ID and phone numbers already stored.
    """
    directory = directory or data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    created = []
    for name, nbytes in KEY_FILES.items():
        path = directory / name
        if path.exists():
            continue
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(nbytes) + "\n")
        created.append(path)
    return created


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "demo":
        ensure_local_keys()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["dangjian", *args])


if __name__ == "__main__":
    main()
