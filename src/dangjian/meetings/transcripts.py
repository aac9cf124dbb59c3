"""Transcripts of meetings: uploads (txt, srt, vtt, docx, or a recording), speech to text, keywords.

Writes (permission check, one transaction, audit row, scope re-check):

- ``transcript_upload(*, actor, meeting, upload)``: a transcript file or a recording. The file is
  checked by its extension *and* its content before anything is stored (text: UTF-8 or GB18030;
  subtitles: every cue parsed, the first bad one named with its line number; docx: a real Word file;
  audio: the magic bytes of WAV, MP3 or M4A), within a size limit. A transcript is stored with its
  segments (times and speakers where the file gives them), its full text and its analysis
  (``keywords.analyse``). A recording is kept and transcribed by a background job (``asr``) with a
  progress bar; without a model it waits as ``no_model`` until ``transcript_retry``.
- ``transcript_from_text(*, actor, meeting, text, name)``: pasted text, same as a .txt file.
- ``transcript_retry(*, actor, transcript)``: transcribe (or analyse) again one that waited or failed.
- ``transcript_delete(*, actor, transcript)``.

Reads: ``transcripts_for(actor)`` (restricted queryset), ``latest_transcript(actor, meeting)``,
``latest_ready(actor, meeting)``. Transcripts are for those who see the meeting's organisation as a
whole (secretaries, committee members, org managers, auditors); a member who attended sees the meeting,
not its recording or transcript.

Speakers: a line (or cue) starting with a short name and a colon ("王建国：…", "Li Hua: …") is that
person's; the lines after it without a name stay with the same speaker until another name comes. WebVTT
voice tags (``<v 王建国>``) name the speaker too. Exported transcripts of the "name 00:01:23" heading
style (a name and a time on their own line, the words on the next) are read as well.
"""

from __future__ import annotations

import html
import io
import logging
import re
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.jobs import JobFailed, JobProgress, job_handler, job_start
from dangjian.core.models import Job
from dangjian.core.scoping import can, ensure_can, ensure_in_scope
from dangjian.meetings import asr, keywords
from dangjian.meetings.models import Meeting, MeetingStatus, Transcript, TranscriptSegment

logger = logging.getLogger(__name__)

JOB_KIND = "meetings.transcript"
IN_PROGRESS = (Transcript.Status.QUEUED, Transcript.Status.TRANSCRIBING)
RETRYABLE = (Transcript.Status.NO_MODEL, Transcript.Status.FAILED)
TEXT_EXTENSIONS = {
    "txt": Transcript.Source.TXT,
    "srt": Transcript.Source.SRT,
    "vtt": Transcript.Source.VTT,
    "docx": Transcript.Source.DOCX,
}
AUDIO_EXTENSIONS = ("wav", "mp3", "m4a")
ACCEPT = ".txt,.srt,.vtt,.docx,.wav,.mp3,.m4a"  # for <input type="file" accept=…>
# Text longer than this is analysed by the background job rather than while the page waits: the
# analysis takes about 0.1 s per 10,000 characters (bench/bench_keywords.py), so an upload answers
# within about a second; a longer text (several hours of speech) shows the progress bar.
ANALYSE_INLINE_CHARS = 100_000
MAX_SEGMENTS = 50_000
# A docx is a zip: refuse one whose document.xml would inflate beyond this (a zip bomb).
DOCX_MAX_XML_BYTES = 50 * 1024 * 1024
# MPEG-4 audio brands a phone or recorder writes into an .m4a file's "ftyp" box.
M4A_BRANDS = {b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"iso2", b"3gp4", b"3gp5", b"dash"}


def text_max_bytes() -> int:
    return int(getattr(settings, "TRANSCRIPT_TEXT_MAX_BYTES", 10 * 1024 * 1024))


def audio_max_bytes() -> int:
    return int(getattr(settings, "TRANSCRIPT_AUDIO_MAX_BYTES", 200 * 1024 * 1024))


# ----------------------------------------------------------------------------------------- parsing


