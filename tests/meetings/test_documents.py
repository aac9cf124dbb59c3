"""The draft meeting report (meetings.documents.report_draft): a docx that reads well in Chinese.

Issue 5: a draft meeting report (docx) from a template: meeting facts, attendance, agenda, summary,
keywords, decisions and votes — for the recorder to edit and upload back as the final minutes.
"""

from __future__ import annotations

import io

import docx
import pytest
from django.utils import timezone
from docx.oxml.ns import qn

from dangjian.meetings import documents, keywords, transcripts
from dangjian.meetings.models import Attendee, Vote
from tests.meetings.test_transcripts import held_meeting, upload

SAMPLE = keywords.DATA / "sample_transcript.srt"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ASR_MODEL = ""


@pytest.fixture
def full_meeting(tree, member_factory, secretary_a):
    """A held general meeting: host, recorder, eight members expected (five present, one on leave, one
    absent, one who never checked in), a hosted flowing member, a vote, minutes and the sample transcript."""
    host = member_factory(tree.branch_a, name="王建国")
    recorder = member_factory(tree.branch_a, name="李红梅")
    meeting = held_meeting(
        tree.branch_a,
        host=host,
        recorder=recorder,
        minutes=(
            "<h3>一、专题学习</h3><p>张伟同志领学<b>习近平新时代中国特色社会主义思想</b>。</p>"
            "<ol><li>学习党章</li><li>学习<i>支部工作条例</i></li></ol>"
            "<p>会议讨论通过接收孙晓东同志为预备党员。<br>会议同意陈静同志按期转正。</p>"
            "<ul><li>部署三会一课</li></ul>"
        ),
    )
    people = [("王建国", "present"), ("李红梅", "present"), ("张伟", "present"), ("赵敏", "present"),
              ("刘洋", "present"), ("周国平", "leave"), ("吴强", "absent"), ("郑洁", "pending")]  # fmt: skip
    members = {m.name: m for m in (host, recorder)}
    for name, status in people:
        member = members.get(name) or member_factory(tree.branch_a, name=name)
        Attendee.objects.create(
            meeting=meeting,
            member=member,
            can_vote=True,
            status=status,
            leave_reason="因病住院" if status == "leave" else "",
            checked_in_at=timezone.now() if status == "present" else None,
        )
    Attendee.objects.create(meeting=meeting, member=member_factory(tree.branch_b, name="钱流动"), role="guest", can_vote=False, status="present",
                            checked_in_at=timezone.now())  # fmt: skip
    Vote.objects.create(
        org=tree.branch_a, meeting=meeting, kind="admission", title="接收孙晓东同志为预备党员", date=meeting.date,
        expected_voting=8, present_voting=5, full_members_expected=8, yes=5, no=0, abstain=0,
        written_opinions_yes=1, quorum_met=True, passed=True, rule_ref="recruitment@2014",
    )  # fmt: skip
    transcripts.transcript_upload(
        actor=secretary_a, meeting=meeting, upload=upload("党员大会.srt", SAMPLE.read_bytes())
    )
    return meeting


