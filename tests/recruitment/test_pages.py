"""Pages of developing members: worklists, the case timeline, a premature step, the docx record."""

from __future__ import annotations

import io

import pytest
from docx import Document

from dangjian.recruitment.models import CaseStep, RecruitmentCase
from tests.recruitment.helpers import case_data, journey, open_case, walk


@pytest.fixture
def people(tree, member_factory):
    return {
        "introducers": [member_factory(tree.branch_a), member_factory(tree.branch_a)],
        "mentor": member_factory(tree.branch_a),
    }


@pytest.fixture
def case(tree, secretary_a, people):
    c = open_case(secretary_a, tree.branch_a, name="李申请")
    return walk(secretary_a, c, journey(people["introducers"], people["mentor"], tree.district_a)[:6])


def test_list_shows_worklists_and_the_funnel(web, case, secretary_a):
    resp = web(secretary_a).get("/recruitment/")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert "李申请" in text and 'data-testid="worklist-overdue"' in text and "chart-funnel" in text
    assert web(secretary_a).get("/recruitment/?stage=2").status_code == 200
    assert web(secretary_a).get("/recruitment/?worklist=overdue&year=2023").status_code == 200


def test_case_page_shows_the_timeline_and_next_steps(web, case, secretary_a):
    resp = web(secretary_a).get(f"/recruitment/{case.pk}/")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert 'data-testid="next-step-7"' in text and 'data-testid="step-form-7"' in text
    assert "recruitment@2014" in text


def test_a_premature_step_shows_the_rule_and_the_date(web, case, secretary_a):
    resp = web(secretary_a).post(f"/recruitment/{case.pk}/steps/", {"step": "7", "date": "2024-02-01"})
    assert resp.status_code == 400
    text = resp.content.decode()
    assert 'data-testid="rule-violation"' in text
    assert "细则 第十三条" in text and "2024-03-01" in text
    assert not CaseStep.objects.filter(case=case, step=7).exists()


def test_recording_a_step_from_the_page(web, case, secretary_a):
    resp = web(secretary_a).post(f"/recruitment/{case.pk}/steps/", {"step": "7", "date": "2024-03-01"})
    assert resp.status_code == 302
    assert CaseStep.objects.filter(case=case, step=7).exists()


def test_open_a_case_from_the_page(web, tree, secretary_a):
    client = web(secretary_a)
    assert client.get("/recruitment/new/").status_code == 200
    data = case_data(tree.branch_a)
    resp = client.post("/recruitment/new/", data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert RecruitmentCase.objects.filter(name=data["name"]).exists()
    bad = client.post("/recruitment/new/", {**data, "id_number": "123"})
    assert bad.status_code == 200 and "is-invalid" in bad.content.decode()


def test_the_case_record_exports_as_docx(web, case, secretary_a):
    resp = web(secretary_a).get(f"/recruitment/{case.pk}/record.docx")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    doc = Document(io.BytesIO(resp.content))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "李申请" in cells and "王书记" in cells and "recruitment@2014" in cells


def test_read_only_and_out_of_scope(web, case, auditor, secretary_b, client):
    resp = web(auditor).get(f"/recruitment/{case.pk}/")
    assert resp.status_code == 200 and "step-form-" not in resp.content.decode()
    assert (
        web(auditor).post(f"/recruitment/{case.pk}/steps/", {"step": "7", "date": "2024-03-01"}).status_code
        == 403
    )
    client.logout()
    assert web(secretary_b).get(f"/recruitment/{case.pk}/").status_code == 404
    assert web(secretary_b).get(f"/recruitment/{case.pk}/record.docx").status_code == 404


def test_a_refused_step_keeps_what_was_typed(web, case, secretary_a):
    resp = web(secretary_a).post(
        f"/recruitment/{case.pk}/steps/",
        {"step": "7", "date": "2024-02-01", "handled_by": "王组织委员", "notes": "支委会研究确定"},
    )
    assert resp.status_code == 400
    text = resp.content.decode()
    assert 'value="王组织委员"' in text and 'value="支委会研究确定"' in text and 'value="2024-02-01"' in text
