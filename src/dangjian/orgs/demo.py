"""The demo city (示范市) and the synthetic province of ``dangjian seed``.

Both are built the same way: a static or generated tree of ``OrgSpec`` nodes is loaded with treebeard's
bulk loader, then members are made by ``PersonMaker`` (one random stream per branch, fixed seed, so the
same seed always gives the same people), stored with ``bulk_create`` in batches through
``members.services.member_build`` (which encrypts and indexes the ID and phone numbers), and given a
status history and committees. Nothing here calls a service once per member: at 100,000 members that
would take hours instead of minutes.

This module is the one exception to "orgs imports only core": it fills the whole register (members,
accounts) to give a new user a realistic city to look at on day one.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import reset_queries, transaction
from django.utils import timezone

from dangjian.orgs import demo_data as data
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgEvent, OrgStatus, OrgType

DEFAULT_PASSWORD = "Dangjian@2026"
DEMO_CODE_PREFIX = "SF"
SEED_CODE_PREFIX = "SD"
CITY_NAME = "示范市"
CITY_PROVINCE = "江西"
# Fictional region codes (GB/T 2260 style) of the city's districts and counties: 3612 is not assigned.
CITY_REGION_CODES = {"东城区": "361202", "西城区": "361203", "南湖区": "361204", "示范县": "361221"}
CITY_CENTER = (28.2600, 116.6200)

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


# --------------------------------------------------------------------------------------------------
# The tree, as data
# --------------------------------------------------------------------------------------------------


@dataclass
class OrgSpec:
    """One organisation to create, with what its members look like (branches only)."""

    name: str
    org_type: str
    sector: str
    founded: dt.date
    children: list[OrgSpec] = field(default_factory=list)
    size: int = 0  # members, for branches
    unit: str = ""  # the work unit of the branch's members
    district: str = ""  # for ID region codes, addresses and coordinates
    street: str = ""
    students: bool = False  # a school branch of students rather than staff
    committee: bool = True  # False: a secretary only, whatever the size (shows the structure flag)
    term_days_left: int | None = None  # fix the current term's end relative to today
    key: str = ""  # a name for the demo accounts to find it by
    short_name: str = ""
    status: str = OrgStatus.ACTIVE
    dissolved_on: dt.date | None = None
    center: tuple[float, float] = CITY_CENTER
    code: str = ""  # assigned by _assign_codes

    @property
    def is_branch(self) -> bool:
        return self.org_type in (OrgType.BRANCH, OrgType.JOINT_BRANCH)

    def walk(self) -> Iterator[OrgSpec]:
        yield self
        for child in self.children:
            yield from child.walk()


def _assign_codes(root: OrgSpec, prefix: str, width: int = 4) -> None:
    for n, spec in enumerate(root.walk(), start=1):
        spec.code = f"{prefix}{n:0{width}d}"


def _add_groups(root: OrgSpec, min_size: int = 25) -> None:
    """Large branches work in party groups (党小组) of about a dozen members each."""
    for spec in list(root.walk()):
        if spec.is_branch and spec.size >= min_size and spec.status == OrgStatus.ACTIVE:
            n = min(4, max(2, spec.size // 12))
            spec.children = [
                OrgSpec(
                    f"第{'一二三四'[i]}党小组",
                    OrgType.GROUP,
                    spec.sector,
                    spec.founded,
                    district=spec.district,
                    center=spec.center,
                )
                for i in range(n)
            ]


D = dt.date


def _district_center(i: int) -> tuple[float, float]:
    offsets = [(0.020, 0.030), (0.010, -0.040), (-0.050, 0.010)]
    return (CITY_CENTER[0] + offsets[i][0], CITY_CENTER[1] + offsets[i][1])


def city_spec() -> OrgSpec:
    """示范市: 示范市委 → 3 district committees → working committees, 两新 committee, communities → branches."""
    B, J, G = OrgType.BRANCH, OrgType.JOINT_BRANCH, OrgType.GENERAL_BRANCH
    C, W = OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE

    def br(name: str, sector: str, size: int, unit: str = "", t: str = B, **kw: Any) -> OrgSpec:
        founded = kw.pop("founded", D(1985 + (sum(map(ord, name)) % 30), 7, 1))
        return OrgSpec(name, t, sector, founded, size=size, unit=unit or name.removesuffix("党支部"), **kw)

    college = OrgSpec(
        "示范学院党委",
        C,
        "school",
        D(1978, 9, 1),
        short_name="示范学院",
        children=[
            br("示范学院教工第一党支部", "school", 41, "示范学院"),
            br("示范学院教工第二党支部", "school", 36, "示范学院"),
            br("示范学院学生第一党支部", "school", 43, "示范学院", students=True),
            br("示范学院学生第二党支部", "school", 38, "示范学院", students=True),
        ],
    )
    city_organs = OrgSpec(
        "示范市直属机关工作委员会",
        W,
        "organ",
        D(1984, 3, 1),
        short_name="市直机关工委",
        children=[
            br("市委组织部机关党支部", "organ", 25, "中共示范市委组织部", key="city_org_dept"),
            br("市财政局机关党支部", "organ", 29, "示范市财政局"),
            br("市公共交通集团有限公司党支部", "enterprise", 49, "示范市公共交通集团有限公司"),
        ],
    )

    dongcheng = OrgSpec(
        "东城区委",
        C,
        "organ",
        D(1952, 5, 1),
        short_name="东城区委",
        children=[
            OrgSpec(
                "东城区直属机关工作委员会",
                W,
                "organ",
                D(1986, 6, 1),
                short_name="东城区直机关工委",
                children=[
                    br("东城区发展和改革局党支部", "organ", 27, "东城区发展和改革局"),
                    br("东城区财政局党支部", "organ", 29, "东城区财政局"),
                    OrgSpec(
                        "东城区人民医院党总支",
                        G,
                        "institution",
                        D(1990, 7, 1),
                        children=[
                            br("东城区人民医院内科党支部", "institution", 47, "东城区人民医院"),
                            br("东城区人民医院外科党支部", "institution", 46, "东城区人民医院"),
                            br("东城区人民医院行政后勤党支部", "institution", 31, "东城区人民医院"),
                        ],
                    ),
                    br("示范市第一中学党支部", "school", 43, "示范市第一中学"),
                ],
            ),
            OrgSpec(
                "东城区非公有制经济组织和社会组织综合党委",
                C,
                "enterprise",
                D(2008, 7, 1),
                short_name="东城区两新综合党委",
                children=[
                    br("示范智慧物流有限公司党支部", "enterprise", 45, "示范智慧物流有限公司"),
                    br("东城科技园联合党支部", "enterprise", 12, "东城科技园", t=J),
                    br("东城区阳光社会工作服务中心党支部", "social", 15, "东城区阳光社会工作服务中心"),
                    br(
                        "原东城纺织厂党支部",
                        "enterprise",
                        0,
                        "东城纺织厂",
                        status=OrgStatus.DISSOLVED,
                        dissolved_on=D(2015, 12, 31),
                        founded=D(1958, 3, 1),
                    ),
                ],
            ),
            OrgSpec(
                "东华门街道党工委",
                W,
                "community",
                D(1998, 10, 1),
                street="东华门街道",
                children=[
                    br("东华门街道机关党支部", "organ", 28, "东华门街道办事处", street="东华门街道"),
                    OrgSpec(
                        "东华门社区党委",
                        C,
                        "community",
                        D(2002, 6, 18),
                        key="resident_org",
                        street="东华门街道",
                        children=[
                            br(
                                "第一党支部",
                                "community",
                                47,
                                "东华门社区",
                                key="shuji1_branch",
                                term_days_left=45,
                                street="东华门街道",
                            ),
                            br("东华门社区第二党支部", "community", 45, "东华门社区", street="东华门街道"),
                            br("东华门社区离退休党支部", "community", 49, "东华门社区", street="东华门街道"),
                        ],
                    ),
                    OrgSpec(
                        "南池子社区党总支",
                        G,
                        "community",
                        D(2004, 7, 1),
                        street="东华门街道",
                        children=[
                            br("南池子社区第一党支部", "community", 41, "南池子社区", street="东华门街道"),
                            br("南池子社区第二党支部", "community", 37, "南池子社区", street="东华门街道"),
                        ],
                    ),
                ],
            ),
            OrgSpec(
                "景山街道党工委",
                W,
                "community",
                D(1998, 10, 1),
                street="景山街道",
                children=[
                    br("景山街道机关党支部", "organ", 24, "景山街道办事处", street="景山街道"),
                    OrgSpec(
                        "景山社区党委",
                        C,
                        "community",
                        D(2003, 3, 1),
                        street="景山街道",
                        children=[
                            br("景山社区第一党支部", "community", 46, "景山社区", street="景山街道"),
                            # Deliberately over 50 (支部工作条例 §5), so the org page shows the flag.
                            br("景山社区离退休党支部", "community", 71, "景山社区", street="景山街道"),
                        ],
                    ),
                ],
            ),
        ],
    )

    xicheng = OrgSpec(
        "西城区委",
        C,
        "organ",
        D(1952, 5, 1),
        short_name="西城区委",
        children=[
            OrgSpec(
                "西城区直属机关工作委员会",
                W,
                "organ",
                D(1986, 6, 1),
                short_name="西城区直机关工委",
                children=[
                    br("西城区市场监督管理局党支部", "organ", 34, "西城区市场监督管理局"),
                    br("西城区人力资源和社会保障局党支部", "organ", 27, "西城区人力资源和社会保障局"),
                    br("西城区疾病预防控制中心党支部", "institution", 31, "西城区疾病预防控制中心"),
                    br("西城区实验小学党支部", "school", 25, "西城区实验小学"),
                ],
            ),
            OrgSpec(
                "西城区非公有制经济组织和社会组织综合党委",
                C,
                "enterprise",
                D(2008, 7, 1),
                short_name="西城区两新综合党委",
                children=[
                    br(
                        "西城电子商务有限公司党支部",
                        "enterprise",
                        48,
                        "示范西城电子商务有限公司",
                        term_days_left=75,
                    ),
                    br("示范律师事务所党支部", "social", 16, "示范律师事务所"),
                    br("西城商贸联合党支部", "enterprise", 10, "西城商贸城", t=J),
                ],
            ),
            OrgSpec(
                "月坛街道党工委",
                W,
                "community",
                D(1998, 10, 1),
                street="月坛街道",
                children=[
                    br("月坛街道机关党支部", "organ", 27, "月坛街道办事处", street="月坛街道"),
                    OrgSpec(
                        "月坛社区党委",
                        C,
                        "community",
                        D(2002, 6, 18),
                        street="月坛街道",
                        children=[
                            br(
                                "月坛社区第一党支部",
                                "community",
                                47,
                                "月坛社区",
                                key="shuji2_branch",
                                street="月坛街道",
                            ),
                            br("月坛社区第二党支部", "community", 44, "月坛社区", street="月坛街道"),
                            br("月坛社区离退休党支部", "community", 48, "月坛社区", street="月坛街道"),
                        ],
                    ),
                ],
            ),
            OrgSpec(
                "金融街街道党工委",
                W,
                "community",
                D(2001, 4, 1),
                street="金融街街道",
                children=[
                    br("金融街街道机关党支部", "organ", 25, "金融街街道办事处", street="金融街街道"),
                    br("示范农商银行西城支行党支部", "enterprise", 35, "示范农村商业银行西城支行"),
                    OrgSpec(
                        "丰盛社区党总支",
                        G,
                        "community",
                        D(2005, 7, 1),
                        street="金融街街道",
                        children=[
                            br("丰盛社区第一党支部", "community", 42, "丰盛社区", street="金融街街道"),
                            br("丰盛社区第二党支部", "community", 36, "丰盛社区", street="金融街街道"),
                        ],
                    ),
                ],
            ),
        ],
    )

    nanhu = OrgSpec(
        "南湖区委",
        C,
        "organ",
        D(1983, 10, 1),
        short_name="南湖区委",
        children=[
            OrgSpec(
                "南湖区直属机关工作委员会",
                W,
                "organ",
                D(1986, 6, 1),
                short_name="南湖区直机关工委",
                children=[
                    br("南湖区农业农村局党支部", "organ", 27, "南湖区农业农村局"),
                    br("南湖区住房和城乡建设局党支部", "organ", 31, "南湖区住房和城乡建设局"),
                    br("南湖区人民医院党支部", "institution", 48, "南湖区人民医院"),
                ],
            ),
            OrgSpec(
                "南湖区非公有制经济组织和社会组织综合党委",
                C,
                "enterprise",
                D(2010, 7, 1),
                short_name="南湖区两新综合党委",
                key="renamed",
                children=[
                    OrgSpec(
                        "南湖新能源科技有限公司党总支",
                        G,
                        "enterprise",
                        D(2012, 5, 1),
                        children=[
                            br(
                                "南湖新能源科技有限公司研发党支部", "enterprise", 45, "南湖新能源科技有限公司"
                            ),
                            br(
                                "南湖新能源科技有限公司生产党支部", "enterprise", 48, "南湖新能源科技有限公司"
                            ),
                        ],
                    ),
                    br("南湖区养老服务协会党支部", "social", 14, "南湖区养老服务协会", key="moved"),
                ],
            ),
            OrgSpec(
                "湖滨街道党工委",
                W,
                "community",
                D(2000, 8, 1),
                street="湖滨街道",
                key="moved_from",
                children=[
                    br("湖滨街道机关党支部", "organ", 24, "湖滨街道办事处", street="湖滨街道"),
                    OrgSpec(
                        "湖滨社区党委",
                        C,
                        "community",
                        D(2006, 7, 1),
                        street="湖滨街道",
                        children=[
                            br(
                                "湖滨社区第一党支部",
                                "community",
                                47,
                                "湖滨社区",
                                term_days_left=20,
                                street="湖滨街道",
                            ),
                            # 7 or more full members without a branch committee (支部工作条例 §10): flagged.
                            br(
                                "湖滨社区第二党支部",
                                "community",
                                18,
                                "湖滨社区",
                                committee=False,
                                street="湖滨街道",
                            ),
                            br("湖滨社区离退休党支部", "community", 48, "湖滨社区", street="湖滨街道"),
                        ],
                    ),
                ],
            ),
            OrgSpec(
                "青山镇党委",
                C,
                "rural",
                D(1958, 10, 1),
                street="青山镇",
                children=[
                    br("青山镇机关党支部", "organ", 27, "青山镇人民政府", street="青山镇"),
                    br("桃源村党支部", "rural", 47, "桃源村", term_days_left=-35, street="青山镇"),
                    br("柳溪村党支部", "rural", 41, "柳溪村", street="青山镇"),
                    OrgSpec(
                        "石桥村党总支",
                        G,
                        "rural",
                        D(1996, 7, 1),
                        street="青山镇",
                        children=[
                            br("石桥村第一党支部", "rural", 35, "石桥村", street="青山镇"),
                            br("石桥村第二党支部", "rural", 33, "石桥村", street="青山镇"),
                        ],
                    ),
                    br(
                        "青山镇农民专业合作社联合党支部",
                        "rural",
                        9,
                        "青山镇农民专业合作社",
                        t=J,
                        street="青山镇",
                    ),
                ],
            ),
        ],
    )
    root = OrgSpec(
        "中共示范市委员会",
        C,
        "organ",
        D(1949, 10, 1),
        short_name="示范市委",
        key="root",
        children=[city_organs, college, dongcheng, xicheng, nanhu],
    )
    # Districts carry their name down for addresses, ID region codes and map coordinates.
    for i, district in enumerate((dongcheng, xicheng, nanhu)):
        for spec in district.walk():
            spec.district = district.name.removesuffix("委")
            spec.center = _district_center(i)
    for spec in itertools.chain(city_organs.walk(), college.walk(), [root]):
        spec.district = "东城区"
    _add_groups(root)
    _assign_codes(root, DEMO_CODE_PREFIX)
    return root


def demo_codes() -> dict[str, str]:
    """Key → code of the organisations the demo accounts hang on (the tree is static, so codes are too)."""
    return {s.key: s.code for s in city_spec().walk() if s.key}


# --------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------


def _weighted(pairs: list[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    values = [v for v, _w in pairs]
    cum = list(itertools.accumulate(w for _v, w in pairs))
    return values, cum


class _Choice:
    """A fast weighted choice (bisect on cumulative weights)."""

    def __init__(self, pairs: list[tuple[Any, float]] | dict[Any, float]) -> None:
        items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
        self.values, self.cum = _weighted(items)
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.total)]


_SURNAME = _Choice(data.SURNAMES)
_MINORITY = _Choice(data.MINORITIES)
_EDUCATION = {s: _Choice(p["education"]) for s, p in data.SECTOR_PROFILES.items()}
_ELDERLY_EDUCATION = _Choice(data.ELDERLY_EDUCATION)
_AGE_BANDS = {s: _Choice([((lo, hi), w) for lo, hi, w in p["age"]]) for s, p in data.SECTOR_PROFILES.items()}
_OCCUPATION = {s: _Choice(w) for s, w in data.SECTOR_OCCUPATIONS.items()}
_GENERATIONS = sorted(data.GIVEN_NAMES)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _years_after(day: dt.date, years: int) -> dt.date:
    return _years_before(day, -years)


class PersonMaker:
    """Makes realistic, consistent member records: ID number, birth date and gender agree; joined after
    18; full membership one year after joining; education, degree, occupation and dues category fit."""

    def __init__(
        self,
        *,
        today: dt.date,
        region_codes: dict[str, str],
        city: str = CITY_NAME,
        province: str = CITY_PROVINCE,
        taken_indexes: set[str] | None = None,
    ) -> None:
        self.today = today
        self.region_codes = region_codes
        self.city = city
        self.province = province
        self.used_ids: set[str] = set()
        self.taken_indexes = taken_indexes or set()
        self._default_region = next(iter(region_codes.values()))

    # -- pieces --------------------------------------------------------------------------------
    def name(self, rng: random.Random, gender: str, birth_year: int, ethnicity: str) -> str:
        own = data.OWN_LANGUAGE_NAMES.get(ethnicity)
        if own and (ethnicity != "蒙古族" or rng.random() < 0.5):
            return rng.choice(own[gender])
        surname = rng.choice(data.KOREAN_SURNAMES) if ethnicity == "朝鲜族" else _SURNAME(rng)
        generation = _GENERATIONS[bisect.bisect_left(_GENERATIONS, birth_year)]
        r = rng.random()
        if r < 0.6:
            given = rng.choice(data.GIVEN_NAMES[generation][gender])
        elif r < 0.92:
            given = rng.choice(data.NAME_FIRST_CHARS[gender]) + rng.choice(data.NAME_SECOND_CHARS[gender])
        else:
            given = rng.choice(data.NAME_SECOND_CHARS[gender])
        return surname + given

    def id_number(self, rng: random.Random, region: str, birth: dt.date, male: bool) -> str:
        from dangjian.core import crypto
        from dangjian.members.idnumbers import make_id_number

        # The 17th digit is odd for men and even for women (GB 11643); bump the sequence on a clash.
        seq = rng.randrange(500) * 2 + (1 if male else 0)
        for _attempt in range(500):
            number = make_id_number(region, birth, seq)
            if number not in self.used_ids and (
                not self.taken_indexes or crypto.blind_index(number, "id_number") not in self.taken_indexes
            ):
                self.used_ids.add(number)
                return number
            seq = (seq + 2) % 1000
        raise RuntimeError(f"no free ID number for {region} {birth}")  # 500 people born the same day

    def phone(self, rng: random.Random) -> str:
        return rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"

    def address(self, rng: random.Random, district: str, street: str) -> str:
        return (
            f"{self.city}{district}{street}{rng.choice(data.STREET_NAMES)}{rng.randint(1, 300)}号"
            f"{rng.choice(data.RESIDENTIAL_COMPOUNDS)}{rng.randint(1, 30)}栋{rng.randint(1, 18)}"
            f"{rng.randint(1, 4):02d}室"
        )

    # -- a whole person ------------------------------------------------------------------------
    def person(
        self,
        rng: random.Random,
        *,
        sector: str,
        unit: str,
        district: str,
        street: str = "",
        students: bool = False,
        center: tuple[float, float] = CITY_CENTER,
    ) -> dict[str, Any]:
        """The fields of one member, as MemberForm.cleaned_data would hold them (without org/group)."""
        profile = data.SECTOR_PROFILES[sector]
        today = self.today
        # Draw every random number up front, in a fixed order, so that the same seed gives the same
        # people whatever today's date does to the derived dates.
        r_gender, r_minor, r_status, r_join = rng.random(), rng.random(), rng.random(), rng.random()
        r_days, r_local, r_degree = rng.random(), rng.random(), rng.random()
        band = _AGE_BANDS[sector](rng)
        age = rng.randint(*band)

        female_share = 0.55 if students else profile["female"]
        gender = "female" if r_gender < female_share else "male"
        ethnicity = _MINORITY(rng) if r_minor < 0.077 else "汉族"  # 党内统计公报: 7.7%
        probationary_share = 0.22 if students else profile["probationary"]
        flowing = False
        if r_status < probationary_share:
            status = "probationary"
        elif r_status < probationary_share + profile["flowing"]:
            # 流动党员: a full member away with a flow certificate (活动证), which _make_members issues;
            # being away is not a status (members.choices).
            status, flowing = "full", True
        else:
            status = "full"

        if students:
            age = 19 + int(r_join * 8)  # 19–26: undergraduates and graduate students
        elif status == "probationary":
            age = 22 + int(r_join * 17)  # new members are mostly young
        age = min(max(age, 19), 90)  # 19 or over, so that a year of probation fits after 18
        birth = today - dt.timedelta(days=int(age * 365.25 + r_days * 364))
        earliest_join = _years_after(birth, 18) + dt.timedelta(days=1)  # 细则 §9: at least 18
        latest_join = _years_before(today, 1) - dt.timedelta(days=1)  # a full member served a year

        if status == "probationary":  # joined within the last year
            join = max(today - dt.timedelta(days=20 + int(r_days * 330)), earliest_join)
        else:
            join_age = 19 + r_join * 3 if students else 20 + r_join * 12 + (8 if r_join > 0.85 else 0)
            join = max(birth + dt.timedelta(days=int(join_age * 365.25)), earliest_join)
            if join > latest_join:
                # Too young for that joining age: spread the joining date over the years the person
                # could have joined in (clamping would put them all on one day).
                span = (latest_join - earliest_join).days
                if span >= 0:
                    join = earliest_join + dt.timedelta(days=int(r_days * span))
                else:  # turned 18 less than a year ago: still on probation
                    status = "probationary"
        full = _years_after(join, 1) if status != "probationary" else None
        flowing = flowing and status != "probationary"

        # Education, degree and occupation fit the sector and the person's age.
        if students:
            occupation = "student"
            education = "master" if age >= 23 else "bachelor"
            degree = "bachelor" if education == "master" else "none"
        else:
            if sector == "community" and age >= 70 or sector == "rural" and age >= 60:
                education = _ELDERLY_EDUCATION(rng)
            else:
                education = _EDUCATION[sector](rng)
            retired_age = 60 if gender == "male" else 55
            if sector == "community" and age >= retired_age:
                occupation = "retired"
            else:
                occupation = _OCCUPATION[sector](rng)
            degree = {
                "doctorate": "doctor",
                "master": "master",
                "bachelor": "bachelor" if r_degree < 0.93 else "none",
            }.get(education, "none")
        dues = data.DUES_BY_OCCUPATION.get(occupation, "employed")
        if occupation == "other" and sector == "community" and r_degree < 0.12:
            dues = "low_income"

        if occupation == "professional" and sector in data.PROFESSIONAL_BY_SECTOR:
            position = rng.choice(data.PROFESSIONAL_BY_SECTOR[sector])
        else:
            position = rng.choice(data.POSITIONS[occupation])
        if students:
            position = "研究生" if education == "master" else "本科生"
        work_unit = unit
        if occupation in ("retired", "unemployed"):
            work_unit = ""
        elif sector == "community" and occupation in ("other", "worker"):
            work_unit = {"other": "个体经营", "worker": f"{self.city}城市服务有限公司"}[occupation]
            if position == "社区工作者":
                work_unit = f"{unit}居民委员会"

        region = self.region_codes.get(district, self._default_region) if r_local < 0.8 else None
        if region is None:
            region = rng.choice(list(self.region_codes.values()))
        native = data.NATIVE_PLACE_BY_ETHNICITY.get(ethnicity)
        if native is None:
            # Local people are natives of the city (the seeded province: of the district's city).
            local = self.city.removesuffix("市") or district[:2]
            native = f"{self.province}{local}" if r_local < 0.65 else rng.choice(data.NATIVE_PLACES_ELSEWHERE)
        name = self.name(rng, gender, birth.year, ethnicity)
        id_number = self.id_number(rng, region, birth, gender == "male")
        lat = center[0] + rng.uniform(-0.012, 0.012)
        lon = center[1] + rng.uniform(-0.015, 0.015)
        return {
            "name": name,
            "gender": gender,
            "ethnicity": ethnicity,
            "birth_date": birth,
            "id_number": id_number,
            "phone": self.phone(rng),
            "education": education,
            "degree": degree,
            "occupation": occupation,
            "work_unit": work_unit,
            "position": position,
            "native_place": native,
            "address": self.address(rng, district, street),
            "latitude": Decimal(f"{lat:.6f}"),
            "longitude": Decimal(f"{lon:.6f}"),
            "join_date": join,
            "full_date": full,
            "status": status,
            "dues_category": dues,
            # Not a member field: away with a flow certificate (popped by _make_members).
            "_flowing": flowing,
        }


# --------------------------------------------------------------------------------------------------
# Loading a tree with its members and committees
# --------------------------------------------------------------------------------------------------


@dataclass
class _Held:
    """What the committee step needs to know about a stored member (kept small for 100,000 rows)."""

    pk: int
    name: str
    status: str
    age: int
    occupation: str
    away: bool = False  # a flowing member (with a flow certificate): not elected at home


def _bulk_tree(root: OrgSpec, rng: random.Random) -> dict[str, Organization]:
    """Create the whole tree with treebeard's bulk loader; return the organisations by code."""

    def node(spec: OrgSpec) -> dict[str, Any]:
        lat = spec.center[0] + rng.uniform(-0.01, 0.01)
        lon = spec.center[1] + rng.uniform(-0.012, 0.012)
        place = f"{spec.district}{spec.street}" if spec.district else ""
        return {
            "data": {
                "org_type": spec.org_type,
                "code": spec.code,
                "name": spec.name,
                "short_name": spec.short_name,
                "sector": spec.sector,
                "founded_on": spec.founded,
                "address": f"{CITY_NAME}{place}{rng.choice(data.STREET_NAMES)}{rng.randint(1, 200)}号"
                if spec.org_type != OrgType.GROUP
                else "",
                "latitude": Decimal(f"{lat:.6f}"),
                "longitude": Decimal(f"{lon:.6f}"),
                "contact_phone": f"0799-{rng.randint(6000000, 8999999)}"
                if spec.org_type != OrgType.GROUP
                else "",
                "status": spec.status,
                "dissolved_on": spec.dissolved_on,
            },
            "children": [node(c) for c in spec.children],
        }

    Organization.objects.load_bulk([node(root)], bulk_create=True)
    top = Organization.objects.get(code=root.code)
    return {o.code: o for o in Organization.objects.filter(path__startswith=top.path)}


