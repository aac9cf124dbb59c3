"""Forms of the account pages: password change, role appointments, audit log filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from dangjian.accounts.models import User
from dangjian.core.scoping import APPOINTABLE_ROLES, Role, is_system_admin
from dangjian.orgs.forms import OrgChoiceField, org_choices
from dangjian.web.forms import BootstrapFormMixin, DateInput


class PasswordChangeForm(BootstrapFormMixin, auth_forms.PasswordChangeForm):
    """Django's form (old password, then the new one twice, checked by AUTH_PASSWORD_VALIDATORS)."""


def appointable_roles(user: Any) -> list[tuple[str, Any]]:
    roles = list(APPOINTABLE_ROLES)
    if is_system_admin(user):
        roles.append(Role.ADMIN)
    return [(r.value, r.label) for r in roles]


class AppointForm(BootstrapFormMixin, forms.Form):
    username = forms.CharField(
        label=_("Username"), max_length=150, help_text=_("The login name of the person to appoint.")
    )
    org = OrgChoiceField(label=_("Organisation"), queryset=None)  # type: ignore[arg-type]
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = org_choices(user, "manage_roles")
        self.fields["role"].choices = appointable_roles(user)

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("No active user has the username %(name)s.") % {"name": username})
        return user


class RoleFilterForm(BootstrapFormMixin, forms.Form):
    q = forms.CharField(label=_("Person"), required=False)
    role = forms.ChoiceField(label=_("Role"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", _("All roles")), *Role.choices]
        self.fields["q"].widget.attrs["placeholder"] = _("Username or name")


class AuditFilterForm(BootstrapFormMixin, forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False)
    action = forms.CharField(label=_("Action"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].widget.attrs["placeholder"] = _("Username or name")
        self.fields["action"].widget.attrs["placeholder"] = _("e.g. member.")
        self.fields["action"].widget.attrs["list"] = "audit-actions"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
