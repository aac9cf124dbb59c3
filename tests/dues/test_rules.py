"""Table tests of the dues standard (中组发〔2008〕3号, rules/dues.yaml): every band edge, each fixed
category, the farmers' range, bad input; and hypothesis: within a band the amount never decreases as
the base grows and equals base × rate, rounded."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dangjian.core.models import RuleOverride
from dangjian.dues import rules
from dangjian.dues.rules import DuesRuleError, dues_calculate

D = dt.date
ON = D(2026, 3, 1)
A2 = "第二条"  # employed: 在职党员交纳比例
A5 = "第五条"  # retirees
A6 = "第六条"  # fixed amounts and farmers

# (category, base, amount, rate, article) — the rate applies to the whole base; upper edges included.
TABLE = [
    ("employed", "0.00", "0.00", "0.005", A2),
    ("employed", "2999.99", "15.00", "0.005", A2),
    ("employed", "3000.00", "15.00", "0.005", A2),
    ("employed", "3000.01", "30.00", "0.01", A2),
    ("employed", "4500.00", "45.00", "0.01", A2),
    ("employed", "5000.00", "50.00", "0.01", A2),
    ("employed", "5000.01", "75.00", "0.015", A2),
    ("employed", "10000.00", "150.00", "0.015", A2),
    ("employed", "10000.01", "200.00", "0.02", A2),
    ("employed", "25000.00", "500.00", "0.02", A2),
    # "other" (annual salary, self-employed: 第三条、第四条) pays like the employed on the declared base.
    ("other", "3000.00", "15.00", "0.005", A2),
    ("other", "3000.01", "30.00", "0.01", A2),
    ("other", "10000.01", "200.00", "0.02", A2),
    ("retiree", "3000.00", "15.00", "0.005", A5),
    ("retiree", "5000.00", "25.00", "0.005", A5),
    ("retiree", "5000.01", "50.00", "0.01", A5),
    ("retiree", "12000.00", "120.00", "0.01", A5),
    # Fixed amounts: whatever the base.
    ("student", None, "0.20", None, A6),
    ("student", "8000.00", "0.20", None, A6),
    ("unemployed", None, "0.20", None, A6),
    ("low_income", None, "0.20", None, A6),
]


@pytest.mark.parametrize(
    ("category", "base", "amount", "rate", "article"), TABLE, ids=[f"{c}-{b}" for c, b, *_ in TABLE]
)
def test_dues_table(category, base, amount, rate, article):
    result = dues_calculate(category=category, base=base, on=ON)
    assert result.amount == Decimal(amount)
    assert f"{result.amount:.2f}" == amount
    assert result.rate == (Decimal(rate) if rate else None)
    assert result.fixed is (rate is None)
    assert article in result.article
    assert result.rule_ref == "dues@2008"


# Rounding half up to 0.01 (U: the national text is silent; a rule parameter).
@pytest.mark.parametrize(
    ("base", "amount"),
    [("1.00", "0.01"), ("0.99", "0.00"), ("1.01", "0.01"), ("2999.01", "15.00"), ("3333.33", "33.33")],
)
def test_rounding_half_up_to_the_fen(base, amount):
    assert dues_calculate(category="employed", base=base, on=ON).amount == Decimal(amount)


# Farmers choose 0.20–1.00 yuan a month (第六条).
@pytest.mark.parametrize(
    ("chosen", "ok"),
    [("0.19", False), ("0.20", True), ("0.50", True), ("1.00", True), ("1.01", False), (None, False)],
)
def test_farmer_chooses_within_the_range(chosen, ok):
    if ok:
        result = dues_calculate(category="farmer", chosen_amount=chosen, on=ON)
        assert result.amount == Decimal(chosen) and result.rate is None and result.fixed
        assert A6 in result.article
    else:
        with pytest.raises(DuesRuleError) as exc:
            dues_calculate(category="farmer", chosen_amount=chosen, on=ON)
        assert exc.value.field == "chosen_amount"
        assert A6 in exc.value.article and exc.value.rule_ref == "dues@2008"


@pytest.mark.parametrize(
    ("base", "code"),
    [
        ("-0.01", "negative"),
        ("-3000", "negative"),
        ("abc", "not_a_number"),
        ("", None),
        ("3000.001", "too_many_decimals"),
        ("15.005", "too_many_decimals"),
        ("NaN", "not_a_number"),
        ("Infinity", "not_a_number"),
        ("1e3", "not_a_number"),
        ("3,000", "not_a_number"),
        ("99999999999", "too_large"),
    ],
)
def test_bad_base_refused_with_a_code(base, code):
    if code is None:  # no base at all: employed members must declare one (第一条)
        with pytest.raises(DuesRuleError) as exc:
            dues_calculate(category="employed", base=base, on=ON)
        assert exc.value.violation == "base_required" and "第一条" in exc.value.article
        return
    with pytest.raises(DuesRuleError) as exc:
        dues_calculate(category="employed", base=base, on=ON)
    assert exc.value.violation == code
    assert exc.value.field == "base"
    assert "base" in exc.value.message_dict


def test_bad_base_refused_even_for_a_fixed_category():
    with pytest.raises(DuesRuleError):
        dues_calculate(category="student", base="-1", on=ON)


def test_unknown_category_refused():
    with pytest.raises(DuesRuleError) as exc:
        dues_calculate(category="soldier", base="1000", on=ON)
    assert exc.value.field == "category"


def test_a_date_before_2008_uses_the_2008_standard():
    assert dues_calculate(category="employed", base="3000.01", on=D(2001, 1, 1)).rule_ref == "dues@2008"


def test_social_insurance_deducted_only_when_the_rule_says_so(tree):
    # Default (U): not deducted. 3200 pays 1% on the whole 3200.
    plain = dues_calculate(category="employed", base="3200.00", social_insurance="400.00", on=ON)
    assert plain.amount == Decimal("32.00") and plain.base == Decimal("3200.00")
    RuleOverride.objects.create(
        key="dues", org=tree.district_a, effective_from=D(2020, 1, 1),
        params={"deduct_social_insurance": True}, reason="本地做法：扣除个人社保",
    )  # fmt: skip
    local = dues_calculate(
        category="employed", base="3200.00", social_insurance="400.00", on=ON, org=tree.branch_a
    )
    # 3200 − 400 = 2800: the 0.5% band.
    assert local.base == Decimal("2800.00") and local.amount == Decimal("14.00")
    assert local.rule_ref.startswith("dues@2008/local-") and local.rule_ref.endswith(
        f"+org{tree.district_a.pk}"
    )
    other = dues_calculate(
        category="employed", base="3200.00", social_insurance="400.00", on=ON, org=tree.branch_b
    )
    assert other.amount == Decimal("32.00")


def test_local_rounding_to_the_jiao(tree):
    RuleOverride.objects.create(
        key="dues", org=tree.branch_a, effective_from=D(2020, 1, 1),
        params={"rounding_unit": "0.1"}, reason="保留到角",
    )  # fmt: skip
    assert dues_calculate(category="employed", base="3333.33", on=ON, org=tree.branch_a).amount == Decimal(
        "33.30"
    )


# ── declarations, reductions, arrears runs ──────────────────────────────────────────────────────


def _decl(month: dt.date, name: str) -> SimpleNamespace:
    return SimpleNamespace(effective_month=month, name=name)


DECLS = [_decl(D(2025, 3, 1), "mar25"), _decl(D(2026, 1, 1), "jan26"), _decl(D(2026, 5, 1), "may26")]


@pytest.mark.parametrize(
    ("month", "fix", "expected"),
    [
        (D(2025, 2, 1), False, None),  # before any declaration
        (D(2025, 3, 1), False, "mar25"),
        (D(2025, 12, 1), False, "mar25"),
        (D(2026, 4, 1), False, "jan26"),
        (D(2026, 5, 1), False, "may26"),  # 第十条: from the month of the new pay
        (D(2026, 5, 1), True, "jan26"),  # fixed for the year: the raise counts from next January
        (D(2026, 12, 1), True, "jan26"),
        (D(2025, 6, 1), True, "mar25"),  # no declaration by January 2025: the first one of the year
        (D(2025, 2, 1), True, None),
    ],
)
def test_effective_declaration(month, fix, expected):
    found = rules.effective_declaration(DECLS, month, fix_for_year=fix)
    assert (found.name if found else None) == expected


def test_fix_for_year_takes_a_may_declaration_from_next_january():
    decls = [_decl(D(2025, 1, 1), "old"), _decl(D(2025, 5, 1), "raise")]
    assert rules.effective_declaration(decls, D(2025, 12, 1), fix_for_year=True).name == "old"
    assert rules.effective_declaration(decls, D(2026, 1, 1), fix_for_year=True).name == "raise"


@pytest.mark.parametrize(
    ("kind", "monthly", "expected", "waived"),
    [("waive", None, "0.00", True), ("reduce", "5.00", "5.00", False), ("reduce", "80.00", "45.00", False)],
)
def test_reduction(kind, monthly, expected, waived):
    amount, is_waived = rules.reduced(
        Decimal("45.00"), kind=kind, monthly_amount=Decimal(monthly) if monthly else None
    )
    assert amount == Decimal(expected) and is_waived is waived


@pytest.mark.parametrize(
    ("months", "run"),
    [
        ([], 0),
        ([D(2026, 1, 1)], 1),
        ([D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1)], 3),  # across the new year
        ([D(2025, 1, 1), D(2025, 2, 1), D(2025, 4, 1)], 2),
        ([D(2025, m, 1) for m in range(1, 7)] + [D(2025, 9, 1)], 6),
    ],
)
def test_longest_run_of_consecutive_months(months, run):
    assert rules.longest_run(months) == run


def test_band_table_for_pages():
    table = rules.band_table(rules.rule_for(ON))
    assert table["employed"][0] == {"above": None, "up_to": "3000.00", "rate": "0.005", "percent": "0.5%"}
    assert table["employed"][-1]["up_to"] is None and table["employed"][-1]["percent"] == "2%"
    assert table["fixed"] == {"student": "0.20", "unemployed": "0.20", "low_income": "0.20"}
    assert table["farmer"] == {"min": "0.20", "max": "1.00"}


# ── hypothesis: monotone within a band, equal to base × rate rounded ────────────────────────────────

EMPLOYED_BANDS = [
    ("0.00", "3000.00"),
    ("3000.01", "5000.00"),
    ("5000.01", "10000.00"),
    ("10000.01", "99999.99"),
]
RETIREE_BANDS = [("0.00", "5000.00"), ("5000.01", "99999.99")]
BAND_CASES = [("employed", lo, hi) for lo, hi in EMPLOYED_BANDS] + [
    ("retiree", lo, hi) for lo, hi in RETIREE_BANDS
]


def _cents(lo: str, hi: str) -> st.SearchStrategy[Decimal]:
    return st.integers(int(Decimal(lo) * 100), int(Decimal(hi) * 100)).map(lambda c: Decimal(c) / 100)


@pytest.mark.parametrize(("category", "lo", "hi"), BAND_CASES, ids=[f"{c}-{lo}" for c, lo, _ in BAND_CASES])
def test_within_a_band_amount_is_monotone_and_equals_base_times_rate(category, lo, hi):
    @given(a=_cents(lo, hi), b=_cents(lo, hi))
    def check(a: Decimal, b: Decimal) -> None:
        small, large = sorted((a, b))
        x = dues_calculate(category=category, base=small, on=ON)
        y = dues_calculate(category=category, base=large, on=ON)
        assert x.rate == y.rate  # the same band
        assert x.amount <= y.amount
        for base, result in ((small, x), (large, y)):
            assert result.amount == (base * result.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    check()


@given(base=_cents("0.00", "99999.99"))
def test_every_base_has_exactly_one_band(base):
    result = dues_calculate(category="employed", base=base, on=ON)
    assert result.band_above is None or base > result.band_above
    assert result.band_up_to is None or base <= result.band_up_to


# ── what the database can hold, and how a rule is named on pages ─────────────────────────────────


def test_the_largest_base_gives_dues_every_amount_field_can_hold():
    """A base the calculator accepts must give a bill the database can store: at the highest rate (2%),
    DuesBill.amount / standard_amount and DuesPayment.dues_amount (10 digits) still fit."""
    from dangjian.dues.models import DuesBill, DuesPayment

    top = dues_calculate(category="employed", base=rules.MAX_BASE, on=ON)
    assert top.rate == Decimal("0.02")
    for model, name in ((DuesBill, "amount"), (DuesBill, "standard_amount"), (DuesPayment, "dues_amount")):
        field = model._meta.get_field(name)
        largest = Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal("0.01")
        assert top.amount * 12 <= largest, (model.__name__, name)  # a year of months in one payment
    with pytest.raises(DuesRuleError) as exc:
        dues_calculate(category="employed", base=rules.MAX_BASE + Decimal("0.01"), on=ON)
    assert exc.value.violation == "too_large" and "99,999,999.99" in exc.value.messages[0]


# (raw parameter, whole number read) — ASCII digits only, at most 18 (a database bigint)
INTEGERS = [("42", 42), (" 7 ", 7), ("0", 0), ("9" * 18, 10**18 - 1), ("9" * 19, None), ("²", None),
            ("٣", None), ("-1", None), ("1.0", None), ("", None), (None, None)]  # fmt: skip


@pytest.mark.parametrize(("raw", "number"), INTEGERS)
def test_parse_int_reads_ascii_digits_only(raw, number):
    assert rules.parse_int(raw) == number


@pytest.mark.parametrize(
    ("raw", "year"), [("2026", 2026), ("1949", 1949), ("2999", 2999), ("1948", None), ("3000", None),
                      ("0000", None), ("99999", None), ("26", None), ("２０２６", None)],
)  # fmt: skip
def test_parse_year_within_the_years_dues_accept(raw, year):
    assert rules.parse_year(raw) == year


@pytest.mark.parametrize(
    ("ref", "label"),
    [("dues@2008", "党费收缴标准（2008年版）"), ("dues@2008+org12", "党费收缴标准（2008年版，含本级选项）"),
     ("dues@2008/local-2020-01-01+org12", "党费收缴标准（2008年版，含本级选项）"), ("", ""),
     ("no-version", "no-version")],
)  # fmt: skip
def test_rule_label_names_the_rule_in_chinese(ref, label):
    from django.utils import translation

    with translation.override("zh-hans"):
        assert rules.rule_label(ref) == label


@pytest.mark.parametrize(
    ("text", "strict", "expected"),
    [
        ("2026-03", True, dt.date(2026, 3, 1)),
        ("2026-03-15", True, dt.date(2026, 3, 1)),
        ("2026-3", True, None),
        ("2026年3月", True, None),
        ("2026-3", False, dt.date(2026, 3, 1)),
        ("2026/03", False, dt.date(2026, 3, 1)),
        ("2026年3月", False, dt.date(2026, 3, 1)),
        ("2026-13", False, None),
        ("2026-02-30", False, None),
        ("²026-03", False, None),
        ("9999-12", True, None),
        (dt.date(2026, 3, 15), True, dt.date(2026, 3, 1)),
    ],
)
def test_one_month_parser_for_forms_api_and_statements(text, strict, expected):
    from dangjian.dues.rules import parse_month

    assert parse_month(text, strict=strict) == expected
