"""Local rule overrides: who may set them, the bounds of each parameter, the audit row, precedence in the
subtree, effective dates, ending an override, and the rule-file format (overridable, pending confirmation).

The shipped ``org.terms`` family is the example: 党章 第三十一条 bounds terms to 3–5 years, so
``default_years`` may be set locally between 3 and 5, ``warn_days_before_end`` between 7 and 365.
"""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from dangjian.core import rulebook
from dangjian.core.models import AuditEntry, RuleOverride
from dangjian.core.services import rule_override_end, rule_override_set

TODAY = timezone.localdate()
SOON = TODAY + dt.timedelta(days=10)


def _set(actor, org, params, *, on=TODAY, reason="本地做法", key="org.terms"):
    return rule_override_set(actor=actor, org=org, key=key, params=params, effective_from=on, reason=reason)


@pytest.mark.parametrize(
    ("persona", "org", "allowed"),
    [
        ("admin_user", "branch_b", True),
        ("org_manager", "branch_a", True),  # 组织部 of the city: its whole subtree
        ("org_manager", "city", True),
        ("district_manager", "branch_a", True),  # 组织部 of 东城区委
        ("district_manager", "branch_b", False),  # outside its district
        ("district_manager", "city", False),  # never above the org the role is held on
        ("secretary_a", "branch_a", False),  # a secretary runs the branch, not its rules
        ("auditor", "branch_a", False),
        ("member_a", "branch_a", False),
        ("outsider", "branch_a", False),
    ],
)
def test_who_may_set_a_local_rule(tree, people, persona, org, allowed):
    target = getattr(tree, org)
    if allowed:
        row = _set(people[persona], target, {"warn_days_before_end": 60})
        assert row.org == target and row.params == {"warn_days_before_end": 60}
    else:
        with pytest.raises(PermissionDenied):
            _set(people[persona], target, {"warn_days_before_end": 60})
        assert not RuleOverride.objects.exists()


# (params and arguments, the field the error is on, words of the message) — 党章 第三十一条: 3 to 5 years.
BOUNDS = [
    ({"default_years": 2}, "default_years", "at least 3"),
    ({"default_years": 6}, "default_years", "at most 5"),
    ({"warn_days_before_end": 6}, "warn_days_before_end", "at least 7"),
    ({"warn_days_before_end": 366}, "warn_days_before_end", "at most 365"),
    ({"default_years": "abc"}, "default_years", "whole number"),
    ({"default_years": 4.5}, "default_years", "whole number"),
    ({"default_years": True}, "default_years", "whole number"),
    ({"min_years": 2}, "min_years", "may change"),  # national: not overridable
    ({}, "params", "at least one"),
]


@pytest.mark.parametrize(("params", "field", "words"), BOUNDS, ids=[f"{p}" for p, _f, _w in BOUNDS])
def test_values_are_checked_against_type_and_bounds(tree, org_manager, params, field, words):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        _set(org_manager, tree.branch_a, params)
    assert field in error.value.message_dict
    assert words in error.value.message_dict[field][0]
    assert not RuleOverride.objects.exists()
    assert not AuditEntry.objects.filter(action="rule.override_set").exists()


@pytest.mark.parametrize(("value", "stored"), [(3, 3), (5, 5), ("4", 4), (4.0, 4)])
def test_values_within_bounds_are_stored_typed(tree, org_manager, value, stored):
    row = _set(org_manager, tree.branch_a, {"default_years": value})
    assert row.params == {"default_years": stored}


def test_the_messages_are_chinese_on_the_site(tree, org_manager):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as error:
        _set(org_manager, tree.branch_a, {"default_years": 9})
    assert error.value.message_dict["default_years"] == ["委员会默认任期（年） 不能大于 5。"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": "org.structure", "params": {"branch_max_members": 60}}, "key"),  # a national rule
        ({"key": "no.such.rule", "params": {"x": 1}}, "key"),
        ({"reason": "  "}, "reason"),
        ({"effective_from": TODAY - dt.timedelta(days=1)}, "effective_from"),  # never retroactive
    ],
)
def test_other_refusals(tree, org_manager, kwargs, field):
    args = {
        "actor": org_manager,
        "org": tree.branch_a,
        "key": "org.terms",
        "params": {"warn_days_before_end": 60},
        "effective_from": TODAY,
        "reason": "本地做法",
        **kwargs,
    }
    with pytest.raises(ValidationError) as error:
        rule_override_set(**args)
    assert field in error.value.message_dict