@dataclass
class Segment:
    text: str
    speaker: str = ""
    start_ms: int | None = None
    end_ms: int | None = None


def _invalid(message: str) -> ValidationError:
    return ValidationError({"file": message})


def decode_text(data: bytes) -> str:
    """Text from UTF-8 (with or without BOM), UTF-16 with a BOM, or GB18030; refuses binary files."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _invalid(_("The file is not readable text (UTF-8 or GB18030).")) from None
    else:
        if b"\x00" in data:
            raise _invalid(_("The file is not a text file."))
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise _invalid(_("The file is not readable text (UTF-8 or GB18030)."))
    if "\x00" in text:  # UTF-16 can carry NUL, which PostgreSQL cannot store
        raise _invalid(_("The file is not a text file."))
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    if controls > max(8, len(text) // 100):
        raise _invalid(_("The file is not a text file."))
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Labels that end with a colon but are not speakers (the heading lines of minutes).
_NOT_SPEAKERS = {
    "时间", "日期", "地点", "会议地点", "主题", "会议主题", "议题", "议程", "会议议程", "参会人员", "出席",
    "出席人员", "列席", "列席人员", "缺席", "缺席人员", "请假", "请假人员", "应到", "实到", "记录", "记录人",
    "备注", "附件", "注", "说明", "内容", "会议内容", "结论", "决议", "标题",
    "time", "date", "place", "venue", "subject", "topic", "agenda", "note", "notes", "attendees", "http", "https",
}  # fmt: skip
# Words that do not occur in a name or a title but do in "我讲三点意见：" and other lead-ins.
_NOT_IN_NAMES = set("我你他她们的了是这那说讲谈要")
_NAME_CHARS = r"\s:：,，.。;；!！?？、\"“”'‘’()（）\[\]【】<>《》/"
_SPEAKER = re.compile(
    rf"^\s*([^{_NAME_CHARS}0-9][^{_NAME_CHARS}]{{0,9}}(?: [A-Za-z0-9]{{1,12}})?)\s*[:：]\s*(.*)$"
)
# Numbered speakers of speech-recognition exports ("说话人1", "发言人 2", "Speaker 3"); items of a list.
_NUMBERED_SPEAKER = re.compile(r"^(?:说话人|发言人|speaker) ?\d{1,3}$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^第|[项条点是]$")
_CLOCK = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_LEADING_TIME = re.compile(rf"^\[?{_CLOCK}\]?\s+(.*)$")
_HEADING_LINE = re.compile(
    rf"^([^\s:：0-9][^\s:：]{{0,11}}|(?:说话人|发言人|[Ss]peaker) \d{{1,3}})\s+{_CLOCK}$"
)


def _clock_ms(h: str | None, m: str, s: str, frac: str | None) -> int | None:
    minutes, seconds = int(m), int(s)
    if seconds >= 60 or (h is not None and minutes >= 60):
        return None
    ms = int((frac or "0").ljust(3, "0")[:3])
    return ((int(h or 0) * 60 + minutes) * 60 + seconds) * 1000 + ms


def is_speaker_name(name: str) -> bool:
    """Whether a colon-ended lead-in is a person ("王建国", "主持人", "说话人1"), not a label or a phrase."""
    if _NUMBERED_SPEAKER.match(name):
        return True
    return (
        name.lower() not in _NOT_SPEAKERS
        and not _NOT_IN_NAMES.intersection(name)
        and not _LIST_ITEM.search(name)
    )


def split_speaker(line: str) -> tuple[str, str]:
    """("王建国", "同志们…") for "王建国：同志们…"; ("", line) when the line names no speaker."""
    m = _SPEAKER.match(line)
    if m and is_speaker_name(m.group(1).strip()):
        return m.group(1).strip(), m.group(2).strip()
    return "", line.strip()


def segments_from_lines(lines: list[str]) -> list[Segment]:
    """One segment per non-empty line (txt, docx, pasted text), with speakers carried forward."""
    segments: list[Segment] = []
    speaker = ""
    pending_ms: int | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        heading = _HEADING_LINE.match(line)
        if heading and is_speaker_name(heading.group(1)):
            speaker = heading.group(1)
            pending_ms = _clock_ms(*heading.group(2, 3, 4, 5))
            continue
        start_ms = pending_ms
        pending_ms = None
        stamped = _LEADING_TIME.match(line)
        if stamped:
            start_ms = _clock_ms(*stamped.group(1, 2, 3, 4))
            line = stamped.group(5).strip()
        name, words = split_speaker(line)
        if name:
            speaker = name
        if words:
            segments.append(Segment(text=words, speaker=speaker, start_ms=start_ms))
    return segments


_SRT_TIME = r"(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})"
_SRT_TIMING = re.compile(rf"^{_SRT_TIME}\s*-->\s*{_SRT_TIME}(?:\s+.*)?$")
_VTT_TIME = r"(?:(\d{1,3}):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TIME}\s*-->\s*{_VTT_TIME}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks with the (1-based) line number of their first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            if not current:
                start = number
            current.append(line.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _join(lines: list[str]) -> str:
    """Cue lines as one text: Chinese lines run on, Latin ones get a space."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if out and (out[-1].isascii() and line[0].isascii()):
            out += " "
        out += line
    return out


