"""Transcripts of meetings (meetings.transcripts, transcript_views, transcript_api, the panel tag).

Issue 5: upload a transcript file (txt, srt, vtt, docx) or an audio file (wav, mp3, m4a); segments keep
timestamps and, where given, speakers; keywords, frequent words and a summary; pages and API.
"""

from __future__ import annotations

import datetime as dt
import io
import wave
import zipfile
from pathlib import Path

import docx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from dangjian.core.models import AuditEntry, Job
from dangjian.meetings import keywords, transcripts
from dangjian.meetings.models import Attendee, Meeting, Transcript, TranscriptSegment

SAMPLE = keywords.DATA / "sample_transcript.srt"


# ----------------------------------------------------------------------------------------- helpers


def held_meeting(org, *, days_ago: float = 1, **fields) -> Meeting:
    """A general meeting of ``org`` that started ``days_ago`` days ago and lasted two hours."""
    start = timezone.now() - dt.timedelta(days=days_ago)
    values = {
        "kind": "general_meeting",
        "title": "第二季度支部党员大会",
        "agenda": "一、专题学习\n二、讨论接收预备党员\n三、部署三会一课",
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=2),
        "date": timezone.localdate(start),
        "place": "党员活动室",
        "status": "held" if days_ago > 0 else "planned",
        **fields,
    }
    return Meeting.objects.create(org=org, **values)


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(rate * seconds))
    return out.getvalue()


def docx_bytes(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ASR_MODEL = ""
    return settings.MEDIA_ROOT


@pytest.fixture
def meeting(tree) -> Meeting:
    return held_meeting(tree.branch_a)


# ----------------------------------------------------------------------------------------- parsing

VALID_SRT = """1
00:00:01,000 --> 00:00:04,500
王建国：同志们，现在开会。

2
00:00:05,000 --> 00:00:09,000
今天讨论发展党员。

3
00:00:10,000 --> 00:00:12,250
李红梅：我介绍培养考察情况。
"""


def test_srt_cues_keep_times_and_speakers_carried_forward():
    segments = transcripts.parse_srt(VALID_SRT)
    assert [(s.start_ms, s.end_ms, s.speaker, s.text) for s in segments] == [
        (1000, 4500, "王建国", "同志们，现在开会。"),
        (5000, 9000, "王建国", "今天讨论发展党员。"),
        (10000, 12250, "李红梅", "我介绍培养考察情况。"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # The second cue's time range is missing its arrow.
        (
            "1\n00:00:01,000 --> 00:00:02,000\n好\n\n2\n00:00:03,000 00:00:04,000\n坏\n",
            6,
            "第 2 条字幕没有有效的时间范围",
        ),
        # A cue that ends before it starts.
        ("1\n00:00:05,000 --> 00:00:03,000\n倒\n", 2, "结束时间早于开始时间"),
        # 61 minutes is not a clock time.
        ("1\n00:61:00,000 --> 00:62:00,000\n错\n", 2, "超过 59"),
        # Text where the third cue's number should be (line 9).
        (
            "1\n00:00:01,000 --> 00:00:02,000\n好\n\n2\n00:00:03,000 --> 00:00:04,000\n好\n\n第三条\n好\n",
            9,
            "而不是“第三条”",
        ),
        # A number and nothing else: the line of the number.
        ("1\n00:00:01,000 --> 00:00:02,000\n好\n\n2\n", 5, "第 2 条字幕没有有效的时间范围"),
        # A BOM and Windows line ends do not move the line numbers: "xx" is line 6.
        ("\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\n好\r\n\r\n2\r\nxx\r\n", 6, "第 2 条字幕"),
    ],
)
def test_srt_names_the_first_bad_cue_and_its_line(text, line, fragment):
    with pytest.raises(ValidationError) as exc:
        transcripts.parse_srt(transcripts.decode_text(text.encode()))
    message = exc.value.message_dict["file"][0]
    assert message.startswith(f"第 {line} 行："), message
    assert fragment in message, message


def test_srt_message_is_chinese_with_the_line_number():
    with pytest.raises(ValidationError) as exc:
        transcripts.parse_srt("1\n00:00:01,000 --> 00:00:02,000\n好\n\n2\n00:00:03,000 00:00:04,000\n坏\n")
    assert exc.value.message_dict["file"] == [
        "第 6 行：第 2 条字幕没有有效的时间范围（例如 00:00:01,000 --> 00:00:04,000）。"
    ]


VALID_VTT = """WEBVTT

NOTE 会议录音转写

00:00:01.000 --> 00:00:03.000
<v 王建国>同志们，现在开会。</v>

intro
00:00:04.000 --> 00:00:06.500 align:start
<v.loud 李红梅>我来汇报。

00:07.000 --> 00:09.000
赵敏：党费已经全部交纳。
"""


def test_vtt_cues_voice_tags_identifiers_and_short_times():
    segments = transcripts.parse_vtt(VALID_VTT)
    assert [(s.start_ms, s.end_ms, s.speaker, s.text) for s in segments] == [
        (1000, 3000, "王建国", "同志们，现在开会。"),
        (4000, 6500, "李红梅", "我来汇报。"),
        (7000, 9000, "赵敏", "党费已经全部交纳。"),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("00:00:01.000 --> 00:00:02.000\n没有头\n", "第 1 行"),
        (
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n好\n\n00:00:03,000 --> 00:00:04,000\n逗号不行\n",
            "第 6 行",
        ),
    ],
)
def test_vtt_refusals(text, fragment):
    with pytest.raises(ValidationError) as exc:
        transcripts.parse_vtt(text)
    assert fragment in exc.value.message_dict["file"][0]


