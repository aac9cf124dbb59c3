"""Named personas and a small organisation tree shared by every test (house style: personas in one place).

The tree::

    示范市委 (city, committee)
    ├── 东城区委 (district_a, committee)
    │   └── 第一党支部 (branch_a, branch) ── 第一党小组 (group_a)
    └── 西城区委 (district_b, committee)
        └── 西城第二党支部 (branch_b, branch)

Personas: admin_user (system admin), org_manager (组织部 of the city), secretary_a / secretary_b
(secretaries of branch_a / branch_b), auditor (read-only on the city), member_a (a member of branch_a
with a login), resident (a resident of district_a), outsider (a login with no role at all),
district_manager (组织部 of district_a only); ``people`` gives them all by name.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.scoping import Role
from dangjian.members.choices import Education, MemberStatus, Occupation
from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member, MemberStatusChange
from dangjian.orgs.models import Organization, OrgType, Sector

PASSWORD = "Test@Pass2026"
_seq = itertools.count(1)


@dataclass
class Tree:
    city: Organization
    district_a: Organization
    district_b: Organization
    branch_a: Organization
    group_a: Organization
    branch_b: Organization


def _child(
    parent: Organization, org_type: str, code: str, name: str, sector: str = Sector.COMMUNITY
) -> Organization:
    return Organization.objects.add_child(
        parent,
        {
            "org_type": org_type,
            "code": code,
            "name": name,
            "sector": sector,
            "founded_on": dt.date(2000, 7, 1),
        },
    )


@pytest.fixture
def tree(db) -> Tree:
    city = Organization.objects.add_root(
        {"org_type": OrgType.COMMITTEE, "code": "T0001", "name": "示范市委", "sector": Sector.ORGAN}
    )
    district_a = _child(city, OrgType.COMMITTEE, "T0002", "东城区委", Sector.ORGAN)
    district_b = _child(city, OrgType.COMMITTEE, "T0003", "西城区委", Sector.ORGAN)
    branch_a = _child(Organization.objects.get(pk=district_a.pk), OrgType.BRANCH, "T0004", "第一党支部")
    group_a = _child(Organization.objects.get(pk=branch_a.pk), OrgType.GROUP, "T0005", "第一党小组")
    branch_b = _child(Organization.objects.get(pk=district_b.pk), OrgType.BRANCH, "T0006", "西城第二党支部")
    return Tree(
        *(
            Organization.objects.get(pk=o.pk)
            for o in (city, district_a, district_b, branch_a, group_a, branch_b)
        )
    )


def make_member(org: Organization, *, user: User | None = None, **fields: Any) -> Member:
    """A valid member of ``org`` with a unique ID number; any field can be overridden."""
    n = next(_seq)
    # Wrap within 1965–1984 so that members made late in a long run still joined (2005) at 18 or older.
    birth = fields.pop("birth_date", dt.date(1965, 1, 1) + dt.timedelta(days=n * 37 % (20 * 365)))
    gender = fields.pop("gender", "male" if n % 2 else "female")
    sequence = n * 2 + (1 if gender == "male" else 0)
    id_number = fields.pop("id_number", make_id_number("110101", birth, sequence))
    phone = fields.pop("phone", f"138{n:08d}")
    values = {
        "name": f"党员{n}",
        "gender": gender,
        "birth_date": birth,
        "education": Education.BACHELOR,
        "occupation": Occupation.PROFESSIONAL,
        "join_date": dt.date(2005, 7, 1),
        "full_date": dt.date(2006, 7, 1),
        "status": MemberStatus.FULL,
        "org": org,
        "user": user,
        **fields,
    }
    member = Member(**values)
    member.org_path = org.path
    member.set_id_number(id_number)
    member.set_phone(phone)
    member.save()
    MemberStatusChange.objects.create(member=member, to_status=member.status, date=member.join_date)
    return member


@pytest.fixture
def member_factory(db):
    return make_member


def _user(username: str, role: str | None = None, org: Organization | None = None, **extra: Any) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, full_name=extra.pop("full_name", username), **extra
    )
    if role is not None:
        RoleAssignment.objects.create(user=user, org=org, role=role)
    return user


@pytest.fixture
def admin_user(tree) -> User:
    return _user("admin", Role.ADMIN, tree.city)


@pytest.fixture
def org_manager(tree) -> User:
    return _user("zuzhibu", Role.ORG_MANAGER, tree.city)


@pytest.fixture
def secretary_a(tree) -> User:
    return _user("shuji1", Role.SECRETARY, tree.branch_a)


@pytest.fixture
def secretary_b(tree) -> User:
    return _user("shuji2", Role.SECRETARY, tree.branch_b)


@pytest.fixture
def auditor(tree) -> User:
    return _user("shenji", Role.AUDITOR, tree.city)


@pytest.fixture
def member_a(tree) -> User:
    user = _user("dangyuan1", Role.MEMBER, tree.branch_a)
    make_member(tree.branch_a, user=user, name="张党员")
    return user


@pytest.fixture
def resident(tree) -> User:
    return _user("qunzhong1", Role.RESIDENT, tree.district_a)


@pytest.fixture
def outsider(db) -> User:
    return _user("outsider")


@pytest.fixture
def district_manager(tree) -> User:
    """组织部 of 东城区委 only: manages branch_a's district, not branch_b's."""
    return _user("quzuzhibu", Role.ORG_MANAGER, tree.district_a)


@pytest.fixture
def people(
    admin_user, org_manager, district_manager, secretary_a, secretary_b, auditor, member_a, resident, outsider
) -> dict[str, User]:
    """Every persona by fixture name, for suites parametrised over personas (tests/test_permissions.py)."""
    return {
        "admin_user": admin_user,
        "org_manager": org_manager,
        "district_manager": district_manager,
        "secretary_a": secretary_a,
        "secretary_b": secretary_b,
        "auditor": auditor,
        "member_a": member_a,
        "resident": resident,
        "outsider": outsider,
    }


@pytest.fixture
def api():
    """``api(user)`` → an APIClient authenticated with that user's token; ``api()`` is anonymous."""

    def make(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            from dangjian.accounts.services import token_issue

            client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
        return client

    return make


@pytest.fixture
def web(client):
    """``web(user)`` → Django's test client logged in as that user (session auth, for pages)."""

    def make(user: User | None = None):
        if user is not None:
            client.force_login(user)
        return client

    return make
