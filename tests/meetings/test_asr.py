"""Speech to text (meetings.asr) and the recording path of meetings.transcripts.

Issue 5, "How it is checked": the ASR path is tested with a missing model (clear error, audio kept) and,
where a model directory is given in DANGJIAN_ASR_MODEL at test time, end to end. The WAV files are made
here with the ``wave`` module; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import math
import os
import struct
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from dangjian.core.models import AuditEntry, Job
from dangjian.meetings import asr, transcripts
from dangjian.meetings.models import Transcript
from tests.meetings.test_transcripts import held_meeting, upload, wav_bytes

NO_MODEL = "未配置语音识别模型（DANGJIAN_ASR_MODEL）；录音已保存，配置后可重新转写"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ASR_MODEL = ""
    return settings.MEDIA_ROOT


@pytest.fixture
def meeting(tree):
    return held_meeting(tree.branch_a)


@pytest.fixture
def model_dir(settings, tmp_path) -> Path:
    """A model directory that exists (the model inside is faked by the tests that need one)."""
    path = tmp_path / "whisper-small"
    path.mkdir()
    settings.ASR_MODEL = str(path)
    return path


class FakeModel:
    """Stands in for faster_whisper.WhisperModel: yields the given segments over a recording of
    ``duration`` seconds, or raises ``error`` when asked to transcribe."""

    def __init__(self, segments=(), duration=10.0, error=None, on_segment=None):
        self.segments = segments
        self.duration = duration
        self.error = error
        self.on_segment = on_segment
        self.calls = []

    def transcribe(self, path, **options):
        self.calls.append((path, options))
        if self.error is not None:
            raise self.error

        def generate():
            for i, (start, end, text) in enumerate(self.segments):
                yield SimpleNamespace(start=start, end=end, text=text)
                if self.on_segment is not None:
                    self.on_segment(i)

        return generate(), SimpleNamespace(duration=self.duration, language="zh")


def use_fake_model(monkeypatch, model: FakeModel) -> None:
    """faster-whisper 'installed' and the model loaded: the fake."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        asr.importlib.util,
        "find_spec",
        lambda name, *a: SimpleNamespace(name=name) if name == "faster_whisper" else real_find_spec(name, *a),
    )
    monkeypatch.setattr(asr, "_model", lambda path: model)


def test_missing_model_keeps_the_recording_with_a_clear_message(
    meeting, secretary_a, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        t = transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("支部大会.wav", wav_bytes())
        )
    t.refresh_from_db()
    assert (t.status, t.source, t.error, t.progress) == ("no_model", "audio", NO_MODEL, 0)
    assert t.job is None and not Job.objects.exists() and callbacks == []  # nothing queued
    # The recording is kept, byte for byte, for when a model is configured.
    assert Path(t.file.path).read_bytes() == wav_bytes() and Path(t.file.path).is_relative_to(media)
    assert not t.segments.exists() and t.text == "" and t.analysis == {}
    assert AuditEntry.objects.get(action="meetings.transcript_uploaded").changes["status"] == "no_model"
    # Retrying while there is still no model: refused with the same reason, nothing changed.
    with pytest.raises(ValidationError) as exc:
        transcripts.transcript_retry(actor=secretary_a, transcript=t)
    assert exc.value.message_dict["transcript"] == [NO_MODEL]
    t.refresh_from_db()
    assert t.status == "no_model" and not Job.objects.exists()


def test_missing_model_on_the_page_and_in_the_api(meeting, secretary_a, web, api):
    resp = web(secretary_a).post(
        f"/meetings/{meeting.pk}/transcript/",
        {"action": "file", "file": upload("录音.mp3", b"ID3\x04" + b"\x00" * 60)},
    )
    assert resp.status_code == 302
    page = web(secretary_a).get(f"/meetings/{meeting.pk}/transcript/").content.decode()
    assert 'data-testid="no-model"' in page and NO_MODEL in page
    assert 'data-testid="retry"' not in page  # nothing to retry with until a model is configured
    body = api(secretary_a).get(f"/api/v1/meetings/{meeting.pk}/transcript/").json()["transcript"]
    assert (body["status"], body["error"], body["segments"]) == ("no_model", NO_MODEL, [])
    resp = api(secretary_a).get(f"/api/v1/meetings/{meeting.pk}/keywords/")
    assert resp.status_code == 409 and resp.json()["error"]["status"] == "no_model"