def test_text_lines_speakers_and_exported_headings():
    lines = [
        "时间：2026年6月12日",  # a heading label, not a speaker
        "王建国：同志们，现在开会。",
        "今天有三项议程。",  # the same speaker goes on
        "",
        "李红梅: 我介绍情况。",
        "下面我讲三点意见：第一，学习。",  # a lead-in, not a speaker: stays with 李红梅
        "说话人2 00:01:05",
        "我补充一点。",
        "[00:02:10] 赵敏：党费已经交齐。",
    ]
    got = [(s.speaker, s.start_ms, s.text) for s in transcripts.segments_from_lines(lines)]
    assert got == [
        ("", None, "时间：2026年6月12日"),
        ("王建国", None, "同志们，现在开会。"),
        ("王建国", None, "今天有三项议程。"),
        ("李红梅", None, "我介绍情况。"),
        ("李红梅", None, "下面我讲三点意见：第一，学习。"),
        ("说话人2", 65000, "我补充一点。"),
        ("赵敏", 130000, "党费已经交齐。"),
    ]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("王建国：开会".encode(), "王建国：开会"),
        ("\ufeff王建国：开会".encode(), "王建国：开会"),  # UTF-8 with BOM
        ("王建国：开会".encode("gb18030"), "王建国：开会"),
        ("王建国：开会".encode("utf-16"), "王建国：开会"),  # with its BOM
        (b"line one\r\nline two", "line one\nline two"),
    ],
)
def test_text_encodings(data, text):
    assert transcripts.decode_text(data) == text


@pytest.mark.parametrize("data", [b"\x00\x01\x02binary\x00", bytes(range(256)) * 4])
def test_binary_is_not_text(data):
    with pytest.raises(ValidationError):
        transcripts.decode_text(data)


@pytest.mark.parametrize(
    ("head", "ext", "ok"),
    [
        (wav_bytes()[:16], "wav", True),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3", True),
        (b"\xff\xfb\x90\x64\x00\x00\x00\x00", "mp3", True),  # an MPEG-1 layer III frame, no tag
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a", True),
        (b"\x00\x00\x00\x1cftypmp42\x00\x00\x00\x00", "m4a", True),
        (wav_bytes()[:16], "mp3", False),  # a WAV named .mp3
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "wav", False),
        ("王建国：开会".encode(), "wav", False),
        (b"\x00\x00\x00\x20ftypqt  \x00\x00\x00\x00", "m4a", False),  # a QuickTime video
        (b"\xff\xf1\x00\x00", "mp3", False),  # ADTS AAC (layer bits 00), not MP3
    ],
)
def test_audio_is_recognised_by_its_magic_bytes(head, ext, ok):
    assert transcripts.sniff_audio(head, ext) is ok


# ------------------------------------------------------------------------------------------ upload


