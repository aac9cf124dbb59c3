"""Pages for alerts (预警) within the user's scope, and for the user's own notifications.

Alerts are listed through ``Alert.objects.restrict(user, "view")`` (core.selectors): a secretary sees
the alerts of their branch, an org manager those of their subtree. A matter raised for several
organisations (both sides of a transfer) is one row naming them all (core.alerts.matters), while each
side's secretary sees their own. Dismissing needs ``change`` on the alert's organisation and goes through
``core.services.alert_dismiss`` (audited); it dismisses the matter on every side the user may change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from dangjian.core import notifications, services
from dangjian.core.alerts import expand, matters, siblings
from dangjian.core.forms import AlertFilterForm
from dangjian.core.models import Notification
from dangjian.core.scoping import Action, can
from dangjian.core.selectors import alert_filter, alert_kinds, alerts_for, alerts_in_subtree
from dangjian.orgs.models import Organization

PAGE_SIZE = 50


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@login_required
@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    """预警: every alert in the user's scope (or one organisation's subtree), open ones by default."""
    user = request.user
    org = None
    raw = request.GET.get("org", "")
    if raw:
        if not raw.isdigit():
            raise Http404
        org = get_object_or_404(Organization.objects.restrict(user, "view"), pk=int(raw))
    scope = alerts_in_subtree(user, org) if org is not None else alerts_for(user)
    filters = AlertFilterForm(request.GET or None, kinds=alert_kinds(scope))
    params: dict[str, Any] = filters.cleaned_data if filters.is_valid() else {}
    qs = alert_filter(scope, params).select_related("org", "member", "dismissed_by")
    # One row per matter: the sides of a matter the user sees (both branches of a transfer) together.
    page = Paginator(matters(qs), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = expand(qs, page.object_list)
    may_change: dict[int, bool] = {}
    for matter in page.object_list:
        for alert in matter.alerts:
            if alert.org_id not in may_change:
                may_change[alert.org_id] = can(user, Action.CHANGE, alert.org)
        matter.may_dismiss = matter.is_open and any(may_change[a.org_id] for a in matter.alerts)
    return render(
        request,
        "web/alerts.html",
        {"filters": filters, "page": page, "org": org, "status": params.get("status") or "open"},
    )


@login_required
@require_POST
def alert_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """Dismiss an alert, and the other sides of its matter that the user sees and may change (one row
    on the list). A side the user may only read stays open for its own organisation."""
    user = request.user
    visible = alerts_for(user)
    alert = get_object_or_404(visible, pk=pk)
    reason = request.POST.get("reason", "")
    sides = [alert, *siblings(visible, alert).select_related("org")] if alert.is_open else [alert]
    # The sides the user may change; none: the service refuses the one asked for (403, audited nothing).
    mine = [a for a in sides if can(user, Action.CHANGE, a.org)] or [alert]
    try:
        with transaction.atomic():
            for side in mine:
                services.alert_dismiss(actor=user, alert=side, reason=reason)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The alert was dismissed."))
    return redirect(_safe_next(request, "web:alerts"))


@never_cache
@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """消息: the user's own notifications, unread first."""
    qs = Notification.objects.restrict(request.user).order_by("read_at", "-created_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/notifications.html",
        {"page": page, "unread": notifications.unread_count(request.user)},
    )


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Notification.objects.restrict(request.user), pk=pk)
    notifications.notification_read(user=request.user, notification=note)
    return redirect(_safe_next(request, "web:notifications"))


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications.notification_read(user=request.user)
    return redirect(_safe_next(request, "web:notifications"))