def _timing(match: re.Match[str], number: int, cue: int) -> tuple[int, int]:
    g = match.groups()
    start, end = _clock_ms(*g[0:4]), _clock_ms(*g[4:8])
    if start is None or end is None:
        raise _invalid(
            _("Line %(line)d: cue %(cue)d has a time with more than 59 minutes or seconds.")
            % {"line": number, "cue": cue}
        )
    if end < start:
        raise _invalid(_("Line %(line)d: cue %(cue)d ends before it starts.") % {"line": number, "cue": cue})
    return start, end


def _shown(line: str) -> str:
    return line.strip()[:40]


def parse_srt(text: str) -> list[Segment]:
    """SubRip cues: an optional number, "00:00:01,000 --> 00:00:04,000", then the text lines."""
    segments: list[Segment] = []
    speaker = ""
    for cue, (start, lines) in enumerate(_blocks(text.lstrip("\ufeff")), 1):
        offset = 0
        if not _SRT_TIMING.match(lines[0].strip()):
            if not lines[0].strip().isdigit():
                raise _invalid(
                    _(
                        "Line %(line)d: cue %(cue)d should start with its number or a time range such as "
                        "00:00:01,000 --> 00:00:04,000, not “%(text)s”."
                    )
                    % {"line": start, "cue": cue, "text": _shown(lines[0])}
                )
            offset = 1
        if offset >= len(lines) or not (timing := _SRT_TIMING.match(lines[offset].strip())):
            raise _invalid(
                _(
                    "Line %(line)d: cue %(cue)d has no valid time range (such as 00:00:01,000 --> 00:00:04,000)."
                )
                % {"line": start + min(offset, len(lines) - 1), "cue": cue}
            )
        start_ms, end_ms = _timing(timing, start + offset, cue)
        words = _TAG.sub("", _join(lines[offset + 1 :]))
        name, words = split_speaker(html.unescape(words))
        speaker = name or speaker
        if words:
            segments.append(Segment(text=words, speaker=speaker, start_ms=start_ms, end_ms=end_ms))
    if not segments:
        raise _invalid(_("The subtitle file has no cue with text."))
    return segments


