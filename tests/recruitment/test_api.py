"""The recruitment API contract (issue 3): open a case, record steps, refusals with the article."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dangjian.recruitment.models import CaseAttachment, CaseStep, RecruitmentCase
from tests.recruitment.helpers import case_data, journey, open_case, walk

URL = "/api/v1/recruitment/cases/"


@pytest.fixture
def people(tree, member_factory):
    return {
        "introducers": [member_factory(tree.branch_a), member_factory(tree.branch_a)],
        "mentor": member_factory(tree.branch_a),
    }


def test_open_a_case_masks_the_id_number(tree, secretary_a, api):
    data = case_data(tree.branch_a)
    resp = api(secretary_a).post(URL, data, format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["id_number_masked"].startswith("110105") and "*" in body["id_number_masked"]
    assert "id_number" not in body
    assert body["stage"] == 1 and body["status"] == "active"
    assert body["gender"] in ("male", "female")  # taken from the ID number


def test_a_step_is_recorded_with_201(tree, secretary_a, api):
    case = open_case(secretary_a, tree.branch_a)
    resp = api(secretary_a).post(f"{URL}{case.pk}/steps/", {"step": 1, "date": "2024-03-01"}, format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["step"] == 1 and body["rule_ref"] == "recruitment@2014"
    assert [n["step"] for n in body["next_steps"]] == [2]


def test_a_premature_step_is_refused_with_the_rule_and_the_date_it_becomes_allowed(
    tree, secretary_a, people, api
):
    case = open_case(secretary_a, tree.branch_a)
    walk(secretary_a, case, journey(people["introducers"], people["mentor"], tree.district_a)[:6])
    resp = api(secretary_a).post(f"{URL}{case.pk}/steps/", {"step": 7, "date": "2024-02-28"}, format="json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "rule_violation"
    assert error["rule"] == "recruitment.activist_period"
    assert error["article"] == "细则 第十三条"
    assert error["message"]
    assert error["earliest_date"] == "2024-03-01"
    assert not CaseStep.objects.filter(case=case, step=7).exists()


def test_2026_candidate_needs_a_public_notice(tree, secretary_a, people, api):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)[:5]
    for body, day in zip(
        bodies, ["2025-03-03", "2025-03-10", "2025-04-01", "2025-04-10", "2025-04-10"], strict=True
    ):
        body["date"] = day
    walk(secretary_a, case, bodies)
    client = api(secretary_a)
    resp = client.post(f"{URL}{case.pk}/steps/", {"step": 7, "date": "2026-06-15"}, format="json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["rule"] == "recruitment.candidate_public_notice"
    assert error["rule_version"] == "recruitment@2026"
    ok = client.post(
        f"{URL}{case.pk}/steps/",
        {
            "step": 7,
            "date": "2026-06-15",
            "public_notice_from": "2026-06-08",
            "public_notice_to": "2026-06-12",
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    filed = client.post(
        f"{URL}{case.pk}/steps/", {"step": 8, "date": "2026-06-20", "outcome": "filed"}, format="json"
    )
    assert filed.json()["error"]["rule"] == "recruitment.candidate_filing"


def test_detail_shows_steps_and_next_steps_with_earliest_dates(tree, secretary_a, people, api):
    case = open_case(secretary_a, tree.branch_a)
    walk(secretary_a, case, journey(people["introducers"], people["mentor"], tree.district_a)[:16])
    body = api(secretary_a).get(f"{URL}{case.pk}/").json()
    assert [s["step"] for s in body["steps"]][:3] == [1, 2, 3]
    meeting = next(s for s in body["steps"] if s["step"] == 15)
    assert meeting["vote"]["passed"] is True and meeting["vote"]["rule_ref"] == "recruitment@2014"
    nxt = {n["step"]: n for n in body["next_steps"]}
    assert set(nxt) == {16}
    assert nxt[16]["earliest_date"] == "2024-06-01"
    assert body["rule"]["pending_confirmation"] is True  # today the 2026 revision is in force
    assert len(body["introducers"]) == 2


def test_malformed_step_data_keeps_the_usual_envelope(tree, secretary_a, api):
    case = open_case(secretary_a, tree.branch_a)
    client = api(secretary_a)
    resp = client.post(
        f"{URL}{case.pk}/steps/", {"step": 1, "date": "1st March", "colour": "red"}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid"
    resp = client.post(f"{URL}{case.pk}/steps/", {"step": 26, "date": "2024-03-01"}, format="json")
    assert "step" in resp.json()["error"]["fields"]


def test_list_filters_and_scope(tree, secretary_a, secretary_b, org_manager, api):
    a = open_case(secretary_a, tree.branch_a)
    b = open_case(secretary_b, tree.branch_b)
    walk(secretary_a, a, [{"step": 1, "date": "2024-03-01"}])
    ids = lambda resp: {row["id"] for row in resp.json()["results"]}  # noqa: E731
    assert ids(api(secretary_a).get(URL)) == {a.pk}
    manager = api(org_manager)
    assert ids(manager.get(URL)) == {a.pk, b.pk}
    assert ids(manager.get(URL, {"org": tree.district_b.pk})) == {b.pk}
    assert ids(manager.get(URL, {"status": "active", "stage": 1})) == {a.pk, b.pk}
    assert manager.get(URL, {"stage": 9}).status_code == 400


def test_the_list_does_not_query_per_row(tree, secretary_a, api):
    client = api(secretary_a)
    open_case(secretary_a, tree.branch_a)
    with CaptureQueriesContext(connection) as one:
        client.get(URL)
    for _ in range(5):
        open_case(secretary_a, tree.branch_a)
    with CaptureQueriesContext(connection) as six:
        assert client.get(URL).json()["count"] == 6
    assert len(six) == len(one)


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("申请书.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, 201),
        ("申请书.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 32, 201),
        ("申请书.pdf", b"%PDF-1.7\n" + b"\0" * 32, 201),
        ("志愿书.docx", _docx(), 201),
        ("申请书.pdf", b"just text pretending to be a pdf", 400),  # the name lies: refused by content
        ("macro.docx", b"PK\x03\x04 not a zip at all", 400),
        ("photo.gif", b"GIF89a" + b"\0" * 32, 400),
    ],
)
def test_attachments_are_checked_by_content(
    tree, secretary_a, api, settings, tmp_path, name, content, status
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    case = open_case(secretary_a, tree.branch_a)
    walk(secretary_a, case, [{"step": 1, "date": "2024-03-01"}])
    resp = api(secretary_a).post(
        f"{URL}{case.pk}/attachments/",
        {"step": 1, "kind": "application", "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )
    assert resp.status_code == status, resp.json()
    assert CaseAttachment.objects.count() == (1 if status == 201 else 0)


def test_attachments_have_a_size_limit(tree, secretary_a, api, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 100
    case = open_case(secretary_a, tree.branch_a)
    walk(secretary_a, case, [{"step": 1, "date": "2024-03-01"}])
    resp = api(secretary_a).post(
        f"{URL}{case.pk}/attachments/",
        {"step": 1, "kind": "application", "file": SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * 200)},
        format="multipart",
    )
    assert resp.status_code == 400
    assert "file" in resp.json()["error"]["fields"]


def test_stopping_a_case_keeps_its_steps(tree, secretary_a, api):
    case = open_case(secretary_a, tree.branch_a)
    walk(secretary_a, case, [{"step": 1, "date": "2024-03-01"}])
    client = api(secretary_a)
    resp = client.post(f"{URL}{case.pk}/stop/", {"date": "2024-04-01", "reason": "本人撤回"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "stopped"
    assert CaseStep.objects.filter(case=case).count() == 1
    again = client.post(
        f"{URL}{case.pk}/steps/", {"step": 2, "date": "2024-04-02", "handled_by": "王"}, format="json"
    )
    assert again.json()["error"]["code"] == "rule_violation"
    assert RecruitmentCase.objects.get(pk=case.pk).status == "stopped"
