"""The day-one journey of a branch secretary: log in, see only the own branch's members, export them."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from dangjian.core.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_secretary_sees_and_exports_only_own_branch(page, live_server, tree, secretary_a, member_factory):
    mine = [
        member_factory(tree.branch_a, name="李明"),
        member_factory(tree.branch_a, name="王芳"),
        member_factory(tree.branch_a, name="张伟", group=tree.group_a),
    ]
    other = member_factory(tree.branch_b, name="赵西城")

    # Log in as shuji1 on the login page.
    page.goto(live_server.url + reverse("web:login"))
    page.fill("input[name=username]", secretary_a.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert reverse("web:login") not in page.url, page.content()[:500]

    # The member list shows the own branch's members and nobody else.
    page.goto(live_server.url + reverse("members:list"))
    rows = page.locator("table.member-table tbody tr")
    names = [n.strip() for n in rows.locator("td:first-child").all_inner_texts()]
    masked = [t.strip() for t in rows.locator("td.pii:nth-last-child(2)").all_inner_texts()]
    assert sorted(names) == sorted(m.name for m in mine)
    assert other.name not in page.content()
    visible = dict(zip(names, masked, strict=True))
    assert visible == {m.name: m.id_number_masked for m in mine}

    # Export: an xlsx download holding exactly the visible members.
    with page.expect_download() as info:
        page.click(f"a[href^='{reverse('members:export')}']")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        sheet = load_workbook(io.BytesIO(f.read()), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    header, body = table[0], [r for r in table[1:] if any(r)]
    name_col, id_col = header.index("姓名"), header.index("公民身份号码")
    exported = {r[name_col]: r[id_col] for r in body}
    assert set(exported) == set(visible), "the export holds exactly the members the list shows"
    # Exports mask personal numbers unless full numbers are asked for (and the role may reveal).
    assert exported == visible
    assert not AuditEntry.objects.filter(action="pii.revealed", actor=secretary_a).exists()
    assert AuditEntry.objects.filter(action="members.exported", actor=secretary_a).exists()