def parse_vtt(text: str) -> list[Segment]:
    """WebVTT: the WEBVTT header, then cues (an optional identifier, the times, the text); NOTE, STYLE
    and REGION blocks are skipped; ``<v Name>`` voice tags name the speaker."""
    text = text.lstrip("\ufeff")
    blocks = _blocks(text)
    if not blocks or not blocks[0][1][0].startswith("WEBVTT") or blocks[0][0] != 1:
        raise _invalid(_("Line 1: a WebVTT file must start with “WEBVTT”."))
    segments: list[Segment] = []
    speaker = ""
    cue = 0
    for start, lines in blocks[1:]:
        head = lines[0].strip()
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
            continue
        cue += 1
        offset = 0 if "-->" in head else 1
        if offset >= len(lines) or not (timing := _VTT_TIMING.match(lines[offset].strip())):
            raise _invalid(
                _(
                    "Line %(line)d: cue %(cue)d has no valid time range (such as 00:00:01.000 --> 00:00:04.000)."
                )
                % {"line": start + min(offset, len(lines) - 1), "cue": cue}
            )
        start_ms, end_ms = _timing(timing, start + offset, cue)
        raw = _join(lines[offset + 1 :])
        voice = _VOICE.search(raw)
        words = html.unescape(_TAG.sub("", raw)).strip()
        name, words = split_speaker(words)
        speaker = (voice.group(1).strip()[:50] if voice else "") or name or speaker
        if words:
            segments.append(Segment(text=words, speaker=speaker, start_ms=start_ms, end_ms=end_ms))
    if not segments:
        raise _invalid(_("The subtitle file has no cue with text."))
    return segments


