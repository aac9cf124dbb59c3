"""The dues standard (RULES.md §2; rules/dues.yaml, 中组发〔2008〕3号) as pure functions.

``dues_calculate`` answers what a member of a category pays a month on a base, with the rate (or the
fixed amount), the article and the rule version that decided it. What it encodes:

- Employed members (and the category ``other``: annual-salary earners, the self-employed and anyone
  else paying on a declared income, 规定 第三条、第四条) pay a band's rate on their after-tax monthly pay;
  retirees on their total pension. The band's rate applies to the **whole base**, not progressively,
  and a band includes its upper edge: 3000.00 pays 15.00 (0.5%), 3000.01 pays 30.00 (1%).
- Students, the unemployed and members living on relief or 低保 pay a fixed amount (0.20); farmers
  choose an amount between ``farmer_min`` and ``farmer_max`` (0.20–1.00).
- Rounding (half up to 0.01 by default) and whether personal social-insurance contributions are
  deducted from the base (no, by default) are rule parameters: the national text says neither (U).

Bad input raises ``DuesRuleError`` (a ``ValidationError`` on one field) with a code, the article and
the rule version, so that forms show it on the field and the API renders the error format.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from dangjian.core import rulebook

RULE_KEY = "dues"

# Dues categories as stored by members.choices.DuesCategory (plain strings: rules stay free of models).
EMPLOYED, RETIREE, FARMER, OTHER = "employed", "retiree", "farmer", "other"
STUDENT, UNEMPLOYED, LOW_INCOME = "student", "unemployed", "low_income"
CATEGORIES = (EMPLOYED, RETIREE, FARMER, STUDENT, UNEMPLOYED, LOW_INCOME, OTHER)
# Categories whose amount comes from a base (a declaration is needed to compute it).
BASE_CATEGORIES = (EMPLOYED, RETIREE, OTHER)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest base (and any other yuan amount typed in dues) the rules accept: at the highest rate (2%)
# its dues, 1,999,999.99 a month, still fit every amount field of a bill (DuesBill.amount: 10 digits)
# and a payment of a year's months (DuesPayment.dues_amount: 10 digits).
MAX_BASE = Decimal("99999999.99")
# Years the dues pages and API accept in a parameter (the People's Republic's first year to 2999).
YEAR_MIN, YEAR_MAX = 1949, 2999
_ASCII_INT = re.compile(r"^[0-9]{1,18}$")
# The largest id or count a parameter may carry (18 digits: fits every database's bigint).
MAX_ID = 10**18 - 1
_ASCII_YEAR = re.compile(r"^[0-9]{4}$")
# A month as people type it: 2026-03, 2026-3, 2026/03, 2026.03, 2026年3月, or a date of it (2026-03-15).
_MONTH_ISO = re.compile(r"^([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?$")  # the API's form: YYYY-MM[-DD]
_MONTH_TEXT = re.compile(
    r"^\s*([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*月?\s*(?:[-/.]\s*([0-9]{1,2})\s*日?\s*)?$"
)
_ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class DuesRuleError(ValidationError):
    """Input the dues rules refuse, on one field: ``violation`` (a code), the article and the rule
    version. A ``ValidationError`` with a message dict, so forms and the API error format show it on the
    field without special handling."""

    def __init__(self, field: str, message: str, *, code: str, article: str = "", rule_ref: str = "") -> None:
        super().__init__({field: [ValidationError(message, code=code)]})
        self.field = field
        self.violation = code
        self.article = article
        self.rule_ref = rule_ref


@dataclass(frozen=True)
class DuesAmount:
    """What a member pays a month: the amount, the rate applied to the base (None for a fixed or chosen
    amount), the base used (after any deduction), the rule version and the article that decided it."""

    amount: Decimal
    rate: Decimal | None
    fixed: bool
    rule_ref: str
    base: Decimal | None
    article: str = ""
    category: str = ""
    # The band applied: base above ``band_above`` and up to ``band_up_to`` (None: no bound that side).
    band_above: Decimal | None = None
    band_up_to: Decimal | None = None

    def as_dict(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "amount": f"{self.amount:.2f}",
            "rate": text(self.rate),
            "fixed": self.fixed,
            "rule": self.rule_ref,
            "base": None if self.base is None else f"{self.base:.2f}",
            "article": self.article,
            "category": self.category,
            "band_above": text(self.band_above),
            "band_up_to": text(self.band_up_to),
        }


# ── dates ─────────────────────────────────────────────────────────────────────────────────────────


def month_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s month (bills, declarations and reductions are kept by month)."""
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (negative: earlier), clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of every month from ``first``'s to ``last``'s, both included."""
    months: list[dt.date] = []
    current, end = month_start(first), month_start(last)
    while current <= end:
        months.append(current)
        current = add_months(current, 1)
    return months


# ── the rule ──────────────────────────────────────────────────────────────────────────────────────


def rule_for(on: dt.date, org: Any | None = None) -> rulebook.RuleVersion:
    """The dues rule in force on ``on`` for ``org``; dates before the 2008 standard use it too."""
    first = rulebook.versions(RULE_KEY)[0].effective_from
    return rulebook.rule(RULE_KEY, on=max(on, first), org=org)


def rules_for_orgs(on: dt.date, orgs: Iterable[Any]) -> dict[int, rulebook.RuleVersion]:
    """``rule_for(on, org)`` for many organisations at once, keyed by org id: one query for the local
    overrides of the rule (there are few) instead of one per organisation."""
    from dangjian.core.models import RuleOverride

    first = rulebook.versions(RULE_KEY)[0].effective_from
    on = max(on, first)
    base = rulebook.rule(RULE_KEY, on=on)
    rows = list(RuleOverride.objects.filter(key=RULE_KEY).select_related("org", "created_by"))
    result: dict[int, rulebook.RuleVersion] = {}
    for org in orgs:
        if org.pk not in result:
            mine = [row for row in rows if org.path.startswith(row.org.path)]
            layers = rulebook.active_layers(mine, RULE_KEY, on) if mine else []
            result[org.pk] = rulebook.apply_layers(base, layers) if layers else base
    return result


def article(r: rulebook.RuleVersion, name: str) -> str:
    return str((r.params.get("articles") or {}).get(name, ""))


def decimal(value: Any) -> Decimal:
    """A rule file's amount or rate (written as a string) as an exact decimal."""
    return Decimal(str(value))


