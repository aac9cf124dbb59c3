"""Forms of the core pages: a local rule override, ending it, and the alert list's filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.core import rulebook
from dangjian.core.models import Alert
from dangjian.core.selectors import display_value
from dangjian.web.forms import BootstrapFormMixin, DateInput


def _field_for(spec: rulebook.OverridableParam, national: Any) -> forms.Field:
    """A form field for one overridable parameter; left empty, the national value applies."""
    label = spec.label or spec.name
    help_text = _("National value: %(value)s") % {"value": display_value(national)}
    if spec.min is not None and spec.max is not None:
        help_text += " · " + _("allowed %(min)s–%(max)s") % {"min": f"{spec.min:g}", "max": f"{spec.max:g}"}
    elif spec.min is not None:
        help_text += f" · ≥ {spec.min:g}"
    elif spec.max is not None:
        help_text += f" · ≤ {spec.max:g}"
    common: dict[str, Any] = {"label": label, "required": False, "help_text": help_text}
    if spec.type == "int":
        return forms.IntegerField(**common)
    if spec.type == "float":
        return forms.FloatField(**common)
    if spec.type == "bool":
        return forms.NullBooleanField(
            widget=forms.Select(
                choices=[("unknown", _("National value")), ("true", _("Yes")), ("false", _("No"))]
            ),
            **common,
        )
    if spec.type == "choice":
        return forms.ChoiceField(
            choices=[("", _("National value")), *((c, c) for c in spec.choices)], **common
        )
    return forms.CharField(max_length=200, **common)


class RuleOverrideForm(BootstrapFormMixin, forms.Form):
    """Local values of one rule for an organisation; the fields are the rule's overridable parameters.

    The service validates the bounds (with the messages a party worker can act on); the field types
    here only parse what was typed.
    """

    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(
        self,
        *args: Any,
        key: str,
        national: rulebook.RuleVersion,
        current: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.key = key
        self.param_names: list[str] = []
        super().__init__(*args, prefix=f"r-{key.replace('.', '-')}", **kwargs)
        fields: dict[str, forms.Field] = {}
        for spec in national.overridable:
            fields[f"p_{spec.name}"] = _field_for(spec, national.params.get(spec.name))
            self.param_names.append(spec.name)
            if current and spec.name in current:
                self.initial[f"p_{spec.name}"] = current[spec.name]
        # Parameters first, then the date and the reason.
        self.fields = {**fields, **self.fields}
        # BootstrapFormMixin styled the declared fields before these were added: style them too.
        for name in fields:
            widget = self.fields[name].widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
        self.initial.setdefault("effective_from", timezone.localdate())

    def params(self) -> dict[str, Any]:
        """The local values entered (empty fields left out: they take the national value)."""
        values = {}
        for name in self.param_names:
            value = self.cleaned_data.get(f"p_{name}")
            if value is not None and value != "":
                values[name] = value
        return values

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            field = f"p_{key}" if f"p_{key}" in self.fields else key if key in self.fields else None
            for message in messages:
                self.add_error(field, message)

    def param_fields(self) -> list[forms.BoundField]:
        return [self[f"p_{name}"] for name in self.param_names]


class RuleEndForm(BootstrapFormMixin, forms.Form):
    """End an organisation's local version of a rule from a date."""

    effective_from = forms.DateField(label=_("Effective from"), widget=DateInput())
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def __init__(self, *args: Any, key: str, **kwargs: Any) -> None:
        self.key = key
        super().__init__(*args, prefix=f"e-{key.replace('.', '-')}", **kwargs)
        self.initial.setdefault("effective_from", timezone.localdate())


class AlertFilterForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("All")), *Alert.Severity.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[*Alert.Status.choices, ("all", _("All"))],
    )

    def __init__(self, *args: Any, kinds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All")), *kinds]