def test_model_directory_that_does_not_exist(meeting, secretary_a, settings, tmp_path):
    settings.ASR_MODEL = str(tmp_path / "no-such-model")
    t = transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("录音.wav", wav_bytes())
    )
    assert t.status == "no_model"
    assert t.error == "服务器上找不到语音识别模型目录（DANGJIAN_ASR_MODEL）；录音已保存，模型就位后可重新转写"
    assert asr.unavailable_reason().reason == "missing_dir"


def test_faster_whisper_not_installed(meeting, secretary_a, model_dir, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        asr.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "faster_whisper" else real_find_spec(name, *a),
    )
    t = transcripts.transcript_upload(
        actor=secretary_a,
        meeting=meeting,
        upload=upload("录音.m4a", b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 40),
    )
    assert t.status == "no_model"
    assert "faster-whisper" in t.error and "录音已保存" in t.error
    with pytest.raises(asr.AsrUnavailable) as exc:
        asr.transcribe(t.file.path)
    assert exc.value.reason == "not_installed"


@pytest.mark.parametrize(
    ("setting", "reason"),
    [("", "not_configured"), ("   ", "not_configured"), ("/nonexistent/whisper", "missing_dir")],
)
def test_transcribe_refuses_without_a_usable_model(setting, reason, settings, tmp_path):
    settings.ASR_MODEL = setting
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes())
    with pytest.raises(asr.AsrUnavailable) as exc:
        asr.transcribe(path)
    assert exc.value.reason == reason and "DANGJIAN_ASR_MODEL" in exc.value.message
    assert not asr.available()


def test_transcription_job_with_progress(
    meeting, secretary_a, model_dir, monkeypatch, django_capture_on_commit_callbacks
):
    seen: list[int] = []
    clock = iter(range(0, 1000, 5))  # each progress call is 5 "seconds" after the last: never throttled
    monkeypatch.setattr(transcripts.time, "monotonic", lambda: next(clock))

    def after_segment(i: int) -> None:
        seen.append(Transcript.objects.get().progress)

    model = FakeModel(
        segments=[
            (0.0, 2.5, " 同志们，现在开会。"),
            (3.0, 5.0, "今天讨论发展党员和三会一课。"),
            (5.5, 10.0, "散会。"),
        ],
        duration=10.0,
        on_segment=after_segment,
    )
    use_fake_model(monkeypatch, model)
    with django_capture_on_commit_callbacks(execute=True):
        t = transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("录音.wav", wav_bytes())
        )
        assert t.status == "queued" and t.job is not None
    t.refresh_from_db()
    # Progress followed the segments (end / duration), and stopped at 99 until they were saved.
    assert seen == [25, 50, 99]
    assert (t.status, t.progress, t.error, t.language) == ("ready", 100, "", "zh")
    assert [(s.start_ms, s.end_ms, s.text) for s in t.segments.all()] == [
        (0, 2500, "同志们，现在开会。"),
        (3000, 5000, "今天讨论发展党员和三会一课。"),
        (5500, 10000, "散会。"),
    ]
    assert t.text == "同志们，现在开会。\n今天讨论发展党员和三会一课。\n散会。"
    assert "三会一课" in [w for w, _ in t.analysis["frequent"]]
    path, options = model.calls[0]
    assert path == t.file.path and options["language"] == "zh"
    job = Job.objects.get(pk=t.job_id)
    assert (job.status, job.kind, job.created_by, job.progress, job.total) == (
        "succeeded",
        "meetings.transcript",
        secretary_a,
        100,
        100,
    )
    assert AuditEntry.objects.filter(action="meetings.transcript_transcribed", actor=secretary_a).exists()