# Figures read from a rule version, kept per version object (the monthly job asks for them per member).
_MEMO: dict[tuple[int, str], tuple[rulebook.RuleVersion, Any]] = {}


def _memo(r: rulebook.RuleVersion, name: str, compute: Any) -> Any:
    key = (id(r), name)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is r:
        return hit[1]
    if len(_MEMO) > 2048:
        _MEMO.clear()
    value = compute()
    _MEMO[key] = (r, value)
    return value


def fixed_amounts(r: rulebook.RuleVersion) -> dict[str, Decimal]:
    return _memo(
        r,
        "fixed",
        lambda: {category: decimal(amount) for category, amount in (r["fixed_amounts"] or {}).items()},
    )


def category_kind(category: str, r: rulebook.RuleVersion) -> str:
    """How a category pays: ``"base"`` (a rate on a declared base), ``"fixed"`` or ``"chosen"`` (farmers)."""
    if category == FARMER:
        return "chosen"
    if category in fixed_amounts(r):
        return "fixed"
    return "base"


def needs_declaration(category: str, r: rulebook.RuleVersion) -> bool:
    """Whether a member of the category needs a declaration (a base, or a farmer's chosen amount) before
    a bill can be computed; the fixed categories do not."""
    return category_kind(category, r) != "fixed"


def round_amount(value: Decimal, r: rulebook.RuleVersion) -> Decimal:
    """Round as the rule says (half up to 0.01 yuan by default; U), always shown with two decimals."""
    unit, mode = _memo(
        r, "rounding", lambda: (decimal(r["rounding_unit"]), _ROUNDING.get(str(r["rounding"]), ROUND_HALF_UP))
    )
    return value.quantize(unit, rounding=mode).quantize(CENT)


@dataclass(frozen=True)
class Band:
    """One band of a rate table: base above ``above`` and up to ``up_to`` (included) pays ``rate``."""

    above: Decimal | None
    up_to: Decimal | None
    rate: Decimal


