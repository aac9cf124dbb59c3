"""The rulebook: the version in force on a date, local overrides for a subtree, and the reference string."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

import pytest

from dangjian.core import rulebook
from dangjian.core.models import RuleOverride

RULE_FILE = textwrap.dedent(
    """
    key: test.dues
    title: 测试规则
    versions:
      - version: "2008"
        effective_from: 2008-02-28
        source: 关于中国共产党党费收缴、使用和管理的规定 (2008)
        confidence: C
        params: {rate: 0.5, floor: 3000}
      - version: "2024"
        effective_from: 2024-01-01
        source: a later revision
        params: {rate: 1.0, floor: 3000}
    """
)


@pytest.fixture
def rules_dir(tmp_path, monkeypatch):
    (tmp_path / "test_dues.yaml").write_text(RULE_FILE, encoding="utf-8")
    monkeypatch.setattr(rulebook, "RULES_DIR", tmp_path)
    rulebook._load.cache_clear()
    yield tmp_path
    rulebook._load.cache_clear()


@pytest.mark.parametrize(
    ("on", "version", "rate"),
    [
        (dt.date(2008, 2, 28), "2008", 0.5),  # first day in force
        (dt.date(2015, 6, 1), "2008", 0.5),
        (dt.date(2023, 12, 31), "2008", 0.5),  # last day of the old version
        (dt.date(2024, 1, 1), "2024", 1.0),  # the new version from its effective date
        (dt.date(2030, 1, 1), "2024", 1.0),
    ],
)
def test_version_in_force_on_a_date(rules_dir, on, version, rate):
    r = rulebook.rule("test.dues", on=on)
    assert (r.version, r["rate"], r.params["floor"]) == (version, rate, 3000)
    assert r.ref == f"test.dues@{version}"


def test_no_version_before_the_first(rules_dir):
    with pytest.raises(rulebook.RuleNotFound):
        rulebook.rule("test.dues", on=dt.date(2000, 1, 1))


def test_unknown_rule(rules_dir):
    with pytest.raises(rulebook.RuleNotFound):
        rulebook.rule("no.such.rule")


def test_versions_are_sorted_by_date(rules_dir):
    assert [v.version for v in rulebook.versions("test.dues")] == ["2008", "2024"]
    assert rulebook.rule_keys() == ["test.dues"]


def test_shipped_rules_load_and_cite_their_source():
    rulebook._load.cache_clear()
    for key in rulebook.rule_keys():
        for v in rulebook.versions(key):
            assert v.source, f"{key}@{v.version} cites no source"
            assert v.params, f"{key}@{v.version} has no parameters"
    r = rulebook.rule("org.structure", on=dt.date(2020, 1, 1))
    assert r.ref == "org.structure@2018"
    assert r["branch_max_members"] == 50  # 支部工作条例 第五条


def test_local_override_wins_in_its_subtree(rules_dir, tree):
    RuleOverride.objects.create(
        key="test.dues",
        org=tree.district_a,
        effective_from=dt.date(2020, 1, 1),
        params={"floor": 5000},
        reason="东城区委 local standard",
    )
    on = dt.date(2021, 1, 1)
    inside = rulebook.rule("test.dues", on=on, org=tree.branch_a)
    assert inside["floor"] == 5000
    assert inside["rate"] == 0.5  # parameters the override does not set come from the national version
    assert inside.override_org_id == tree.district_a.pk
    assert inside.ref == f"test.dues@2008/local-2020-01-01+org{tree.district_a.pk}"
    assert inside.confidence == "local"
    # Outside the subtree, and before the override's date, the national rule applies.
    assert rulebook.rule("test.dues", on=on, org=tree.branch_b)["floor"] == 3000
    assert rulebook.rule("test.dues", on=on, org=tree.city).ref == "test.dues@2008"
    assert rulebook.rule("test.dues", on=dt.date(2019, 12, 31), org=tree.branch_a)["floor"] == 3000


def test_nearest_override_wins_over_a_higher_one(rules_dir, tree):
    common = {"key": "test.dues", "effective_from": dt.date(2020, 1, 1), "reason": "local"}
    RuleOverride.objects.create(org=tree.city, params={"floor": 4000}, **common)
    RuleOverride.objects.create(org=tree.branch_a, params={"floor": 6000}, **common)
    on = dt.date(2021, 1, 1)
    assert rulebook.rule("test.dues", on=on, org=tree.group_a)["floor"] == 6000
    assert rulebook.rule("test.dues", on=on, org=tree.branch_a)["floor"] == 6000
    assert rulebook.rule("test.dues", on=on, org=tree.branch_b)["floor"] == 4000


def test_latest_override_of_an_org_wins(rules_dir, tree):
    for year, floor in ((2019, 4000), (2022, 4500)):
        RuleOverride.objects.create(
            key="test.dues",
            org=tree.branch_a,
            effective_from=dt.date(year, 1, 1),
            params={"floor": floor},
            reason="local",
        )
    assert rulebook.rule("test.dues", on=dt.date(2020, 6, 1), org=tree.branch_a)["floor"] == 4000
    assert rulebook.rule("test.dues", on=dt.date(2023, 6, 1), org=tree.branch_a)["floor"] == 4500


def test_every_rule_parameter_has_a_display_name():
    # The rules page lists every parameter; a party worker should read a name, not a code.
    from dangjian.core import rulebook

    for key in rulebook.rule_keys():
        for version in rulebook.versions(key):
            missing = set(version.params) - set(version.labels) - {"articles"}
            assert not missing, f"{key}@{version.version}: add labels for {sorted(missing)}"


def test_every_choice_has_a_display_name():
    # A choice parameter is shown and chosen by its label (the rules page, the override form, the API).
    from dangjian.core import rulebook

    for key in rulebook.rule_keys():
        for version in rulebook.versions(key):
            assert set(version.value_labels) <= set(version.params), f"{key}: value_labels of unknown params"
            for param in version.overridable:
                if param.type == "choice":
                    missing = {str(c) for c in param.choices} - set(version.value_labels.get(param.name, {}))
                    assert not missing, f"{key}.{param.name}: add value_labels for {sorted(missing)}"


CODE = re.compile(r"^[a-z][a-z_]*$")


@pytest.mark.parametrize("key", ["recruitment", "org.terms", "org.structure", "transfers"])
def test_coded_values_have_display_names(key):
    # 党员推荐, not member_recommendation: every code in a list or as a mapping's key has a label.
    from dangjian.core import rulebook

    for version in rulebook.versions(key):
        for name, value in version.params.items():
            if name == "articles":
                continue
            codes = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
            codes += [str(k) for k in value] if isinstance(value, dict) else []
            missing = {c for c in codes if CODE.match(c)} - set(version.value_labels.get(name, {}))
            assert not missing, f"{key}@{version.version}.{name}: add value_labels for {sorted(missing)}"


@pytest.mark.parametrize(
    ("key", "name", "shown"),
    [
        ("recruitment", "activist_nomination_methods", "党员推荐、群团组织推优"),
        ("recruitment", "approver_org_types", "党委、党工委"),
        ("org.terms", "by_sector", "农村: 5；社区: 5"),
        ("recruitment", "political_review_required", "是"),
        ("recruitment", "quorum_more_than", "0.5"),
    ],
)
def test_values_are_displayed_with_their_labels(key, name, shown):
    from django.utils import translation

    from dangjian.core import rulebook

    version = rulebook.national_rule(key, dt.date(2025, 1, 1))
    with translation.override("zh-hans"):
        assert rulebook.display(version, name, version[name]) == shown


def test_a_choice_parameter_is_refused_and_listed_by_its_labels():
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from dangjian.core.rulebook import OverridableParam

    param = OverridableParam(
        name="method", type="choice", choices=("a_code", "b_code"), label="方式",
        choice_labels={"a_code": "甲方式", "b_code": "乙方式"},
    )  # fmt: skip
    with translation.override("zh-hans"), pytest.raises(ValidationError) as err:
        param.clean("c_code")
    assert "甲方式、乙方式" in err.value.messages[0]
    assert param.as_dict()["choice_labels"] == {"a_code": "甲方式", "b_code": "乙方式"}