def _make_members(
    root: OrgSpec,
    orgs: dict[str, Organization],
    maker: PersonMaker,
    *,
    seed: str,
    progress: Progress,
    batch_size: int = 2000,
) -> dict[str, list[_Held]]:
    """Make and store every branch's members in batches; return what the committees need."""
    from dangjian.members.models import Member, MemberStatusChange
    from dangjian.members.services import member_build

    branches = [s for s in root.walk() if s.is_branch and s.size]
    total = sum(s.size for s in branches)
    held: dict[str, list[_Held]] = {}
    pending: list[tuple[str, Member, bool]] = []  # (branch code, member, away with a flow certificate)
    certificates = _FlowCertificates(maker.today)
    done = 0

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        Member.objects.bulk_create([m for _c, m, _away in pending], batch_size=500)
        changes = []
        for code, m, away in pending:
            age = maker.today.year - m.birth_date.year
            held.setdefault(code, []).append(_Held(m.pk, m.name, m.status, age, m.occupation, away))
            changes.append(
                MemberStatusChange(
                    member=m,
                    from_status="",
                    to_status="probationary",
                    date=m.join_date,
                    reason="支部党员大会接收为预备党员",
                )
            )
            if m.full_date:
                changes.append(
                    MemberStatusChange(
                        member=m,
                        from_status="probationary",
                        to_status="full",
                        date=m.full_date,
                        reason="预备期满，按期转为正式党员",
                    )
                )
            if away:
                certificates.add(m)
        MemberStatusChange.objects.bulk_create(changes, batch_size=1000)
        certificates.flush()
        done += len(pending)
        pending.clear()
        if settings.DEBUG:
            reset_queries()  # the debug cursor would otherwise keep every INSERT in memory
        progress("members", done, total)

    progress("members", 0, total)
    for spec in branches:
        org = orgs[spec.code]
        groups = [orgs[g.code] for g in spec.children if g.org_type == OrgType.GROUP]
        rng = random.Random(f"{seed}:{spec.code}")
        for i in range(spec.size):
            person = maker.person(
                rng,
                sector=spec.sector,
                unit=spec.unit,
                district=spec.district,
                street=spec.street,
                students=spec.students,
                center=spec.center,
            )
            group = groups[i % len(groups)] if groups else None
            away = person.pop("_flowing")
            pending.append((spec.code, member_build(cleaned={**person, "org": org, "group": group}), away))
        if len(pending) >= batch_size:
            flush()
    flush()
    return held