def test_upload_of_the_sample_stores_segments_text_and_analysis(meeting, secretary_a, media):
    t = transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("党员大会.srt", SAMPLE.read_bytes())
    )
    t.refresh_from_db()
    assert (t.status, t.progress, t.source, t.original_name) == ("ready", 100, "srt", "党员大会.srt")
    segments = list(t.segments.order_by("index"))
    assert len(segments) == 64
    assert (segments[0].index, segments[0].start_ms, segments[0].speaker) == (1, 5000, "王建国")
    assert segments[0].text.startswith("同志们，现在开会。")
    assert t.text.split("\n")[0] == segments[0].text and "王建国：" not in t.text
    assert "三会一课" in [w for w, _ in t.analysis["tfidf"]]
    assert t.analysis["version"] == "1"
    # Stored under our own name in the media directory, never the uploader's.
    path = Path(t.file.path)
    assert path.is_file() and path.is_relative_to(media) and "党员大会" not in path.name
    assert path.read_bytes() == SAMPLE.read_bytes()
    entry = AuditEntry.objects.get(action="meetings.transcript_uploaded")
    assert entry.actor == secretary_a and entry.org == meeting.org and entry.changes["segments"] == 64


def test_upload_of_txt_gb18030_and_docx(meeting, secretary_a):
    t = transcripts.transcript_upload(
        actor=secretary_a,
        meeting=meeting,
        upload=upload("记录.txt", "王建国：开会。\n讨论党费收缴。".encode("gb18030")),
    )
    assert [(s.speaker, s.text) for s in t.segments.all()] == [
        ("王建国", "开会。"),
        ("王建国", "讨论党费收缴。"),
    ]
    d = transcripts.transcript_upload(
        actor=secretary_a,
        meeting=meeting,
        upload=upload(
            "记录.docx", docx_bytes(["会议记录", "王建国：同志们，现在开会。", "李红梅：我来汇报。"])
        ),
    )
    assert d.source == "docx"
    assert [(s.speaker, s.text) for s in d.segments.all()] == [
        ("", "会议记录"),
        ("王建国", "同志们，现在开会。"),
        ("李红梅", "我来汇报。"),
    ]


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("记录.pdf", b"%PDF-1.4", "都不是"),
        ("记录", "王建国：开会".encode(), "都不是"),
        ("记录.doc", b"\xd0\xcf\x11\xe0", ".docx"),
        ("记录.txt", b"", "空"),
        ("记录.txt", b"\x00\x01\x02\x03" * 10, "不是文本文件"),
        ("记录.txt", b"\n \n", "没有文字"),
        ("记录.txt", _zip({"a.txt": b"x"}), "不是文本文件"),
        ("记录.docx", b"this is not a zip", "不是 Word"),
        ("记录.docx", _zip({"word/other.xml": b"<x/>"}), "不是 Word"),
        (
            "记录.docx",
            _zip({"word/document.xml": b"<not-word/>", "[Content_Types].xml": b"<broken"}),
            "已损坏",
        ),
        ("记录.srt", b"1\n00:00:01,000 --> 00:00:02,000\n", "没有带文字"),
        ("录音.wav", "王建国：开会".encode(), "WAV"),
        ("录音.mp3", wav_bytes(), "MP3"),
        ("录音.m4a", wav_bytes(), "M4A"),
    ],
)
def test_refused_uploads_store_nothing(name, data, fragment, meeting, secretary_a, media):
    with pytest.raises(ValidationError) as exc:
        transcripts.transcript_upload(actor=secretary_a, meeting=meeting, upload=upload(name, data))
    assert fragment in exc.value.message_dict["file"][0], exc.value.message_dict
    assert Transcript.objects.count() == 0
    assert stored_files(media) == []
    assert not AuditEntry.objects.filter(action__startswith="meetings.transcript").exists()


def test_size_limits_are_settings(meeting, secretary_a, settings, media):
    settings.TRANSCRIPT_TEXT_MAX_BYTES = 1024 * 1024
    settings.TRANSCRIPT_AUDIO_MAX_BYTES = 2 * 1024 * 1024
    with pytest.raises(ValidationError) as exc:
        transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("长.txt", "党员".encode() * 200_000)
        )
    assert exc.value.message_dict["file"] == ["文件超过 1 MB。"]
    with pytest.raises(ValidationError) as exc:
        transcripts.transcript_upload(
            actor=secretary_a, meeting=meeting, upload=upload("长.wav", wav_bytes(70))
        )
    assert exc.value.message_dict["file"] == ["文件超过 2 MB。"]
    # The same recording is accepted where the limit is the default (200 MB).
    del settings.TRANSCRIPT_AUDIO_MAX_BYTES
    assert transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("长.wav", wav_bytes(70))
    )
    assert Transcript.objects.count() == 1


