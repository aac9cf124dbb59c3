"""Pages of a meeting's transcript (/meetings/<pk>/transcript/) and its report draft (report.docx).

The transcript page uploads a file or takes pasted text, shows the latest transcript's state (a progress
bar that polls while a recording is transcribed; the reason when there is no speech model), its
keywords (TF-IDF and TextRank), frequent words as a word cloud and a table, the summary, the segments
with times and speakers, and earlier transcripts. Thin: writes go through ``meetings.transcripts``;
the meeting is looked up in the user's scope (404 outside it); transcripts are for those who see the
meeting's organisation (a member who only attended gets 403), writes for those who may change it.
"""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from dangjian.meetings import asr, documents, selectors, transcripts
from dangjian.meetings.models import Meeting, MeetingAttachment, Transcript

STATUS_BADGES = {
    Transcript.Status.READY: "text-bg-success",
    Transcript.Status.QUEUED: "text-bg-secondary",
    Transcript.Status.TRANSCRIBING: "text-bg-primary",
    Transcript.Status.NO_MODEL: "text-bg-warning",
    Transcript.Status.FAILED: "text-bg-danger",
}
# The word cloud: font sizes (rem) between these, on a log scale of the counts; party reds and golds.
CLOUD_MIN_REM, CLOUD_MAX_REM = 0.85, 2.6
CLOUD_COLORS = ("#c8161d", "#a31217", "#d4572f", "#b8860b", "#8b1a1a", "#e0483e", "#9c6b00", "#6b1f1f")
SEGMENTS_SHOWN = 2000


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_l("Transcript or recording"),
        help_text=_l("txt, srt, vtt or docx; or a wav, mp3 or m4a recording."),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": transcripts.ACCEPT}),
    )


class TextForm(forms.Form):
    text = forms.CharField(
        label=_l("Text of the meeting"),
        help_text=_l("One speech per line; start a line with “Name：” to name the speaker."),
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 8}),
        strip=False,
    )


def _meeting(request: HttpRequest, pk: int) -> Meeting:
    """The meeting if the user sees it (404 otherwise) and may see its transcripts (403 otherwise)."""
    meeting = get_object_or_404(selectors.meetings_for(request.user), pk=pk)
    if not transcripts.can_view(request.user, meeting):
        raise PermissionDenied(
            _("Transcripts and report drafts are for the party workers of the organisation.")
        )
    return meeting


def _transcript(request: HttpRequest, pk: int) -> Transcript:
    return get_object_or_404(transcripts.transcripts_for(request.user).select_related("meeting__org"), pk=pk)


def word_cloud(frequent: list[list[Any]]) -> list[dict[str, Any]]:
    """Frequent words as cloud items (word, count, size in rem, colour), the biggest in the middle."""
    if not frequent:
        return []
    counts = [n for _w, n in frequent]
    lo, hi = math.log(min(counts)), math.log(max(counts))
    items = []
    for rank, (word, n) in enumerate(frequent):
        share = (math.log(n) - lo) / (hi - lo) if hi > lo else 1.0
        items.append(
            {
                "word": word,
                "count": n,
                "size": round(CLOUD_MIN_REM + (CLOUD_MAX_REM - CLOUD_MIN_REM) * share, 2),
                "color": CLOUD_COLORS[rank % len(CLOUD_COLORS)],
                "weight": 700 if share > 0.6 else (600 if share > 0.3 else 400),
            }
        )
    arranged: list[dict[str, Any]] = []
    for i, item in enumerate(items):  # alternate sides, so the largest words end up in the middle
        if i % 2:
            arranged.append(item)
        else:
            arranged.insert(0, item)
    return arranged


def _bars(pairs: list[list[Any]]) -> list[dict[str, Any]]:
    top = max((float(w) for _word, w in pairs), default=0.0) or 1.0
    return [
        {"word": word, "weight": weight, "percent": round(float(weight) * 100 / top)}
        for word, weight in pairs
    ]


def _ms(value: int | None) -> str:
    if value is None:
        return ""
    seconds = value // 1000
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _status_context(request: HttpRequest, meeting: Meeting, latest: Transcript | None) -> dict[str, Any]:
    return {
        "meeting": meeting,
        "latest": latest,
        "badge": STATUS_BADGES.get(latest.status, "text-bg-secondary") if latest else "",
        "in_progress": latest is not None and transcripts.in_progress(latest),
        "stalled": latest is not None and transcripts.stalled(latest),
        "message": transcripts.status_message(latest) if latest else "",
        "can_change": transcripts.can_change(request.user, meeting),
        "can_retry": latest is not None
        and transcripts.retryable(latest)
        and (latest.source != Transcript.Source.AUDIO or asr.available()),
    }