def parse_docx(data: bytes) -> list[Segment]:
    """The paragraphs of a Word (docx) file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = {i.filename: i for i in archive.infolist()}
    except zipfile.BadZipFile:
        info = {}
    if "word/document.xml" not in info:
        raise _invalid(_("The file is not a Word document (docx)."))
    # python-docx unpacks every part: bound the whole package, not only the compressed upload.
    if (
        info["word/document.xml"].file_size > DOCX_MAX_XML_BYTES
        or sum(i.file_size for i in info.values()) > 4 * DOCX_MAX_XML_BYTES
    ):
        raise _invalid(_("The Word document is too large to read."))
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises several kinds for a damaged package
        raise _invalid(_("The Word document is damaged and cannot be read.")) from None
    return segments_from_lines([p.text for p in document.paragraphs])


def sniff_audio(head: bytes, ext: str) -> bool:
    """Whether the first bytes are those of the format the extension names."""
    if ext == "wav":
        return head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    if ext == "mp3":
        # An ID3v2 tag, or straight into an MPEG audio frame (11 sync bits, layer bits not 00).
        return head[:3] == b"ID3" or (
            len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and head[1] & 0x06 != 0
        )
    if ext == "m4a":
        return head[4:8] == b"ftyp" and head[8:12] in M4A_BRANDS
    return False


@dataclass
class CheckedUpload:
    source: str
    ext: str
    name: str
    size: int
    segments: list[Segment]
    data: bytes | None  # text files (already read); None for audio (streamed to storage)


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _mb(n: int) -> int:
    return max(n // (1024 * 1024), 1)


def check_upload(upload: Any) -> CheckedUpload:
    """Validate an uploaded transcript or recording; raise ValidationError({"file": …}) saying what to fix."""
    name = Path(str(getattr(upload, "name", "") or "")).name[-200:] or "upload"
    ext = _extension(name)
    size = int(getattr(upload, "size", 0) or 0)
    if ext == "doc":
        raise _invalid(_("Old Word files (.doc) cannot be read: save the file as .docx and upload it again."))
    if ext not in TEXT_EXTENSIONS and ext not in AUDIO_EXTENSIONS:
        raise _invalid(
            _(
                "Upload a transcript (txt, srt, vtt, docx) or a recording (wav, mp3, m4a); “%(name)s” is neither."
            )
            % {"name": name}
        )
    if size == 0:
        raise _invalid(_("The file is empty."))
    limit = audio_max_bytes() if ext in AUDIO_EXTENSIONS else text_max_bytes()
    if size > limit:
        raise _invalid(_("The file is larger than %(mb)d MB.") % {"mb": _mb(limit)})
    upload.seek(0)
    if ext in AUDIO_EXTENSIONS:
        head = upload.read(16)
        upload.seek(0)
        if not sniff_audio(head, ext):
            raise _invalid(
                _("The file is not a %(format)s recording (its content does not match its name).")
                % {"format": ext.upper()}
            )
        return CheckedUpload(Transcript.Source.AUDIO, ext, name, size, [], None)
    data = upload.read(limit + 1)
    upload.seek(0)
    if len(data) > limit:
        raise _invalid(_("The file is larger than %(mb)d MB.") % {"mb": _mb(limit)})
    if ext == "docx":
        segments = parse_docx(data)
    else:
        if data[:4] == b"PK\x03\x04":
            raise _invalid(_("The file is not a text file."))
        text = decode_text(data)
        if ext == "srt":
            segments = parse_srt(text)
        elif ext == "vtt":
            segments = parse_vtt(text)
        else:
            segments = segments_from_lines(text.split("\n"))
    if not segments:
        raise _invalid(_("The file contains no text."))
    if len(segments) > MAX_SEGMENTS:
        raise _invalid(_("The file has more than %(n)d lines or cues.") % {"n": MAX_SEGMENTS})
    return CheckedUpload(TEXT_EXTENSIONS[ext], ext, name, len(data), segments, data)


def full_text(segments: list[Segment] | QuerySet) -> str:
    """The words of the segments, one per line (speakers left out: they are not what was said)."""
    return "\n".join(s.text for s in segments)


# ------------------------------------------------------------------------------------------- writes


def _check_meeting(actor: Any, meeting: Meeting, field: str) -> None:
    ensure_can(actor, "change", meeting.org)
    if meeting.status == MeetingStatus.CANCELLED:
        raise ValidationError({field: _("The meeting was cancelled: it has no transcript.")})
    if meeting.starts_at > timezone.now():
        raise ValidationError(
            {field: _("The meeting has not started yet: add its transcript after it is held.")}
        )


def transcript_upload(*, actor: Any, meeting: Meeting, upload: Any) -> Transcript:
    """Store a transcript file (analysed now) or a recording (transcribed by a job, or kept as
    ``no_model`` when there is no speech model). Nothing is stored when the file is refused."""
    _check_meeting(actor, meeting, "file")
    checked = check_upload(upload)
    if checked.source == Transcript.Source.AUDIO:
        return _store_audio(actor=actor, meeting=meeting, checked=checked, upload=upload)
    return _store_text(
        actor=actor,
        meeting=meeting,
        source=checked.source,
        name=checked.name,
        ext=checked.ext,
        content=ContentFile(checked.data or b""),
        segments=checked.segments,
    )


def transcript_from_text(
    *, actor: Any, meeting: Meeting, text: str, name: str = "transcript.txt"
) -> Transcript:
    """A transcript typed or pasted on the page (or sent as JSON), read like a .txt file."""
    _check_meeting(actor, meeting, "text")
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    if not text.strip():
        raise ValidationError({"text": _("Paste the text of the meeting.")})
    if len(data) > text_max_bytes():
        raise ValidationError(
            {"text": _("The text is longer than %(mb)d MB.") % {"mb": _mb(text_max_bytes())}}
        )
    segments = segments_from_lines(text.split("\n"))
    if len(segments) > MAX_SEGMENTS:
        raise ValidationError({"text": _("The text has more than %(n)d lines.") % {"n": MAX_SEGMENTS}})
    name = Path(name or "transcript.txt").name[-200:]
    return _store_text(
        actor=actor,
        meeting=meeting,
        source=Transcript.Source.TXT,
        name=name if name.lower().endswith(".txt") else f"{name}.txt",
        ext="txt",
        content=ContentFile(data),
        segments=segments,
    )


def _stored_name(meeting: Meeting, ext: str) -> str:
    # Our name, never the uploader's (no path tricks, no personal data in file names).
    return f"meeting{meeting.pk}-{uuid.uuid4().hex[:12]}.{ext}"


def _store_text(
    *,
    actor: Any,
    meeting: Meeting,
    source: str,
    name: str,
    ext: str,
    content: File,
    segments: list[Segment],
) -> Transcript:
    text = full_text(segments)
    inline = len(text) <= ANALYSE_INLINE_CHARS
    # The analysis is CPU work: done before the transaction, so no lock is held while it runs.
    analysis = keywords.analyse(text) if inline else {}
    transcript = Transcript(
        meeting=meeting,
        source=source,
        original_name=name,
        size=content.size,
        status=Transcript.Status.READY if inline else Transcript.Status.QUEUED,
        progress=100 if inline else 0,
        text=text,
        analysis=analysis,
        uploaded_by=_user(actor),
    )
    transcript.file.save(_stored_name(meeting, ext), content, save=False)
    try:
        with transaction.atomic():
            transcript.save()
            _save_segments(transcript, segments)
            if not inline:
                transcript.job = job_start(actor=actor, kind=JOB_KIND, params={"transcript": transcript.pk})
                transcript.save(update_fields=["job"])
            audit_log(
                actor=actor,
                action="meetings.transcript_uploaded",
                obj=transcript,
                changes={"meeting": meeting.pk, "source": source, "name": name, "segments": len(segments)},
            )
            ensure_in_scope(actor, transcript, "change")
    except BaseException:
        transcript.file.delete(save=False)
        raise
    return transcript


def _store_audio(*, actor: Any, meeting: Meeting, checked: CheckedUpload, upload: Any) -> Transcript:
    problem = asr.unavailable_reason()
    transcript = Transcript(
        meeting=meeting,
        source=Transcript.Source.AUDIO,
        original_name=checked.name,
        size=checked.size,
        status=Transcript.Status.QUEUED if problem is None else Transcript.Status.NO_MODEL,
        error="" if problem is None else problem.message,
        uploaded_by=_user(actor),
    )
    upload.seek(0)
    transcript.file.save(_stored_name(meeting, checked.ext), upload, save=False)
    try:
        with transaction.atomic():
            transcript.save()
            if problem is None:
                transcript.job = job_start(actor=actor, kind=JOB_KIND, params={"transcript": transcript.pk})
                transcript.save(update_fields=["job"])
            audit_log(
                actor=actor,
                action="meetings.transcript_uploaded",
                obj=transcript,
                changes={
                    "meeting": meeting.pk,
                    "source": Transcript.Source.AUDIO,
                    "name": checked.name,
                    "size": checked.size,
                    "status": transcript.status,
                },
            )
            ensure_in_scope(actor, transcript, "change")
    except BaseException:
        transcript.file.delete(save=False)
        raise
    return transcript


def transcript_retry(*, actor: Any, transcript: Transcript) -> Transcript:
    """Queue again a recording that waited for a model, a transcript whose processing failed, or one
    whose job ended without finishing it (``stalled``). Refused, with the reason, while there is still
    no usable speech model."""
    ensure_can(actor, "change", transcript.meeting.org)
    if not retryable(transcript):
        raise ValidationError(
            {
                "transcript": _(
                    "Only a transcript waiting for a speech model, or one that failed, can be retried."
                )
            }
        )
    if transcript.source == Transcript.Source.AUDIO:
        problem = asr.unavailable_reason()
        if problem is not None:
            raise ValidationError({"transcript": problem.message})
    with transaction.atomic():
        locked = Transcript.objects.select_for_update().get(pk=transcript.pk)
        if not retryable(locked):
            return locked  # someone else retried it a moment ago
        before = locked.status
        locked.status = Transcript.Status.QUEUED
        locked.progress = 0
        locked.error = ""
        locked.job = job_start(actor=actor, kind=JOB_KIND, params={"transcript": locked.pk})
        locked.save(update_fields=["status", "progress", "error", "job", "updated_at"])
        audit_log(
            actor=actor,
            action="meetings.transcript_retried",
            obj=locked,
            changes={"status": [before, Transcript.Status.QUEUED]},
        )
        ensure_in_scope(actor, locked, "change")
    return locked


def transcript_delete(*, actor: Any, transcript: Transcript) -> None:
    """Delete a transcript, its segments and its file (the file once the deletion is committed)."""
    ensure_can(actor, "change", transcript.meeting.org)
    with transaction.atomic():
        ensure_in_scope(actor, transcript, "change")
        audit_log(
            actor=actor,
            action="meetings.transcript_deleted",
            obj=transcript,
            changes={
                "meeting": transcript.meeting_id,
                "name": transcript.original_name,
                "source": transcript.source,
                "status": transcript.status,
            },
        )
        file = transcript.file
        storage, name = file.storage, file.name
        transcript.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _save_segments(transcript: Transcript, segments: list[Any]) -> None:
    TranscriptSegment.objects.bulk_create(
        [
            TranscriptSegment(
                transcript=transcript,
                index=i,
                start_ms=s.start_ms,
                end_ms=s.end_ms,
                speaker=(s.speaker or "")[:50],
                text=s.text,
            )
            for i, s in enumerate(segments, 1)
        ],
        batch_size=1000,
    )


# --------------------------------------------------------------------------------------------- job


@job_handler(JOB_KIND)
def run_transcript_job(job: Job, progress: JobProgress) -> dict[str, Any]:
    """Transcribe a recording (then analyse it), or analyse a long text. Idempotent: a transcript that
    is ready, deleted, or no longer queued for this job is left alone."""
    transcript = Transcript.objects.filter(pk=(job.params or {}).get("transcript")).first()
    if transcript is None:
        return {"transcript": None}
    if transcript.status not in (Transcript.Status.QUEUED, Transcript.Status.TRANSCRIBING):
        return {"transcript": transcript.pk, "status": transcript.status}
    if transcript.source == Transcript.Source.AUDIO:
        return _transcribe(job, transcript, progress)
    return _analyse_text(job, transcript, progress)


def _set(transcript: Transcript, **fields: Any) -> int:
    """Update some fields of the row (not the rest: a page may be reading it) and of the instance."""
    for key, value in fields.items():
        setattr(transcript, key, value)
    return Transcript.objects.filter(pk=transcript.pk).update(**fields, updated_at=timezone.now())


def _analyse_text(job: Job, transcript: Transcript, progress: JobProgress) -> dict[str, Any]:
    progress(0, 100, force=True)
    try:
        analysis = keywords.analyse(transcript.text)
    except Exception as exc:
        logger.exception("analysis of transcript %s failed", transcript.pk)
        message = _("The analysis of the transcript failed: %(error)s") % {"error": str(exc)[:300]}
        _set(transcript, status=Transcript.Status.FAILED, error=message)
        raise JobFailed(message, {"transcript": transcript.pk}) from exc
    _set(transcript, status=Transcript.Status.READY, progress=100, analysis=analysis, error="")
    progress(100, 100, force=True)
    return {"transcript": transcript.pk, "status": Transcript.Status.READY}


def _audio_path(transcript: Transcript) -> tuple[str, Any]:
    """A local path to the recording (copied to a temporary file when the storage is remote)."""
    try:
        return transcript.file.path, None
    except NotImplementedError:
        import tempfile

        tmp = tempfile.NamedTemporaryFile(suffix=Path(transcript.file.name).suffix)  # noqa: SIM115
        with transcript.file.open("rb") as src:
            for chunk in src.chunks():
                tmp.write(chunk)
        tmp.flush()
        return tmp.name, tmp


def _transcribe(job: Job, transcript: Transcript, progress: JobProgress) -> dict[str, Any]:
    _set(transcript, status=Transcript.Status.TRANSCRIBING, progress=0, error="")
    progress(0, 100, force=True)
    last = {"pct": 0, "at": 0.0}

    def on_progress(fraction: float) -> None:
        pct = min(int(fraction * 100), 99)  # 100 only once the segments are saved
        now = time.monotonic()
        if pct > last["pct"] and now - last["at"] >= 1.0:
            last.update(pct=pct, at=now)
            Transcript.objects.filter(pk=transcript.pk).update(progress=pct)
            progress(pct, 100)

    tmp = None
    try:
        path, tmp = _audio_path(transcript)
        result = asr.transcribe(path, on_progress)
    except asr.AsrUnavailable as missing:
        _set(transcript, status=Transcript.Status.NO_MODEL, progress=0, error=missing.message)
        raise JobFailed(missing.message, {"transcript": transcript.pk, "status": "no_model"}) from None
    except Exception as exc:
        logger.exception("speech recognition of transcript %s failed", transcript.pk)
        message = _("Speech recognition failed: %(error)s") % {"error": str(exc)[:300] or type(exc).__name__}
        _set(transcript, status=Transcript.Status.FAILED, progress=0, error=message)
        raise JobFailed(message, {"transcript": transcript.pk, "status": "failed"}) from exc
    finally:
        if tmp is not None:
            tmp.close()
    segments = [Segment(text=s.text, start_ms=s.start_ms, end_ms=s.end_ms) for s in result.segments]
    text = full_text(segments)
    analysis = keywords.analyse(text)
    with transaction.atomic():
        locked = Transcript.objects.select_for_update().filter(pk=transcript.pk).first()
        if locked is None:  # deleted while it was being transcribed
            return {"transcript": None}
        TranscriptSegment.objects.filter(transcript=locked).delete()
        _save_segments(locked, segments)
        _set(
            locked,
            status=Transcript.Status.READY,
            progress=100,
            error="",
            text=text,
            analysis=analysis,
            language=result.language[:16],
        )
        audit_log(
            actor=job.created_by,
            action="meetings.transcript_transcribed",
            obj=locked,
            changes={"segments": len(segments), "duration_ms": result.duration_ms},
        )
    progress(100, 100, force=True)
    return {"transcript": transcript.pk, "status": Transcript.Status.READY, "segments": len(segments)}


# ------------------------------------------------------------------------------------------- reads


def transcripts_for(actor: Any, action: str = "view") -> QuerySet[Transcript]:
    return Transcript.objects.restrict(actor, action)


def can_view(actor: Any, meeting: Meeting) -> bool:
    """Transcripts are for those who see the meeting's organisation (not a member who attended)."""
    return can(actor, "view", meeting.org)


