"""Forms of the organisation pages; each one feeds an ``orgs.services`` function, which has the last word."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dangjian.core import rulebook
from dangjian.core.scoping import path_prefix_q
from dangjian.orgs import rules
from dangjian.orgs.models import CommitteePosition, Organization, OrgType, Sector
from dangjian.orgs.services import ALLOWED_CHILDREN, EDITABLE_FIELDS, MERGE_FAMILIES
from dangjian.web.forms import BootstrapFormMixin, DateInput, today


class OrgChoiceField(forms.ModelChoiceField):
    """An organisation picker that shows the tree by indenting each name under its parent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("empty_label", _("— choose an organisation —"))
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Organization) -> str:
        indent = "\u3000" * max(0, obj.depth - 1)
        return f"{indent}{obj.name}（{obj.code}）"


def org_choices(
    user: Any, action: str, exclude_subtree: Organization | None = None
) -> QuerySet[Organization]:
    """Active organisations the user may act on, in tree order, optionally without one subtree."""
    qs = Organization.objects.restrict(user, action).active().only("id", "name", "code", "depth", "path")
    if exclude_subtree is not None:
        qs = qs.exclude(path_prefix_q("path", exclude_subtree.path))
    return qs


def _reason(required: bool = True, label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Reason / approving document"),
        required=required,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded in the organisation's history, e.g. the number of the approving document."),
    )


class OrgEditForm(BootstrapFormMixin, forms.ModelForm):
    reason = _reason(required=False, label=_("Note"))

    class Meta:
        model = Organization
        fields = list(EDITABLE_FIELDS)
        widgets = {"founded_on": DateInput()}


class RenameForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("New name"), max_length=100)
    short_name = forms.CharField(label=_("New short name"), max_length=50, required=False)
    date = forms.DateField(label=_("Effective date"), initial=today, widget=DateInput())
    reason = _reason()