def bands(r: rulebook.RuleVersion, category: str) -> list[Band]:
    """The rate table of a base category (``other`` pays like the category named by the rule)."""
    if category == OTHER:
        category = str(r["other_category_as"])
    name = "retiree_bands" if category == RETIREE else "employed_bands"

    def compute() -> list[Band]:
        result: list[Band] = []
        above: Decimal | None = None
        for row in r[name]:
            up_to = None if row.get("up_to") in (None, "") else decimal(row["up_to"])
            result.append(Band(above=above, up_to=up_to, rate=decimal(row["rate"])))
            above = up_to
        return result

    return list(_memo(r, name, compute))


def band_for(table: Sequence[Band], base: Decimal) -> Band:
    """The band holding ``base``: the first whose upper edge is at least the base (edges included)."""
    for band in table:
        if band.up_to is None or base <= band.up_to:
            return band
    return table[-1]


# ── input ─────────────────────────────────────────────────────────────────────────────────────────


def parse_int(value: Any) -> int | None:
    """A whole number in a query parameter (an id, a count): ASCII digits only, at most 18 of them (so it
    fits a database integer), else None. ``"²"`` and ``"٣"`` pass ``str.isdigit()`` but are refused here."""
    text = str(value if value is not None else "").strip()
    return int(text) if _ASCII_INT.match(text) else None


def year_in_range(year: int) -> bool:
    """Whether dues can be asked about ``year`` (YEAR_MIN–YEAR_MAX): one bound for every page and API."""
    return YEAR_MIN <= year <= YEAR_MAX


def parse_year(value: Any) -> int | None:
    """A four-digit year in YEAR_MIN–YEAR_MAX, else None."""
    text = str(value if value is not None else "").strip()
    if not _ASCII_YEAR.match(text) or not year_in_range(int(text)):
        return None
    return int(text)


def parse_month(value: Any, *, strict: bool = False) -> dt.date | None:
    """A month (see ``_MONTH_TEXT``, or a date) → its first day, in the years dues accept; else None.
    ``strict``: only ``YYYY-MM`` or ``YYYY-MM-DD`` (the API's documented form). The one month parser of
    dues: forms, the API, query parameters and statement files use it."""
    if isinstance(value, dt.date):
        day: dt.date | None = value
    else:
        text = str(value if value is not None else "")
        match = (_MONTH_ISO if strict else _MONTH_TEXT).match(text.strip() if strict else text)
        if not match:
            return None
        try:
            day = dt.date(int(match[1]), int(match[2]), int(match[3] or 1))
        except ValueError:
            return None
    if day is None or not year_in_range(day.year):
        return None
    return day.replace(day=1)


def month_in_range(month: dt.date) -> bool:
    """Whether a month (or any date) lies in the years dues accept (YEAR_MIN–YEAR_MAX)."""
    return year_in_range(month.year)


def rule_label(ref: str | None) -> str:
    """A stored rule reference (``dues@2008``, ``dues@2008+org12``) as people read it:
    "党费收缴标准（2008年版）", with "本级选项" when an organisation's local options applied."""
    text = str(ref or "")
    key, _sep, rest = text.partition("@")
    version, _plus, local = rest.partition("+")
    version, _slash, layer = version.partition("/")  # "2008/local-…": the national version it adapts
    local = local or layer
    if not key or not version:
        return text
    try:
        title = next((v.title for v in rulebook.versions(key)), "") or key
    except (KeyError, LookupError, ValueError):
        title = key
    if local:
        return _("%(title)s (%(version)s edition, local options)") % {"title": title, "version": version}
    return _("%(title)s (%(version)s edition)") % {"title": title, "version": version}


def parse_money(
    value: Any,
    *,
    field: str,
    r: rulebook.RuleVersion | None = None,
    label: str = "",
    limit: Decimal = MAX_BASE,
) -> Decimal:
    """A yuan amount typed or sent by a client: a plain number, not negative, at most two decimals, at
    most ``limit`` (MAX_BASE unless the caller's field holds more).

    Refuses "abc", "NaN", "1e3", "-5" and "15.005" with a message saying what to enter. (Fast on the
    good path: the monthly job reads every declaration through it.)"""
    if isinstance(value, Decimal) and value.is_finite():
        amount = value
    else:
        text = repr(value) if isinstance(value, float) else str(value).strip()
        if isinstance(value, bool) or not _NUMBER.match(text):
            raise _money_error(field, "not_a_number", r, label)
        amount = Decimal(text)
    if amount < 0:
        raise _money_error(field, "negative", r, label)
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        raise _money_error(field, "too_many_decimals", r, label)
    if amount > limit:
        raise _money_error(field, "too_large", r, label, limit=limit)
    return abs(amount).quantize(CENT)  # abs: "-0" is zero