def can_change(actor: Any, meeting: Meeting) -> bool:
    return can(actor, "change", meeting.org)


def latest_transcript(actor: Any, meeting: Meeting) -> Transcript | None:
    return (
        transcripts_for(actor)
        .filter(meeting=meeting)
        .select_related("job", "uploaded_by")
        .order_by("-uploaded_at", "-id")
        .first()
    )


def stalled(transcript: Transcript) -> bool:
    """Queued or transcribing, but its job has ended (a worker that crashed or could not run it): shown
    as failed, with the job's message, and may be retried."""
    if transcript.status not in IN_PROGRESS or transcript.job_id is None:
        return False
    return bool(transcript.job and transcript.job.finished)


def in_progress(transcript: Transcript) -> bool:
    return transcript.status in IN_PROGRESS and not stalled(transcript)


def retryable(transcript: Transcript) -> bool:
    return transcript.status in RETRYABLE or stalled(transcript)


def latest_ready(actor: Any, meeting: Meeting) -> Transcript | None:
    return (
        transcripts_for(actor)
        .filter(meeting=meeting, status=Transcript.Status.READY)
        .order_by("-uploaded_at", "-id")
        .first()
    )


def status_message(transcript: Transcript) -> str:
    """What to tell the user about a transcript's state (the stored reason for no_model and failed)."""
    if stalled(transcript):
        return (transcript.job.message if transcript.job else "") or _(
            "The background job ended without finishing this transcript: start it again."
        )
    if transcript.status == Transcript.Status.NO_MODEL:
        problem = asr.unavailable_reason()
        if problem is None:
            return _("A speech recognition model is now configured: transcribe the recording again.")
        return problem.message  # the reason now, which may differ from the one at upload
    if transcript.status == Transcript.Status.FAILED:
        return transcript.error
    if transcript.status == Transcript.Status.QUEUED:
        return _("Waiting for the background worker.")
    if transcript.status == Transcript.Status.TRANSCRIBING:
        return _("Transcribing the recording: %(progress)d%%") % {"progress": transcript.progress}
    return ""
