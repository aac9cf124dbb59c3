"""Transcripts and keywords of a meeting over the API (issue 5's contract).

- ``GET /api/v1/meetings/{id}/transcript/``: the latest transcript (``null`` when there is none):
  source, status (ready, queued, transcribing, no_model, failed), progress (%), the error or waiting
  reason, the text, the segments (times in ms, speaker), and the other transcripts of the meeting.
- ``POST /api/v1/meetings/{id}/transcript/``: a multipart upload (``file``: txt, srt, vtt, docx, wav,
  mp3, m4a) or JSON ``{"text": "…"}``; 201 with the same body as GET. A refused file is 400 with the
  reason in ``fields.file`` (for subtitles, the line of the first bad cue); nothing is stored. A
  recording without a speech model is stored (201) with status ``no_model`` and the reason in ``error``.
- ``GET /api/v1/meetings/{id}/keywords/``: the analysis of the latest *ready* transcript (``tfidf``,
  ``textrank``, ``frequent``, ``summary``, ``version``). When the meeting has no ready transcript the
  answer is **409** with ``error.code = "no_transcript"`` and ``error.status`` the state of the latest
  transcript (null when there is none) — the meeting exists (404 would say it does not), the keywords
  do not yet.

Meetings outside the caller's scope are 404. Transcripts are for those who see the meeting's
organisation: a member who only attended gets 403; writes need the right to change it (403).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.meetings import selectors, transcripts
from dangjian.meetings.models import Meeting, Transcript


def _segment(s: Any) -> dict[str, Any]:
    return {
        "index": s.index,
        "start_ms": s.start_ms,
        "end_ms": s.end_ms,
        "speaker": s.speaker,
        "text": s.text,
    }


def transcript_data(t: Transcript | None, *, full: bool = True) -> dict[str, Any] | None:
    if t is None:
        return None
    data: dict[str, Any] = {
        "id": t.pk,
        "source": t.source,
        "name": t.original_name,
        "size": t.size,
        "status": t.status,
        "status_display": str(t.get_status_display()),
        "progress": t.progress,
        # Why it waits (no_model), failed, or stopped (its job ended without finishing it).
        "error": transcripts.status_message(t) if transcripts.retryable(t) else "",
        "language": t.language,
        "job": t.job_id,
        "uploaded_at": t.uploaded_at,
        "uploaded_by": t.uploaded_by.display_name if t.uploaded_by_id else None,
    }
    if full:
        data["text"] = t.text
        data["segments"] = [_segment(s) for s in t.segments.all()]
    return data


def _meeting(request: Request, pk: int) -> Meeting:
    meeting = get_object_or_404(selectors.meetings_for(request.user), pk=pk)
    if not transcripts.can_view(request.user, meeting):
        raise PermissionDenied(
            _("Transcripts and report drafts are for the party workers of the organisation.")
        )
    return meeting


_SegmentSerializer = inline_serializer(
    "TranscriptSegment",
    {
        "index": serializers.IntegerField(),
        "start_ms": serializers.IntegerField(allow_null=True),
        "end_ms": serializers.IntegerField(allow_null=True),
        "speaker": serializers.CharField(),
        "text": serializers.CharField(),
    },
    many=True,
)
_TranscriptSerializer = inline_serializer(
    "Transcript",
    {
        "id": serializers.IntegerField(),
        "source": serializers.ChoiceField(choices=Transcript.Source.choices),
        "name": serializers.CharField(),
        "size": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=Transcript.Status.choices),
        "status_display": serializers.CharField(),
        "progress": serializers.IntegerField(help_text="percent"),
        "error": serializers.CharField(help_text="why it waits (no_model) or failed"),
        "language": serializers.CharField(),
        "job": serializers.IntegerField(allow_null=True, help_text="/api/v1/jobs/{id}/ of the transcription"),
        "uploaded_at": serializers.DateTimeField(),
        "uploaded_by": serializers.CharField(allow_null=True),
        "text": serializers.CharField(),
        "segments": _SegmentSerializer,
    },
    allow_null=True,
)
_MeetingTranscriptSerializer = inline_serializer(
    "MeetingTranscript",
    {
        "meeting": serializers.IntegerField(),
        "transcript": _TranscriptSerializer,
        "others": serializers.ListField(child=serializers.DictField(), help_text="earlier transcripts"),
    },
)
_UploadSerializer = inline_serializer(
    "TranscriptUpload",
    {
        "file": serializers.FileField(required=False, help_text="txt, srt, vtt, docx, wav, mp3 or m4a"),
        "text": serializers.CharField(required=False, help_text="or the text itself"),
    },
)


class MeetingTranscriptView(APIView):
    """The latest transcript of a meeting (GET), or a new one (POST: a file, or text)."""

    def _answer(self, request: Request, meeting: Meeting, code: int = 200) -> Response:
        qs = (
            transcripts.transcripts_for(request.user)
            .filter(meeting=meeting)
            .select_related("uploaded_by", "job")
            .order_by("-uploaded_at", "-id")
        )
        rows = list(qs)
        latest = rows[0] if rows else None
        return Response(
            {
                "meeting": meeting.pk,
                "transcript": transcript_data(latest),
                "others": [transcript_data(t, full=False) for t in rows[1:]],
            },
            status=code,
        )

    @extend_schema(
        responses={200: _MeetingTranscriptSerializer, 404: OpenApiResponse(description="not found")}
    )
    def get(self, request: Request, pk: int) -> Response:
        return self._answer(request, _meeting(request, pk))

    @extend_schema(
        request={"multipart/form-data": _UploadSerializer, "application/json": _UploadSerializer},
        responses={
            201: _MeetingTranscriptSerializer,
            400: OpenApiResponse(description="the file was refused"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        meeting = _meeting(request, pk)
        if not transcripts.can_change(request.user, meeting):
            raise PermissionDenied(_("You may view this meeting but not change it."))
        upload = request.FILES.get("file")
        if upload is not None:
            transcripts.transcript_upload(actor=request.user, meeting=meeting, upload=upload)
        else:
            text = request.data.get("text") if hasattr(request.data, "get") else None
            if not isinstance(text, str) or not text.strip():
                raise serializers.ValidationError(
                    {"file": [_("Send a file (multipart field “file”) or the text (field “text”).")]}
                )
            transcripts.transcript_from_text(
                actor=request.user,
                meeting=meeting,
                text=text,
                name=str(request.data.get("name") or "transcript.txt"),
            )
        return self._answer(request, meeting, status.HTTP_201_CREATED)


class MeetingKeywordsView(APIView):
    """Keywords, frequent words and summary of the meeting's latest ready transcript (409 without one)."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "MeetingKeywords",
                {
                    "meeting": serializers.IntegerField(),
                    "transcript": serializers.IntegerField(),
                    "tfidf": serializers.ListField(
                        child=serializers.ListField(), help_text="[[word, weight], …]"
                    ),
                    "textrank": serializers.ListField(child=serializers.ListField()),
                    "frequent": serializers.ListField(
                        child=serializers.ListField(), help_text="[[word, count], …]"
                    ),
                    "summary": serializers.ListField(child=serializers.CharField()),
                    "version": serializers.CharField(),
                },
            ),
            409: OpenApiResponse(description="no ready transcript yet (error.code no_transcript)"),
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        meeting = _meeting(request, pk)
        ready = transcripts.latest_ready(request.user, meeting)
        if ready is None:
            latest = transcripts.latest_transcript(request.user, meeting)
            if latest is None:
                message = _("The meeting has no transcript yet.")
            else:
                message = _("The meeting's transcript is not ready: %(status)s.") % {
                    "status": latest.get_status_display()
                }
            return Response(
                {
                    "error": {
                        "code": "no_transcript",
                        "message": message,
                        "fields": {},
                        "status": latest.status if latest else None,
                    }
                },
                status=status.HTTP_409_CONFLICT,
            )
        analysis = ready.analysis or {}
        return Response(
            {
                "meeting": meeting.pk,
                "transcript": ready.pk,
                **{key: analysis.get(key, []) for key in ("tfidf", "textrank", "frequent", "summary")},
                "version": analysis.get("version", ""),
            }
        )
