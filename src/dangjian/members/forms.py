"""The one validation path for member data: pages, the API and the xlsx import all use MemberForm."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import BLANK_CHOICE_DASH
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core import crypto, rulebook
from dangjian.members.choices import FLOWING_IS_NOT_A_STATUS, REGISTER_STATUS_CHOICES, MemberStatus
from dangjian.members.idnumbers import normalize_digits, parse_id_number
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus, OrgType

PHONE_RE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?)$")  # ASCII digits only


def min_join_age(on: dt.date, org: Any = None) -> tuple[int, str]:
    """The minimum age to join on a date, and the rule version that says so (党章 第一条; 细则 第五条:
    年满十八岁). Joins before the first shipped version are judged by it: the age has not changed."""
    try:
        r = rulebook.rule("recruitment", on=on, org=org)
    except rulebook.RuleNotFound:
        r = rulebook.versions("recruitment")[0]
    return int(r["min_age"]), r.ref


def clean_phone_value(raw: str | None) -> str:
    """A mobile or landline number, normalised (full-width digits, spaces, +86); raises if neither."""
    phone = normalize_digits(raw or "").replace("+86", "")
    if phone and not PHONE_RE.match(phone):
        raise ValidationError(_("Enter an 11-digit mobile number or a landline such as 010-12345678."))
    return phone


def apply_id_info(form: forms.BaseForm, data: dict[str, Any]) -> None:
    """Birth date and gender come from the ID number when left empty, and must agree with it when given
    (the form's ``clean_id_number`` stores the parsed number as ``form._id_info``)."""
    info = getattr(form, "_id_info", None)
    if info is None:
        return
    if data.get("birth_date") and data["birth_date"] != info.birth_date:
        form.add_error(
            "birth_date",
            _("The birth date does not match the ID number (%(date)s).")
            % {"date": info.birth_date.isoformat()},
        )
    data["birth_date"] = data.get("birth_date") or info.birth_date
    if data.get("gender") and data["gender"] != info.gender:
        form.add_error("gender", _("The gender does not match the ID number."))
    data["gender"] = data.get("gender") or info.gender


class StatusChoiceField(forms.TypedChoiceField):
    """A member's status among the register's statuses. "flowing" is answered with where flowing is
    recorded (a flow certificate) rather than with "not a valid choice"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [*BLANK_CHOICE_DASH, *REGISTER_STATUS_CHOICES])
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        if value == MemberStatus.FLOWING:
            raise ValidationError(FLOWING_IS_NOT_A_STATUS, code="flowing")
        super().validate(value)


class MemberForm(forms.ModelForm):
    id_number = forms.CharField(label=_l("ID number"), max_length=30)
    phone = forms.CharField(label=_l("phone"), max_length=30, required=False)
    status = StatusChoiceField(label=capfirst(Member._meta.get_field("status").verbose_name))

    class Meta:
        model = Member
        fields = [
            "name", "gender", "ethnicity", "birth_date", "education", "degree", "occupation", "work_unit",
            "position", "native_place", "address", "latitude", "longitude", "join_date", "full_date",
            "status", "org", "group", "dues_category", "last_contact_on",
        ]  # fmt: skip
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "join_date": forms.DateInput(attrs={"type": "date"}),
            "full_date": forms.DateInput(attrs={"type": "date"}),
            "last_contact_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, actor: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["birth_date"].required = False  # taken from the ID number when empty
        self.fields["gender"].required = False
        orgs = Organization.objects.filter(org_type__in=BRANCH_TYPES, status=OrgStatus.ACTIVE)
        if actor is not None:
            orgs = orgs.restrict(actor, "add")
        self.fields["org"].queryset = orgs
        self.fields["group"].queryset = Organization.objects.filter(org_type=OrgType.GROUP)
        if self.instance.pk:
            self.fields["id_number"].required = False
            self.fields["id_number"].help_text = _l(
                "Leave empty to keep the current number (%(masked)s)."
            ) % {"masked": self.instance.id_number_masked}

    def clean_name(self) -> str:
        name = re.sub(r"\s+", "", self.cleaned_data["name"] or "")
        if not name:
            raise ValidationError(_("The name is required."))
        return name

    def clean_id_number(self) -> str:
        raw = self.cleaned_data.get("id_number") or ""
        if not raw and self.instance.pk:
            return ""
        info = parse_id_number(raw)
        index = crypto.blind_index(info.number, "id_number")
        clash = Member.objects.filter(id_number_index=index)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(
                _("A member with this ID number is already in the register."), code="duplicate"
            )
        self._id_info = info
        return info.number

    def clean_phone(self) -> str:
        return clean_phone_value(self.cleaned_data.get("phone"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        apply_id_info(self, data)
        for field in ("birth_date", "gender"):
            # Both come from the ID number when left empty: a bad ID number is the one error to report.
            if not data.get(field) and field not in self.errors and "id_number" not in self.errors:
                if self.instance.pk and getattr(self.instance, field):
                    data[field] = getattr(self.instance, field)
                else:
                    self.add_error(field, _("This field is required."))
        birth, join, full = data.get("birth_date"), data.get("join_date"), data.get("full_date")
        today = timezone.localdate()
        if join and join > today:
            self.add_error("join_date", _("The joining date cannot be in the future."))
        if birth and join and join <= birth and "join_date" not in self.errors:
            self.add_error("join_date", _("The joining date must be after the birth date."))
        if birth and join and "join_date" not in self.errors:
            age_at_join = join.year - birth.year - ((join.month, join.day) < (birth.month, birth.day))
            minimum, _ref = min_join_age(join)  # national: the age is not a local matter (no query per row)
            if age_at_join < minimum:
                self.add_error(
                    "join_date",
                    _("The member would have joined at %(age)d; the minimum age is %(min)d.")
                    % {"age": age_at_join, "min": minimum},
                )
        if full and full > today:
            self.add_error("full_date", _("The full-membership date cannot be in the future."))
        last_contact = data.get("last_contact_on")
        if last_contact and last_contact > today:
            self.add_error("last_contact_on", _("The date of last contact cannot be in the future."))
        if full and join and full < join:
            self.add_error("full_date", _("The full-membership date cannot be before the joining date."))
        status = data.get("status")
        if status == MemberStatus.PROBATIONARY and full:
            self.add_error("full_date", _("A probationary member has no full-membership date yet."))
        if status == MemberStatus.FULL and not full and "full_date" not in self.errors:
            self.add_error("full_date", _("A full member needs the date of becoming a full member."))
        org, group = data.get("org"), data.get("group")
        if org and group and not (group.path.startswith(org.path) and group.depth == org.depth + 1):
            self.add_error("group", _("The party group must belong to the chosen branch."))
        return data