def test_pasted_text(meeting, secretary_a):
    t = transcripts.transcript_from_text(
        actor=secretary_a, meeting=meeting, text="王建国：讨论主题党日安排。\r\n李红梅：同意。", name="粘贴"
    )
    assert (t.source, t.original_name, t.status) == ("txt", "粘贴.txt", "ready")
    assert t.file.read().decode() == "王建国：讨论主题党日安排。\n李红梅：同意。"
    with pytest.raises(ValidationError) as exc:
        transcripts.transcript_from_text(actor=secretary_a, meeting=meeting, text="  \n ")
    assert "text" in exc.value.message_dict


@pytest.mark.parametrize("persona", ["auditor", "secretary_b", "member_a", "outsider"])
def test_only_those_who_may_change_the_meeting_upload(persona, people, meeting):
    with pytest.raises(PermissionDenied):
        transcripts.transcript_from_text(actor=people[persona], meeting=meeting, text="王建国：开会。")
    assert Transcript.objects.count() == 0


def test_no_transcript_for_a_cancelled_or_future_meeting(tree, secretary_a):
    cancelled = held_meeting(tree.branch_a, status="cancelled", cancel_reason="与上级会议冲突")
    future = held_meeting(tree.branch_a, days_ago=-2)
    for m, fragment in ((cancelled, "取消"), (future, "尚未开始")):
        with pytest.raises(ValidationError) as exc:
            transcripts.transcript_upload(
                actor=secretary_a, meeting=m, upload=upload("a.txt", "开会".encode())
            )
        assert fragment in exc.value.message_dict["file"][0]


def test_long_text_is_analysed_by_the_job(
    meeting, secretary_a, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(transcripts, "ANALYSE_INLINE_CHARS", 10)
    with django_capture_on_commit_callbacks(execute=True):
        t = transcripts.transcript_from_text(
            actor=secretary_a, meeting=meeting, text="王建国：部署三会一课和主题党日工作。"
        )
        assert t.status == "queued" and t.analysis == {}
    t.refresh_from_db()
    assert t.status == "ready" and t.progress == 100
    assert "三会一课" in [w for w, _ in t.analysis["frequent"]]
    assert t.job.kind == transcripts.JOB_KIND and t.job.status == Job.Status.SUCCEEDED


def test_delete_removes_the_row_segments_and_file(
    meeting, secretary_a, auditor, django_capture_on_commit_callbacks
):
    t = transcripts.transcript_from_text(actor=secretary_a, meeting=meeting, text="王建国：开会。")
    path = Path(t.file.path)
    with pytest.raises(PermissionDenied):
        transcripts.transcript_delete(actor=auditor, transcript=t)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        transcripts.transcript_delete(actor=secretary_a, transcript=t)
    assert not Transcript.objects.exists() and not TranscriptSegment.objects.exists()
    assert not path.exists()
    entry = AuditEntry.objects.get(action="meetings.transcript_deleted")
    assert entry.changes["name"] == "transcript.txt" and entry.org == meeting.org


def test_retry_is_only_for_waiting_or_failed_transcripts(meeting, secretary_a):
    t = transcripts.transcript_from_text(actor=secretary_a, meeting=meeting, text="王建国：开会。")
    with pytest.raises(ValidationError):
        transcripts.transcript_retry(actor=secretary_a, transcript=t)


# ------------------------------------------------------------------------------------------- pages


def test_transcript_page_shows_keywords_cloud_summary_and_segments(meeting, secretary_a, web):
    transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("会议.srt", SAMPLE.read_bytes())
    )
    resp = web(secretary_a).get(f"/meetings/{meeting.pk}/transcript/")
    assert resp.status_code == 200
    html = resp.content.decode()
    for testid in (
        "transcript-status",
        "summary",
        "word-cloud",
        "keywords",
        "tfidf",
        "textrank",
        "frequent",
        "segments",
    ):
        assert f'data-testid="{testid}"' in html, testid
    assert "三会一课" in html and "王建国" in html and "00:05" in html
    assert f"/meetings/{meeting.pk}/report.docx" in html
    assert html.count('data-count="') == 60  # the word cloud