# Where the demo's flowing members are (流动党员 work away from home; the host is outside the city).
_FLOW_HOSTS = (
    ("广东省深圳市宝安区某工业园区党委", "深圳市宝安区"),
    ("浙江省杭州市某商会党支部", "杭州市西湖区"),
    ("江苏省苏州市某科技有限公司党支部", "苏州工业园区"),
    ("上海市闵行区某物流园区党总支", "上海市闵行区"),
    ("北京市朝阳区某建筑工地流动党员党支部", "北京市朝阳区"),
    ("福建省厦门市某外来务工人员党支部", "厦门市湖里区"),
)


class _FlowCertificates:
    """The flow certificates (活动证) of the demo's flowing members, written in batches with the members.

    The active certificate is the one record that a member is flowing: the member stays a full member.
    Every certificate is less than six months old, so none calls for a transfer yet (条例 第三十条); the
    transfers demo adds the ones that do."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.rows: list[Any] = []
        self.numbers: dict[int, int] = {}

    def _number(self, year: int) -> str:
        from dangjian.transfers.models import FlowCertificate

        if year not in self.numbers:
            prefix = f"LD{year}-"
            taken = FlowCertificate.objects.filter(number__startswith=prefix).values_list("number", flat=True)
            self.numbers[year] = max((int(n.rsplit("-", 1)[1]) for n in taken), default=0)
        self.numbers[year] += 1
        return f"LD{year}-{self.numbers[year]:05d}"

    def add(self, member: Any) -> None:
        from dangjian.transfers.models import FlowCertificate

        host, place = _FLOW_HOSTS[member.pk % len(_FLOW_HOSTS)]
        since = self.today - dt.timedelta(days=30 + (member.pk * 37) % 140)
        start = max(since, member.full_date or member.join_date)
        self.rows.append(
            FlowCertificate(
                member=member,
                home_org=member.org,
                home_org_path=member.org_path,
                outside_host_name=host,
                place=place,
                fixed_place=member.pk % 3 != 0,
                number=self._number(start.year),
                start=start,
            )
        )

    def flush(self) -> None:
        from dangjian.transfers.models import FlowCertificate

        FlowCertificate.objects.bulk_create(self.rows, batch_size=500)
        self.rows.clear()


_TERM_CACHE: dict[tuple[str, dt.date], tuple[int, str]] = {}


def _term_rule(sector: str, on: dt.date) -> tuple[int, str]:
    from dangjian.orgs import rules

    key = (sector, on)
    if key not in _TERM_CACHE:
        _TERM_CACHE[key] = rules.term_years(sector, on=on)
    return _TERM_CACHE[key]


def _pick_officers(rng: random.Random, pool: list[_Held], n: int) -> list[_Held]:
    """Officers are full members of working age where possible, older first for the secretary."""
    full = [m for m in pool if m.status == "full" and not m.away]  # a flowing member is away
    able = [m for m in full if 28 <= m.age <= 62 and m.occupation != "student"] or full
    if not able:
        return []
    chosen = rng.sample(able, min(n, len(able)))
    # The secretary is usually the most experienced of those elected.
    eldest = max(range(len(chosen)), key=lambda i: chosen[i].age)
    chosen.insert(0, chosen.pop(eldest))
    return chosen


def _elect_committees(
    root: OrgSpec,
    orgs: dict[str, Organization],
    held: dict[str, list[_Held]],
    *,
    today: dt.date,
    seed: str,
    progress: Progress,
) -> None:
    """One current committee term per organisation: branches with 7+ full members elect a committee of
    3–5 (支部工作条例 §10), smaller ones a secretary; committees and general branches elect theirs from
    members of their subtree."""
    subtree: dict[str, list[_Held]] = {}

    def gather(spec: OrgSpec) -> list[_Held]:
        members = list(held.get(spec.code, []))
        for child in spec.children:
            members.extend(gather(child))
        subtree[spec.code] = members
        return members

    gather(root)
    terms: list[CommitteeTerm] = []
    positions: list[tuple[int, str, int]] = []  # (term index, title, member pk)
    events: list[OrgEvent] = []
    contacts: list[Organization] = []
    specs = [s for s in root.walk() if s.status == OrgStatus.ACTIVE and s.org_type != OrgType.GROUP]
    for spec in specs:
        rng = random.Random(f"{seed}:committee:{spec.code}")
        pool = held.get(spec.code, []) if spec.is_branch else subtree[spec.code]
        full = sum(1 for m in pool if m.status == "full")
        if spec.is_branch:
            size = 1 + rng.randint(2, 4) if full >= 7 and spec.committee else 1
        elif spec.org_type == OrgType.GENERAL_BRANCH:
            size = rng.randint(3, 5)
        else:
            size = rng.randint(5, 7)
        officers = _pick_officers(rng, pool, size)
        if not officers:
            continue
        years, ref = _term_rule(spec.sector, today)
        if spec.term_days_left is not None:
            start = _years_before(today + dt.timedelta(days=spec.term_days_left), years)
        else:
            start = today - dt.timedelta(days=rng.randint(30, years * 365 - 120))
        terms.append(CommitteeTerm(org=orgs[spec.code], start_date=start, term_years=years, rule_ref=ref))
        titles = ["secretary", *data.COMMITTEE_TITLES][: len(officers)]
        if len(officers) > 5 and spec.org_type == OrgType.COMMITTEE:
            titles = ["secretary", "deputy_secretary", "deputy_secretary", "organization", "publicity",
                      "discipline", "member"][: len(officers)]  # fmt: skip
        for title, officer in zip(titles, officers, strict=True):
            positions.append((len(terms) - 1, title, officer.pk))
        org = orgs[spec.code]
        org.contact_name = officers[0].name
        contacts.append(org)
        events.append(
            OrgEvent(
                org=org,
                kind=OrgEvent.Kind.UPDATE,
                date=start,
                reason="换届选举产生新一届委员会" if len(officers) > 1 else "选举产生支部书记",
                details={"positions": [[t, o.name] for t, o in zip(titles, officers, strict=True)]},
            )
        )
    progress("committees", 0, len(specs))
    CommitteeTerm.objects.bulk_create(terms, batch_size=500)
    seen: set[tuple[int, str, int]] = set()
    rows = []
    for i, title, pk in positions:
        key = (terms[i].pk, title, pk)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            CommitteePosition(term=terms[i], title=title, member_id=pk, start_date=terms[i].start_date)
        )
    CommitteePosition.objects.bulk_create(rows, batch_size=1000)
    Organization.objects.bulk_update(contacts, ["contact_name"], batch_size=500)
    OrgEvent.objects.bulk_create(events, batch_size=1000)
    progress("committees", len(specs), len(specs))


def _found_events(root: OrgSpec, orgs: dict[str, Organization]) -> None:
    events = []
    for spec in root.walk():
        org = orgs[spec.code]
        events.append(
            OrgEvent(org=org, kind=OrgEvent.Kind.FOUND, date=spec.founded, reason="经上级党组织批准成立")
        )
        if spec.status == OrgStatus.DISSOLVED and spec.dissolved_on:
            events.append(
                OrgEvent(
                    org=org,
                    kind=OrgEvent.Kind.DISSOLVE,
                    date=spec.dissolved_on,
                    reason="企业破产清算，党组织撤销",
                )
            )
    OrgEvent.objects.bulk_create(events, batch_size=1000)


def _populate(
    root: OrgSpec,
    *,
    today: dt.date,
    seed: str,
    maker: PersonMaker,
    progress: Progress,
    batch_size: int = 2000,
) -> dict[str, Organization]:
    rng = random.Random(f"{seed}:tree")
    progress("organizations", 0, 1)
    orgs = _bulk_tree(root, rng)
    _found_events(root, orgs)
    progress("organizations", 1, 1)
    held = _make_members(root, orgs, maker, seed=seed, progress=progress, batch_size=batch_size)
    _elect_committees(root, orgs, held, today=today, seed=seed, progress=progress)
    return orgs


# --------------------------------------------------------------------------------------------------
# The demo city
# --------------------------------------------------------------------------------------------------


@dataclass
class DemoAccount:
    username: str
    role: str
    org: str
    full_name: str
    password_set: bool  # whether this run set the password (new account, or --password given)


@dataclass
class DemoResult:
    created: bool
    root: Organization
    accounts: list[DemoAccount]
    organizations: int
    members: int


def _history_events(orgs_by_key: dict[str, Organization]) -> None:
    """A rename, a move and an upgrade, so the organisation timeline has something to show."""
    renamed = orgs_by_key["renamed"]
    moved = orgs_by_key["moved"]
    moved_from = orgs_by_key["moved_from"]
    hospital = Organization.objects.get(
        path__startswith=orgs_by_key["root"].path, name="东城区人民医院党总支"
    )
    new_parent = Organization.objects.get_parent(moved)
    OrgEvent.objects.bulk_create(
        [
            OrgEvent(
                org=renamed,
                kind=OrgEvent.Kind.RENAME,
                date=D(2019, 6, 15),
                reason="职能调整：综合党委同时负责社会组织党建工作",
                details={
                    "old_name": "南湖区非公有制企业党委",
                    "new_name": renamed.name,
                    "old_short_name": "南湖区非公企业党委",
                    "new_short_name": renamed.short_name,
                },
            ),
            OrgEvent(
                org=moved,
                kind=OrgEvent.Kind.MOVE,
                date=D(2021, 3, 1),
                reason="社会组织党组织按行业归口，由街道党工委转隶区两新综合党委",
                details={
                    "old_parent": moved_from.pk,
                    "old_parent_name": moved_from.name,
                    "new_parent": new_parent.pk,
                    "new_parent_name": new_parent.name,
                },
            ),
            OrgEvent(
                org=hospital,
                kind=OrgEvent.Kind.UPGRADE,
                date=D(2018, 9, 1),
                reason="党员人数超过50人，经区直机关工委批准由党支部升格为党总支",
                details={"old_type": OrgType.BRANCH, "new_type": OrgType.GENERAL_BRANCH},
            ),
        ]
    )


def _demo_officer(org: Organization) -> Any:
    from dangjian.orgs.selectors import secretary_of

    return secretary_of(org)


def _demo_member_of(org: Organization) -> Any:
    """dangyuan1: the first full member of the branch, of working age, who holds no position and is at
    home (not a flowing member away with a flow certificate)."""
    from dangjian.members.models import Member

    officers = CommitteePosition.objects.filter(term__org=org).values_list("member_id", flat=True)
    candidates = (
        Member.objects.filter(
            org=org, status="full", occupation__in=["professional", "worker", "other", "manager"]
        )
        .exclude(pk__in=officers)
        .exclude(flow_certificates__status="active")
        .order_by("pk")
    )
    return candidates.filter(user__isnull=True).first() or candidates.first()


def _ensure_accounts(password: str | None) -> list[DemoAccount]:
    """The six fixed accounts. New accounts get ``password`` (or the default); existing ones keep theirs
    unless a password is given explicitly."""
    from dangjian.accounts.models import RoleAssignment, User
    from dangjian.core.scoping import Role

    codes = demo_codes()
    orgs = {o.code: o for o in Organization.objects.filter(code__in=codes.values())}
    missing = sorted(c for c in codes.values() if c not in orgs)
    if missing:  # someone dissolved or recoded the demo's organisations by hand
        raise RuntimeError(f"demo organisations {missing} are missing: use a fresh DANGJIAN_DATA_DIR")
    orgs = {k: orgs[c] for k, c in codes.items()}
    branch1, branch2 = orgs["shuji1_branch"], orgs["shuji2_branch"]
    secretary1, secretary2 = _demo_officer(branch1), _demo_officer(branch2)
    member1 = _demo_member_of(branch1)
    dept_member = _demo_officer(orgs["city_org_dept"])
    plan = [
        ("admin", Role.ADMIN, orgs["root"], "系统管理员", None),
        ("zuzhibu", Role.ORG_MANAGER, orgs["root"], dept_member.name if dept_member else "", dept_member),
        ("shuji1", Role.SECRETARY, branch1, secretary1.name if secretary1 else "", secretary1),
        ("shuji2", Role.SECRETARY, branch2, secretary2.name if secretary2 else "", secretary2),
        ("dangyuan1", Role.MEMBER, branch1, member1.name if member1 else "", member1),
        ("qunzhong1", Role.RESIDENT, orgs["resident_org"], "王秀兰", None),
    ]
    accounts = []
    for username, role, org, full_name, member in plan:
        user, created = User.objects.get_or_create(username=username, defaults={"full_name": full_name})
        password_set = created or password is not None
        if password_set:
            user.set_password(password or DEFAULT_PASSWORD)
            if username == "admin":
                user.is_staff = user.is_superuser = True
            user.save()
        if not RoleAssignment.objects.filter(user=user, org=org, role=role, active=True).exists():
            RoleAssignment.objects.create(user=user, org=org, role=role)
        if member is not None and member.user_id is None and not _has_member(user):
            member.user = user
            member.save(update_fields=["user"])
        accounts.append(DemoAccount(username, role, org.name, user.full_name, password_set))
    return accounts


def _has_member(user: Any) -> bool:
    from dangjian.members.models import Member

    return Member.objects.filter(user=user).exists()


def load_demo(
    *, password: str | None = None, today: dt.date | None = None, progress: Progress = _no_progress
) -> DemoResult:
    """Load 示范市 once (a second call changes nothing) and make sure the six demo accounts exist.

    ``password``: None keeps the passwords of existing accounts (new ones get the default); a value
    sets it on all six.
    """
    from dangjian.members.models import Member

    today = today or timezone.localdate()
    spec = city_spec()
    with transaction.atomic():
        root = Organization.objects.filter(code=spec.code).first()
        created = root is None
        if created:
            taken = (
                set(Member.objects.values_list("id_number_index", flat=True))
                if Member.objects.exists()
                else None
            )
            maker = PersonMaker(today=today, region_codes=CITY_REGION_CODES, taken_indexes=taken)
            orgs = _populate(
                spec, today=today, seed="shifanshi", maker=maker, progress=progress, batch_size=1000
            )
            _history_events({s.key: orgs[s.code] for s in spec.walk() if s.key})
            root = orgs[spec.code]
        accounts = _ensure_accounts(password)
    return DemoResult(
        created=created,
        root=root,
        accounts=accounts,
        organizations=Organization.objects.filter(path__startswith=root.path).count(),
        members=Member.objects.filter(org_path__startswith=root.path).count(),
    )


# --------------------------------------------------------------------------------------------------
# The synthetic province (dangjian seed)
# --------------------------------------------------------------------------------------------------

# Kinds of organisation between a district committee and its branches, with the sectors of their branches.
_PARENT_KINDS = {
    "street": (OrgType.WORKING_COMMITTEE, "community", {"community": 85, "organ": 15}, 35),
    "organs": (OrgType.WORKING_COMMITTEE, "organ", {"organ": 55, "institution": 25, "school": 20}, 25),
    "two_new": (OrgType.COMMITTEE, "enterprise", {"enterprise": 75, "social": 25}, 25),
    "township": (OrgType.COMMITTEE, "rural", {"rural": 85, "organ": 15}, 15),
}
_PARENT_KIND = _Choice({k: v[3] for k, v in _PARENT_KINDS.items()})
_ORGANS = ["发展和改革局", "财政局", "教育局", "民政局", "司法局", "人力资源和社会保障局", "自然资源局", "住房和城乡建设局", "交通运输局", "农业农村局", "商务局", "文化和旅游局", "卫生健康委员会", "应急管理局", "市场监督管理局", "统计局", "医疗保障局"]  # fmt: skip
_INSTITUTIONS = [
    "人民医院",
    "中医院",
    "妇幼保健院",
    "疾病预防控制中心",
    "图书馆",
    "文化馆",
    "档案馆",
    "社会福利院",
]
_INDUSTRIES = [
    "科技",
    "物流",
    "建设",
    "电子",
    "新材料",
    "食品",
    "纺织",
    "机械",
    "医药",
    "商贸",
    "置业",
    "能源",
    "环保",
    "信息技术",
]
_SOCIAL = ["律师事务所", "会计师事务所", "社会工作服务中心", "志愿者协会", "养老服务中心", "行业协会", "商会"]


def _place(rng: random.Random) -> str:
    return rng.choice(data.SEED_PLACE_SYLLABLES) + rng.choice(data.SEED_PLACE_SUFFIXES)


def province_spec(
    members: int, *, seed: int, per_branch: int = 40, fanout: int = 10
) -> tuple[OrgSpec, dict[str, str]]:
    """A province-like tree sized to ``members`` (about ``per_branch`` members a branch, at most
    ``fanout`` children per committee), and the ID region code of each district."""
    rng = random.Random(f"{seed}:province")
    n_branches = max(1, math.ceil(members / per_branch))
    n_parents = math.ceil(n_branches / fanout)
    n_districts = math.ceil(n_parents / fanout)
    n_cities = math.ceil(n_districts / fanout)
    # Branch sizes vary around per_branch and add up to exactly ``members``.
    sizes = [max(3, round(per_branch * rng.uniform(0.6, 1.4))) for _ in range(n_branches)]
    scale = members / sum(sizes)
    sizes = [max(1, int(s * scale)) for s in sizes]
    for i in range(members - sum(sizes)):
        sizes[i % n_branches] += 1
    sizes_iter = iter(sizes)

    root = OrgSpec("中共示范省委员会", OrgType.COMMITTEE, "organ", D(1949, 10, 1), short_name="示范省委")
    regions: dict[str, str] = {}
    left = {"branches": n_branches, "parents": n_parents, "districts": n_districts}
    used_city_names: set[str] = set()
    for c in range(n_cities):
        city = _place(rng)
        while city in used_city_names and len(used_city_names) < 400:
            city = _place(rng)
        used_city_names.add(city)
        center = (24.5 + rng.uniform(0, 5), 114.0 + rng.uniform(0, 4))
        city_spec_ = OrgSpec(f"{city}市委", OrgType.COMMITTEE, "organ", D(1950, 1, 1), center=center)
        root.children.append(city_spec_)
        for d in range(min(fanout, left["districts"])):
            left["districts"] -= 1
            district = f"{city}{_place(rng)}区"
            regions[district] = f"36{(13 + c) % 100:02d}{2 + d:02d}"
            dcenter = (center[0] + rng.uniform(-0.3, 0.3), center[1] + rng.uniform(-0.3, 0.3))
            dspec = OrgSpec(
                f"{district}委", OrgType.COMMITTEE, "organ", D(1980, 1, 1), district=district, center=dcenter
            )
            city_spec_.children.append(dspec)
            for _p in range(min(fanout, left["parents"])):
                left["parents"] -= 1
                kind = _PARENT_KIND(rng)
                org_type, sector, branch_sectors, _w = _PARENT_KINDS[kind]
                place = _place(rng)
                name = {
                    "street": f"{place}街道党工委",
                    "organs": f"{district}直属机关工作委员会",
                    "two_new": f"{district}{place}两新组织综合党委",
                    "township": f"{place}镇党委",
                }[kind]
                street = {"street": f"{place}街道", "township": f"{place}镇"}.get(kind, "")
                pspec = OrgSpec(
                    name, org_type, sector, D(1995, 1, 1), district=district, street=street, center=dcenter
                )
                dspec.children.append(pspec)
                pick = _Choice(branch_sectors)
                for b in range(min(fanout, left["branches"])):
                    left["branches"] -= 1
                    bsector = pick(rng)
                    size = next(sizes_iter)
                    unit, bname, students = _seed_unit(rng, bsector, district, place, b)
                    pspec.children.append(
                        OrgSpec(
                            bname,
                            OrgType.BRANCH,
                            bsector,
                            D(1990 + rng.randint(0, 30), rng.randint(1, 12), 1),
                            size=size,
                            unit=unit,
                            district=district,
                            street=street,
                            students=students,
                            center=dcenter,
                        )
                    )
    _add_groups(root)
    _assign_codes(root, SEED_CODE_PREFIX, width=7)
    return root, regions


def _seed_unit(rng: random.Random, sector: str, district: str, place: str, n: int) -> tuple[str, str, bool]:
    """(work unit, branch name, students?) for a synthetic branch."""
    nth = "一二三四五六七八九十"[n % 10]
    if sector == "community":
        unit = f"{place}{rng.choice(['东', '西', '南', '北', '中', '新'])}{rng.choice(['苑', '村', '里', '园'])}社区"
        return unit, f"{unit}第{nth}党支部", False
    if sector == "organ":
        unit = f"{district}{rng.choice(_ORGANS)}"
        return unit, f"{unit}党支部", False
    if sector == "institution":
        unit = f"{district}{rng.choice(_INSTITUTIONS)}"
        return unit, f"{unit}第{nth}党支部", False
    if sector == "school":
        students = rng.random() < 0.25
        unit = f"{district}第{nth}中学" if not students else f"{district.removesuffix('区')}职业技术学院"
        return unit, f"{unit}{'学生' if students else '教工'}党支部", students
    if sector == "enterprise":
        unit = f"{place}{rng.choice(_INDUSTRIES)}有限公司"
        return unit, f"{unit}党支部", False
    if sector == "social":
        unit = f"{district}{place}{rng.choice(_SOCIAL)}"
        return unit, f"{unit}党支部", False
    unit = f"{place}{rng.choice(['桥', '湾', '坪', '塘', '岗', '源'])}村"
    return unit, f"{unit}党支部", False


class SeedRefused(Exception):
    """Raised when the database already holds organisations: seed only fills an empty register."""


def seed_province(
    *,
    members: int,
    seed: int = 1,
    per_branch: int = 40,
    fanout: int = 10,
    today: dt.date | None = None,
    progress: Progress = _no_progress,
    batch_size: int = 5000,
) -> Organization:
    """Seed a synthetic province of ``members`` members into an empty database (all or nothing)."""
    from dangjian.members.models import Member

    if Organization.objects.exists() or Member.objects.exists():
        raise SeedRefused(
            "The database already holds organisations; seed only fills an empty database "
            "(use a fresh DANGJIAN_DATA_DIR or DANGJIAN_DATABASE_URL)."
        )
    today = today or timezone.localdate()
    spec, regions = province_spec(members, seed=seed, per_branch=per_branch, fanout=fanout)
    maker = PersonMaker(today=today, region_codes=regions, city="", province=CITY_PROVINCE)
    with transaction.atomic():
        orgs = _populate(
            spec, today=today, seed=f"seed{seed}", maker=maker, progress=progress, batch_size=batch_size
        )
    return orgs[spec.code]


def member_checksum(root: Organization) -> str:
    """A digest of the subtree's member ids and names, for idempotence and determinism checks."""
    from dangjian.members.models import Member

    h = hashlib.sha256()
    for pk, name in (
        Member.objects.filter(org_path__startswith=root.path).order_by("pk").values_list("pk", "name")
    ):
        h.update(f"{pk}:{name};".encode())
    return h.hexdigest()
