"""Pages: login, home."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.accounts import services as account_services


def login_view(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            user = account_services.login_attempt(
                request=request,
                username=request.POST.get("username", ""),
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
                    target = "web:home"
                return redirect(target)
    return render(
        request,
        "web/login.html",
        {"error": error, "next": request.GET.get("next", "")},
        status=400 if error else 200,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have logged out."))
    return redirect("web:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")