def test_a_failing_model_fails_the_transcript_and_keeps_the_audio(
    meeting, secretary_a, model_dir, monkeypatch, django_capture_on_commit_callbacks
):
    use_fake_model(monkeypatch, FakeModel(error=RuntimeError("model.bin is damaged")))
    with django_capture_on_commit_callbacks(execute=True):
        t = transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("录音.wav", wav_bytes())
        )
    t.refresh_from_db()
    assert (t.status, t.progress) == ("failed", 0)
    assert t.error == "语音识别失败：model.bin is damaged"
    assert Path(t.file.path).read_bytes() == wav_bytes()
    job = Job.objects.get(pk=t.job_id)
    assert job.status == "failed" and job.message == t.error
    # Retry once the model is fixed: queued again, then ready.
    use_fake_model(monkeypatch, FakeModel(segments=[(0.0, 1.0, "主题党日安排。")], duration=1.0))
    with django_capture_on_commit_callbacks(execute=True):
        retried = transcripts.transcript_retry(actor=secretary_a, transcript=t)
        assert retried.status == "queued" and retried.job_id != job.pk
    t.refresh_from_db()
    assert t.status == "ready" and t.text == "主题党日安排。"
    assert AuditEntry.objects.filter(action="meetings.transcript_retried").count() == 1


def test_model_removed_between_upload_and_job(
    meeting, secretary_a, model_dir, monkeypatch, settings, django_capture_on_commit_callbacks
):
    use_fake_model(monkeypatch, FakeModel(segments=[(0.0, 1.0, "开会。")]))
    with django_capture_on_commit_callbacks() as callbacks:
        t = transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("录音.wav", wav_bytes())
        )
    settings.ASR_MODEL = ""  # the administrator removed it before the worker ran
    for callback in callbacks:
        callback()
    t.refresh_from_db()
    assert (t.status, t.error) == ("no_model", NO_MODEL)
    assert Path(t.file.path).exists()


def test_a_job_for_a_deleted_transcript_does_nothing(
    meeting, secretary_a, model_dir, monkeypatch, django_capture_on_commit_callbacks
):
    model = FakeModel(segments=[(0.0, 1.0, "开会。")])
    use_fake_model(monkeypatch, model)
    with django_capture_on_commit_callbacks() as callbacks:
        t = transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("录音.wav", wav_bytes())
        )
    Transcript.objects.filter(pk=t.pk).delete()
    for callback in callbacks:
        callback()
    assert model.calls == [] and Job.objects.get().status == "succeeded"


def test_retry_button_when_a_model_is_configured_later(
    meeting, secretary_a, web, settings, model_dir, monkeypatch
):
    settings.ASR_MODEL = ""
    t = transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("录音.wav", wav_bytes())
    )
    settings.ASR_MODEL = str(model_dir)
    use_fake_model(monkeypatch, FakeModel())
    page = web(secretary_a).get(f"/meetings/{meeting.pk}/transcript/").content.decode()
    assert 'data-testid="retry"' in page and "语音识别模型现已配置" in page
    assert f"/meetings/transcripts/{t.pk}/retry/" in page


def _speech_like_wav(path: Path, seconds: float = 3.0, rate: int = 16000) -> None:
    """A short WAV of tones (there is no recorded voice in the repository; a model may hear nothing)."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        t = n / rate
        value = 0.3 * math.sin(2 * math.pi * 220 * t) * (0.5 + 0.5 * math.sin(2 * math.pi * 3 * t))
        frames += struct.pack("<h", int(value * 32767))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


@pytest.mark.skipif(
    not os.environ.get("DANGJIAN_ASR_MODEL"),
    reason="end to end only with a local faster-whisper model: set DANGJIAN_ASR_MODEL to its directory",
)
def test_end_to_end_with_the_configured_model(
    meeting, secretary_a, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.ASR_MODEL = os.environ["DANGJIAN_ASR_MODEL"]
    assert asr.available(), asr.unavailable_reason().message
    path = tmp_path / "meeting.wav"
    _speech_like_wav(path)
    with django_capture_on_commit_callbacks(execute=True):
        t = transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("meeting.wav", path.read_bytes())
        )
    t.refresh_from_db()
    assert t.status == "ready", t.error
    assert t.progress == 100 and Job.objects.get(pk=t.job_id).status == "succeeded"
    assert all(s.end_ms >= s.start_ms for s in t.segments.all())
