"""Demo organization life: a year of 三会一课 and the rest for every branch of the demo city 示范市.

``load_meetings_demo(*, actor, today) -> dict`` (idempotent: does nothing when any meeting exists;
returns the rows made by table, plus ``minutes`` (meetings minuted) and ``votes_linked``). For the twelve months ending at ``today`` every active branch and
joint branch of the city holds, as RULES.md §3 (支部工作条例 第十四条至第十六条) asks:

- a general meeting (支部党员大会) each quarter, a committee meeting (支委会) each month while it has an
  elected committee on record, a party-group meeting (党小组会) each month in each of its groups, a party
  lecture (党课) each quarter (local practice), a theme party day (主题党日) each month on its own fixed
  day (``MeetingOrgSetting.theme_day``, 1–28), last year's organization life meeting (组织生活会, in Q4)
  and democratic appraisal (民主评议党员), and a few "other" meetings; every party committee's secretary
  gives a party lecture this year;
- six branches have deliberate gaps (a missed quarter, missed months, a meeting cancelled and never
  made up), so the compliance table has red cells; the current periods are partly still open;
- meetings in the next two weeks are planned (the calendar and the reminders have content), with a few
  leave requests waiting for the secretary;
- attendance of every held meeting follows the roster rules (meetings.roster): the branch's full and
  probationary members on the register that day (a vote for full members only), hosted flowing members
  as guests without a vote, the committee for committee meetings, the group for group meetings; 85–95 %
  present by QR code, by hand, at the check-in devices of two service centres or by video, some on
  approved leave, a few absent;
- minutes for most held meetings, none yet for the last few days' and for a handful that are overdue
  (the minutes-missing alert);
- the recruitment demo's votes (steps 15 and 23, recorded without a meeting) each get the branch's
  general meeting of that day, whose attendance gives the vote's counts, and ``Vote.meeting`` is set;
- shuji1's branch has the shipped sample transcript on a general meeting, with its keywords;
- last year's 组织生活会 has its 谈心谈话 and criticism notes, and the 民主评议 its ratings (mostly 合格,
  some 优秀, one 基本合格) with some secret mutual ratings.

Speed: the register is read once and the roster of each meeting worked out in memory by the rules of
meetings.roster (the tests compare the two); the tables are written with ``bulk_create`` in batches
(``Meeting.date`` set here to the local date of ``starts_at``, as the services do), the 70,000 attendees
with one ``executemany`` (``insert_attendees``), the transcript through ``transcripts.transcript_upload``
as a secretary would. About 200 queries and 8–10 seconds on SQLite, a third of it the first use of jieba.
One ``random.Random`` with a fixed seed: the same city and day give the same meetings.

The recruitment demo records every vote as 9 voting members expected and 8 present, whatever the
branch: such a vote's meeting lists those nine (the officers first), so the meeting and the vote agree;
a vote counted from the register gets the whole branch.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from dangjian.core import rulebook
from dangjian.core.audit import audit_log
from dangjian.meetings.models import (
    Appraisal,
    AppraisalRating,
    AttendanceChannel,
    AttendanceStatus,
    Attendee,
    CheckinDevice,
    LeaveStatus,
    LifeMeetingNote,
    Meeting,
    MeetingKind,
    MeetingOrgSetting,
    MeetingPlace,
    MeetingStatus,
    MutualRating,
    TalkRecord,
    Transcript,
    TranscriptSegment,
    Vote,
    VoteKind,
)
from dangjian.members.choices import CURRENT_STATUSES, MemberStatus
from dangjian.members.models import DisciplineKind, Member, MemberDiscipline
from dangjian.orgs.models import BRANCH_TYPES, CommitteePosition, Organization, OrgStatus, OrgType

SEED = "meetings-demo-2026"
HISTORY_MONTHS = 12
PLAN_AHEAD_DAYS = 14
GAP_BRANCHES = 6
BATCH = 2000
SAMPLE_TRANSCRIPT = Path(__file__).resolve().parent / "data" / "sample_transcript.srt"
K = MeetingKind
SECRETARY = CommitteePosition.Title.SECRETARY
OFFICERS = (CommitteePosition.Title.SECRETARY, CommitteePosition.Title.DEPUTY_SECRETARY)
# Community committees whose 党群服务中心 has a card reader at the door (check-in channel "device").
DEVICE_CENTRES = ("东华门社区党委", "月坛社区党委")


# ── what the meetings are about ──────────────────────────────────────────────────────────────────────

GENERAL_TOPICS = [
    "学习贯彻党的二十届四中全会精神",
    "深入学习贯彻中央八项规定精神",
    "通报支部半年工作和党费收缴情况",
    "研究支部年度工作计划",
    "讨论党员发展工作和入党积极分子培养情况",
    "学习《中国共产党章程》和党内法规",
]
COMMITTEE_TOPICS = [
    ("传达上级党组织会议精神", "研究本月主题党日活动安排"),
    ("讨论入党积极分子培养考察情况", "研究党费收缴和使用情况"),
    ("分析党员思想动态", "研究为民办实事项目推进情况"),
    ("研究党员教育培训计划", "安排下月“三会一课”"),
    ("研究困难党员帮扶名单", "讨论支部阵地建设"),
    ("听取党小组工作汇报", "研究发展党员工作计划"),
]
GROUP_TOPICS = [
    "学习《中国共产党章程》",
    "交流学习体会",
    "学习习近平新时代中国特色社会主义思想专题",
    "讨论党员志愿服务安排",
    "学习党纪法规 强化纪律意识",
    "收集群众意见建议",
]
LECTURES = [
    "牢记初心使命，争做合格党员",
    "以党的创新理论武装头脑、指导实践",
    "学党史、悟思想、办实事、开新局",
    "严守党的纪律，永葆清正廉洁本色",
    "践行全心全意为人民服务的根本宗旨",
    "发挥基层党组织战斗堡垒作用",
    "弘扬伟大建党精神，走好新时代赶考之路",
    "加强作风建设，密切党群干群关系",
]
OUTSIDE_LECTURERS = [
    "市委党校 王立新教授",
    "区委宣讲团 刘芳同志",
    "老党员 张德明同志",
    "市委党校 赵文华副教授",
]
# A theme for each calendar month (主题党日), month 1 to 12.
THEME_DAYS = {
    1: "新春走访慰问困难党员群众",
    2: "学习传达上级会议精神",
    3: "学雷锋志愿服务进社区",
    4: "清明祭英烈，传承红色基因",
    5: "劳动创造幸福——环境卫生整治",
    6: "重温入党誓词，迎接党的生日",
    7: "庆祝建党纪念日，表彰优秀党员",
    8: "关心关爱退役军人和困难群众",
    9: "参观廉政教育基地",
    10: "学习新中国史，喜迎国庆",
    11: "宪法宣传和法治进社区",
    12: "年终总结，谈心谈话",
}
OTHER_MEETINGS = [
    ("党员志愿服务队动员会", "部署近期志愿服务；划分服务片区；明确联络人"),
    ("“七一”表彰座谈会", "表彰优秀共产党员；老党员讲述入党经历；交流发言"),
    ("防汛抗旱党员突击队动员会", "通报汛情；组建党员突击队；明确值守安排"),
    ("支部换届选举筹备会", "学习换届选举有关规定；讨论候选人推荐办法；确定选举日期"),
    ("党员积分管理工作部署会", "学习积分管理办法；通报上季度积分情况"),
]
LEAVE_REASONS = ["因公出差", "单位值班", "家中有事", "身体不适", "外出培训", "照顾生病家属"]
LEAVE_REASONS_RETIRED = ["身体不适", "住院治疗", "外出探亲", "照顾老伴"]
LEAVE_REASONS_STUDENT = ["课程考试", "实习外出", "参加学科竞赛"]
LEAVE_FLOWING = "外出务工（流动党员），已向支部报告"
CANCEL_REASONS = [
    "因防汛值守任务，会议改期召开",
    "与上级党委专题会议时间冲突，改期召开",
    "活动场地临时维修，改期召开",
]
CANCEL_NOT_MADE_UP = "因台风红色预警取消，本季度未能补开"
TALK_TOPICS = [
    "交流思想和工作情况，征求对支部班子的意见",
    "谈工作中的困难和思想顾虑",
    "征求对组织生活会的意见建议",
    "交流学习体会，互相指出不足",
    "了解家庭和生活情况，听取意见建议",
]
TALK_NOTES = [
    "双方敞开心扉，交流了近期思想和工作情况，对支部工作提出了改进建议。",
    "谈话对象表示将进一步加强理论学习，积极参加组织生活。",
    "了解到其家庭存在一定困难，支部将予以关心帮助。",
    "就查摆出的问题交换了意见，明确了努力方向。",
]
SELF_CRITICISM = [
    "理论学习不够系统，满足于读文件、记笔记，联系实际思考不够。",
    "参加志愿服务次数不多，发挥先锋模范作用不够明显。",
    "工作中有时存在畏难情绪，主动担当意识还需增强。",
    "联系群众不够紧密，深入了解群众诉求做得不够。",
    "对党费缴纳、组织生活等日常要求有时不够主动。",
]
CRITICISM = [
    "希望该同志在学习上更加主动，多在支部交流中发言。",
    "建议该同志注意工作方法，多听取群众意见。",
    "希望该同志按时参加组织生活，遇事及时向支部报告。",
]
RECTIFICATION = [
    "每月至少精读一篇理论文章并撰写心得，按时参加支部学习。",
    "每季度至少参加两次社区志愿服务，主动联系两户群众。",
    "严格落实请假报告制度，按时足额交纳党费。",
]
SELF_ASSESSMENT = [
    "一年来认真学习党的创新理论，按时参加组织生活，按时交纳党费，在工作中发挥了党员作用；不足是学习深度不够。",
    "能够自觉遵守党的纪律，积极参加支部活动和志愿服务；今后要进一步加强学习，提高服务群众本领。",
    "坚定理想信念，立足岗位做好本职工作；存在的不足是联系群众不够广泛，今后加以改进。",
    "按时参加“三会一课”和主题党日，完成支部交办的工作任务；需要在理论联系实际上下功夫。",
]


# ── the register, read once ──────────────────────────────────────────────────────────────────────────


@dataclass(slots=True)
class _Person:
    id: int
    name: str
    org_id: int
    group_id: int | None
    status: str
    join_date: dt.date
    full_date: dt.date | None
    birth_year: int
    occupation: str


@dataclass(slots=True)
class _Position:
    member_id: int
    title: str
    start: dt.date | None
    end: dt.date | None


@dataclass(slots=True)
class _Flow:
    member_id: int
    start: dt.date
    end: dt.date | None
    host_org_id: int | None


@dataclass(slots=True)
class _Att:
    """An attendee row before it is written (a model instance each would cost most of the load time)."""

    meeting: Meeting
    member_id: int
    role: str
    can_vote: bool
    updated_by_id: int | None
    status: str = AttendanceStatus.PENDING.value
    channel: str = ""
    checked_in_at: dt.datetime | None = None
    leave_status: str = ""
    leave_reason: str = ""
    leave_requested_at: dt.datetime | None = None
    leave_decided_by_id: int | None = None
    leave_decided_at: dt.datetime | None = None
    leave_note: str = ""
    expected: bool = True
    adjust_reason: str = ""


@dataclass
class _Plan:
    """One meeting to make (before it is a row), with what its attendance and record should look like."""

    org: Organization
    kind: str
    day: dt.date
    start: dt.time
    minutes: int
    title: str
    agenda: str = ""
    status: str = MeetingStatus.HELD
    cancel_reason: str = ""
    venue: MeetingPlace | None = None
    place: str = ""  # where, when it is not one of the places with a record
    video: bool = False
    host: int | None = None
    recorder: int | None = None
    lecturer: int | None = None
    lecturer_name: str = ""
    with_minutes: bool = True
    votes: list[Vote] = field(default_factory=list)
    branch: Organization | None = None  # the branch whose register it draws on (a group's branch)
    meeting: Meeting | None = None
    attendees: list[_Att] = field(default_factory=list)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, n: int) -> dt.date:
    m = day.year * 12 + day.month - 1 + n
    return dt.date(m // 12, m % 12 + 1, 1)


def _month_end(day: dt.date) -> dt.date:
    return _add_months(day, 1) - dt.timedelta(days=1)


def _quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def _quarter_first(year: int, q: int) -> dt.date:
    return dt.date(year, 3 * q - 2, 1)


def _quarter_last(year: int, q: int) -> dt.date:
    return _add_months(_quarter_first(year, q), 3) - dt.timedelta(days=1)


def _cn(n: int) -> str:
    return "一二三四"[n - 1]


class _Demo:
    def __init__(self, *, actor: Any, today: dt.date, root: Organization) -> None:
        self.actor = actor
        self.today = today
        self.root = root
        self.rng = random.Random(SEED)
        self.tz = timezone.get_current_timezone()
        self.horizon = today + dt.timedelta(days=PLAN_AHEAD_DAYS)
        self.first_month = _add_months(_month_start(today), -(HISTORY_MONTHS - 1))
        self.months: list[dt.date] = []
        m = self.first_month
        while m <= self.horizon:
            self.months.append(m)
            m = _add_months(m, 1)
        self.counts: dict[str, int] = defaultdict(int)
        self._read_register()

    # ── reading ─────────────────────────────────────────────────────────────────────────────────────

    def _read_register(self) -> None:
        from dangjian.accounts.models import RoleAssignment
        from dangjian.core.scoping import Role
        from dangjian.transfers.models import FlowCertificate

        prefix = self.root.path
        orgs = list(
            Organization.objects.filter(path__startswith=prefix, status=OrgStatus.ACTIVE).order_by("path")
        )
        self.branches = [o for o in orgs if o.org_type in BRANCH_TYPES]
        self.committees = [o for o in orgs if o.org_type in (OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE)]
        by_path = {o.path: o for o in orgs}
        steplen = Organization.steplen
        self.groups: dict[int, list[Organization]] = defaultdict(list)
        self.parent: dict[int, Organization | None] = {}
        for o in orgs:
            self.parent[o.pk] = by_path.get(o.path[:-steplen])
            if o.org_type == OrgType.GROUP and self.parent[o.pk] is not None:
                self.groups[self.parent[o.pk].pk].append(o)

        self.people: dict[int, _Person] = {}
        self.members_of: dict[int, list[_Person]] = defaultdict(list)
        self.group_members: dict[int, list[_Person]] = defaultdict(list)
        rows = (
            Member.objects.filter(org_path__startswith=prefix, status__in=CURRENT_STATUSES)
            .order_by("id")
            .values_list(
                "id", "name", "org_id", "group_id", "status", "join_date", "full_date", "birth_date",
                "occupation",
            )
        )  # fmt: skip
        for pk, name, org_id, group_id, status, join, full, birth, occupation in rows:
            p = _Person(pk, name, org_id, group_id, status, join, full, birth.year, occupation)
            self.people[pk] = p
            self.members_of[org_id].append(p)
            if group_id:
                self.group_members[group_id].append(p)

        self.positions: dict[int, list[_Position]] = defaultdict(list)
        self.term_start: dict[int, dt.date] = {}
        for org_id, start, title, member_id, p_start, p_end in (
            CommitteePosition.objects.filter(term__end_date__isnull=True, term__org__path__startswith=prefix)
            .order_by("term__org_id", "id")
            .values_list("term__org_id", "term__start_date", "title", "member_id", "start_date", "end_date")
        ):
            self.positions[org_id].append(_Position(member_id, title, p_start or start, p_end))
            self.term_start[org_id] = start

        self.without_rights: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
        for member_id, decided, restored in MemberDiscipline.objects.filter(
            kind=DisciplineKind.PROBATION_WITHIN_PARTY, member__org_path__startswith=prefix
        ).values_list("member_id", "decided_on", "rights_restored_on"):
            self.without_rights[member_id].append((decided, restored))

        self.flows: dict[int, list[_Flow]] = defaultdict(list)  # member → certificates (away)
        self.hosted: dict[int, list[_Flow]] = defaultdict(list)  # host org → certificates
        for member_id, start, end, host_id in FlowCertificate.objects.filter(status="active").values_list(
            "member_id", "start", "end", "host_org_id"
        ):
            flow = _Flow(member_id, start, end, host_id)
            self.flows[member_id].append(flow)
            if host_id:
                self.hosted[host_id].append(flow)
        guests = {f.member_id for fs in self.hosted.values() for f in fs} - set(self.people)
        for pk, name, org_id, group_id, status, join, full, birth, occupation in Member.objects.filter(
            pk__in=guests, status__in=CURRENT_STATUSES
        ).values_list(
            "id", "name", "org_id", "group_id", "status", "join_date", "full_date", "birth_date", "occupation"
        ):
            self.people[pk] = _Person(pk, name, org_id, group_id, status, join, full, birth.year, occupation)

        # The secretary's login records what the branch records (else the demo's administrator).
        self.secretary_user: dict[int, int] = dict(
            RoleAssignment.objects.filter(
                role=Role.SECRETARY, active=True, org__in=[b.pk for b in self.branches]
            ).values_list("org_id", "user_id")
        )
        self.shuji1_branch = self._branch_of_user("shuji1")
        self.votes = list(
            Vote.objects.filter(meeting__isnull=True, org__path__startswith=prefix, date__lt=self.today)
            .prefetch_related("subject")
            .order_by("date", "id")
        )

    # ── the register on a day ───────────────────────────────────────────────────────────────────────

    def has_vote(self, p: _Person, day: dt.date) -> bool:
        """members.selectors.voting_members: full members (党章 第七条) with their rights (第三十九条)."""
        if p.status != MemberStatus.FULL or (p.full_date is not None and p.full_date > day):
            return False
        return not any(d <= day and (r is None or r > day) for d, r in self.without_rights.get(p.id, ()))

    def away(self, member_id: int, day: dt.date) -> bool:
        return any(f.start <= day and (f.end is None or f.end >= day) for f in self.flows.get(member_id, ()))

    def committee_on(self, org_id: int, day: dt.date) -> list[_Position]:
        seen: dict[int, _Position] = {}
        for pos in self.positions.get(org_id, ()):
            on_day = (pos.start is None or pos.start <= day) and (pos.end is None or pos.end > day)
            if on_day and pos.member_id in self.people:
                seen.setdefault(pos.member_id, pos)
        return list(seen.values())

    def has_committee(self, org_id: int, day: dt.date) -> bool:
        """An elected committee (a position besides secretary and deputy: 支部工作条例 第十条)."""
        return any(p.title not in OFFICERS for p in self.committee_on(org_id, day))

    def roster(self, plan: _Plan) -> list[tuple[_Person, str, bool]]:
        """meetings.roster.expected_attendees, from the register read once."""
        day, org = plan.day, plan.org
        roster_role, guest_role = Attendee.Role.ROSTER, Attendee.Role.GUEST
        if plan.kind == K.COMMITTEE_MEETING or org.org_type in (OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE):
            return [(self.people[p.member_id], roster_role, True) for p in self.committee_on(org.pk, day)]
        if plan.kind == K.GROUP_MEETING:
            return [
                (p, roster_role, self.has_vote(p, day))
                for p in self.group_members[org.pk]
                if p.join_date <= day
            ]
        entries = [
            (p, roster_role, self.has_vote(p, day)) for p in self.members_of[org.pk] if p.join_date <= day
        ]
        for flow in self.hosted.get(org.pk, ()):
            guest = self.people.get(flow.member_id)
            if (
                guest is not None
                and guest.org_id != org.pk
                and guest.join_date <= day
                and flow.start <= day
                and (flow.end is None or flow.end >= day)
            ):
                entries.append((guest, guest_role, False))  # 流动党员 at the host: no vote (RULES.md §4)
        return entries

    # ── helpers ─────────────────────────────────────────────────────────────────────────────────────

    def at(self, day: dt.date, time: dt.time, minutes: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.tz) + dt.timedelta(minutes=minutes)

    def pick_day(self, first: dt.date, last: dt.date, weekday: bool = True) -> dt.date:
        """A day in [first, last], a working day where possible."""
        span = (last - first).days
        day = first + dt.timedelta(days=self.rng.randint(0, max(span, 0)))
        for _ in range(6):
            if not weekday or day.weekday() < 5:
                break
            day = first + dt.timedelta(days=self.rng.randint(0, max(span, 0)))
        return day

    def status_on(self, day: dt.date) -> str | None:
        """Held before today, planned from today to the horizon, not made beyond it."""
        if day < self.today:
            return MeetingStatus.HELD
        if day <= self.horizon:
            return MeetingStatus.PLANNED
        return None

    def start_time(self, org: Organization) -> dt.time:
        if org.sector == "community":
            return dt.time(9, 0)
        if org.sector == "school":
            return dt.time(16, 30)
        return self.rng.choice([dt.time(14, 30), dt.time(15, 0), dt.time(9, 0)])

    def officer(self, org_id: int, day: dt.date, titles: Iterable[str]) -> int | None:
        for title in titles:
            for p in self.committee_on(org_id, day):
                if p.title == title:
                    return p.member_id
        return None

    def host_recorder(self, org: Organization, day: dt.date) -> tuple[int | None, int | None]:
        host = self.officer(org.pk, day, [SECRETARY, CommitteePosition.Title.DEPUTY_SECRETARY])
        recorder = self.officer(
            org.pk, day, [CommitteePosition.Title.ORGANIZATION, CommitteePosition.Title.PUBLICITY]
        )
        if recorder is None:
            full = [p.id for p in self.members_of[org.pk] if self.has_vote(p, day) and p.id != host]
            recorder = full[len(full) // 2] if full else None
        return host, recorder

    # ── the plan: which meetings each branch holds ─────────────────────────────────────────────────

    def plan(self) -> list[_Plan]:
        plans: list[_Plan] = []
        self.places = self._places()
        self.theme_days = self._theme_days()
        gaps = self._gaps()
        votes_by_branch: dict[int, dict[dt.date, list[Vote]]] = defaultdict(lambda: defaultdict(list))
        for vote in self.votes:
            votes_by_branch[vote.org_id][vote.date].append(vote)
        for branch in self.branches:
            plans += self._branch_year(branch, gaps.get(branch.pk, set()), votes_by_branch.get(branch.pk, {}))
        for committee in self.committees:
            plans += self._committee_lecture(committee)
        plans += self._others()
        self._life_and_appraisal(plans)
        return plans

    def _places(self) -> dict[int, MeetingPlace]:
        """A 党员活动室 for every branch, a 党群服务中心 (with a card reader) for two community committees."""
        existing = {
            (p.org_id, p.name): p for p in MeetingPlace.objects.filter(org__path__startswith=self.root.path)
        }
        new: list[MeetingPlace] = []
        wanted: list[tuple[Organization, str, str]] = []
        for b in self.branches:
            wanted.append((b, "党员活动室", f"{b.name.removesuffix('党支部')}党员活动室"))
        self.centres = [c for c in self.committees if c.name in DEVICE_CENTRES]
        for c in self.centres:
            wanted.append((c, "党群服务中心多功能厅", f"{c.name.removesuffix('党委')}党群服务中心二楼"))
        for org, name, address in wanted:
            if (org.pk, name) not in existing:
                new.append(MeetingPlace(org=org, name=name, address=address))
        MeetingPlace.objects.bulk_create(new, batch_size=BATCH)
        self.counts["places"] += len(new)
        for p in new:
            existing[(p.org_id, p.name)] = p
        places = {b.pk: existing[(b.pk, "党员活动室")] for b in self.branches}
        self.centre_place: dict[int, MeetingPlace] = {}
        for c in self.centres:
            place = existing[(c.pk, "党群服务中心多功能厅")]
            for b in self.branches:
                if self.parent.get(b.pk) is not None and self.parent[b.pk].pk == c.pk:
                    self.centre_place[b.pk] = place
        self._devices()
        return places

    def _devices(self) -> None:
        """One card reader at each service centre, registered as a secretary would (meetings.devices)."""
        self.device_places: set[int] = set()
        for n, centre in enumerate(self.centres, start=1):
            place = MeetingPlace.objects.get(org=centre, name="党群服务中心多功能厅")
            device_id = f"demo-reader-{n:02d}"
            if not CheckinDevice.objects.filter(device_id=device_id).exists():
                try:
                    from dangjian.meetings.devices import device_register
                except ImportError:  # the check-in helper's module is not there: store it the same way
                    import secrets

                    from dangjian.core.crypto import encrypt

                    CheckinDevice.objects.create(
                        device_id=device_id,
                        name=f"{centre.name.removesuffix('党委')}党群服务中心门口读卡器",
                        org=centre,
                        place=place,
                        secret_encrypted=encrypt(secrets.token_urlsafe(32)),
                    )
                else:
                    device_register(
                        actor=self.actor,
                        org=centre,
                        place=place,
                        device_id=device_id,
                        name=f"{centre.name.removesuffix('党委')}党群服务中心门口读卡器",
                    )
                self.counts["devices"] += 1
            self.device_places.add(place.pk)

    def _theme_days(self) -> dict[int, int]:
        """Each branch's fixed theme party day (支部工作条例 第十五条), 1–28, varied; shuji1's is due soon."""
        days: dict[int, int] = {}
        existing = dict(
            MeetingOrgSetting.objects.filter(org__in=[b.pk for b in self.branches]).values_list(
                "org_id", "theme_day"
            )
        )
        new: list[MeetingOrgSetting] = []
        for b in self.branches:
            day = existing.get(b.pk) or self.rng.randint(1, 28)
            if self.shuji1_branch is not None and b.pk == self.shuji1_branch.pk and b.pk not in existing:
                day = min((self.today + dt.timedelta(days=9)).day, 28)
            days[b.pk] = day
            if b.pk not in existing:
                new.append(MeetingOrgSetting(org=b, theme_day=day, updated_by_id=self._user(b)))
        MeetingOrgSetting.objects.bulk_create(new, batch_size=BATCH)
        self.counts["settings"] += len(new)
        return days

    def _user(self, org: Organization | None) -> Any:
        if org is None:
            return self.actor
        user_id = self.secretary_user.get(org.pk)
        return user_id if user_id is not None else self.actor.pk

    def _closed_periods(self) -> tuple[list[tuple[int, int]], list[dt.date]]:
        """Quarters and months inside the window that have closed, this year's first where possible."""
        quarters = sorted(
            {_quarter_of(m) for m in self.months if _quarter_last(*_quarter_of(m)) < self.today}
            - {_quarter_of(self.first_month)}  # partly outside the window
        )
        months = [m for m in self.months if _month_end(m) < self.today]
        this_year_q = [q for q in quarters if q[0] == self.today.year] or quarters
        this_year_m = [m for m in months if m.year == self.today.year] or months
        return this_year_q, this_year_m

    def _gaps(self) -> dict[int, set[tuple[str, Any]]]:
        """Six branches (never shuji1's; shuji2's among them) miss something, so red cells show."""
        quarters, months = self._closed_periods()
        vote_quarters = {(v.org_id, _quarter_of(v.date)) for v in self.votes}
        shuji2 = self._branch_of_user("shuji2")
        pool = [b for b in self.branches if self.shuji1_branch is None or b.pk != self.shuji1_branch.pk]
        chosen = [shuji2] if shuji2 is not None and shuji2 in pool else []
        rest = [b for b in pool if b not in chosen]
        self.rng.shuffle(rest)
        chosen += rest[: GAP_BRANCHES - len(chosen)]
        gaps: dict[int, set[tuple[str, Any]]] = {}
        for n, branch in enumerate(chosen):
            free_q = [q for q in quarters if (branch.pk, q) not in vote_quarters] or quarters
            g: set[tuple[str, Any]] = set()
            kind = n % 6
            if not months:
                break
            if kind == 0:  # a missed general meeting (cancelled and never made up) and a theme day
                g |= {(K.GENERAL_MEETING, self.rng.choice(free_q)), (K.THEME_DAY, self.rng.choice(months))}
            elif kind == 1:  # two theme days missed in a row
                i = self.rng.randrange(max(len(months) - 1, 1))
                g |= {(K.THEME_DAY, m) for m in months[i : i + 2]}
            elif kind == 2:  # the committee did not meet for two months
                i = self.rng.randrange(max(len(months) - 1, 1))
                g |= {(K.COMMITTEE_MEETING, m) for m in months[i : i + 2]}
                g.add((K.PARTY_LECTURE, self.rng.choice(quarters)))
            elif kind == 3:  # a party lecture missed, and a group that skipped a month
                g |= {
                    (K.PARTY_LECTURE, self.rng.choice(quarters)),
                    (K.GROUP_MEETING, self.rng.choice(months)),
                }
            elif kind == 4:  # a group that skipped two months
                i = self.rng.randrange(max(len(months) - 1, 1))
                g |= {(K.GROUP_MEETING, m) for m in months[i : i + 2]}
                g.add((K.THEME_DAY, months[-1]))
            else:  # a missed quarter of general meeting and of party lecture
                q = self.rng.choice(free_q)
                g |= {(K.GENERAL_MEETING, q), (K.PARTY_LECTURE, q)}
            gaps[branch.pk] = g
        return gaps

    def _branch_of_user(self, username: str) -> Organization | None:
        from dangjian.accounts.models import RoleAssignment
        from dangjian.core.scoping import Role

        ra = RoleAssignment.objects.filter(user__username=username, role=Role.SECRETARY, active=True).first()
        return next((b for b in self.branches if ra is not None and b.pk == ra.org_id), None)

    def _branch_year(
        self, branch: Organization, gaps: set[tuple[str, Any]], votes: dict[dt.date, list[Vote]]
    ) -> list[_Plan]:
        rng = self.rng
        plans: list[_Plan] = []
        venue = self.centre_place.get(branch.pk) or self.places[branch.pk]
        room = self.places[branch.pk]
        is_shuji1 = self.shuji1_branch is not None and branch.pk == self.shuji1_branch.pk
        groups = self.groups.get(branch.pk, [])
        any_away = any(self.flows.get(p.id) for p in self.members_of[branch.pk])

        def add(kind: str, day: dt.date, title: str, agenda: str = "", **kw: Any) -> _Plan | None:
            status = self.status_on(day)
            if status is None:
                return None
            status = kw.pop("status", status)
            org = kw.pop("org", branch)
            host, recorder = self.host_recorder(branch, day)
            plan = _Plan(
                org=org,
                branch=branch,
                kind=kind,
                day=day,
                start=kw.pop("start", None) or self.start_time(branch),
                minutes=kw.pop("minutes", 90),
                title=title,
                agenda=agenda,
                status=status,
                venue=kw.pop("venue", venue),
                host=kw.pop("host", host),
                recorder=kw.pop("recorder", recorder),
                **kw,
            )
            plans.append(plan)
            return plan

        # 支部党员大会, once a quarter; a recruitment vote's day is that quarter's meeting.
        quarters = sorted({_quarter_of(m) for m in self.months})
        vote_days = sorted(votes)
        for year, q in quarters:
            first = max(_quarter_first(year, q), self.first_month)
            last = _quarter_last(year, q)
            in_q = [d for d in vote_days if first <= d <= last]
            topic = GENERAL_TOPICS[(q + year) % len(GENERAL_TOPICS)]
            title = f"{year}年第{_cn(q)}季度支部党员大会"
            if in_q:
                continue  # held on the vote's day (below)
            if (K.GENERAL_MEETING, (year, q)) in gaps:
                day = self.pick_day(first, min(last, self.today - dt.timedelta(days=1)))
                add(
                    K.GENERAL_MEETING,
                    day,
                    title,
                    f"{topic}；通报支部工作",
                    status=MeetingStatus.CANCELLED,
                    cancel_reason=CANCEL_NOT_MADE_UP,
                )
                continue
            if is_shuji1 and first <= self.today <= last:
                day = min(self.today + dt.timedelta(days=5), last)  # shuji1's: coming up this quarter
            elif first <= self.today <= last and rng.random() < 0.3:
                day = self.pick_day(self.today, min(last, self.horizon))
            else:
                day = self.pick_day(first, min(last, self.today - dt.timedelta(days=1)))
            video = any_away and rng.random() < 0.5
            add(
                K.GENERAL_MEETING,
                day,
                f"{title}：{topic}",
                f"{topic}；通报支部工作；讨论其他事项",
                video=video,
            )
        for day in vote_days:  # also before the window: every vote gets its meeting
            vs = votes[day]
            kinds = {v.kind for v in vs}
            if kinds & {VoteKind.FULL_MEMBERSHIP, VoteKind.EXTENSION, VoteKind.CANCELLATION}:
                what = "讨论预备党员转正"
            else:
                what = "讨论接收预备党员"
            names = "、".join(dict.fromkeys(self._subject_name(v) for v in vs if self._subject_name(v)))
            year, q = _quarter_of(day)
            plan = add(
                K.GENERAL_MEETING,
                day,
                f"{year}年第{_cn(q)}季度支部党员大会：{what}",
                f"{what}（{names}）；学习党章有关规定；通报支部工作" if names else f"{what}；通报支部工作",
                minutes=120,
            )
            if plan is not None:
                plan.votes = list(vs)

        # 支部委员会会议, 党小组会, 主题党日: monthly.
        for month in self.months:
            last = _month_end(month)
            m = month.month
            if self.has_committee(branch.pk, last) and month >= _month_start(
                self.term_start.get(branch.pk, month)
            ):
                first = max(month, self.term_start.get(branch.pk, month))
                if (K.COMMITTEE_MEETING, month) not in gaps and first <= last:
                    a, b = COMMITTEE_TOPICS[(m + branch.pk) % len(COMMITTEE_TOPICS)]
                    day = self.pick_day(first, min(last, first + dt.timedelta(days=14)))
                    add(K.COMMITTEE_MEETING, day, f"{m}月支部委员会会议", f"{a}；{b}", minutes=60, venue=room)
            skip_group = (K.GROUP_MEETING, month) in gaps
            for gi, group in enumerate(groups):
                if skip_group and gi == 0:
                    continue
                day = self.pick_day(month, last)
                if is_shuji1 and month == _month_start(self.today) and gi == 0:
                    day = self.today + dt.timedelta(days=1)  # tomorrow: the reminder has something to send
                topic = GROUP_TOPICS[(m + gi) % len(GROUP_TOPICS)]
                leader = next((p.id for p in self.group_members[group.pk] if self.has_vote(p, day)), None)
                add(
                    K.GROUP_MEETING,
                    day,
                    f"{group.name}{m}月党小组会：{topic}",
                    f"{topic}；讨论本小组党员联系服务群众情况",
                    org=group,
                    minutes=60,
                    venue=room,
                    host=leader,
                    start=dt.time(19, 0) if branch.sector != "community" else dt.time(9, 30),
                )
            if (K.THEME_DAY, month) not in gaps:
                day = month.replace(day=min(self.theme_days[branch.pk], last.day))
                plan = add(
                    K.THEME_DAY,
                    day,
                    f"{m}月主题党日：{THEME_DAYS[m]}",
                    f"重温入党誓词；{THEME_DAYS[m]}；交流心得体会",
                    minutes=120,
                    video=any_away and rng.random() < 0.15,
                )
                if plan is not None and plan.status == MeetingStatus.HELD and rng.random() < 0.02:
                    # Cancelled on the day and made up two days later (the month is still held).
                    plan.status, plan.cancel_reason = MeetingStatus.CANCELLED, rng.choice(CANCEL_REASONS)
                    again = day + dt.timedelta(days=2)
                    if again < self.today and again.month == day.month:
                        add(K.THEME_DAY, again, plan.title + "（改期）", plan.agenda, minutes=120)

        # 党课, once a quarter (local practice).
        for year, q in quarters:
            if (K.PARTY_LECTURE, (year, q)) in gaps:
                continue
            first = max(_quarter_first(year, q), self.first_month)
            last = _quarter_last(year, q)
            if first <= self.today <= last and rng.random() < 0.35:
                day = self.pick_day(self.today, min(last, self.horizon))
            else:
                day = self.pick_day(first, min(last, self.today - dt.timedelta(days=1)))
            topic = LECTURES[rng.randrange(len(LECTURES))]
            lecturer, name = None, ""
            r = rng.random()
            if r < 0.55:
                lecturer = self.officer(branch.pk, day, [SECRETARY])
            elif r < 0.8:
                lecturer = self.officer(
                    branch.pk,
                    day,
                    [CommitteePosition.Title.DEPUTY_SECRETARY, CommitteePosition.Title.PUBLICITY, SECRETARY],
                )
            else:
                name = rng.choice(OUTSIDE_LECTURERS)
            add(
                K.PARTY_LECTURE,
                day,
                f"党课：{topic}",
                f"专题党课“{topic}”；交流研讨",
                lecturer=lecturer,
                lecturer_name=name if lecturer is None else "",
                video=any_away and rng.random() < 0.3,
            )
        return plans

    def _subject(self, vote: Vote) -> Any:
        try:
            return vote.subject
        except Exception:  # noqa: BLE001 - a subject of an app that is gone: the title says enough
            return None

    def _subject_name(self, vote: Vote) -> str:
        return getattr(self._subject(vote), "name", "") or vote.title or ""

    def _committee_lecture(self, committee: Organization) -> list[_Plan]:
        """党委书记讲党课, at least once a year (RULES.md §3): this year, before today."""
        if not self.committee_on(committee.pk, self.today):
            return []
        first = max(dt.date(self.today.year, 1, 1), self.first_month)
        first = max([first] + [p.start for p in self.committee_on(committee.pk, self.today) if p.start])
        last = self.today - dt.timedelta(days=1)
        if last < first:
            return []
        day = self.pick_day(first, last)
        lecturer = self.officer(committee.pk, day, [SECRETARY, CommitteePosition.Title.DEPUTY_SECRETARY])
        topic = LECTURES[self.rng.randrange(len(LECTURES))]
        return [
            _Plan(
                org=committee,
                kind=K.PARTY_LECTURE,
                day=day,
                start=dt.time(9, 0),
                minutes=120,
                title=f"党委书记讲党课：{topic}",
                agenda=f"{committee.short_name or committee.name}书记讲专题党课；交流研讨",
                host=lecturer,
                lecturer=lecturer,
                place=f"{committee.short_name or committee.name}机关大会议室",
            )
        ]

    def _others(self) -> list[_Plan]:
        """A few meetings of kind "other" (a volunteer drive, a commendation, an election's preparation)."""
        plans: list[_Plan] = []
        picks = self.rng.sample(self.branches, min(10, len(self.branches)))
        for n, branch in enumerate(picks):
            title, agenda = OTHER_MEETINGS[n % len(OTHER_MEETINGS)]
            day = self.pick_day(self.first_month, self.today - dt.timedelta(days=1))
            if "七一" in title:
                year = (
                    self.today.year if dt.date(self.today.year, 6, 28) < self.today else self.today.year - 1
                )
                day = dt.date(year, 6, 28)
            host, recorder = self.host_recorder(branch, day)
            plans.append(
                _Plan(
                    org=branch,
                    branch=branch,
                    kind=K.OTHER,
                    day=day,
                    start=self.start_time(branch),
                    minutes=90,
                    title=title,
                    agenda=agenda,
                    venue=self.places[branch.pk],
                    host=host,
                    recorder=recorder,
                )
            )
        return plans

    def _life_and_appraisal(self, plans: list[_Plan]) -> None:
        """Last year's 组织生活会 (in Q4) and 民主评议党员 for every branch; some of this year's coming up."""
        last_year = self.today.year - 1
        for branch in self.branches:
            host, recorder = self.host_recorder(branch, dt.date(last_year, 12, 15))
            life_day = self.pick_day(dt.date(last_year, 12, 8), dt.date(last_year, 12, 20))
            appraisal_day = life_day + dt.timedelta(days=self.rng.randint(2, 7))
            common = {"org": branch, "branch": branch, "host": host, "recorder": recorder}
            plans.append(
                _Plan(
                    kind=K.LIFE_MEETING,
                    day=life_day,
                    start=self.start_time(branch),
                    minutes=180,
                    title=f"{last_year}年度组织生活会",
                    agenda="通报支部委员会对照检查情况；党员逐一开展批评和自我批评；制定整改措施",
                    venue=self.places[branch.pk],
                    **common,
                )
            )
            plans.append(
                _Plan(
                    kind=K.DEMOCRATIC_APPRAISAL,
                    day=appraisal_day,
                    start=self.start_time(branch),
                    minutes=120,
                    title=f"{last_year}年度民主评议党员大会",
                    agenda="党员个人总结和自我评价；党员互评（无记名）；支部综合评定",
                    venue=self.places[branch.pk],
                    **common,
                )
            )
        if self.today.month >= 11:  # this year's life meetings are being planned
            for branch in self.rng.sample(self.branches, min(8, len(self.branches))):
                day = self.pick_day(self.today + dt.timedelta(days=3), self.horizon)
                host, recorder = self.host_recorder(branch, day)
                plans.append(
                    _Plan(
                        org=branch,
                        branch=branch,
                        kind=K.LIFE_MEETING,
                        day=day,
                        start=self.start_time(branch),
                        minutes=180,
                        title=f"{self.today.year}年度组织生活会",
                        agenda="通报支部委员会对照检查情况；党员逐一开展批评和自我批评；制定整改措施",
                        status=MeetingStatus.PLANNED,
                        venue=self.places[branch.pk],
                        host=host,
                        recorder=recorder,
                    )
                )

    # ── rows ────────────────────────────────────────────────────────────────────────────────────────

    def _without_minutes(self, plans: list[_Plan]) -> None:
        """No minutes yet for most of the last three days' meetings, and none for a handful held a week
        or more ago (minutes_due_days is 7: the minutes-missing alert); one of them is shuji1's."""
        recent = self.today - dt.timedelta(days=3)
        overdue = [
            p
            for p in plans
            if p.status == MeetingStatus.HELD
            and self.today - dt.timedelta(days=30) <= p.day <= self.today - dt.timedelta(days=8)
            and not p.votes
        ]
        chosen = self.rng.sample(overdue, min(5, len(overdue)))
        if self.shuji1_branch is not None:
            own = [p for p in overdue if p.branch is not None and p.branch.pk == self.shuji1_branch.pk]
            own = [p for p in own if p.kind in (K.GROUP_MEETING, K.COMMITTEE_MEETING)] or own
            if own:
                chosen.append(own[-1])
        for p in chosen:
            p.with_minutes = False
        for p in plans:
            if p.status == MeetingStatus.HELD and p.day >= recent and self.rng.random() < 0.6:
                p.with_minutes = False

    def _meetings(self, plans: list[_Plan]) -> None:
        rows: list[Meeting] = []
        now = timezone.now()
        for plan in plans:
            starts = self.at(plan.day, plan.start)
            user_id = self._user(plan.branch or plan.org)
            video_room = f"dangjian-{self.rng.getrandbits(64):016x}" if plan.video else ""
            meeting = Meeting(
                org=plan.org,
                kind=plan.kind,
                title=plan.title[:200],
                agenda=plan.agenda,
                starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=plan.minutes),
                date=timezone.localtime(starts, self.tz).date(),  # what the services set
                place=(plan.venue.address or plan.venue.name) if plan.venue is not None else plan.place,
                venue=plan.venue,
                host_id=plan.host,
                recorder_id=plan.recorder,
                lecturer_id=plan.lecturer,
                lecturer_name=plan.lecturer_name,
                status=plan.status,
                cancel_reason=plan.cancel_reason,
                video_room=video_room,
                # Notified when planned; past meetings were reminded the day before. Coming ones wait for
                # the reminder job (meetings.tasks), so the demo's reminders go out for real.
                planned_notified_at=min(starts - dt.timedelta(days=7), now),
                reminded_at=starts - dt.timedelta(days=1) if plan.status != MeetingStatus.PLANNED else None,
                created_by_id=user_id,
            )
            plan.meeting = meeting
            rows.append(meeting)
        self.meeting_rows = rows

    def _attendance(self, plans: list[_Plan]) -> None:
        rows: list[_Att] = []
        for plan in plans:
            plan.attendees = self._attendees(plan)
            rows += plan.attendees
        self.attendee_rows = rows

    def _write(self) -> None:
        """The meetings (with their minutes), then their attendees."""
        Meeting.objects.bulk_create(self.meeting_rows, batch_size=BATCH)
        self.counts["meetings"] += len(self.meeting_rows)
        # Planned when the attendees were notified, not today (created_at is auto_now_add): one UPDATE.
        ids = [m.pk for m in self.meeting_rows]
        if ids:
            Meeting.objects.filter(pk__gte=min(ids), pk__lte=max(ids)).update(
                created_at=F("planned_notified_at")
            )
        self.counts["attendees"] += insert_attendees(self.attendee_rows)

    def _attendees(self, plan: _Plan) -> list[_Att]:
        rng = self.rng
        meeting = plan.meeting
        assert meeting is not None
        entries = self.roster(plan)
        user_id = self._user(plan.branch or plan.org)
        forced: dict[int, str] = {}  # member → status, for the vote meetings
        if plan.votes:
            entries, forced = self._vote_attendance(plan, entries)
        rows: list[_Att] = []
        if plan.status != MeetingStatus.HELD:
            for person, role, can_vote in entries:
                row = _Att(meeting, person.id, role, can_vote, user_id)
                # A few leave requests wait for the secretary's decision (meetings coming up).
                if plan.status == MeetingStatus.PLANNED and rng.random() < 0.04:
                    row.leave_status = LeaveStatus.REQUESTED
                    row.leave_reason = self._leave_reason(person)
                    row.leave_requested_at = min(meeting.starts_at - dt.timedelta(days=2), timezone.now())
                rows.append(row)
            return rows
        p_present = rng.uniform(0.9, 1.0) if plan.kind == K.COMMITTEE_MEETING else rng.uniform(0.85, 0.95)
        device = meeting.venue_id is not None and meeting.venue_id in self.device_places
        for person, role, can_vote in entries:
            row = _Att(meeting, person.id, role, can_vote, user_id)
            status = forced.get(person.id)
            away = self.away(person.id, plan.day)
            if status is None:
                if person.id in (plan.host, plan.recorder, plan.lecturer):
                    status = AttendanceStatus.PRESENT
                elif away:
                    status = (
                        AttendanceStatus.PRESENT
                        if plan.video and rng.random() < 0.7
                        else (AttendanceStatus.LEAVE if rng.random() < 0.85 else AttendanceStatus.ABSENT)
                    )
                elif rng.random() < p_present:
                    status = AttendanceStatus.PRESENT
                else:
                    status = AttendanceStatus.LEAVE if rng.random() < 0.65 else AttendanceStatus.ABSENT
            row.status = status
            if status == AttendanceStatus.PRESENT:
                age = plan.day.year - person.birth_year
                if away or (plan.video and rng.random() < 0.2):
                    row.channel = AttendanceChannel.VIDEO
                    row.checked_in_at = meeting.starts_at + dt.timedelta(seconds=rng.randint(-300, 420))
                elif device and rng.random() < 0.45:
                    row.channel = AttendanceChannel.DEVICE
                    row.checked_in_at = meeting.starts_at - dt.timedelta(seconds=rng.randint(60, 1500))
                elif (age >= 75 and rng.random() < 0.8) or rng.random() < 0.3:
                    row.channel = AttendanceChannel.MANUAL  # no smartphone: the secretary ticks them off
                    row.checked_in_at = meeting.starts_at
                else:
                    row.channel = AttendanceChannel.QR
                    row.checked_in_at = meeting.starts_at - dt.timedelta(seconds=rng.randint(30, 1200))
            elif status == AttendanceStatus.LEAVE:
                row.leave_status = LeaveStatus.APPROVED
                row.leave_reason = LEAVE_FLOWING if away else self._leave_reason(person)
                row.leave_requested_at = meeting.starts_at - dt.timedelta(hours=rng.randint(6, 72))
                row.leave_decided_by_id = user_id
                row.leave_decided_at = row.leave_requested_at + dt.timedelta(minutes=rng.randint(10, 240))
            elif rng.random() < 0.15:  # asked too late, refused, and did not come
                row.leave_status = LeaveStatus.REFUSED
                row.leave_reason = self._leave_reason(person)
                row.leave_requested_at = meeting.starts_at - dt.timedelta(hours=2)
                row.leave_decided_by_id = user_id
                row.leave_decided_at = meeting.starts_at - dt.timedelta(hours=1)
                row.leave_note = "会议有重要议题，请尽量参加"
            rows.append(row)
        return rows

    def _vote_attendance(
        self, plan: _Plan, entries: list[tuple[_Person, str, bool]]
    ) -> tuple[list[tuple[_Person, str, bool]], dict[int, str]]:
        """The attendance of a recruitment vote's meeting gives the vote's counts (细则 第二十一条): exactly
        ``expected_voting`` voting rows, ``present_voting`` of them present, the others on leave.

        When the recorded vote counted fewer voting members than the register holds (the recruitment demo
        records 9), the voting rows are the officers first, then the longest-standing members, and the
        others are left off this meeting, so that the meeting and the vote tell the same story."""
        vote = plan.votes[0]
        # The probationary member whose full membership is voted on does not vote on it, even when the
        # register now dates their full membership from the end of the probation, before the meeting.
        subjects = {
            getattr(self._subject(v), "member_id", None) for v in plan.votes if v.kind != VoteKind.ADMISSION
        }
        entries = [(p, role, can_vote and p.id not in subjects) for p, role, can_vote in entries]
        officers = {p.member_id for p in self.committee_on(plan.org.pk, plan.day)}
        voting = [e for e in entries if e[2]]
        voting.sort(key=lambda e: (e[0].id not in officers, e[0].full_date or e[0].join_date, e[0].id))
        keep = [e[0].id for e in voting[: vote.expected_voting]]
        kept = set(keep)
        entries = [e for e in entries if not e[2] or e[0].id in kept]
        first = list(dict.fromkeys(pk for pk in (plan.host, plan.recorder) if pk in kept))
        rest = [pk for pk in keep if pk not in first]
        self.rng.shuffle(rest)
        forced = dict.fromkeys(keep, AttendanceStatus.LEAVE)
        forced.update(dict.fromkeys((first + rest)[: vote.present_voting], AttendanceStatus.PRESENT))
        return entries, forced

    def _leave_reason(self, person: _Person) -> str:
        if person.occupation == "retired":
            return self.rng.choice(LEAVE_REASONS_RETIRED)
        if person.occupation == "student":
            return self.rng.choice(LEAVE_REASONS_STUDENT)
        return self.rng.choice(LEAVE_REASONS)

    # ── minutes ─────────────────────────────────────────────────────────────────────────────────────

    def _minutes(self, plans: list[_Plan]) -> None:
        """Short minutes (sanitised-HTML paragraphs) for the held meetings that have them."""
        written = 0
        now = timezone.now()
        for plan in plans:
            meeting = plan.meeting
            if meeting is None or plan.status != MeetingStatus.HELD or not plan.with_minutes:
                continue
            meeting.minutes = self._minutes_html(plan)
            meeting.minutes_recorded_at = min(
                meeting.ends_at + dt.timedelta(hours=self.rng.randint(2, 60)), now
            )
            meeting.minutes_recorded_by_id = self._user(plan.branch or plan.org)
            written += 1
        self.counts["minutes"] += written

    def _name(self, member_id: int | None) -> str:
        person = self.people.get(member_id) if member_id else None
        return person.name if person else ""

    def _minutes_html(self, plan: _Plan) -> str:
        rows = [a for a in plan.attendees if a.expected]
        expected = len(rows)
        present = sum(1 for a in rows if a.status == AttendanceStatus.PRESENT)
        leave = sum(1 for a in rows if a.status == AttendanceStatus.LEAVE)
        absent = expected - present - leave
        host, recorder = self._name(plan.host) or "支部书记", self._name(plan.recorder) or "组织委员"
        head = (
            f"<p><strong>时间：</strong>{plan.day:%Y年%m月%d日} {plan.start:%H:%M}　"
            f"<strong>地点：</strong>{plan.meeting.place if plan.meeting else ''}</p>"
            f"<p><strong>主持人：</strong>{host}　<strong>记录人：</strong>{recorder}</p>"
            f"<p><strong>出席情况：</strong>应到{expected}人，实到{present}人，请假{leave}人"
            + (f"，缺席{absent}人" if absent else "")
            + "。</p>"
        )
        kind = plan.kind
        if kind == K.GENERAL_MEETING:
            body = (
                "<p>会议传达学习了上级党组织有关文件精神，与会党员结合实际进行了交流发言。</p>"
                "<p>支部书记通报了本季度支部工作、党费收缴和党员教育管理情况，并对下一阶段工作作出部署。</p>"
            )
            for vote in plan.votes:
                body += (
                    f"<p>会议讨论了{self._subject_name(vote) or '有关同志'}同志的"
                    f"{'预备党员转正' if vote.kind != VoteKind.ADMISSION else '入党'}问题。"
                    f"应到会有表决权的党员{vote.expected_voting}名，实到{vote.present_voting}名，"
                    f"超过半数。经无记名投票，赞成{vote.yes}票，反对{vote.no}票，弃权{vote.abstain}票。</p>"
                )
            body += "<p>会议要求全体党员认真抓好学习贯彻，在本职岗位上发挥先锋模范作用。</p>"
        elif kind == K.COMMITTEE_MEETING:
            items = [i for i in plan.agenda.split("；") if i]
            body = (
                "<p>会议议定事项：</p><ol>"
                + "".join(f"<li>{i}：经研究，明确了责任人和完成时限。</li>" for i in items)
                + "</ol>"
            )
        elif kind == K.GROUP_MEETING:
            body = (
                f"<p>党小组组织学习了“{plan.title.split('：')[-1]}”，"
                "小组成员逐一发言，交流了学习体会和近期思想、工作情况。</p>"
                "<p>小组讨论了联系服务群众的安排，收集群众意见建议3条，报支部委员会研究。</p>"
            )
        elif kind == K.PARTY_LECTURE:
            lecturer = self._name(plan.lecturer) or plan.lecturer_name or "支部书记"
            body = (
                f"<p>{lecturer}以“{plan.title.split('：')[-1]}”为题讲授专题党课，"
                "围绕坚定理想信念、严守纪律规矩、立足岗位作贡献等方面进行了深入阐述。</p>"
                "<p>与会党员表示，要把党课所学转化为做好本职工作的实际行动。</p>"
            )
        elif kind == K.THEME_DAY:
            body = (
                "<p>全体党员面向党旗重温入党誓词。</p>"
                f"<p>围绕“{THEME_DAYS[plan.day.month]}”开展活动，党员积极参与，群众反响良好。</p>"
                "<p>活动结束后，党员交流了参加活动的心得体会。</p>"
            )
        elif kind == K.LIFE_MEETING:
            body = (
                "<p>会前，支部委员会通过谈心谈话、发放征求意见表等方式广泛征求意见，支部班子成员之间、"
                "班子成员与党员之间普遍开展了谈心谈话。</p>"
                "<p>会上，支部书记代表支部委员会作对照检查，党员逐一进行自我批评，其他党员提出批评意见。"
                "大家坦诚相见，达到了红红脸、出出汗、加加油的效果。</p>"
                "<p>会议针对查摆出的问题制定了整改措施，明确了整改时限。</p>"
            )
        elif kind == K.DEMOCRATIC_APPRAISAL:
            body = (
                "<p>党员逐一进行个人总结和自我评价，党员之间以无记名方式互评。</p>"
                "<p>支部委员会根据个人自评、党员互评和群众意见，综合提出评定意见，经支部党员大会讨论确定。"
                "评定结果将报上级党组织备案。</p>"
            )
        else:
            body = f"<p>会议内容：{plan.agenda}。</p><p>与会党员进行了讨论，会议明确了任务分工。</p>"
        return head + body

    # ── the transcript of shuji1's general meeting ──────────────────────────────────────────────────

    def _transcript(self, plans: list[_Plan]) -> None:
        if self.shuji1_branch is None:
            return
        own = [
            p
            for p in plans
            if p.org.pk == self.shuji1_branch.pk
            and p.kind == K.GENERAL_MEETING
            and p.status == MeetingStatus.HELD
        ]
        if not own:
            return
        # The sample is a second-quarter general meeting: that quarter's, if the year had one, else the last.
        q2 = [p for p in own if _quarter_of(p.day) == (self.today.year, 2)]
        plan = (q2 or sorted(own, key=lambda p: p.day))[-1]
        if SAMPLE_TRANSCRIPT.exists():
            raw = SAMPLE_TRANSCRIPT.read_bytes()
            name = SAMPLE_TRANSCRIPT.name
        else:  # the shipped sample is missing: a short record of our own, in the same form
            raw = FALLBACK_SRT.encode("utf-8")
            name = "transcript.srt"
        try:
            from dangjian.meetings.transcripts import transcript_upload
        except ImportError:  # the transcripts module is not there: store it the way it would
            transcript = self._transcript_row(plan, raw, name)
        else:  # as the secretary uploads it on the meeting's page: parsed, analysed, audited
            from django.core.files.uploadedfile import SimpleUploadedFile

            upload = SimpleUploadedFile(name, raw, content_type="application/x-subrip")
            try:
                transcript = transcript_upload(actor=self.actor, meeting=plan.meeting, upload=upload)
            except ValidationError:  # a demo dated after the real today: the meeting has not started
                transcript = self._transcript_row(plan, raw, name)
        self.counts["transcript_segments"] += transcript.segments.count()
        self.counts["transcripts"] += 1

    def _transcript_row(self, plan: _Plan, raw: bytes, name: str) -> Transcript:
        segments = parse_srt(raw.decode("utf-8-sig"))
        text = "\n".join(s[3] for s in segments)  # the words, without the speakers (as transcripts does)
        try:
            from dangjian.meetings.keywords import analyse
        except ImportError:  # the keywords module is not there yet: the page offers to analyse later
            analysis: dict[str, Any] = {}
        else:
            analysis = analyse(text)
        transcript = Transcript(
            meeting=plan.meeting,
            source=Transcript.Source.SRT,
            original_name=name,
            size=len(raw),
            status=Transcript.Status.READY,
            progress=100,
            text=text,
            analysis=analysis,
            uploaded_by=self.actor,
        )
        transcript.file.save(f"meeting{plan.meeting.pk}-demo.srt", ContentFile(raw), save=False)
        transcript.save()
        TranscriptSegment.objects.bulk_create(
            [
                TranscriptSegment(
                    transcript=transcript, index=i, start_ms=a, end_ms=b, speaker=who, text=said
                )
                for i, (a, b, who, said) in enumerate(segments, start=1)
            ],
            batch_size=BATCH,
        )
        return transcript

    # ── 谈心谈话, 组织生活会 notes, 民主评议 ─────────────────────────────────────────────────────────

    def _life_records(self, plans: list[_Plan]) -> None:
        rng = self.rng
        talks: list[TalkRecord] = []
        notes: list[LifeMeetingNote] = []
        appraisals: list[Appraisal] = []
        last_year = self.today.year - 1
        appraisal_plans = {
            p.org.pk: p for p in plans if p.kind == K.DEMOCRATIC_APPRAISAL and p.day.year == last_year
        }
        rule_cache: dict[dt.date, str] = {}
        for plan in plans:
            if plan.kind != K.LIFE_MEETING or plan.status != MeetingStatus.HELD:
                continue
            branch = plan.org
            user_id = self._user(branch)
            members = [self.people[a.member_id] for a in plan.attendees if a.role == Attendee.Role.ROSTER]
            present = [
                self.people[a.member_id]
                for a in plan.attendees
                if a.status == AttendanceStatus.PRESENT and a.role == Attendee.Role.ROSTER
            ]
            if len(members) < 2:
                continue
            # 谈心谈话 before the meeting: the secretary with each officer, the officers with the others.
            officers = [p.member_id for p in self.committee_on(branch.pk, plan.day)]
            secretary = plan.host if plan.host in self.people else members[0].id
            talkers = [pk for pk in officers if pk in self.people and pk != secretary] or [secretary]
            for n, person in enumerate(m for m in members if m.id != secretary):
                initiator = secretary if person.id in talkers else talkers[n % len(talkers)]
                if initiator == person.id:
                    initiator = secretary
                talks.append(
                    TalkRecord(
                        org=branch,
                        meeting=plan.meeting,
                        date=plan.day - dt.timedelta(days=rng.randint(5, 25)),
                        initiator_id=initiator,
                        partner_id=person.id,
                        topic=rng.choice(TALK_TOPICS),
                        notes=("电话谈心。" if self.away(person.id, plan.day) else "")
                        + rng.choice(TALK_NOTES),
                        recorded_by_id=user_id,
                    )
                )
            # What was said: self-criticism from the officers and some members, two criticisms, the rectifications.
            speakers = [p for p in present if p.id in officers] + rng.sample(
                [p for p in present if p.id not in officers],
                min(3, len([p for p in present if p.id not in officers])),
            )
            for person in speakers:
                notes.append(
                    LifeMeetingNote(
                        meeting=plan.meeting,
                        member_id=person.id,
                        kind=LifeMeetingNote.Kind.SELF_CRITICISM,
                        text=rng.choice(SELF_CRITICISM),
                        recorded_by_id=user_id,
                    )
                )
            for person in speakers[:2]:
                others = [p for p in present if p.id != person.id]
                if others:
                    notes.append(
                        LifeMeetingNote(
                            meeting=plan.meeting,
                            member_id=person.id,
                            kind=LifeMeetingNote.Kind.CRITICISM,
                            about_id=rng.choice(others).id,
                            text=rng.choice(CRITICISM),
                            recorded_by_id=user_id,
                        )
                    )
            for person in speakers[-2:]:
                notes.append(
                    LifeMeetingNote(
                        meeting=plan.meeting,
                        member_id=person.id,
                        kind=LifeMeetingNote.Kind.RECTIFICATION,
                        text=rng.choice(RECTIFICATION),
                        recorded_by_id=user_id,
                    )
                )
            # 民主评议党员 of the same year: every member on the register is rated by the branch.
            aplan = appraisal_plans.get(branch.pk)
            if aplan is None or aplan.meeting is None:
                continue
            if aplan.day not in rule_cache:
                rule_cache[aplan.day] = rulebook.rule("meetings", on=aplan.day).ref
            rated_at = min(aplan.meeting.ends_at + dt.timedelta(days=1), timezone.now())
            for person in [
                self.people[a.member_id] for a in aplan.attendees if a.role == Attendee.Role.ROSTER
            ]:
                appraisals.append(
                    Appraisal(
                        org=branch,
                        meeting=aplan.meeting,
                        year=last_year,
                        member_id=person.id,
                        self_assessment=rng.choice(SELF_ASSESSMENT),
                        rating=AppraisalRating.EXCELLENT
                        if rng.random() < 0.15
                        else AppraisalRating.QUALIFIED,
                        rated_at=rated_at,
                        rated_by_id=user_id,
                        rule_ref=rule_cache[aplan.day],
                    )
                )
        # One member, of shuji1's branch, rated 基本合格 (with the reason noted).
        own = [
            a
            for a in appraisals
            if self.shuji1_branch is not None
            and a.org_id == self.shuji1_branch.pk
            and a.member_id not in {p.member_id for p in self.positions.get(a.org_id, ())}
        ] or appraisals
        if own:
            weak = own[len(own) // 2]
            weak.rating = AppraisalRating.BASICALLY_QUALIFIED
            weak.notes = "全年多次无故缺席组织生活，经谈话提醒后有所改进。"
        # This year's talks so far: about a third of each branch, in the last two months.
        for branch in self.branches:
            members = [p for p in self.members_of[branch.pk] if p.join_date <= self.today]
            secretary = self.officer(branch.pk, self.today, [SECRETARY])
            if secretary is None or len(members) < 2:
                continue
            for person in rng.sample(members, len(members) // 3):
                if person.id == secretary:
                    continue
                talks.append(
                    TalkRecord(
                        org=branch,
                        date=self.today - dt.timedelta(days=rng.randint(1, 60)),
                        initiator_id=secretary,
                        partner_id=person.id,
                        topic=rng.choice(TALK_TOPICS),
                        notes=rng.choice(TALK_NOTES),
                        recorded_by_id=self._user(branch),
                    )
                )
        TalkRecord.objects.bulk_create(talks, batch_size=BATCH)
        LifeMeetingNote.objects.bulk_create(notes, batch_size=BATCH)
        Appraisal.objects.bulk_create(appraisals, batch_size=BATCH)
        self.counts["talks"] += len(talks)
        self.counts["life_notes"] += len(notes)
        self.counts["appraisals"] += len(appraisals)
        self._mutual(appraisals, appraisal_plans)

    def _mutual(self, appraisals: list[Appraisal], appraisal_plans: dict[int, _Plan]) -> None:
        """Secret mutual ratings in shuji1's and shuji2's branches: a handful of fellow members each."""
        rng = self.rng
        branches = {b.pk for b in (self.shuji1_branch, self._branch_of_user("shuji2")) if b is not None}
        rows: list[MutualRating] = []
        lower = {
            AppraisalRating.EXCELLENT: AppraisalRating.QUALIFIED,
            AppraisalRating.QUALIFIED: AppraisalRating.BASICALLY_QUALIFIED,
            AppraisalRating.BASICALLY_QUALIFIED: AppraisalRating.QUALIFIED,
        }
        for appraisal in appraisals:
            plan = appraisal_plans.get(appraisal.org_id)
            if appraisal.org_id not in branches or plan is None:
                continue
            raters = [
                a.member_id
                for a in plan.attendees
                if a.status == AttendanceStatus.PRESENT and a.member_id != appraisal.member_id
            ]
            for rater in rng.sample(raters, min(len(raters), rng.randint(4, 8))):
                rating = (
                    appraisal.rating if rng.random() < 0.8 else lower.get(appraisal.rating, appraisal.rating)
                )
                rows.append(MutualRating(appraisal=appraisal, rater_id=rater, rating=rating))
        MutualRating.objects.bulk_create(rows, batch_size=BATCH)
        self.counts["mutual_ratings"] += len(rows)

    # ── the recruitment votes ───────────────────────────────────────────────────────────────────────

    def _link_votes(self, plans: list[_Plan]) -> None:
        linked: list[Vote] = []
        for plan in plans:
            for vote in plan.votes:
                vote.meeting = plan.meeting
                linked.append(vote)
        Vote.objects.bulk_update(linked, ["meeting"], batch_size=500)
        self.votes_linked = len(linked)

    def run(self) -> dict[str, int]:
        plans = self.plan()
        plans.sort(key=lambda p: (p.day, p.start, p.org.pk, p.kind))
        self._without_minutes(plans)
        self._meetings(plans)
        self._attendance(plans)
        self._minutes(plans)  # from the attendance, before anything is written
        self._write()
        self._link_votes(plans)
        self._transcript(plans)
        self._life_records(plans)
        result = dict(self.counts)
        result["votes_linked"] = self.votes_linked
        return result


# The attendee columns in the order written; checked against the model when the demo runs.
ATTENDEE_COLUMNS = (
    "meeting_id", "member_id", "role", "expected", "adjust_reason", "can_vote", "status", "channel",
    "checked_in_at", "leave_status", "leave_reason", "leave_requested_at", "leave_decided_by_id",
    "leave_decided_at", "leave_note", "updated_by_id", "updated_at",
)  # fmt: skip


def insert_attendees(rows: list[_Att]) -> int:
    """Write the attendees with ``executemany`` of one INSERT; the number of rows.

    For the one big table (about 70,000 rows) ``bulk_create`` would build a model instance for each
    and prepare every value through its field, and SQLite's backend caps a batch at 999 parameters (58
    attendee rows): together most of the demo's load time. Here the values are written as they are,
    datetimes adapted for the database (connection.ops), ``updated_at`` set to now as ``auto_now``
    would. Nothing reads the rows' ids back."""
    if not rows:
        return 0
    fields = {f.column for f in Attendee._meta.concrete_fields if not f.primary_key}
    if fields != set(ATTENDEE_COLUMNS):  # the model changed: say so rather than write a wrong row
        raise RuntimeError(
            f"meetings.demo: attendee columns changed: {sorted(fields ^ set(ATTENDEE_COLUMNS))}"
        )
    ops = connection.ops

    def when(value: dt.datetime | None) -> Any:
        return None if value is None else ops.adapt_datetimefield_value(value)

    now = when(timezone.now())
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the model, values bound
        ops.quote_name(Attendee._meta.db_table),
        ", ".join(ops.quote_name(c) for c in ATTENDEE_COLUMNS),
        ", ".join(["%s"] * len(ATTENDEE_COLUMNS)),
    )
    with connection.cursor() as cursor:
        for i in range(0, len(rows), 10 * BATCH):
            cursor.executemany(
                sql,
                [
                    (
                        a.meeting.pk,
                        a.member_id,
                        str(a.role),
                        a.expected,
                        a.adjust_reason,
                        a.can_vote,
                        str(a.status),
                        str(a.channel),
                        when(a.checked_in_at),
                        str(a.leave_status),
                        a.leave_reason,
                        when(a.leave_requested_at),
                        a.leave_decided_by_id,
                        when(a.leave_decided_at),
                        a.leave_note,
                        a.updated_by_id,
                        now,
                    )  # fmt: skip
                    for a in rows[i : i + 10 * BATCH]
                ],
            )
    return len(rows)


def parse_srt(text: str) -> list[tuple[int | None, int | None, str, str]]:
    """(start ms, end ms, speaker, text) of each cue of a SubRip file; "某某：" opening a cue names the
    speaker."""

    def ms(stamp: str) -> int:
        h, m, rest = stamp.strip().replace(".", ",").split(":")
        s, milli = rest.split(",")
        return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(milli)

    cues: list[tuple[int | None, int | None, str, str]] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        start, end = (ms(part) for part in lines[timing].split("-->"))
        said = " ".join(lines[timing + 1 :])
        speaker = ""
        found = re.match(r"^([\u4e00-\u9fff·]{2,8})[：:]\s*(.+)$", said)
        if found:
            speaker, said = found.group(1), found.group(2)
        if said:
            cues.append((start, end, speaker, said))
    return cues


FALLBACK_SRT = """1
00:00:05,000 --> 00:00:12,000
书记：同志们，现在开会。今天召开支部党员大会，应到党员二十三名，实到二十名，会议有效。

2
00:00:12,500 --> 00:00:24,000
书记：第一项，学习党的二十届四中全会精神；第二项，讨论发展党员工作；第三项，部署三会一课和主题党日安排。

3
00:00:24,500 --> 00:00:38,000
宣传委员：我们要把学习贯彻全会精神同落实三会一课制度结合起来，发挥党员先锋模范作用，为群众办实事。

4
00:00:38,500 --> 00:00:50,000
组织委员：上半年党费收缴率百分之百，下一阶段要做好组织生活会和民主评议党员的准备工作。
"""


def load_meetings_demo(*, actor: Any, today: dt.date | None = None) -> dict[str, int]:
    """Load a year of organization life for the demo city (once: nothing when any meeting exists).

    Returns the rows made by table (``meetings``, ``attendees``, ``minutes`` …) and ``votes_linked``;
    an empty dict when the meetings were already there or the demo city is not loaded."""
    from dangjian.orgs.demo import demo_codes

    if Meeting.objects.exists():
        return {}
    root = Organization.objects.filter(code=demo_codes()["root"]).first()
    if root is None:
        return {}
    today = today or timezone.localdate()
    with transaction.atomic():
        demo = _Demo(actor=actor, today=today, root=root)
        counts = demo.run()
        audit_log(actor=actor, action="meetings.demo_loaded", org=root, changes=counts)
    return counts