def test_one_override_per_org_rule_and_date(tree, org_manager):
    _set(org_manager, tree.branch_a, {"warn_days_before_end": 60})
    with pytest.raises(ValidationError) as error:
        _set(org_manager, tree.branch_a, {"warn_days_before_end": 30})
    assert "effective_from" in error.value.message_dict


def test_setting_is_audited_with_reason_and_previous_values(tree, district_manager):
    _set(district_manager, tree.branch_a, {"warn_days_before_end": 60}, reason="换届前三个月筹备")
    _set(district_manager, tree.branch_a, {"warn_days_before_end": 45}, on=SOON, reason="改为45天")
    entry = AuditEntry.objects.filter(action="rule.override_set").latest("id")
    assert entry.actor == district_manager
    assert entry.org == tree.branch_a and entry.org_path == tree.branch_a.path
    assert entry.changes == {
        "key": "org.terms",
        "effective_from": SOON.isoformat(),
        "params": {"warn_days_before_end": 45},
        "previous": {"warn_days_before_end": 60},
        "reason": "改为45天",
    }
    # Visible in the district's audit log, not in the other district's.
    assert AuditEntry.objects.restrict(district_manager, "audit").filter(pk=entry.pk).exists()


def test_precedence_in_the_subtree(tree, org_manager):
    """The nearest organisation's value wins for each parameter; overrides on several levels stack."""
    _set(org_manager, tree.city, {"warn_days_before_end": 120})
    _set(org_manager, tree.district_a, {"warn_days_before_end": 60})
    _set(org_manager, tree.branch_a, {"default_years": 5})
    national = rulebook.rule("org.terms", on=TODAY)
    seen = {
        name: (r["warn_days_before_end"], r["default_years"], r.override_org_id)
        for name in ("city", "district_a", "district_b", "branch_a", "group_a", "branch_b")
        for r in [rulebook.rule("org.terms", on=TODAY, org=getattr(tree, name))]
    }
    assert seen == {
        "city": (120, national["default_years"], tree.city.pk),
        "district_a": (60, national["default_years"], tree.district_a.pk),
        "district_b": (120, national["default_years"], tree.city.pk),
        "branch_a": (60, 5, tree.branch_a.pk),  # the district's warning and the branch's own term
        "group_a": (60, 5, tree.branch_a.pk),
        "branch_b": (120, national["default_years"], tree.city.pk),
    }
    local = rulebook.rule("org.terms", on=TODAY, org=tree.group_a)
    assert set(local.local_params) == {"warn_days_before_end", "default_years"}
    assert local.confidence == "local" and local.national.ref == national.ref
    assert local.ref == f"org.terms@{national.version}/local-{TODAY.isoformat()}+org{tree.branch_a.pk}"


def test_effective_dates(tree, org_manager):
    _set(org_manager, tree.branch_a, {"warn_days_before_end": 60}, on=SOON)
    before = rulebook.rule("org.terms", on=SOON - dt.timedelta(days=1), org=tree.branch_a)
    from_then = rulebook.rule("org.terms", on=SOON, org=tree.branch_a)
    assert before["warn_days_before_end"] == 90 and not before.is_local
    assert from_then["warn_days_before_end"] == 60 and from_then.is_local


def test_ending_an_override_is_a_new_row_and_restores_the_values_from_above(tree, org_manager):
    _set(org_manager, tree.district_a, {"warn_days_before_end": 120})
    _set(org_manager, tree.branch_a, {"warn_days_before_end": 30})
    end = rule_override_end(
        actor=org_manager, org=tree.branch_a, key="org.terms", effective_from=SOON, reason="恢复统一标准"
    )
    assert end.kind == RuleOverride.Kind.END and end.params == {}
    assert RuleOverride.objects.filter(org=tree.branch_a).count() == 2  # nothing deleted
    assert rulebook.rule("org.terms", on=TODAY, org=tree.branch_a)["warn_days_before_end"] == 30
    # From its date the district's value applies again (and the national one where there is none).
    assert rulebook.rule("org.terms", on=SOON, org=tree.branch_a)["warn_days_before_end"] == 120
    entry = AuditEntry.objects.get(action="rule.override_ended")
    assert entry.org == tree.branch_a and entry.changes["previous"] == {"warn_days_before_end": 30}
    # Nothing left to end; and a secretary may not end anything.
    with pytest.raises(ValidationError):
        rule_override_end(
            actor=org_manager,
            org=tree.branch_a,
            key="org.terms",
            effective_from=SOON + dt.timedelta(days=1),
            reason="x",
        )


