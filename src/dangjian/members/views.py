"""Member register pages: the filterable list, the detail page, the create/edit and status forms, and
the member's login (open, reset the password, close).

Thin views: every read goes through ``Member.objects.restrict`` and ``selectors.member_filter`` (the
same filter the API and the xlsx export use), every write through ``members.services`` (which validate
with MemberForm, write the audit row and re-check scope). Out-of-scope lookups answer 404; a role that
may see but not change (auditor, member) gets 403 on writes, and the page hides the buttons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.forms.utils import ErrorDict, ErrorList
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dangjian.accounts.services import login_change_refusal
from dangjian.core.scoping import can, path_prefix_q
from dangjian.members import selectors, services
from dangjian.members.choices import (
    CURRENT_STATUSES,
    REGISTER_STATUS_CHOICES,
    Education,
    Gender,
    MemberStatus,
    StatusEvent,
)
from dangjian.members.forms import MemberForm, StatusChoiceField
from dangjian.members.models import DisciplineKind, Member, MemberDiscipline
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgType
from dangjian.orgs.selectors import top_orgs_for

PAGE_SIZES = (20, 50, 100)

# Bootstrap colour of each status badge: current members stand out, former ones fade.
STATUS_BADGES = {
    MemberStatus.PROBATIONARY: "text-bg-warning",
    MemberStatus.FULL: "text-bg-danger",
    MemberStatus.FLOWING: "text-bg-info",
    MemberStatus.SUSPENDED: "text-bg-dark",
    MemberStatus.LEFT: "text-bg-secondary",
    MemberStatus.DECEASED: "text-bg-secondary",
    MemberStatus.HISTORICAL: "text-bg-light border",
}

# The create/edit form, grouped as on the paper 党员信息采集表.
FORM_SECTIONS = [
    (_l("Basic information"), ["name", "id_number", "gender", "birth_date", "ethnicity", "native_place"]),
    (_l("Party membership"), ["org", "group", "status", "join_date", "full_date", "dues_category"]),
    (
        _l("Education and work"),
        ["education", "degree", "occupation", "work_unit", "position"],
    ),
    (_l("Contact"), ["phone", "address", "latitude", "longitude", "last_contact_on"]),
]


def _optional_url(name: str) -> str | None:
    """The URL of a page another part of the app provides, or None while it does not exist."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def days_to_anniversary(day: dt.date, today: dt.date | None = None) -> int:
    """Days until the next anniversary of ``day`` (0 today): the political birthday is the joining date."""
    today = today or timezone.localdate()
    for year in (today.year, today.year + 1):
        try:
            next_day = day.replace(year=year)
        except ValueError:  # joined on 29 February: celebrated on 28 February in common years
            next_day = day.replace(year=year, day=28)
        if next_day >= today:
            return (next_day - today).days
    return 0  # unreachable: next year's anniversary is always ahead


def _can_add(user: Any) -> bool:
    return can(user, "add", None)


# --- list ------------------------------------------------------------------------------------------


def _filters(request: HttpRequest) -> dict[str, str]:
    """The list filters from the query string, normalised: only set values, ``descendants`` only when off.

    The filter form sends ``filtered=1``: an unticked 含下级 box sends nothing, so "ticked" can only be
    told apart from "first visit" (where the subtree is the default) by that marker.
    """
    get = request.GET
    params: dict[str, str] = {}
    for key in selectors.FILTER_KEYS:
        value = (get.get(key) or "").strip()
        if key == "descendants":
            continue
        if value:
            params[key] = value
    if "descendants" in get:
        if str(get.get("descendants")).lower() in ("false", "0", "no", "off"):
            params["descendants"] = "false"
    elif get.get("filtered"):
        params["descendants"] = "false"
    for key in ("age_min", "age_max", "join_year"):
        if key in params and selectors.bounded_int(params[key], 0, 10**9) is None:
            del params[key]
    return params


