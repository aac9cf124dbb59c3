"""The one validation path for opening a recruitment case (pages and the API)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core import crypto
from dangjian.members.forms import apply_id_info, clean_phone_value
from dangjian.members.idnumbers import parse_id_number
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.recruitment.models import OPEN_STATUSES, RecruitmentCase

CASE_FIELDS = [
    "name", "gender", "ethnicity", "birth_date", "education", "occupation", "work_unit", "address", "org",
]  # fmt: skip


class RecruitmentCaseForm(forms.ModelForm):
    id_number = forms.CharField(label=_l("ID number"), max_length=30)
    phone = forms.CharField(label=_l("phone"), max_length=30, required=False)

    class Meta:
        model = RecruitmentCase
        fields = CASE_FIELDS
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, actor: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["birth_date"].required = False  # taken from the ID number when empty
        self.fields["gender"].required = False
        orgs = Organization.objects.filter(org_type__in=BRANCH_TYPES, status=OrgStatus.ACTIVE)
        if actor is not None:
            orgs = orgs.restrict(actor, "add")
        self.fields["org"].queryset = orgs

    def clean_name(self) -> str:
        name = re.sub(r"\s+", "", self.cleaned_data["name"] or "")
        if not name:
            raise ValidationError(_("The name is required."))
        return name

    def clean_id_number(self) -> str:
        info = parse_id_number(self.cleaned_data.get("id_number") or "")
        index = crypto.blind_index(info.number, "id_number")
        if Member.objects.filter(id_number_index=index).exists():
            raise ValidationError(
                _("A member with this ID number is already in the register."), code="duplicate"
            )
        if RecruitmentCase.objects.filter(id_number_index=index, status__in=OPEN_STATUSES).exists():
            raise ValidationError(_("This person already has an open recruitment case."), code="duplicate")
        self._id_info = info
        return info.number

    def clean_phone(self) -> str:
        return clean_phone_value(self.cleaned_data.get("phone"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        apply_id_info(self, data)
        return data
