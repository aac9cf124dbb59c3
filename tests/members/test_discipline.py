"""Party discipline (党纪处分): recording, restoring rights, the selector, the page and the API.

党章 第三十九条: 留党察看 lasts one or two years and takes away the rights to vote, elect, be elected and
(细则 第十四条) introduce an applicant until they are restored by a decision.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from dangjian.core.models import AuditEntry
from dangjian.members import selectors, services
from dangjian.members.models import DisciplineKind, MemberDiscipline
from dangjian.recruitment import services as recruitment_services
from tests.recruitment.helpers import journey, open_case, walk

D = dt.date
PROBATION = DisciplineKind.PROBATION_WITHIN_PARTY
DECIDED = D(2024, 1, 10)


def _probation(actor, member, org, *, on=DECIDED, years=2):
    return services.discipline_record(
        actor=actor, member=member, kind=PROBATION, decided_on=on, decided_by=org, years=years,
        document_no="东纪〔2024〕3号", reason="违反组织纪律",
    )  # fmt: skip


def test_probation_runs_one_or_two_years_and_is_audited(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    record = _probation(secretary_a, member, tree.district_a, years=1)
    assert record.until == D(2025, 1, 10)
    assert AuditEntry.objects.filter(action="member.disciplined", actor=secretary_a).exists()
    with pytest.raises(ValidationError) as err:
        _probation(secretary_a, member, tree.district_a, years=3)
    assert "years" in err.value.message_dict


def test_the_selector_follows_the_decision_and_the_restoration(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    record = _probation(secretary_a, member, tree.district_a)
    assert not selectors.under_probation_within_party(member, D(2024, 1, 9))
    assert selectors.under_probation_within_party(member, D(2024, 1, 10))
    # The end date passing does not restore the rights: a decision does.
    assert selectors.under_probation_within_party(member, D(2026, 3, 1))
    services.discipline_restore_rights(actor=secretary_a, discipline=record, date=D(2026, 1, 12))
    assert selectors.under_probation_within_party(member, D(2026, 1, 11))
    assert not selectors.under_probation_within_party(member, D(2026, 1, 12))
    with pytest.raises(ValidationError):
        services.discipline_restore_rights(actor=secretary_a, discipline=record, date=D(2026, 1, 13))


def test_other_measures_do_not_take_rights_and_expulsion_ends_membership(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    services.discipline_record(
        actor=secretary_a, member=member, kind=DisciplineKind.SERIOUS_WARNING, decided_on=D(2024, 2, 1),
        decided_by=tree.branch_a, reason="迟到早退",
    )  # fmt: skip
    assert not selectors.under_probation_within_party(member, D(2024, 3, 1))
    services.discipline_record(
        actor=secretary_a, member=member, kind=DisciplineKind.EXPULSION, decided_on=D(2024, 5, 1),
        decided_by=tree.district_a, reason="严重违纪",
    )  # fmt: skip
    member.refresh_from_db()
    assert member.status == "left"
    assert MemberDiscipline.objects.filter(member=member).count() == 2  # history is kept


def test_scope_and_decider_are_checked(tree, secretary_b, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    with pytest.raises(PermissionDenied):
        _probation(secretary_b, member, tree.district_a)
    with pytest.raises(ValidationError) as err:
        _probation(secretary_a, member, tree.district_b)  # not above the member's branch
    assert "decided_by" in err.value.message_dict


def test_constraints_hold_in_the_database(tree, member_factory):
    member = member_factory(tree.branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberDiscipline.objects.create(
            member=member, kind=PROBATION, decided_on=D(2024, 1, 1), decided_by=tree.branch_a, reason="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberDiscipline.objects.create(
            member=member, kind=DisciplineKind.WARNING, decided_on=D(2024, 1, 1), decided_by=tree.branch_a,
            reason="x", rights_restored_on=D(2024, 2, 1),
        )  # fmt: skip


def test_an_introducer_under_probation_is_refused_until_restored(tree, secretary_a, member_factory):
    """细则 第十四条: the introducer check asks the register, on the step's date."""
    introducers = [member_factory(tree.branch_a), member_factory(tree.branch_a)]
    record = _probation(secretary_a, introducers[1], tree.district_a, on=D(2023, 6, 1))
    bodies = journey(introducers, member_factory(tree.branch_a), tree.district_a)
    case = walk(secretary_a, open_case(secretary_a, tree.branch_a), bodies[:9])
    with pytest.raises(recruitment_services.RuleViolationError) as err:
        recruitment_services.step_record(actor=secretary_a, case=case, data=bodies[9])
    assert err.value.first.code == "introducer_under_discipline"
    assert "第十四条" in err.value.first.article
    services.discipline_restore_rights(actor=secretary_a, discipline=record, date=D(2024, 3, 1))
    recruitment_services.step_record(actor=secretary_a, case=case, data=bodies[9])


def test_page_card_form_and_api(tree, secretary_a, auditor, member_factory, web, api):
    member = member_factory(tree.branch_a)
    url = reverse("members:discipline", args=[member.pk])
    response = web(secretary_a).post(
        url,
        {"kind": PROBATION, "decided_on": "2024-01-10", "years": "1", "decided_by": tree.district_a.pk,
         "document_no": "东纪〔2024〕3号", "reason": "违反组织纪律"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    page = web(secretary_a).get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "东纪〔2024〕3号" in page and 'id="discipline"' in page
    record = MemberDiscipline.objects.get(member=member)
    restore = reverse("members:discipline_restore", args=[member.pk, record.pk])
    assert web(secretary_a).post(restore, {"date": "2025-01-11"}).status_code == 302
    record.refresh_from_db()
    assert record.rights_restored_on == D(2025, 1, 11)

    api_url = f"/api/v1/members/{member.pk}/discipline/"
    rows = api(auditor).get(api_url).json()
    assert rows[0]["kind"] == PROBATION and rows[0]["rights_restored_on"] == "2025-01-11"
    body = {"kind": "warning", "decided_on": "2025-03-01", "decided_by": tree.branch_a.pk, "reason": "x"}
    assert api(auditor).post(api_url, body, format="json").status_code == 403
    assert api(secretary_a).post(api_url, body, format="json").status_code == 201
    bad = {**body, "kind": PROBATION}
    answer = api(secretary_a).post(api_url, bad, format="json")
    assert answer.status_code == 400 and "years" in str(answer.json())