def _org_tree(user: Any, visible: Any, selected: Organization | None) -> list[dict[str, Any]]:
    """The left-hand tree: the user's top organisations, opened down to the selected one.

    Only the nodes on the path to the selected organisation are opened, so the tree stays a handful of
    rows however large the subtree is, and is read with two queries.
    """
    tops = top_orgs_for(user)
    if not tops:
        return []
    open_paths = {t.path for t in tops}
    if selected is not None:
        steplen = Organization.steplen
        for top in tops:
            if selected.path.startswith(top.path):
                open_paths |= {selected.path[: i * steplen] for i in range(top.depth, selected.depth + 1)}
    q = Q(pk__in=[])
    for path in open_paths:
        depth = len(path) // Organization.steplen
        q |= path_prefix_q("path", path) & Q(depth=depth + 1)
    children = list(
        visible.filter(q).exclude(org_type=OrgType.GROUP).only("id", "name", "path", "depth", "numchild")
    )
    rows: list[dict[str, Any]] = []
    by_parent: dict[str, list[Organization]] = {}
    for child in children:
        by_parent.setdefault(child.path[: -Organization.steplen], []).append(child)

    def walk(node: Organization, level: int) -> None:
        is_open = node.path in open_paths
        kids = sorted(by_parent.get(node.path, []), key=lambda o: o.path) if is_open else []
        rows.append(
            {
                "org": node,
                "level": level,
                "open": is_open and bool(kids),
                "has_children": node.numchild > 0 and node.org_type not in BRANCH_TYPES,
                "selected": selected is not None and node.pk == selected.pk,
            }
        )
        for kid in kids:
            walk(kid, level + 1)

    for top in tops:
        walk(top, 0)
    return rows


@login_required
def member_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    params = _filters(request)
    visible = Organization.objects.restrict(user, "view")
    selected = None
    if selectors.bounded_int(params.get("org"), 1, 2**62) is not None:
        selected = visible.filter(pk=params["org"]).first()
        if selected is None:  # an org outside the scope is treated as no org at all
            params.pop("org")
    qs = selectors.member_filter(
        Member.objects.restrict(user, "view").select_related("org"), params, visible_orgs=visible
    )
    try:
        per_page = int(request.GET.get("per_page", PAGE_SIZES[0]))
    except ValueError:
        per_page = PAGE_SIZES[0]
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]
    page = Paginator(qs, per_page).get_page(request.GET.get("page"))
    today = timezone.localdate()
    rows = [
        {
            "member": m,
            "age": m.age(today),
            "standing": m.party_standing_years(today),
            "badge": STATUS_BADGES.get(m.status, "text-bg-secondary"),
        }
        for m in page.object_list
    ]
    query = urlencode(params)
    page_query = urlencode({**params, **({"per_page": per_page} if per_page != PAGE_SIZES[0] else {})})
    export_url = _optional_url("members:export")
    import_url = _optional_url("members:import")
    base_query = {k: v for k, v in params.items() if k != "org"}
    tree = _org_tree(user, visible, selected)
    context = {
        "page": page,
        "rows": rows,
        "params": params,
        "descendants": params.get("descendants") != "false",
        "selected_org": selected,
        "tree": tree,
        # One branch and nothing to choose (a secretary): the table gets the whole width.
        "show_tree": len(tree) > 1,
        "only_org": tree[0]["org"] if len(tree) == 1 else None,
        "tree_query": urlencode(base_query),
        "page_query": page_query,
        "page_range": list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        "per_page_links": [(size, "?" + urlencode({**params, "per_page": size})) for size in PAGE_SIZES],
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "status_choices": REGISTER_STATUS_CHOICES,
        "gender_choices": Gender.choices,
        "education_choices": Education.choices,
        "can_add": _can_add(user),
        "import_url": import_url if _can_add(user) else None,
        "export_url": f"{export_url}?{query}" if export_url and query else export_url,
        "export_reveal_url": (
            f"{export_url}?{urlencode({**params, 'reveal': 1})}"
            if export_url and can(user, "reveal")
            else None
        ),
        "filtered": any(k != "org" for k in params),
    }
    return render(request, "members/list.html", context)


# --- detail and reveal -----------------------------------------------------------------------------


def _visible_member(request: HttpRequest, pk: int) -> Member:
    """The member if the user may see them; 404 for missing and forbidden alike."""
    qs = Member.objects.restrict(request.user, "view").select_related("org", "group", "user")
    return get_object_or_404(qs, pk=pk)


def _changeable_member(request: HttpRequest, pk: int) -> Member:
    member = _visible_member(request, pk)
    if not can(request.user, "change", member.org):
        raise PermissionDenied(_("Your role can view this member but not change them."))
    return member


@login_required
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, _visible_member(request, pk))