def test_transcript_page_upload_and_paste(meeting, secretary_a, web):
    client = web(secretary_a)
    resp = client.post(
        f"/meetings/{meeting.pk}/transcript/",
        {"action": "file", "file": upload("会议.srt", VALID_SRT.encode())},
    )
    assert resp.status_code == 302
    resp = client.post(
        f"/meetings/{meeting.pk}/transcript/", {"action": "text", "text": "王建国：部署主题党日。"}
    )
    assert resp.status_code == 302
    assert Transcript.objects.filter(meeting=meeting).count() == 2
    # A refused file: the page again, the reason next to the field, nothing stored.
    resp = client.post(
        f"/meetings/{meeting.pk}/transcript/", {"action": "file", "file": upload("坏.srt", b"1\nxx\n")}
    )
    assert resp.status_code == 400
    assert 'data-testid="error-file"' in resp.content.decode() and "第 2 行" in resp.content.decode()
    assert Transcript.objects.filter(meeting=meeting).count() == 2


def test_transcript_page_scope(meeting, tree, secretary_b, auditor, member_a, web, client):
    assert web(secretary_b).get(f"/meetings/{meeting.pk}/transcript/").status_code == 404
    client.logout()
    reader = web(auditor)
    assert reader.get(f"/meetings/{meeting.pk}/transcript/").status_code == 200
    assert (
        'data-testid="upload-form"' not in reader.get(f"/meetings/{meeting.pk}/transcript/").content.decode()
    )
    assert (
        reader.post(f"/meetings/{meeting.pk}/transcript/", {"action": "text", "text": "开会"}).status_code
        == 403
    )
    assert reader.get(f"/meetings/{meeting.pk}/report.docx").status_code == 200
    client.logout()
    # A member expected at the meeting sees the meeting, not its transcript.
    Attendee.objects.create(meeting=meeting, member=member_a.member, can_vote=True)
    assert web(member_a).get(f"/meetings/{meeting.pk}/transcript/").status_code == 403
    assert web(member_a).get(f"/meetings/{meeting.pk}/report.docx").status_code == 403


def test_page_query_count_does_not_grow_with_segments(tree, secretary_a, web):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(secretary_a)
    counts = []
    for lines in (3, 300):
        m = held_meeting(tree.branch_a)
        transcripts.transcript_from_text(
            actor=secretary_a, meeting=m, text="\n".join(f"王建国：第{i}段发言。" for i in range(lines))
        )
        client.get(f"/meetings/{m.pk}/transcript/")  # the session and caches, once
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/meetings/{m.pk}/transcript/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_status_fragment_polls_and_refreshes_when_done(meeting, secretary_a, web):
    t = transcripts.transcript_from_text(actor=secretary_a, meeting=meeting, text="王建国：开会。")
    Transcript.objects.filter(pk=t.pk).update(status="transcribing", progress=40)
    client = web(secretary_a)
    resp = client.get(f"/meetings/{meeting.pk}/transcript/status/", HTTP_HX_REQUEST="true")
    html = resp.content.decode()
    assert 'hx-trigger="every 2s"' in html and "width: 40%" in html and "HX-Refresh" not in resp
    Transcript.objects.filter(pk=t.pk).update(status="ready", progress=100)
    resp = client.get(f"/meetings/{meeting.pk}/transcript/status/", HTTP_HX_REQUEST="true")
    assert resp["HX-Refresh"] == "true" and "hx-trigger" not in resp.content.decode()


def test_delete_and_download_pages(meeting, secretary_a, web, django_capture_on_commit_callbacks):
    t = transcripts.transcript_from_text(
        actor=secretary_a, meeting=meeting, text="王建国：开会。", name="原始"
    )
    client = web(secretary_a)
    resp = client.get(f"/meetings/transcripts/{t.pk}/file/")
    assert resp.status_code == 200 and b"".join(resp.streaming_content).decode() == "王建国：开会。"
    assert "attachment" in resp["Content-Disposition"]
    assert client.get(f"/meetings/transcripts/{t.pk}/delete/").status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/meetings/transcripts/{t.pk}/delete/").status_code == 302
    assert not Transcript.objects.exists()


def test_panel_shows_state_and_top_keywords_to_party_workers(meeting, secretary_a, member_a):
    transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("会议.srt", SAMPLE.read_bytes())
    )
    template = Template("{% load meeting_transcript %}{% transcript_panel meeting %}")
    request = RequestFactory().get("/")
    request.user = secretary_a
    html = template.render(Context({"meeting": meeting, "request": request}))
    top = [w for w, _ in Transcript.objects.get().analysis["tfidf"][:10]]
    assert 'data-testid="transcript-panel"' in html and all(w in html for w in top)
    assert html.count("badge rounded-pill") == 10
    assert f"/meetings/{meeting.pk}/report.docx" in html
    request.user = member_a
    assert template.render(Context({"meeting": meeting, "request": request})).strip() == ""