def _page(
    request: HttpRequest,
    meeting: Meeting,
    *,
    upload_form: UploadForm | None = None,
    text_form: TextForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    history = list(
        transcripts.transcripts_for(user)
        .filter(meeting=meeting)
        .select_related("uploaded_by", "job")
        .order_by("-uploaded_at", "-id")
    )
    latest = history[0] if history else None
    chosen = None
    raw = request.GET.get("t", "")
    if raw.isdigit():
        chosen = next((t for t in history if t.pk == int(raw)), None)
    shown = chosen or next((t for t in history if t.status == Transcript.Status.READY), None) or latest
    analysis = (shown.analysis or {}) if shown is not None and shown.status == Transcript.Status.READY else {}
    segments = []
    if shown is not None:
        segments = [
            {"start": _ms(s.start_ms), "end": _ms(s.end_ms), "speaker": s.speaker, "text": s.text}
            for s in shown.segments.all()[:SEGMENTS_SHOWN]
        ]
    speakers = sorted({s["speaker"] for s in segments if s["speaker"]})
    segment_count = (
        shown.segments.count() if shown is not None and len(segments) >= SEGMENTS_SHOWN else len(segments)
    )
    can_change = transcripts.can_change(user, meeting)
    context = {
        **_status_context(request, meeting, latest),
        "shown": shown,
        "history": history,
        "analysis": analysis,
        "tfidf": _bars(analysis.get("tfidf") or []),
        "textrank": _bars(analysis.get("textrank") or []),
        "frequent": analysis.get("frequent") or [],
        "cloud": word_cloud((analysis.get("frequent") or [])[:60]),
        "summary": analysis.get("summary") or [],
        "segments": segments,
        "segment_count": segment_count,
        "segments_cut": segment_count > len(segments),
        "speakers": speakers,
        "upload_form": upload_form or (UploadForm() if can_change else None),
        "text_form": text_form or (TextForm() if can_change else None),
        "open_tab": "text" if text_form is not None and text_form.errors else "file",
        "asr_available": asr.available(),
        "final_minutes": meeting.attachments.filter(kind=MeetingAttachment.Kind.FINAL_MINUTES).exists(),
        "statuses": Transcript.Status,
    }
    return render(request, "meetings/transcript.html", context, status=status)


def _form_errors(form: forms.Form, exc: ValidationError, default_field: str) -> None:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {default_field: exc.messages}
    for name, msgs in fields.items():
        for msg in msgs:
            form.add_error(name if name in form.fields else default_field, msg)


@login_required
def transcript(request: HttpRequest, pk: int) -> HttpResponse:
    """会议记录与关键词: upload or paste a transcript, follow its transcription, read its analysis."""
    meeting = _meeting(request, pk)
    if request.method != "POST":
        return _page(request, meeting)
    if not transcripts.can_change(request.user, meeting):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    if request.POST.get("action") == "text":
        text_form = TextForm(request.POST)
        if text_form.is_valid():
            try:
                transcripts.transcript_from_text(
                    actor=request.user, meeting=meeting, text=text_form.cleaned_data["text"]
                )
            except ValidationError as exc:
                _form_errors(text_form, exc, "text")
            else:
                messages.success(request, _("The text was saved and analysed."))
                return redirect("meetings:transcript", meeting.pk)
        return _page(request, meeting, text_form=text_form, status=400)
    upload_form = UploadForm(request.POST, request.FILES)
    if upload_form.is_valid():
        try:
            t = transcripts.transcript_upload(
                actor=request.user, meeting=meeting, upload=upload_form.cleaned_data["file"]
            )
        except ValidationError as exc:
            _form_errors(upload_form, exc, "file")
        else:
            if t.status == Transcript.Status.NO_MODEL:
                messages.warning(request, t.error)
            elif t.status in transcripts.IN_PROGRESS:
                messages.info(
                    request,
                    _("“%(name)s” was uploaded and is being transcribed.") % {"name": t.original_name},
                )
            else:
                messages.success(
                    request, _("“%(name)s” was uploaded and analysed.") % {"name": t.original_name}
                )
            return redirect("meetings:transcript", meeting.pk)
    return _page(request, meeting, upload_form=upload_form, status=400)


@login_required
def transcript_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status card of the latest transcript (polled by the page while it is being transcribed);
    once it is no longer in progress the whole page reloads to show the result."""
    meeting = _meeting(request, pk)
    latest = transcripts.latest_transcript(request.user, meeting)
    response = render(request, "meetings/_transcript_status.html", _status_context(request, meeting, latest))
    if request.headers.get("HX-Request") == "true" and (
        latest is None or not transcripts.in_progress(latest)
    ):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def transcript_retry(request: HttpRequest, pk: int) -> HttpResponse:
    t = _transcript(request, pk)
    if not transcripts.can_change(request.user, t.meeting):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    try:
        transcripts.transcript_retry(actor=request.user, transcript=t)
    except ValidationError as exc:
        messages.error(request, "；".join(m for ms in exc.message_dict.values() for m in ms))
    else:
        messages.info(request, _("“%(name)s” is queued again.") % {"name": t.original_name})
    return redirect("meetings:transcript", t.meeting_id)


@login_required
@require_POST
def transcript_delete(request: HttpRequest, pk: int) -> HttpResponse:
    t = _transcript(request, pk)
    if not transcripts.can_change(request.user, t.meeting):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    meeting_id, name = t.meeting_id, t.original_name
    transcripts.transcript_delete(actor=request.user, transcript=t)
    messages.success(request, _("“%(name)s” was deleted.") % {"name": name})
    return redirect("meetings:transcript", meeting_id)


@login_required
def transcript_file(request: HttpRequest, pk: int) -> FileResponse:
    """The uploaded file or recording, through the scope check (never served from MEDIA_URL)."""
    t = _transcript(request, pk)
    if not transcripts.can_view(request.user, t.meeting):
        raise PermissionDenied
    return FileResponse(t.file.open("rb"), as_attachment=True, filename=t.original_name)


@login_required
def report_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """The meeting's draft report (docx) for the recorder to edit and upload back as final minutes."""
    meeting = _meeting(request, pk)
    data = documents.report_draft(meeting)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response["Content-Disposition"] = content_disposition_header(True, documents.report_filename(meeting))
    return response
