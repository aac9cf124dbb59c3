"""Forms of the flowing-member pages: they parse and keep what was typed; the services decide.

A service's ``ValidationError`` (a dict keyed by field) is put back on the form with ``add_service_error``,
so the page shows it next to the field and nothing typed is lost.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_INPUT = {"class": "form-control"}
_DATE = {"class": "form-control", "type": "date"}


class FlowIssueForm(forms.Form):
    """Issue a 活动证: a member of a branch in scope; the host is an active branch found by name or code
    anywhere on the platform, or an organisation outside it (name and address)."""

    member = forms.TypedChoiceField(
        label=_("Member"), coerce=int, widget=forms.Select(attrs={"class": "form-select"})
    )
    host_org = forms.TypedChoiceField(
        label=_("Host branch (within the platform)"),
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    outside_host_name = forms.CharField(
        label=_("Host organisation outside the platform"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs=_INPUT),
    )
    place = forms.CharField(
        label=_("Address / place"), max_length=100, required=False, widget=forms.TextInput(attrs=_INPUT)
    )
    fixed_place = forms.BooleanField(
        label=_("At a fixed place"),
        required=False,
        initial=True,
        help_text=_("Six months or more at a fixed place: the relation should be transferred."),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"))
    end = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, members: Any = (), hosts: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", "—")] + [(m.pk, f"{m.name}（{m.org.name}）") for m in members]
        self.fields["host_org"].choices = [("", "—")] + [
            (h["id"], f"{h['name']}（{h['code']}）") for h in hosts
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("host_org") and (data.get("outside_host_name") or "").strip():
            # One host only: the certificate names where the member attends organisation life.
            self.add_error(
                "outside_host_name",
                _("Choose a host branch or name an organisation outside the platform, not both."),
            )
        return data


class FlowRenewForm(forms.Form):
    end = forms.DateField(label=_("New end date"), widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"))


class FlowEndForm(forms.Form):
    date = forms.DateField(label=_("Ended on"), widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"))
    reason = forms.CharField(label=_("Reason"), max_length=200, widget=forms.TextInput(attrs=_INPUT))


class FlowReportForm(forms.Form):
    date = forms.DateField(
        label=_("Date of the report"), widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d")
    )
    summary = forms.CharField(
        label=_("Summary"), widget=forms.Textarea(attrs={"class": "form-control", "rows": 3})
    )


def add_service_error(form: forms.Form, exc: ValidationError | Exception) -> None:
    """Put a service's refusal on the form: by field where the field exists, otherwise on top."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    form.add_error(None, messages)
