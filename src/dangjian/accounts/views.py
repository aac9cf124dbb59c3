"""Account pages: password change, API token, role appointments, and the audit log browser."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from dangjian.accounts import services
from dangjian.accounts.audit_display import describe_changes
from dangjian.accounts.forms import AppointForm, AuditFilterForm, PasswordChangeForm, RoleFilterForm
from dangjian.accounts.models import RoleAssignment
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import can
from dangjian.web.forms import add_service_errors

# What each audit action means, for the log browser (unknown codes are shown as they are).
AUDIT_ACTIONS: dict[str, Any] = {
    "account.locked": gettext_lazy("Account locked after failed logins"),
    "account.password_changed": gettext_lazy("Password changed"),
    "token.issued": gettext_lazy("API token issued"),
    "role.appointed": gettext_lazy("Role appointed"),
    "role.revoked": gettext_lazy("Role revoked"),
    "account.opened": gettext_lazy("Login opened"),
    "account.reopened": gettext_lazy("Login opened again"),
    "account.closed": gettext_lazy("Login closed"),
    "account.password_reset": gettext_lazy("Password reset by an officer"),
    "org.founded": gettext_lazy("Organisation founded"),
    "org.updated": gettext_lazy("Organisation details changed"),
    "org.renamed": gettext_lazy("Organisation renamed"),
    "org.upgrade": gettext_lazy("Organisation upgraded"),
    "org.downgrade": gettext_lazy("Organisation downgraded"),
    "org.moved": gettext_lazy("Organisation moved"),
    "org.merged": gettext_lazy("Organisations merged"),
    "org.dissolved": gettext_lazy("Organisation dissolved"),
    "committee.elected": gettext_lazy("Committee elected"),
    "member.created": gettext_lazy("Member added"),
    "member.updated": gettext_lazy("Member changed"),
    "member.status_changed": gettext_lazy("Member status changed"),
    "member.account_opened": gettext_lazy("Member's login opened"),
    "member.account_closed": gettext_lazy("Member's login closed"),
    "member.account_password_reset": gettext_lazy("Member's password reset"),
    "members.moved": gettext_lazy("Members moved"),
    "members.regrouped": gettext_lazy("Members moved to another party group"),
    "members.imported": gettext_lazy("Members imported"),
    "members.exported": gettext_lazy("Members exported"),
    "pii.revealed": gettext_lazy("Personal data revealed"),
    "rule.override_set": gettext_lazy("Local rule set"),
    "rule.override_ended": gettext_lazy("Local rule ended"),
    "alert.dismissed": gettext_lazy("Alert dismissed"),
}
PAGE_SIZE = 50


@login_required
@never_cache
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_change(user=request.user, new_password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, request.user)  # stay logged in with the new password
        messages.success(request, _("Your password was changed."))
        return redirect("web:home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@never_cache
def token(request: HttpRequest) -> HttpResponse:
    """Show whether the user has an API token; POST issues a new one, shown once on that response."""
    new_key = None
    if request.method == "POST":
        new_key = services.token_issue(user=request.user).key
    existing = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/token.html", {"existing": existing, "new_key": new_key})


def _require(user: Any, action: str) -> None:
    if not can(user, action):
        raise PermissionDenied(_("Your role does not include this page."))


@login_required
def roles(request: HttpRequest) -> HttpResponse:
    """Appointments in the org manager's subtree, and the form to appoint someone."""
    user = request.user
    _require(user, "manage_roles")
    form = AppointForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            ra = services.role_appoint(
                actor=user,
                user=form.cleaned_data["username"],
                org=form.cleaned_data["org"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(user)s was appointed %(role)s of %(org)s.")
                % {"user": ra.user.display_name, "role": ra.get_role_display(), "org": ra.org.name},
            )
            return redirect("accounts:roles")

    filters = RoleFilterForm(request.GET or None)
    qs = RoleAssignment.objects.restrict(user, "manage_roles").filter(active=True)
    if filters.is_valid():
        if filters.cleaned_data["role"]:
            qs = qs.filter(role=filters.cleaned_data["role"])
        q = filters.cleaned_data["q"].strip()
        if q:
            qs = qs.filter(Q(user__username__icontains=q) | Q(user__full_name__icontains=q))
    qs = qs.select_related("user", "org", "appointed_by").order_by("org__path", "role", "user__username")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/roles.html",
        {"form": form, "filters": filters, "page": page},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_POST
def role_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, "manage_roles")
    assignment = get_object_or_404(
        RoleAssignment.objects.restrict(user, "manage_roles")
        .filter(active=True)
        .select_related("user", "org"),
        pk=pk,
    )
    if assignment.user_id == user.pk:
        messages.error(request, _("You cannot revoke your own role."))
        return redirect("accounts:roles")
    services.role_revoke(actor=user, assignment=assignment)
    messages.success(
        request,
        _("%(user)s is no longer %(role)s of %(org)s.")
        % {
            "user": assignment.user.display_name,
            "role": assignment.get_role_display(),
            "org": assignment.org.name,
        },
    )
    return redirect("accounts:roles")


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    """The audit log of the user's subtree, newest first, with filters."""
    user = request.user
    _require(user, "audit")
    filters = AuditFilterForm(request.GET or None)
    qs = AuditEntry.objects.restrict(user, "audit")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["actor"].strip():
            name = data["actor"].strip()
            qs = qs.filter(Q(actor__username__icontains=name) | Q(actor__full_name__icontains=name))
        if data["action"].strip():
            qs = qs.filter(action__startswith=data["action"].strip())
        if data["date_from"]:
            qs = qs.filter(time__date__gte=data["date_from"])
        if data["date_to"]:
            qs = qs.filter(time__date__lte=data["date_to"])
    qs = qs.select_related("actor", "org", "content_type").order_by("-time", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.action_label = AUDIT_ACTIONS.get(entry.action, entry.action)
    describe_changes(page.object_list)  # "field: old → new" with labels, not raw JSON
    return render(
        request,
        "core/audit_log.html",
        {"filters": filters, "page": page, "actions": AUDIT_ACTIONS},
    )