def _money_error(
    field: str, code: str, r: rulebook.RuleVersion | None, label: str, *, limit: Decimal = MAX_BASE
) -> DuesRuleError:
    name = label or {
        "base": _("The base"),
        "chosen_amount": _("The chosen amount"),
        "social_insurance": _("The social-insurance contributions"),
    }.get(field, _("The amount"))
    messages = {
        "not_a_number": _("%(name)s must be a number of yuan, such as 4500 or 4500.50."),
        "negative": _("%(name)s cannot be negative."),
        "too_many_decimals": _("%(name)s has at most two decimal places (fen)."),
        "too_large": _("%(name)s is too large: at most %(limit)s yuan. Check the number."),
    }
    return DuesRuleError(
        field,
        messages[code] % {"name": name, "limit": f"{limit:,.2f}"},
        code=code,
        article=article(r, "base") if r is not None and code != "too_large" else "",
        rule_ref=r.ref if r is not None else "",
    )


# ── the calculator ────────────────────────────────────────────────────────────────────────────────


def dues_calculate(
    *,
    category: str,
    base: Any = None,
    chosen_amount: Any = None,
    on: dt.date,
    org: Any | None = None,
    social_insurance: Any = None,
) -> DuesAmount:
    """The monthly dues of a member of ``category`` on ``on`` (with ``org``'s local rule options).

    ``base``: after-tax monthly pay (employed, other) or total pension (retiree), in yuan; required for
    those categories, checked when given for the others. ``chosen_amount``: a farmer's choice within
    ``farmer_min``–``farmer_max``. ``social_insurance``: the member's personal social-insurance
    contributions, deducted from the base only when the rule's ``deduct_social_insurance`` is on.
    """
    return amount_for(
        rule_for(on, org),
        category=category,
        base=base,
        chosen_amount=chosen_amount,
        social_insurance=social_insurance,
    )


def amount_for(
    r: rulebook.RuleVersion,
    *,
    category: str,
    base: Any = None,
    chosen_amount: Any = None,
    social_insurance: Any = None,
) -> DuesAmount:
    """``dues_calculate`` with the rule version already looked up (the monthly job computes many bills
    with one version per organisation)."""
    if category not in CATEGORIES:
        raise DuesRuleError(
            "category",
            _("Unknown dues category “%(category)s”: choose one of %(choices)s.")
            % {"category": category, "choices": "、".join(CATEGORIES)},
            code="unknown_category",
            rule_ref=r.ref,
        )
    parsed_base = None if base in (None, "") else parse_money(base, field="base", r=r)
    kind = category_kind(category, r)
    if kind == "fixed":
        return DuesAmount(
            amount=round_amount(fixed_amounts(r)[category], r),
            rate=None,
            fixed=True,
            rule_ref=r.ref,
            base=parsed_base,
            article=article(r, "fixed"),
            category=category,
        )
    if kind == "chosen":
        low, high = decimal(r["farmer_min"]), decimal(r["farmer_max"])
        chosen = (
            None if chosen_amount in (None, "") else parse_money(chosen_amount, field="chosen_amount", r=r)
        )
        if chosen is None or not low <= chosen <= high:
            raise DuesRuleError(
                "chosen_amount",
                _("A farmer member chooses an amount from %(min)s to %(max)s yuan a month (%(article)s).")
                % {"min": f"{low:.2f}", "max": f"{high:.2f}", "article": article(r, "farmer")},
                code="chosen_amount_required" if chosen is None else "chosen_amount_out_of_range",
                article=article(r, "farmer"),
                rule_ref=r.ref,
            )
        return DuesAmount(
            amount=chosen,
            rate=None,
            fixed=True,
            rule_ref=r.ref,
            base=parsed_base,
            article=article(r, "farmer"),
            category=category,
        )
    resolved = str(r["other_category_as"]) if category == OTHER else category
    which = RETIREE if resolved == RETIREE else EMPLOYED
    if parsed_base is None:
        raise DuesRuleError(
            "base",
            _(
                "Enter the monthly base: after-tax pay for members in work, the total pension for retirees (%(article)s)."
            )
            % {"article": article(r, "base")},
            code="base_required",
            article=article(r, "base"),
            rule_ref=r.ref,
        )
    used = parsed_base
    if social_insurance not in (None, "") and r["deduct_social_insurance"]:
        contributions = parse_money(social_insurance, field="social_insurance", r=r)
        used = max(parsed_base - contributions, ZERO)
    band = band_for(bands(r, category), used)
    return DuesAmount(
        amount=round_amount(used * band.rate, r),
        rate=band.rate,
        fixed=False,
        rule_ref=r.ref,
        base=used,
        article=article(r, "retiree" if which == RETIREE else "employed"),
        category=category,
        band_above=band.above,
        band_up_to=band.up_to,
    )


