"""Speech to text for meeting recordings, with faster-whisper and a local model directory.

The model is never downloaded: ``DANGJIAN_ASR_MODEL`` names a directory holding a CTranslate2 Whisper
model (for example a copy of ``Systran/faster-whisper-small`` made on a machine with network access),
loaded with ``local_files_only=True`` on the CPU in int8. faster-whisper is an optional extra
(``pip install dangjian[asr]``). When the setting is empty, the directory is missing or the package is
not installed, ``transcribe`` raises ``AsrUnavailable`` with a message for the user, and the caller keeps
the recording for later (meetings.transcripts: status ``no_model``).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

# Whisper writes Chinese in either script and often without punctuation; a prompt in simplified
# Chinese with punctuation steers it to both.
INITIAL_PROMPT = "以下是普通话会议的发言记录，使用简体中文和标点符号。"


class AsrUnavailable(Exception):
    """No usable speech model: ``reason`` is not_configured, missing_dir or not_installed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class AsrSegment:
    start_ms: int
    end_ms: int
    text: str


@dataclass
class AsrResult:
    segments: list[AsrSegment] = field(default_factory=list)
    language: str = ""
    duration_ms: int = 0


_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def model_setting() -> str:
    return str(getattr(settings, "ASR_MODEL", "") or "").strip()


def unavailable_reason() -> AsrUnavailable | None:
    """Why speech cannot be transcribed here (an ``AsrUnavailable`` to raise or show), or None."""
    path = model_setting()
    if not path:
        return AsrUnavailable(
            "not_configured",
            _(
                "No speech recognition model is configured (DANGJIAN_ASR_MODEL); the recording has been "
                "kept and can be transcribed again once a model is configured."
            ),
        )
    if not Path(path).is_dir():
        return AsrUnavailable(
            "missing_dir",
            _(
                "The speech recognition model directory (DANGJIAN_ASR_MODEL) was not found on the server; "
                "the recording has been kept and can be transcribed again once the model is in place."
            ),
        )
    if importlib.util.find_spec("faster_whisper") is None:
        return AsrUnavailable(
            "not_installed",
            _(
                "The speech recognition software (faster-whisper, the [asr] extra) is not installed; the "
                "recording has been kept and can be transcribed again once it is installed."
            ),
        )
    return None


def available() -> bool:
    return unavailable_reason() is None


def _model(path: str) -> Any:
    """The loaded model for ``path``, once per process (loading takes seconds and hundreds of MB)."""
    with _models_lock:
        model = _models.get(path)
        if model is None:
            from faster_whisper import WhisperModel  # optional extra: imported only when used

            model = WhisperModel(path, device="cpu", compute_type="int8", local_files_only=True)
            _models[path] = model
        return model


def transcribe(
    path: str | Path,
    progress_callback: Callable[[float], None] | None = None,
    *,
    language: str | None = "zh",
) -> AsrResult:
    """Transcribe the audio file at ``path``; ``progress_callback(fraction)`` is called as segments come
    (the end of the segment over the recording's duration). Raises ``AsrUnavailable`` when no model can
    be used; any other exception is a failure of the model or the file."""
    problem = unavailable_reason()
    if problem is not None:
        raise problem
    model = _model(model_setting())
    segments, info = model.transcribe(
        str(path),
        language=language or None,
        beam_size=5,
        vad_filter=True,  # skips the silences of a meeting room (faster-whisper ships the VAD model)
        initial_prompt=INITIAL_PROMPT if (language or "zh").startswith("zh") else None,
    )
    duration = float(getattr(info, "duration", 0.0) or 0.0)
    result = AsrResult(language=str(getattr(info, "language", "") or ""), duration_ms=int(duration * 1000))
    for seg in segments:  # a generator: the model works as it is consumed
        text = str(seg.text).strip()
        if text:
            result.segments.append(
                AsrSegment(start_ms=int(seg.start * 1000), end_ms=int(seg.end * 1000), text=text)
            )
        if progress_callback is not None and duration > 0:
            progress_callback(min(float(seg.end) / duration, 1.0))
    return result
