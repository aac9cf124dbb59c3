"""The data migration from the status "flowing" to flow certificates (members 0007, transfers 0002).

Rows written under the old design: members with the status "flowing" (with or without a flow
certificate). After the migration each keeps their standing, holds one active certificate, and the old
history entries are still there.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("members", "0006_member_last_contact"), ("transfers", "0001_initial")]


@pytest.fixture
def old_schema(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)  # the graph as it now is in the database
    executor.migrate(executor.loader.graph.leaf_nodes())


def _member(apps, org, name: str, number: str, **fields):
    member = apps.get_model("members", "Member").objects.create(
        name=name, gender="male", birth_date=dt.date(1980, 1, 1), id_number_encrypted="x",
        id_number_index=number, id_number_masked="110101********0000", education="bachelor",
        occupation="worker", join_date=dt.date(2005, 7, 1), org=org, org_path=org.path, **fields,
    )  # fmt: skip
    apps.get_model("members", "MemberStatusChange").objects.create(
        member=member, to_status="full", date=dt.date(2006, 7, 1)
    )
    return member


def test_flowing_members_keep_their_standing_and_hold_a_certificate(old_schema):
    apps = old_schema
    org = apps.get_model("orgs", "Organization").objects.create(
        path="0001", depth=1, numchild=0, org_type="branch", code="MIG1", name="迁移测试党支部"
    )
    Change = apps.get_model("members", "MemberStatusChange")
    full = _member(apps, org, "甲", "i1", status="flowing", full_date=dt.date(2006, 7, 1))
    Change.objects.create(member=full, from_status="full", to_status="flowing", date=dt.date(2025, 3, 1))
    probationary = _member(apps, org, "乙", "i2", status="flowing", full_date=None)
    with_cert = _member(apps, org, "丙", "i3", status="flowing", full_date=dt.date(2006, 7, 1))
    apps.get_model("transfers", "FlowCertificate").objects.create(
        member=with_cert, home_org=org, home_org_path=org.path, outside_host_name="上海某党支部",
        number="LD2025-00007", start=dt.date(2025, 2, 1), status="active",
    )  # fmt: skip
    at_home = _member(apps, org, "丁", "i4", status="full", full_date=dt.date(2006, 7, 1))

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from dangjian.members.models import Member
    from dangjian.transfers.models import FlowCertificate

    status = dict(Member.objects.values_list("name", "status"))
    assert status == {"甲": "full", "乙": "probationary", "丙": "full", "丁": "full"}
    certs = {c.member.name: c for c in FlowCertificate.objects.filter(status="active")}
    assert set(certs) == {"甲", "乙", "丙"}
    assert certs["甲"].start == dt.date(2025, 3, 1)  # from the day the history says they went away
    assert certs["甲"].fixed_place is False and "流动党员" in certs["甲"].outside_host_name
    assert certs["丙"].number == "LD2025-00007"  # an existing certificate is kept, not doubled
    assert certs["甲"].number == "LD2025-00008"
    # History is never rewritten: the old entry stays, a new one says why the status changed back.
    history = list(
        Member.objects.get(pk=full.pk).status_changes.order_by("id").values_list("to_status", flat=True)
    )
    assert history == ["full", "flowing", "full"]
    assert Member.objects.get(pk=at_home.pk).status_changes.count() == 1
    assert Member.objects.get(pk=probationary.pk).status_changes.latest("id").from_status == "flowing"