def _detail_page(request: HttpRequest, member: Member, status: int = 200, **extra: Any) -> HttpResponse:
    today = timezone.localdate()
    history = member.status_changes.select_related("actor").order_by("-date", "-id")
    positions = member.committee_positions.select_related("term__org").order_by(
        "end_date", "-term__start_date"
    )
    can_change = can(request.user, "change", member.org)
    context = {
        "disciplines": member.disciplines.select_related("decided_by").order_by("-decided_on", "-id"),
        "discipline_form": _style(DisciplineForm(member=member)) if can_change else None,
        "member": member,
        "age": member.age(today),
        "standing": member.party_standing_years(today),
        "birthday_in": days_to_anniversary(member.join_date, today),
        "badge": STATUS_BADGES.get(member.status, "text-bg-secondary"),
        # Away as a flowing member: told by an active flow certificate (transfers), not by the status.
        "flow": member.flow_certificates.filter(status="active").select_related("host_org").first(),
        "history": history,
        "positions": positions,
        "can_change": can_change,
        "can_reveal": can(request.user, "reveal", member.org),
        "status_form": StatusChangeForm(member=member),
        "status_events": selectors.status_event_options(member, today) if can_change else [],
        "account": _account_card(request.user, member) if can_change else None,
        **extra,
    }
    return render(request, "members/detail.html", context, status=status)


@login_required
@require_POST
def member_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """HTMX: the unmasked ID or phone number, as a fragment; audited by the service."""
    member = _visible_member(request, pk)
    field = request.POST.get("field", "")
    try:
        value = services.member_reveal(actor=request.user, member=member, field=field)
    except ValidationError:
        return HttpResponse(status=400)
    return render(request, "members/_revealed.html", {"value": value, "field": field})


# --- create and edit -------------------------------------------------------------------------------


def _style(form: forms.BaseForm) -> forms.BaseForm:
    """Bootstrap classes on every widget, and ``is-invalid`` on the fields with errors."""
    errors = form.errors if form.is_bound else {}
    for name, field in form.fields.items():
        widget = field.widget
        if isinstance(field, forms.ModelChoiceField) and field.empty_label is not None:
            field.empty_label = _("Select…")
        elif isinstance(field, forms.ChoiceField) and field.choices and field.choices[0][0] == "":
            field.choices = [("", _("Select…")), *field.choices[1:]]
        if isinstance(widget, forms.DateInput):
            widget.format = "%Y-%m-%d"  # what <input type="date"> expects, whatever the language
        base = "form-select" if isinstance(widget, forms.Select) else "form-control"
        css = base + (" is-invalid" if name in errors else "")
        widget.attrs["class"] = css
    return form


def _narrow_groups(form: MemberForm, user: Any) -> None:
    # The form allows every party group (validation ties the group to the branch); the page lists only
    # those the user can see, so another district's groups never show up in the drop-down.
    form.fields["group"].queryset = Organization.objects.restrict(user, "view").filter(org_type=OrgType.GROUP)


def _with_service_errors(form: MemberForm, error: ValidationError) -> MemberForm:
    """Show exactly the service's validation errors on the bound form (the service validated it)."""
    form.cleaned_data = {}
    errors = ErrorDict()
    for field, messages_ in error.message_dict.items():
        key = field if field in form.fields else "__all__"
        errors.setdefault(key, ErrorList()).extend(messages_)
    form._errors = errors
    return form


def _form_context(form: MemberForm, *, member: Member | None, hide: tuple[str, ...] = ()) -> dict[str, Any]:
    shown = {name for _title, names in FORM_SECTIONS for name in names} - set(hide)
    hidden_errors = [
        f"{form.fields[name].label}: {e}"
        for name, errs in form.errors.items()
        if name != "__all__" and name not in shown
        for e in errs
    ]
    sections = [
        (title, [form[name] for name in names if name in shown and name in form.fields])
        for title, names in FORM_SECTIONS
    ]
    return {"form": form, "sections": sections, "member": member, "hidden_errors": hidden_errors}


@login_required
def member_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _can_add(user):
        raise PermissionDenied(_("Your role cannot add members."))
    if request.method == "POST":
        data = request.POST.dict()
        try:
            member = services.member_create(actor=user, data=data)
        except ValidationError as error:
            form = _with_service_errors(MemberForm(data, actor=user), error)
        else:
            messages.success(request, _("%(name)s was added to the register.") % {"name": member.name})
            return redirect("members:detail", pk=member.pk)
    else:
        initial: dict[str, Any] = {"status": MemberStatus.PROBATIONARY}
        org_id = request.GET.get("org", "")
        if selectors.bounded_int(org_id, 1, 2**62) is not None:
            initial["org"] = int(org_id)
        form = MemberForm(initial=initial, actor=user)
    for name in ("gender", "birth_date"):
        form.fields[name].help_text = _("Taken from the ID number when left empty.")
    _narrow_groups(form, user)
    context = _form_context(_style(form), member=None)
    return render(request, "members/form.html", context)


