"""Forms of the dues pages: they parse what was typed and keep it; the services decide (dues.services,
dues.payments, dues.reductions, dues.remittances). A service's refusal is put back on the form with
``add_service_error``, next to the field it names, so nothing typed is lost.

Amounts are yuan with at most two decimals; months are typed as ``YYYY-MM`` (an ``<input type="month">``)
and become the first day of the month, as every dues row stores them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.dues import rules
from dangjian.dues.models import DuesReduction, PaymentMethod
from dangjian.members.choices import DuesCategory

_INPUT = {"class": "form-control"}
_DATE = {"class": "form-control", "type": "date"}
_SELECT = {"class": "form-select"}
_CHECK = {"class": "form-check-input"}


def parse_month(value: Any) -> dt.date | None:
    """``2026-03`` (also ``2026-3``, ``2026/03``, ``2026年3月``, ``2026-03-01``) → 2026-03-01; else None."""
    return rules.parse_month(value)


def month_key(month: dt.date) -> str:
    return f"{month:%Y-%m}"


class MonthInput(forms.TextInput):
    input_type = "month"

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, dt.date):
            return month_key(value)
        return super().format_value(value)


class MonthField(forms.Field):
    """A month typed as YYYY-MM; cleans to the month's first day."""

    widget = MonthInput
    default_error_messages = {"invalid": _("Enter a month as year and month, for example 2026-03.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MonthInput(attrs=_INPUT))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        if value in self.empty_values:
            return None
        month = parse_month(value)
        if month is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return month


class YuanField(forms.DecimalField):
    """An amount in yuan: not negative, at most two decimals, with Chinese errors that say what to fix."""

    default_error_messages = {
        "invalid": _("Enter an amount in yuan, for example 3500.00."),
        "max_decimal_places": _("Enter at most two decimals (fen)."),
        "min_value": _("The amount cannot be negative."),
        "max_digits": _("This amount is too large."),
        "max_whole_digits": _("This amount is too large."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("widget", forms.TextInput(attrs={**_INPUT, "inputmode": "decimal"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, str):
            # Accept what people type: "3,500.00", "３５００", "3500元".
            value = value.translate(_FULLWIDTH_DIGITS).replace(",", "").replace("，", "").strip()
            value = value.removesuffix("元").strip()
        return super().to_python(value)


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９．", "0123456789.")


def add_service_error(form: forms.Form, exc: ValidationError | Exception) -> None:
    """Put a service's refusal on the form: by field where the field exists, otherwise on top.

    A rule refusal keeps its citation: ``dues.payments.RuleViolationError`` (``violation.field`` and
    ``violation.article``) and ``dues.rules.DuesRuleError`` (``field`` and ``article``) show the article
    after the message."""
    violation = getattr(exc, "violation", None)
    article = getattr(violation, "article", "") or getattr(exc, "article", "")
    field = getattr(violation, "field", None) or getattr(exc, "field", None)

    def cite(text: str) -> str:
        return f"{text}（{_('Rule')}：{article}）" if article else text

    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, [cite(e) for e in errors])
        return
    form.add_error(field if field in form.fields else None, [cite(e) for e in error_messages(exc)])


def error_messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    text = str(exc) or str(_("You do not have permission to do this here."))
    return [text]


# --- payments ------------------------------------------------------------------------------------------


class PaymentForm(forms.Form):
    """Record money a member paid: which months (one or several), how, when, by whom; voluntary extra
    dues on top. ``month_choices`` are the member's open months (and, with the branch's consent to
    quarterly payment, the rest of the current quarter)."""

    months = forms.MultipleChoiceField(
        label=_("Months paid"),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"required": _("Tick at least one month to pay.")},
    )
    method = forms.ChoiceField(
        label=_("Payment method"),
        choices=PaymentMethod.choices,
        initial=PaymentMethod.CASH,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    paid_on = forms.DateField(
        label=_("Paid on"),
        widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date, for example 2026-03-05.")},
    )
    reference = forms.CharField(
        label=_("Reference (receipt, bank or order number)"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs=_INPUT),
    )
    extra_amount = YuanField(
        label=_("Voluntary extra dues (yuan)"),
        required=False,
        help_text=_(
            "A single extra payment of 1000 yuan or more is passed in full to the central organisation."
        ),
    )
    by_proxy = forms.BooleanField(
        label=_("Paid by someone else on the member's behalf (代缴)"),
        required=False,
        widget=forms.CheckboxInput(attrs=_CHECK),
    )
    proxy_name = forms.CharField(
        label=_("Paid by (name)"), max_length=50, required=False, widget=forms.TextInput(attrs=_INPUT)
    )
    amount = YuanField(
        label=_("Amount received (yuan)"),
        required=False,
        help_text=_(
            "Optional: the total actually received, checked against the months ticked plus extra dues."
        ),
    )

    def __init__(self, *args: Any, month_choices: list[tuple[str, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["months"].choices = list(month_choices)
        self.fields["paid_on"].initial = timezone.localdate()

    def clean_paid_on(self) -> dt.date:
        paid_on = self.cleaned_data["paid_on"]
        if paid_on > timezone.localdate():
            raise ValidationError(_("The payment date cannot be in the future."), code="future")
        return paid_on

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("by_proxy") and not (data.get("proxy_name") or "").strip():
            self.add_error("proxy_name", _("Name the person who paid on the member's behalf."))
        if not data.get("by_proxy"):
            data["proxy_name"] = ""
        return data

    def month_dates(self) -> list[dt.date]:
        return sorted(m for m in (parse_month(v) for v in self.cleaned_data.get("months", [])) if m)


class ReverseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the reversal"),
        max_length=200,
        widget=forms.TextInput(attrs=_INPUT),
        error_messages={"required": _("Say why the payment is reversed (it stays in the ledger).")},
    )


# --- declarations ---------------------------------------------------------------------------------------

# Categories whose amount is a rate on a base the member declares (RULES.md §2); farmers choose an amount;
# the rest pay a fixed amount and declare nothing but the category.
BASE_CATEGORIES = (DuesCategory.EMPLOYED, DuesCategory.RETIREE, DuesCategory.OTHER)


class DeclarationForm(forms.Form):
    """A new dues base declaration (党费基数申报) from a month on."""

    category = forms.ChoiceField(
        label=_("Dues category"), choices=DuesCategory.choices, widget=forms.Select(attrs=_SELECT)
    )
    base = YuanField(
        label=_("Dues base (yuan a month)"),
        required=False,
        help_text=_("Employed: monthly pay after personal income tax; retirees: the total pension."),
    )
    chosen_amount = YuanField(
        label=_("Chosen monthly amount (yuan)"),
        required=False,
        max_digits=8,
        help_text=_("Farmers choose an amount between 0.20 and 1.00 yuan a month."),
    )
    social_insurance = YuanField(
        label=_("Personal social-insurance contributions (yuan a month)"),
        required=False,
        help_text=_("Only used where the organisation's rule deducts them from the base."),
    )
    effective_month = MonthField(label=_("Effective from (month)"))
    pay_at_host = forms.BooleanField(
        label=_("Pays at the host organisation (holds a flow certificate)"),
        required=False,
        widget=forms.CheckboxInput(attrs=_CHECK),
    )
    note = forms.CharField(
        label=_("Note"), max_length=200, required=False, widget=forms.TextInput(attrs=_INPUT)
    )
    attachment = forms.FileField(
        label=_("Attachment (pay slip or pension statement)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={**_INPUT, "accept": ".pdf,.jpg,.jpeg,.png"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        category = data.get("category")
        if category in BASE_CATEGORIES and data.get("base") is None and "base" not in self.errors:
            self.add_error(
                "base", _("Enter the base for this category: the monthly pay after tax, or the pension.")
            )
        if (
            category == DuesCategory.FARMER
            and data.get("chosen_amount") is None
            and "chosen_amount" not in self.errors
        ):
            self.add_error("chosen_amount", _("Enter the monthly amount the member chose."))
        # Only the figure the category uses is sent to the service.
        if category not in BASE_CATEGORIES:
            data["base"] = None
            data["social_insurance"] = None
        if category != DuesCategory.FARMER:
            data["chosen_amount"] = None
        return data


# --- reductions -----------------------------------------------------------------------------------------


class ReductionForm(forms.Form):
    """Propose a hardship reduction or waiver for a period (approved by the branch, then the committee)."""

    member = forms.TypedChoiceField(
        label=_("Member"),
        coerce=int,
        widget=forms.Select(attrs=_SELECT),
        error_messages={"required": _("Choose the member."), "invalid_choice": _("Choose the member.")},
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=DuesReduction.Kind.choices,
        initial=DuesReduction.Kind.REDUCE,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    monthly_amount = YuanField(
        label=_("Reduced monthly amount (yuan)"),
        required=False,
        max_digits=8,
        help_text=_("What the member pays each month of the period (a reduction only)."),
    )
    start_month = MonthField(label=_("From (month)"))
    end_month = MonthField(label=_("Until (month)"))
    reason = forms.CharField(
        label=_("Reason (the member's difficulty)"),
        max_length=300,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 3}),
        error_messages={"required": _("Describe the member's difficulty: the committees decide on it.")},
    )

    def __init__(self, *args: Any, members: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", "—")] + [(m.pk, f"{m.name}（{m.org.name}）") for m in members]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start_month"), data.get("end_month")
        if start and end and end < start:
            self.add_error("end_month", _("The period cannot end before it starts."))
        if data.get("kind") == DuesReduction.Kind.REDUCE:
            if data.get("monthly_amount") is None and "monthly_amount" not in self.errors:
                self.add_error("monthly_amount", _("Enter the reduced monthly amount."))
        else:
            data["monthly_amount"] = None
        return data


class DecisionForm(forms.Form):
    approve = forms.TypedChoiceField(
        choices=[("1", _("Approve")), ("0", _("Reject"))], coerce=lambda v: v == "1", widget=forms.HiddenInput
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=200, required=False, widget=forms.TextInput(attrs=_INPUT)
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("approve") is False and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason for rejecting."))
        return data


# --- remittances ----------------------------------------------------------------------------------------


class RemittanceForm(forms.Form):
    """Record dues an organisation passed up to the next level (上缴)."""

    from_org = forms.TypedChoiceField(
        label=_("Remitting organisation"),
        coerce=int,
        widget=forms.Select(attrs=_SELECT),
        error_messages={"required": _("Choose the organisation that remitted.")},
    )
    period_start = MonthField(label=_("From (month)"))
    period_end = MonthField(label=_("Until (month)"))
    amount = YuanField(label=_("Amount remitted (yuan)"), max_digits=14)
    central_amount = YuanField(
        label=_("Of which extra dues for the centre (yuan)"),
        required=False,
        max_digits=14,
        help_text=_(
            "Single extra payments of 1000 yuan or more, passed in full to the central organisation."
        ),
    )
    remitted_on = forms.DateField(
        label=_("Remitted on"),
        widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date, for example 2026-03-05.")},
    )
    reference = forms.CharField(
        label=_("Reference (bank voucher number)"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs=_INPUT),
    )
    note = forms.CharField(
        label=_("Note"), max_length=200, required=False, widget=forms.TextInput(attrs=_INPUT)
    )

    def __init__(self, *args: Any, orgs: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_org"].choices = [("", "—")] + [(o.pk, o.name) for o in orgs]
        self.fields["remitted_on"].initial = timezone.localdate()

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise ValidationError(_("Enter the amount remitted (more than zero)."), code="min_value")
        return amount

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", _("The period cannot end before it starts."))
        central, amount = data.get("central_amount") or Decimal(0), data.get("amount")
        data["central_amount"] = central
        if amount is not None and central > amount:
            self.add_error("central_amount", _("The part for the centre cannot exceed the amount remitted."))
        return data


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs=_INPUT),
        error_messages={"required": _("Say why the remittance is returned.")},
    )


# --- branch settings ------------------------------------------------------------------------------------


class OrgSettingForm(forms.Form):
    """A branch's dues arrangement: members may pay quarterly, with the branch's consent (RULES.md §2)."""

    quarterly_allowed = forms.BooleanField(
        label=_("Members may pay quarterly"), required=False, widget=forms.CheckboxInput(attrs=_CHECK)
    )
    decided_on = forms.DateField(
        label=_("Decided by the branch on"),
        required=False,
        widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date, for example 2026-03-05.")},
    )
    note = forms.CharField(
        label=_("Note (e.g. the meeting that decided it)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs=_INPUT),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("quarterly_allowed") and not data.get("decided_on") and "decided_on" not in self.errors:
            self.add_error(
                "decided_on", _("Quarterly payment needs the branch's consent: enter when it decided.")
            )
        if data.get("decided_on") and data["decided_on"] > timezone.localdate():
            self.add_error("decided_on", _("The decision date cannot be in the future."))
        return data
