"""Pages: login, logout, home dashboard."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from dangjian.accounts import services as account_services
from dangjian.core.scoping import can
from dangjian.orgs.views import event_item
from dangjian.web import charts
from dangjian.web.navigation import is_mobile_user
from dangjian.web.selectors import dashboard


def mobile_home_url() -> str | None:
    """The member/resident mobile page, once it exists."""
    try:
        return reverse("mobile:home")
    except NoReverseMatch:
        return None


@never_cache
@csrf_protect
def login_view(request: HttpRequest) -> HttpResponse:
    error = ""
    username = ""
    if request.method == "POST":
        username = request.POST.get("username", "")
        try:
            user = account_services.login_attempt(
                request=request,
                username=username,
                password=request.POST.get("password", ""),
            )
        except account_services.AccountLocked as locked:
            error = locked.message()
        else:
            if user is None:
                error = _("Wrong username or password.")
            else:
                login(request, user)
                target = request.POST.get("next") or request.GET.get("next") or ""
                if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
                    target = ""
                if not target:
                    # Members and residents use the mobile pages; party workers land on the dashboard.
                    target = (mobile_home_url() if is_mobile_user(user) else None) or reverse("web:home")
                return redirect(target)
    elif request.user.is_authenticated:
        return redirect("web:home")
    return render(
        request,
        "web/login.html",
        {
            "error": error,
            "username": username,
            "next": request.POST.get("next") or request.GET.get("next", ""),
            "max_failures": settings.LOGIN_MAX_FAILURES,
            "lock_minutes": settings.LOGIN_LOCK_MINUTES,
        },
        status=400 if error else 200,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have logged out."))
    return redirect("web:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if is_mobile_user(user):
        mobile = mobile_home_url()
        if mobile:
            return redirect(mobile)
    data = dashboard(user)
    stats = data.get("stats")
    chart_specs = []
    if stats:
        by_id = {c["id"]: c for c in charts.member_charts(stats) + charts.org_charts(stats)}
        chart_specs = [by_id["status"], by_id["org_types"], by_id["age"]]
    return render(
        request,
        "web/home.html",
        {
            **data,
            "events": [event_item(e) for e in data.get("events", [])],
            "chart_specs": chart_specs,
            "can_add_members": can(user, "add"),
            "can_manage_roles": can(user, "manage_roles"),
            "can_audit": can(user, "audit"),
        },
    )
