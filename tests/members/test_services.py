"""Member register services: one transaction, an audit row and a scope check for each write."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from dangjian.core.models import AuditEntry
from dangjian.members import services
from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member, MemberStatusChange


def data(org, **overrides):
    birth = overrides.pop("birth", dt.date(1979, 9, 9))
    values = {
        "name": "陈 红",
        "ethnicity": "回族",
        "id_number": make_id_number("110106", birth, 42),  # even sequence: female
        "phone": "+86 139 0000 1111",
        "education": "bachelor",
        "degree": "bachelor",
        "occupation": "official",
        "join_date": dt.date(2003, 7, 1),
        "full_date": dt.date(2004, 7, 1),
        "status": "full",
        "org": org.pk,
        "dues_category": "employed",
    }
    values.update(overrides)
    return values


def test_create(tree, secretary_a):
    member = services.member_create(actor=secretary_a, data=data(tree.branch_a), reason="接收转入")
    assert member.name == "陈红"  # spaces inside a Chinese name are typing noise
    assert (member.gender, member.birth_date) == ("female", dt.date(1979, 9, 9))
    assert member.decrypted_phone() == "13900001111" and member.phone_masked == "139****1111"
    change = member.status_changes.get()
    assert (change.to_status, change.date, change.reason) == ("full", dt.date(2004, 7, 1), "接收转入")
    audit = AuditEntry.objects.get(action="member.created")
    assert (audit.actor, audit.object_id, audit.org, audit.org_path) == (
        secretary_a,
        str(member.pk),
        tree.branch_a,
        tree.branch_a.path,
    )


def test_create_probationary_history_starts_at_join_date(tree, secretary_a):
    member = services.member_create(
        actor=secretary_a,
        data=data(tree.branch_a, status="probationary", full_date=None, join_date=dt.date(2024, 1, 1)),
    )
    assert member.status_changes.get().date == dt.date(2024, 1, 1)


@pytest.mark.parametrize(
    ("persona", "org"),
    [
        ("secretary_a", "branch_b"),
        ("secretary_b", "branch_a"),
        ("auditor", "branch_a"),
        ("member_a", "branch_a"),
    ],
)
def test_create_refused_outside_scope(tree, people, persona, org):
    before = Member.objects.count()
    with pytest.raises((ValidationError, PermissionDenied)):
        services.member_create(actor=people[persona], data=data(getattr(tree, org)))
    assert Member.objects.count() == before
    assert not AuditEntry.objects.filter(action="member.created").exists()


def test_create_refuses_a_group_as_branch(tree, secretary_a):
    with pytest.raises(ValidationError) as exc:
        services.member_create(actor=secretary_a, data=data(tree.group_a))
    assert "org" in exc.value.message_dict


def test_update_records_changes_without_personal_numbers(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    new_number = make_id_number("110101", member.birth_date, 2 if member.gender == "female" else 3)
    services.member_update(
        actor=secretary_a,
        member=member,
        data={"position": "科长", "id_number": new_number, "phone": "13600001111"},
    )
    member.refresh_from_db()
    assert member.position == "科长"
    assert member.decrypted_id_number() == new_number
    assert member.decrypted_phone() == "13600001111"
    changes = AuditEntry.objects.get(action="member.updated").changes
    assert changes["position"] == ["", "科长"]
    assert changes["id_number"] == ["***", "***"]
    assert new_number not in str(changes) and "13600001111" not in str(changes)


def test_update_keeps_id_when_left_empty(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    number = member.decrypted_id_number()
    services.member_update(actor=secretary_a, member=member, data={"work_unit": "x", "id_number": ""})
    member.refresh_from_db()
    assert member.decrypted_id_number() == number


def test_update_refuses_a_status_change_which_needs_its_own_date_and_reason(
    tree, secretary_a, member_factory
):
    member = member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as err:
        services.member_update(actor=secretary_a, member=member, data={"status": "flowing"})
    assert "status" in err.value.message_dict
    assert member.status_changes.count() == 1


def test_update_to_other_branch_moves_org_path(tree, org_manager, member_factory):
    member = member_factory(tree.branch_a)
    services.member_update(actor=org_manager, member=member, data={"org": tree.branch_b.pk})
    member.refresh_from_db()
    assert (member.org_id, member.org_path) == (tree.branch_b.pk, tree.branch_b.path)


def test_update_refused_out_of_scope(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    with pytest.raises((ValidationError, PermissionDenied)):
        services.member_update(actor=secretary_a, member=member, data={"org": tree.branch_b.pk})
    member.refresh_from_db()
    assert member.org_path == tree.branch_a.path
    assert not AuditEntry.objects.filter(action="member.updated").exists()


# Status changes


def test_change_status(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a, status="probationary", full_date=None)
    services.member_change_status(
        actor=secretary_a, member=member, status="full", date=dt.date(2024, 7, 1), reason="按期转正"
    )
    member.refresh_from_db()
    assert (member.status, member.full_date) == ("full", dt.date(2024, 7, 1))
    change = MemberStatusChange.objects.filter(member=member).order_by("-id").first()
    assert (change.from_status, change.to_status, change.date) == (
        "probationary",
        "full",
        dt.date(2024, 7, 1),
    )
    audit = AuditEntry.objects.get(action="member.status_changed")
    assert audit.changes == {"status": ["probationary", "full"], "date": "2024-07-01"}


@pytest.mark.parametrize(
    ("status", "reason", "field"),
    [
        ("emperor", "x", "status"),
        ("full", "x", "status"),
        ("left", "  ", "reason"),
        ("flowing", "外出务工", "status"),  # a flow certificate records it, not the status
    ],
)
def test_change_status_refusals(tree, secretary_a, member_factory, status, reason, field):
    member = member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as exc:
        services.member_change_status(
            actor=secretary_a, member=member, status=status, date=dt.date.today(), reason=reason
        )
    assert field in exc.value.message_dict
    assert MemberStatusChange.objects.filter(member=member).count() == 1


def test_change_status_refused_out_of_scope(tree, secretary_b, auditor, member_factory):
    member = member_factory(tree.branch_a)
    for actor in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            services.member_change_status(
                actor=actor, member=member, status="left", date=dt.date.today(), reason="x"
            )
    member.refresh_from_db()
    assert member.status == "full"


# Reveal


def test_reveal_audited(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    assert (
        services.member_reveal(actor=secretary_a, member=member, field="id_number")
        == member.decrypted_id_number()
    )
    assert services.member_reveal(actor=secretary_a, member=member, field="phone") == member.decrypted_phone()
    assert AuditEntry.objects.filter(action="pii.revealed", actor=secretary_a).count() == 2


@pytest.mark.parametrize("persona", ["auditor", "secretary_b", "member_a", "resident", "outsider"])
def test_reveal_refused(tree, people, member_factory, persona):
    member = member_factory(tree.branch_a)
    with pytest.raises(PermissionDenied):
        services.member_reveal(actor=people[persona], member=member, field="id_number")
    assert not AuditEntry.objects.filter(action="pii.revealed").exists()


def test_members_move_all(tree, org_manager, member_factory):
    moving = [member_factory(tree.branch_a, group=tree.group_a) for _ in range(3)]
    staying = member_factory(tree.branch_b)
    n = services.members_move_all(
        actor=org_manager, source=tree.branch_a, target=tree.branch_b, date=dt.date.today(), reason="合并"
    )
    assert n == 3
    for m in [*moving, staying]:
        m.refresh_from_db()
        assert (m.org_id, m.org_path, m.group_id) == (tree.branch_b.pk, tree.branch_b.path, None)
    assert AuditEntry.objects.get(action="members.moved").changes["count"] == 3


def test_party_standing_and_age(tree, member_factory):
    member = member_factory(
        tree.branch_a,
        birth_date=dt.date(1970, 5, 20),
        join_date=dt.date(1995, 7, 1),
        full_date=dt.date(1996, 7, 1),
    )
    on = dt.date(2026, 6, 30)
    assert member.age(on) == 56
    assert member.party_standing_years(on) == 29  # 党章 §7: counted from becoming a full member
    assert member.party_standing_years(dt.date(2026, 7, 1)) == 30
    probationary = member_factory(tree.branch_a, status="probationary", full_date=None)
    assert probationary.party_standing_years(on) is None


def test_joining_before_birth_says_so(tree, secretary_a):
    from dangjian.members.forms import MemberForm

    form = MemberForm(
        {
            "name": "甲",
            "id_number": make_id_number("110101", dt.date(1966, 1, 1), 11),
            "education": "bachelor",
            "occupation": "worker",
            "join_date": "1900-07-01",
            "status": "probationary",
            "org": tree.branch_a.pk,
            "ethnicity": "汉族",
            "dues_category": "employed",
            "degree": "none",
        },
        actor=secretary_a,
    )
    with translation.override("en"):
        assert not form.is_valid()
        assert "after the birth date" in str(form.errors["join_date"])


def test_a_phone_in_other_scripts_digits_is_refused():
    from dangjian.members.forms import clean_phone_value

    assert clean_phone_value("１３８ ０００ ０００００") == "13800000000"  # full-width and spaces are fine
    with pytest.raises(ValidationError):
        clean_phone_value("١٣٨٠٠٠٠٠٠٠٠")


@pytest.mark.parametrize("joined", [dt.date(2020, 3, 1), dt.date(1990, 3, 1)])
def test_the_minimum_joining_age_comes_from_the_rulebook(joined):
    # 党章 第一条 / 细则 第五条: 年满十八岁. Joins before the first shipped version use that version.
    from dangjian.core import rulebook
    from dangjian.members.forms import min_join_age

    age, ref = min_join_age(joined)
    assert age == 18 == rulebook.versions("recruitment")[0]["min_age"]
    assert ref.startswith("recruitment@")