@login_required
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    member = _changeable_member(request, pk)
    if request.method == "POST":
        data = request.POST.dict()
        data.pop("status", None)  # status changes go through the status form, with a date and reason
        if not data.get("phone"):  # an empty phone box keeps the stored number, like the ID number
            data.pop("phone", None)
        try:
            member = services.member_update(actor=user, member=member, data=data)
        except ValidationError as error:
            member.refresh_from_db()
            form = _with_service_errors(MemberForm(request.POST, instance=member, actor=user), error)
        else:
            messages.success(request, _("The changes to %(name)s were saved.") % {"name": member.name})
            return redirect("members:detail", pk=member.pk)
    else:
        form = MemberForm(instance=member, actor=user)
    if member.phone_masked:
        form.fields["phone"].help_text = _("Leave empty to keep the current number (%(masked)s).") % {
            "masked": member.phone_masked
        }
    _narrow_groups(form, user)
    context = _form_context(_style(form), member=member, hide=("status",))
    return render(request, "members/form.html", context)


# --- status change ---------------------------------------------------------------------------------


class StatusChangeForm(forms.Form):
    """A status change as the branch records it: the new status, from when, and why."""

    status = StatusChoiceField(label=_l("New status"))
    date = forms.DateField(label=_l("Effective date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label=_l("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text=_l("For example the meeting that decided it, or the document number."),
    )

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"date": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", ""),
            *((v, lbl) for v, lbl in REGISTER_STATUS_CHOICES if v != member.status),
        ]

    def clean_date(self) -> dt.date:
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise ValidationError(_("The date cannot be in the future."))
        return date