# --------------------------------------------------------------------------------------------- API


def test_api_get_post_and_keywords(meeting, secretary_a, api):
    client = api(secretary_a)
    url = f"/api/v1/meetings/{meeting.pk}/transcript/"
    assert client.get(url).json() == {"meeting": meeting.pk, "transcript": None, "others": []}
    resp = client.get(f"/api/v1/meetings/{meeting.pk}/keywords/")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "no_transcript" and resp.json()["error"]["status"] is None
    resp = client.post(url, {"file": upload("会议.srt", SAMPLE.read_bytes())}, format="multipart")
    assert resp.status_code == 201
    body = resp.json()["transcript"]
    assert (body["status"], body["progress"], body["source"]) == ("ready", 100, "srt")
    assert body["segments"][0] == {
        "index": 1, "start_ms": 5000, "end_ms": 13695, "speaker": "王建国",
        "text": "同志们，现在开会。今天召开第一党支部二〇二六年第二季度支部党员大会。",
    }  # fmt: skip
    assert len(body["segments"]) == 64 and body["text"].startswith("同志们")
    resp = client.post(url, {"text": "王建国：部署主题党日。"}, format="json")
    assert resp.status_code == 201
    assert [o["name"] for o in resp.json()["others"]] == ["会议.srt"]
    keywords_body = client.get(f"/api/v1/meetings/{meeting.pk}/keywords/").json()
    assert set(keywords_body) == {
        "meeting",
        "transcript",
        "tfidf",
        "textrank",
        "frequent",
        "summary",
        "version",
    }
    assert keywords_body["transcript"] == resp.json()["transcript"]["id"]


def test_api_refusals(meeting, secretary_a, member_a, api):
    client = api(secretary_a)
    url = f"/api/v1/meetings/{meeting.pk}/transcript/"
    resp = client.post(
        url, {"file": upload("坏.srt", b"1\n00:00:05,000 --> 00:00:01,000\nx\n")}, format="multipart"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"]["file"] == ["第 2 行：第 1 条字幕的结束时间早于开始时间。"]
    assert client.post(url, {}, format="json").status_code == 400
    assert Transcript.objects.count() == 0
    # A queued transcript: keywords say so.
    Transcript.objects.create(meeting=meeting, source="audio", original_name="录音.wav", status="no_model")
    resp = client.get(f"/api/v1/meetings/{meeting.pk}/keywords/")
    assert resp.status_code == 409 and resp.json()["error"]["status"] == "no_model"
    # A member expected at the meeting: 403, not the transcript.
    Attendee.objects.create(meeting=meeting, member=member_a.member, can_vote=True)
    assert api(member_a).get(url).status_code == 403
    assert api(member_a).get(f"/api/v1/meetings/{meeting.pk}/keywords/").status_code == 403


def test_a_job_that_ends_without_finishing_the_transcript_can_be_retried(
    meeting, secretary_a, web, monkeypatch, django_capture_on_commit_callbacks
):
    """A worker that cannot run the job (here: the handler is not registered in it) fails the job; the
    transcript would stay 'queued' for ever. It is shown as stopped, with the job's message, and the
    secretary starts it again."""
    from dangjian.core import jobs

    monkeypatch.setattr(transcripts, "ANALYSE_INLINE_CHARS", 3)
    monkeypatch.setattr(jobs, "_HANDLERS", {})
    monkeypatch.setattr(jobs, "_load_handlers", lambda: None)
    with django_capture_on_commit_callbacks(execute=True):
        t = transcripts.transcript_from_text(
            actor=secretary_a, meeting=meeting, text="王建国：部署主题党日。"
        )
    t.refresh_from_db()
    assert t.status == "queued" and t.job.status == Job.Status.FAILED
    assert transcripts.stalled(t) and not transcripts.in_progress(t) and transcripts.retryable(t)
    client = web(secretary_a)
    page = client.get(f"/meetings/{meeting.pk}/transcript/").content.decode()
    assert 'data-testid="failed"' in page and 'data-testid="retry"' in page and "hx-trigger" not in page
    assert t.job.message in page
    monkeypatch.undo()  # the worker is fixed
    monkeypatch.setattr(transcripts, "ANALYSE_INLINE_CHARS", 3)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/meetings/transcripts/{t.pk}/retry/").status_code == 302
    t.refresh_from_db()
    assert t.status == "ready" and "主题党日" in [w for w, _ in t.analysis["frequent"]]