def open_docx(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def all_text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


def table_dict(table) -> dict[str, str]:
    """Label → value for the facts table (label, value, label, value per row; merged rows repeat)."""
    out = {}
    for row in table.rows:
        cells = [c.text for c in row.cells]
        out[cells[0]] = cells[1]
        if cells[2] != cells[1]:
            out[cells[2]] = cells[3]
    return out


def test_report_reads_well_in_chinese(full_meeting):
    document = open_docx(documents.report_draft(full_meeting))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "第一党支部支部党员大会会议记录"
    assert document.paragraphs[0].style.name == "Title"
    assert full_meeting.title in paragraphs[1]
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == [
        "一、会议基本情况",
        "二、会议议程",
        "三、会议内容摘要",
        "四、关键词",
        "五、决议和表决情况",
        "六、会议记录",
    ]

    facts = table_dict(document.tables[0])
    assert facts["主持人"] == "王建国" and facts["记录人"] == "李红梅" and facts["地点"] == "党员活动室"
    assert facts["主题"] == full_meeting.title
    # 应到 9 (the hosted flowing member attends, without a vote), 实到 6, 请假 1, 缺席 2: the one who
    # never checked in counts as absent once the meeting is over (MEETINGS.md attendance totals).
    assert (facts["应到人数"], facts["实到人数"], facts["请假人数"], facts["缺席人数"]) == (
        "9",
        "6",
        "1",
        "2",
    )
    assert facts["请假人员"] == "周国平（因病住院）"
    assert facts["缺席人员"] == "吴强、郑洁"

    body = all_text(document)
    # The agenda as numbered lines, the summary sentences, the keywords and frequent words.
    assert "一、专题学习" in paragraphs and "三、部署三会一课" in paragraphs
    analysis = full_meeting.transcripts.get().analysis
    for sentence in analysis["summary"]:
        assert sentence in paragraphs
    keyword_line = next(p for p in paragraphs if p.startswith("关键词："))
    assert "三会一课" in keyword_line and "主题党日" in keyword_line
    frequent_line = next(p for p in paragraphs if p.startswith("高频词（次数）："))
    assert frequent_line.count("、") == 14 and "党员（20）" in frequent_line
    assert "党员大会.srt" in body


def test_votes_table(full_meeting):
    document = open_docx(documents.report_draft(full_meeting))
    votes = document.tables[1]
    assert [c.text for c in votes.rows[0].cells] == ["表决事项", "赞成", "反对", "弃权", "结果", "适用规则"]
    row = [c.text for c in votes.rows[1].cells]
    assert row[0].startswith("接收预备党员") or "接收孙晓东同志为预备党员" in row[0]
    assert "书面意见：同意 1 份，不同意 0 份" in row[0]
    assert row[1:] == ["5", "0", "0", "通过", "recruitment@2014"]


def test_minutes_html_becomes_paragraphs(full_meeting):
    paragraphs = [p.text for p in open_docx(documents.report_draft(full_meeting)).paragraphs]
    start = paragraphs.index("六、会议记录") + 1
    assert paragraphs[start : start + 7] == [
        "一、专题学习",
        "张伟同志领学习近平新时代中国特色社会主义思想。",
        "1. 学习党章",
        "2. 学习支部工作条例",
        "会议讨论通过接收孙晓东同志为预备党员。",
        "会议同意陈静同志按期转正。",
        "• 部署三会一课",
    ]
    assert "记录人（签字）" in paragraphs[-2] and "主持人（签字）" in paragraphs[-2]
    assert paragraphs[-1].startswith("日期：")


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>甲</p><p>乙</p>", ["甲", "乙"]),
        ("第一行<br>第二行", ["第一行", "第二行"]),
        ("<ul><li>一</li><li>二</li></ul><ol><li>三</li></ol>", ["• 一", "• 二", "1. 三"]),
        ("<p>  多个   空格 &amp; 实体 </p>", ["多个 空格 & 实体"]),
        ("<h3>标题</h3>正文<u>下划线</u>", ["标题", "正文下划线"]),
        ("", []),
    ],
)
def test_html_paragraphs(html, expected):
    assert documents.html_paragraphs(html) == expected


def test_chinese_fonts_are_set(full_meeting):
    document = open_docx(documents.report_draft(full_meeting))
    for name, east_asia in (("Normal", "宋体"), ("Title", "黑体"), ("Heading 1", "黑体")):
        fonts = document.styles[name].element.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")) == east_asia, name
        assert fonts.get(qn("w:asciiTheme")) is None, name  # no theme font overriding ours
    section = document.sections[0]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7
    assert document.core_properties.author == ""


def test_a_meeting_with_nothing_yet_has_placeholders(tree):
    meeting = held_meeting(tree.branch_a, agenda="", place="")
    paragraphs = [p.text for p in open_docx(documents.report_draft(meeting)).paragraphs]
    for placeholder in ("（未填写会议议程）", "（尚无会议录音或文字记录，请在此填写会议内容摘要）", "（尚无会议录音或文字记录）",
                        "本次会议未进行表决。", "（尚未填写会议记录）"):  # fmt: skip
        assert placeholder in paragraphs
    facts = table_dict(open_docx(documents.report_draft(meeting)).tables[0])
    assert facts["主持人"] == "—" and facts["缺席人员"] == "无" and facts["应到人数"] == "0"


def test_a_party_lecture_names_its_lecturer(tree):
    meeting = held_meeting(
        tree.branch_a,
        kind="party_lecture",
        title="党课：在接诉即办中践行初心使命",
        lecturer_name="市委党校刘教授",
    )
    facts = table_dict(open_docx(documents.report_draft(meeting)).tables[0])
    assert facts["授课人"] == "市委党校刘教授"


def test_download_page(full_meeting, secretary_a, web):
    resp = web(secretary_a).get(f"/meetings/{full_meeting.pk}/report.docx")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert "attachment" in resp["Content-Disposition"]
    assert "%E4%BC%9A%E8%AE%AE%E8%AE%B0%E5%BD%95" in resp["Content-Disposition"]  # 会议记录, RFC 5987
    assert open_docx(resp.content).paragraphs[0].text == "第一党支部支部党员大会会议记录"


def test_download_is_scoped(full_meeting, secretary_b, web):
    assert web(secretary_b).get(f"/meetings/{full_meeting.pk}/report.docx").status_code == 404