def test_ending_needs_an_override_and_a_manager(tree, org_manager, secretary_a):
    with pytest.raises(ValidationError):
        rule_override_end(
            actor=org_manager, org=tree.branch_a, key="org.terms", effective_from=TODAY, reason="x"
        )
    _set(org_manager, tree.branch_a, {"warn_days_before_end": 30})
    with pytest.raises(PermissionDenied):
        rule_override_end(
            actor=secretary_a, org=tree.branch_a, key="org.terms", effective_from=SOON, reason="x"
        )


# --- the rule-file format ---------------------------------------------------------------------------------

FAMILY = textwrap.dedent(
    """
    key: test.letter
    title: 介绍信
    overridable:
      - {name: validity_days, type: int, min: 1, max: 90, label: 有效期（天）}
      - {name: rate, type: float, min: 0, max: 1}
      - {name: strict, type: bool}
      - {name: mode, type: choice, choices: [online, paper]}
    versions:
      - version: "2019"
        effective_from: 2019-01-01
        source: a text
        confidence: S
        params: {validity_days: 30, rate: 0.5, strict: false, mode: online, national_only: 3}
      - version: "2026"
        effective_from: 2026-05-18
        source: a reported revision
        confidence: U
        pending_confirmation: true
        overridable: [national_only]   # a bare name under a version: the type comes from the default
        params: {validity_days: 30, rate: 0.5, strict: false, mode: online, national_only: 3}
    """
)


@pytest.fixture
def family(tmp_path, monkeypatch):
    (tmp_path / "test_letter.yaml").write_text(FAMILY, encoding="utf-8")
    monkeypatch.setattr(rulebook, "RULES_DIR", tmp_path)
    rulebook._load.cache_clear()
    yield
    rulebook._load.cache_clear()


def test_overridable_and_pending_confirmation_are_read(family):
    old, new = rulebook.versions("test.letter")
    assert not old.pending_confirmation and new.pending_confirmation
    specs = rulebook.overridable("test.letter")
    assert list(specs) == ["validity_days", "rate", "strict", "mode", "national_only"]
    assert (specs["validity_days"].min, specs["validity_days"].max, specs["validity_days"].label) == (
        1,
        90,
        "有效期（天）",
    )
    assert (specs["national_only"].type, specs["national_only"].min) == ("int", 0)
    assert old.overridable == new.overridable  # the same for the whole family


@pytest.mark.parametrize(
    ("name", "value", "cleaned"),
    [
        ("validity_days", 90, 90),
        ("validity_days", 91, ValidationError),
        ("validity_days", 0, ValidationError),
        ("rate", "0.25", 0.25),
        ("rate", 1.5, ValidationError),
        ("strict", "true", True),
        ("strict", False, False),
        ("strict", "maybe", ValidationError),
        ("mode", "paper", "paper"),
        ("mode", "fax", ValidationError),
        ("national_only", -1, ValidationError),
    ],
)
def test_each_type_is_cleaned(family, name, value, cleaned):
    spec = rulebook.overridable("test.letter")[name]
    if cleaned is ValidationError:
        with pytest.raises(ValidationError):
            spec.clean(value)
    else:
        assert spec.clean(value) == cleaned


def test_a_local_version_keeps_the_pending_flag(family, tree, org_manager):
    RuleOverride.objects.create(
        key="test.letter",
        org=tree.branch_a,
        effective_from=dt.date(2026, 6, 1),
        params={"validity_days": 60},
        reason="x",
    )
    r = rulebook.rule("test.letter", on=dt.date(2026, 7, 1), org=tree.branch_a)
    assert r["validity_days"] == 60 and r.pending_confirmation and r.version == "2026/local-2026-06-01"


def test_an_overridable_parameter_needs_a_default(tmp_path, monkeypatch):
    (tmp_path / "bad.yaml").write_text(
        textwrap.dedent(
            """
            key: test.bad
            overridable: [{name: days, type: int, min: 1}]
            versions:
              - {version: "1", effective_from: 2020-01-01, source: x, params: {other: 1}}
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(rulebook, "RULES_DIR", tmp_path)
    rulebook._load.cache_clear()
    try:
        with pytest.raises(ValueError, match="no default"):
            rulebook.rule_keys()
    finally:
        rulebook._load.cache_clear()