@login_required
def member_status(request: HttpRequest, pk: int) -> HttpResponse:
    member = _changeable_member(request, pk)
    form = StatusChangeForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_change_status(
                actor=request.user,
                member=member,
                status=form.cleaned_data["status"],
                date=form.cleaned_data["date"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            for field, errs in error.message_dict.items():
                for e in errs:
                    form.add_error(field if field in form.fields else None, e)
        else:
            messages.success(
                request,
                _("The status of %(name)s is now “%(status)s”.")
                % {"name": member.name, "status": member.get_status_display()},
            )
            return redirect("members:detail", pk=member.pk)
    return render(
        request,
        "members/status_form.html",
        {
            "member": member,
            "form": _style(form),
            "badge": STATUS_BADGES.get(member.status),
            "history": member.status_changes.select_related("actor").order_by("-date", "-id"),
        },
    )


# --- status events (状态变更): suspend, restore, remove, death, historical record --------------------

# What each event's page explains, with the article it follows.
EVENT_HELP = {
    StatusEvent.SUSPEND: _l(
        "A member who has lost contact for 6 months or more has their membership suspended (Regulations on "
        "the Education and Management of Party Members, Art. 34). Give the date the member was last reached."
    ),
    StatusEvent.RESTORE: _l(
        "The member becomes a current member again, with the status they had before. The earlier event "
        "stays in the history."
    ),
    StatusEvent.REMOVE: _l(
        "Removal as having left the Party. A suspended member who stays unreachable can be removed 2 years "
        "after the suspension (Regulations on the Education and Management of Party Members, Art. 34)."
    ),
    StatusEvent.DEATH: _l("The member is kept in the register as deceased."),
    StatusEvent.HISTORICAL: _l(
        "The member is kept as a historical record, for example after a relation was transferred out of "
        "the platform."
    ),
}


class StatusEventForm(forms.Form):
    """One status event as the branch records it: from when, why, and for a suspension the last contact."""

    date = forms.DateField(label=_l("Effective date"), widget=forms.DateInput(attrs={"type": "date"}))
    last_contact_on = forms.DateField(
        label=_l("Date of last contact"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label=_l("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text=_l("For example the meeting that decided it, or the document number."),
    )

    def __init__(self, *args: Any, member: Member, event: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"date": timezone.localdate(), "last_contact_on": member.last_contact_on}
        )
        super().__init__(*args, **kwargs)
        if event != StatusEvent.SUSPEND:
            del self.fields["last_contact_on"]
        if event in (StatusEvent.SUSPEND, StatusEvent.DEATH):
            # Both services write a reason of their own when none is given.
            self.fields["reason"].required = False
            self.fields["reason"].help_text = _l("Optional.")

    def clean_date(self) -> dt.date:
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise ValidationError(_("The date cannot be in the future."))
        return date


def _rule_error_text(exc: Exception) -> str:
    """A rule's refusal as one line for the page: the message, then the rule version in brackets."""
    violation = exc.violation  # type: ignore[attr-defined]
    return f"{violation.message}（{violation.rule_ref}）"


@login_required
def member_status_event(request: HttpRequest, pk: int, event: str) -> HttpResponse:
    """One event of the 状态变更 menu: a small form (date, reason); a refused event keeps what was typed."""
    from dangjian.transfers.rules import RuleViolationError

    member = _changeable_member(request, pk)
    options = {o["event"]: o for o in selectors.status_event_options(member)}
    if event not in StatusEvent.values:
        raise Http404
    option = options.get(event)
    form = StatusEventForm(request.POST or None, member=member, event=event)
    status = 200
    if request.method == "POST":
        status = 400
        if option is None:
            form.is_valid()
            form.add_error(
                None,
                _("This change does not apply to a member who is “%(status)s”.")
                % {"status": member.get_status_display()},
            )
        elif form.is_valid():
            data = form.cleaned_data
            try:
                services.member_status_event(
                    actor=request.user,
                    member=member,
                    event=event,
                    date=data["date"],
                    reason=data.get("reason") or "",
                    last_contact_on=data.get("last_contact_on"),
                )
            except RuleViolationError as exc:
                member.refresh_from_db()
                form.add_error(None, _rule_error_text(exc))
            except (ValidationError, PermissionDenied) as error:
                member.refresh_from_db()
                _add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("The status of %(name)s is now “%(status)s”.")
                    % {"name": member.name, "status": member.get_status_display()},
                )
                return redirect("members:detail", pk=member.pk)
    return render(
        request,
        "members/status_event.html",
        {
            "member": member,
            "event": event,
            "title": StatusEvent(event).label,
            "explanation": EVENT_HELP[StatusEvent(event)],
            "option": option,
            "form": _style(form),
            "badge": STATUS_BADGES.get(member.status),
            "history": member.status_changes.select_related("actor").order_by("-date", "-id"),
        },
        status=status,
    )


# --- the member's login (登录账号) ---------------------------------------------------------------------


def _account_card(user: Any, member: Member) -> dict[str, Any]:
    """Which login actions the detail page offers, and why one is missing (shown instead of a button)."""
    login = member.user
    current = member.status in CURRENT_STATUSES
    refusal = login_change_refusal(actor=user, user=login) if login is not None else None
    return {
        "can_open": current and (login is None or not login.is_active) and not refusal,
        "can_reset": login is not None and login.is_active and not refusal,
        "can_close": login is not None and login.is_active and not refusal,
        "note": refusal
        or (
            None
            if current
            else _("Only current members can have a login: this member is “%(status)s”.")
            % {"status": member.get_status_display()}
        ),
    }


class AccountPasswordForm(forms.Form):
    """A new password typed twice; its rules (AUTH_PASSWORD_VALIDATORS) are checked by the service."""

    # Typed values come back on an error page, so nothing has to be typed twice over (never_cache).
    password = forms.CharField(
        label=_l("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_l("Password again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set per request (the validators' texts in the request's language), before any bound field
        # copies the help text.
        self.fields["password"].help_text = password_validators_help_text_html()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data


class AccountOpenForm(AccountPasswordForm):
    username = forms.CharField(
        label=_l("Username"),
        max_length=150,
        help_text=_l(
            "What the member types to log in: letters, digits and @ . + - _ (for example a pinyin name)."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    field_order = ["username", "password", "password2"]


def _account_page(request: HttpRequest, member: Member, form: forms.Form, mode: str) -> HttpResponse:
    return render(
        request,
        "members/account_form.html",
        {"member": member, "form": _style(form), "mode": mode, "badge": STATUS_BADGES.get(member.status)},
        status=400 if form.is_bound and form.errors else 200,
    )


def _add_errors(form: forms.Form, error: ValidationError | PermissionDenied) -> None:
    if isinstance(error, PermissionDenied):
        form.add_error(None, str(error))
        return
    if hasattr(error, "error_dict"):
        for field, errs in error.message_dict.items():
            for e in errs:
                form.add_error(field if field in form.fields else None, e)
    else:
        for e in error.messages:
            form.add_error(None, e)


@never_cache
@login_required
def member_account_open(request: HttpRequest, pk: int) -> HttpResponse:
    """开通账号: a login for the member (or their closed login opened again)."""
    member = _changeable_member(request, pk)
    initial = {"username": member.user.username} if member.user else {}
    form = AccountOpenForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_account_open(
                actor=request.user,
                member=member,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        except (ValidationError, PermissionDenied) as error:
            member.refresh_from_db()
            _add_errors(form, error)
        else:
            messages.success(
                request,
                _("%(name)s can now log in as %(username)s.")
                % {"name": member.name, "username": member.user.username},
            )
            return redirect("members:detail", pk=member.pk)
    return _account_page(request, member, form, "open")


@never_cache
@login_required
def member_account_password(request: HttpRequest, pk: int) -> HttpResponse:
    """重置密码: a new password for the member's login."""
    member = _changeable_member(request, pk)
    form = AccountPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_account_reset_password(
                actor=request.user, member=member, password=form.cleaned_data["password"]
            )
        except (ValidationError, PermissionDenied) as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, _("The password of %(username)s was reset.") % {"username": member.user.username}
            )
            return redirect("members:detail", pk=member.pk)
    return _account_page(request, member, form, "password")


@never_cache
@login_required
def member_account_close(request: HttpRequest, pk: int) -> HttpResponse:
    """停用账号: a confirmation page; the POST closes the login."""
    member = _changeable_member(request, pk)
    form = forms.Form(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            services.member_account_close(actor=request.user, member=member)
        except (ValidationError, PermissionDenied) as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, _("The login %(username)s was closed.") % {"username": member.user.username}
            )
            return redirect("members:detail", pk=member.pk)
    return _account_page(request, member, form, "close")


# --- party discipline (党纪处分) -------------------------------------------------------------------


class DisciplineForm(forms.Form):
    """A disciplinary measure as decided: which, when, by whom, the document and the reason."""

    kind = forms.ChoiceField(label=_l("Measure"), choices=DisciplineKind.choices)
    decided_on = forms.DateField(label=_l("Decided on"), widget=forms.DateInput(attrs={"type": "date"}))
    years = forms.TypedChoiceField(
        label=_l("Probation (years)"),
        choices=[("", "—"), (1, "1"), (2, "2")],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_l("Only for probation within the Party: one or two years."),
    )
    decided_by = forms.ModelChoiceField(label=_l("Decided by"), queryset=Organization.objects.none())
    document_no = forms.CharField(label=_l("Document number"), max_length=100, required=False)
    reason = forms.CharField(label=_l("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"decided_on": timezone.localdate(), "decided_by": member.org_id})
        super().__init__(*args, **kwargs)
        # The member's branch and the committees above it, nearest first.
        steplen = Organization.steplen
        paths = [member.org_path[: i * steplen] for i in range(1, len(member.org_path) // steplen + 1)]
        self.fields["decided_by"].queryset = Organization.objects.filter(path__in=paths).order_by("-depth")


@login_required
@require_POST
def member_discipline(request: HttpRequest, pk: int) -> HttpResponse:
    member = _changeable_member(request, pk)
    form = DisciplineForm(request.POST, member=member)
    if form.is_valid():
        try:
            services.discipline_record(actor=request.user, member=member, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The disciplinary measure was recorded."))
            return redirect(reverse("members:detail", args=[member.pk]) + "#discipline")
    return _detail_page(request, member, status=400, discipline_form=_style(form), discipline_open=True)


@login_required
@require_POST
def member_discipline_restore(request: HttpRequest, pk: int, record: int) -> HttpResponse:
    member = _changeable_member(request, pk)
    discipline = get_object_or_404(MemberDiscipline, pk=record, member=member)
    try:
        date = dt.date.fromisoformat(request.POST.get("date", ""))
        services.discipline_restore_rights(
            actor=request.user, discipline=discipline, date=date, reason=request.POST.get("reason", "")
        )
    except ValueError:
        messages.error(request, _("Enter a date as YYYY-MM-DD."))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    else:
        messages.success(request, _("The rights of %(name)s were restored.") % {"name": member.name})
    return redirect(reverse("members:detail", args=[member.pk]) + "#discipline")