class ChangeTypeForm(BootstrapFormMixin, forms.Form):
    org_type = forms.ChoiceField(label=_("New type"))
    date = forms.DateField(label=_("Effective date"), initial=today, widget=DateInput())
    reason = _reason()

    def __init__(self, *args: Any, org: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent = Organization.objects.get_parent(org)
        allowed = ALLOWED_CHILDREN[OrgType(parent.org_type)] if parent else set(OrgType)
        self.fields["org_type"].choices = [
            (value, label) for value, label in OrgType.choices if value != org.org_type and value in allowed
        ]


class MoveForm(BootstrapFormMixin, forms.Form):
    new_parent = OrgChoiceField(label=_("New parent organisation"), queryset=Organization.objects.none())
    date = forms.DateField(label=_("Effective date"), initial=today, widget=DateInput())
    reason = _reason()

    def __init__(self, *args: Any, org: Organization, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_parent"].queryset = org_choices(user, "manage_org", exclude_subtree=org).filter(
            org_type__in=[t for t, allowed in ALLOWED_CHILDREN.items() if org.org_type in allowed]
        )


class MergeForm(BootstrapFormMixin, forms.Form):
    target = OrgChoiceField(label=_("Merge into"), queryset=Organization.objects.none())
    date = forms.DateField(label=_("Effective date"), initial=today, widget=DateInput())
    reason = _reason()
    confirm = forms.BooleanField(
        label=_("I understand that the members and sub-organisations move and this organisation closes.")
    )

    def __init__(self, *args: Any, org: Organization, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Same family only (orgs.services._merge_target_error has the last word): a branch into a
        # branch, a committee into a committee, a party group into another group of its own branch.
        qs = org_choices(user, "manage_org", exclude_subtree=org)
        qs = qs.filter(org_type__in=MERGE_FAMILIES[OrgType(org.org_type)])
        if org.org_type == OrgType.GROUP:
            branch_path = org.path[: -Organization.steplen]
            qs = qs.filter(path_prefix_q("path", branch_path), depth=org.depth)
        self.fields["target"].queryset = qs


class DissolveForm(BootstrapFormMixin, forms.Form):
    date = forms.DateField(label=_("Dissolved on"), initial=today, widget=DateInput())
    reason = _reason()
    confirm = forms.BooleanField(label=_("I confirm that this organisation is dissolved."))


class FoundForm(BootstrapFormMixin, forms.Form):
    org_type = forms.ChoiceField(label=_("Type"))
    code = forms.CharField(label=_("Code"), max_length=32)
    name = forms.CharField(label=pgettext_lazy("organisation", "Name"), max_length=100)
    short_name = forms.CharField(label=_("Short name"), max_length=50, required=False)
    sector = forms.ChoiceField(label=_("Sector"), choices=Sector.choices)
    date = forms.DateField(label=_("Founding date"), initial=today, widget=DateInput())
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    contact_name = forms.CharField(label=_("Contact person"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=30, required=False)
    reason = _reason(required=False)

    def __init__(self, *args: Any, parent: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_CHILDREN[OrgType(parent.org_type)]
        self.fields["org_type"].choices = [(v, label) for v, label in OrgType.choices if v in allowed]
        self.fields["sector"].initial = parent.sector


# The positions offered one by one on the election form; further committee members are a multi-select.
SINGLE_POSITIONS = [
    CommitteePosition.Title.SECRETARY,
    CommitteePosition.Title.DEPUTY_SECRETARY,
    CommitteePosition.Title.ORGANIZATION,
    CommitteePosition.Title.PUBLICITY,
    CommitteePosition.Title.DISCIPLINE,
    CommitteePosition.Title.YOUTH,
    CommitteePosition.Title.WOMEN,
]


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.id_number_masked}）" if getattr(obj, "id_number_masked", "") else obj.name


class MembersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.name


class CommitteeForm(BootstrapFormMixin, forms.Form):
    """Record a committee election (换届): start date, term length and who holds which position."""

    start_date = forms.DateField(label=_("Elected on"), initial=today, widget=DateInput())
    # The bounds are checked in clean() against the rule in force on the election date.
    term_years = forms.IntegerField(label=_("Term (years)"), min_value=1)

    def __init__(self, *args: Any, org: Organization, user: Any, **kwargs: Any) -> None:
        from dangjian.members.choices import CURRENT_STATUSES
        from dangjian.members.models import Member

        super().__init__(*args, **kwargs)
        self.org = org
        years, ref = rules.term_years(org.sector, org=org)
        terms = rulebook.rule("org.terms", org=org)
        self.fields["term_years"].initial = years
        self.fields["term_years"].widget.attrs.update({"min": terms["min_years"], "max": terms["max_years"]})
        self.fields["term_years"].help_text = _(
            "Default for this sector: %(n)d years; %(min)d to %(max)d years allowed (%(rule)s)."
        ) % {"n": years, "min": terms["min_years"], "max": terms["max_years"], "rule": rules.rule_label(ref)}
        members = (
            Member.objects.restrict(user, "view")
            .filter(path_prefix_q("org_path", org.path), status__in=CURRENT_STATUSES)
            .only("id", "name", "id_number_masked")
            .order_by("name")
        )
        for title in SINGLE_POSITIONS:
            self.fields[f"pos_{title.value}"] = MemberChoiceField(
                label=title.label,
                queryset=members,
                required=title == CommitteePosition.Title.SECRETARY,
                empty_label=_("— none —"),
            )
        self.fields["committee_members"] = MembersChoiceField(
            label=_("Other committee members"),
            queryset=members,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
        self.fields["notes"] = forms.CharField(
            label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
        )
        # The Bootstrap classes are set in the mixin's __init__, before these fields existed.
        for name in [f"pos_{t.value}" for t in SINGLE_POSITIONS]:
            self.fields[name].widget.attrs["class"] = "form-select"
        self.fields["committee_members"].widget.attrs["class"] = "form-check-input"
        self.fields["notes"].widget.attrs["class"] = "form-control"
        self._prefill_from_current_term(org)

    def _prefill_from_current_term(self, org: Organization) -> None:
        """Start from the outgoing committee: most re-elections keep most of its people."""
        from dangjian.orgs.selectors import current_term

        term = current_term(org)
        if term is None:
            return
        others = []
        for position in term.positions.all():
            if position.end_date is not None:
                continue
            if position.title == CommitteePosition.Title.MEMBER:
                others.append(position.member_id)
            elif f"pos_{position.title}" in self.fields:
                self.fields[f"pos_{position.title}"].initial = position.member_id
        self.fields["committee_members"].initial = others

    def positions(self) -> list[tuple[str, Any]]:
        result: list[tuple[str, Any]] = []
        for title in SINGLE_POSITIONS:
            member = self.cleaned_data.get(f"pos_{title.value}")
            if member is not None:
                result.append((title.value, member))
        for member in self.cleaned_data.get("committee_members") or []:
            result.append((CommitteePosition.Title.MEMBER.value, member))
        return result

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, years = data.get("start_date"), data.get("term_years")
        if start is not None:
            if start > today():
                self.add_error("start_date", _("The election date cannot be in the future."))
            else:
                try:
                    terms = rulebook.rule("org.terms", on=start, org=self.org)
                except rulebook.RuleNotFound:
                    self.add_error(
                        "start_date",
                        _("No rule on committee terms is recorded for that date; check the date."),
                    )
                else:
                    # 党章 第三十一条: committees of grassroots organisations serve 3 to 5 years.
                    if years is not None and not terms["min_years"] <= years <= terms["max_years"]:
                        self.add_error(
                            "term_years",
                            _("A term lasts between %(min)d and %(max)d years.")
                            % {"min": terms["min_years"], "max": terms["max_years"]},
                        )
        seen: dict[int, str] = {}
        for title in SINGLE_POSITIONS:
            member = data.get(f"pos_{title.value}")
            if member is None:
                continue
            if member.pk in seen:
                self.add_error(
                    f"pos_{title.value}",
                    _("%(name)s already holds the position %(title)s.")
                    % {"name": member.name, "title": seen[member.pk]},
                )
            seen[member.pk] = str(title.label)
        for member in data.get("committee_members") or []:
            if member.pk in seen:
                self.add_error(
                    "committee_members",
                    _("%(name)s already holds the position %(title)s.")
                    % {"name": member.name, "title": seen[member.pk]},
                )
        return data