# ── declarations, reductions and arrears (the pieces of a bill) ───────────────────────────────────


def effective_declaration(declarations: Iterable[Any], month: dt.date, *, fix_for_year: bool) -> Any | None:
    """The declaration that computes ``month``'s bill among a member's ``declarations`` (objects with an
    ``effective_month``): the newest one in effect by that month (规定 第十条: a change of pay applies from
    the month of the new pay). With ``fix_for_year`` the amount is fixed at the start of the year: the one
    in effect on 1 January, or — for a member with no declaration by then — the first one of the year."""
    month = month_start(month)
    started = sorted((d for d in declarations if d.effective_month <= month), key=lambda d: d.effective_month)
    if not started:
        return None
    if not fix_for_year:
        return started[-1]
    january = dt.date(month.year, 1, 1)
    by_january = [d for d in started if d.effective_month <= january]
    return by_january[-1] if by_january else started[0]


def reduced(standard: Decimal, *, kind: str, monthly_amount: Decimal | None) -> tuple[Decimal, bool]:
    """A bill's amount under an approved hardship reduction: ``(amount, waived)``. A waiver (免交) makes it
    0.00; a reduction (少交) lowers it to ``monthly_amount`` (never raises it)."""
    if kind == "waive":
        return ZERO, True
    if monthly_amount is None:
        return standard, False
    return min(standard, Decimal(monthly_amount).quantize(CENT)), False


def longest_run(months: Iterable[dt.date]) -> int:
    """The longest run of consecutive calendar months among ``months`` (the arrears' 连续 count)."""
    return longest_run_from(months)[0]


def longest_run_from(months: Iterable[dt.date]) -> tuple[int, dt.date | None]:
    """The longest run of consecutive calendar months among ``months`` and its first month (the earliest
    such run on a tie); ``(0, None)`` for no months."""
    ordered = sorted({month_start(m) for m in months})
    best, best_start = 0, None
    run, start = 0, None
    previous: dt.date | None = None
    for m in ordered:
        if previous is not None and add_months(previous, 1) == m:
            run += 1
        else:
            run, start = 1, m
        if run > best:
            best, best_start = run, start
        previous = m
    return best, best_start


def band_table(r: rulebook.RuleVersion) -> dict[str, Any]:
    """The standard as a table for pages (“how my amount is computed”): the bands of each base category,
    the fixed amounts and the farmers' range, as strings."""

    def rows(category: str) -> list[dict[str, str | None]]:
        return [
            {
                "above": None if b.above is None else str(b.above),
                "up_to": None if b.up_to is None else str(b.up_to),
                "rate": str(b.rate),
                "percent": f"{(b.rate * 100).normalize():f}%",
            }
            for b in bands(r, category)
        ]

    return {
        "rule": r.ref,
        "employed": rows(EMPLOYED),
        "retiree": rows(RETIREE),
        "fixed": {category: f"{amount:.2f}" for category, amount in fixed_amounts(r).items()},
        "farmer": {"min": f"{decimal(r['farmer_min']):.2f}", "max": f"{decimal(r['farmer_max']):.2f}"},
        "articles": {name: article(r, name) for name in ("base", "employed", "retiree", "farmer", "fixed")},
    }
