"""The phone pages under /m/ for members (my profile, my branch, my secretary) and residents.

A member sees only their own record: ``Member.objects.restrict(user, "view")`` narrowed to the row
linked to the login, so an officer who is also a member gets their own card here, not the branch.
Personal numbers stay masked; a member's role cannot reveal them (core.scoping: no "reveal"), and
that includes the secretary's phone: the only number offered for a call is the branch's published
contact phone (``Organization.contact_phone``), which the branch gives out for exactly that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dangjian.core import notifications, rulebook
from dangjian.core.scoping import Role, is_system_admin, orgs_with, role_assignments
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member
from dangjian.members.selectors import current_member_count
from dangjian.members.views import days_to_anniversary
from dangjian.orgs.models import CommitteePosition, Organization
from dangjian.orgs.selectors import committee_summary, secretary_of

SHELL_VERSION = "1"  # bump when the shell changes in a way the file names do not show (development)

# Files the service worker caches at install: the shell, never a page with personal data.
SHELL_FILES = [
    "vendor/bootstrap/css/bootstrap.min.css",
    "vendor/bootstrap-icons/bootstrap-icons.min.css",
    "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
    "mobile/mobile.css",
    "mobile/mobile.js",
    "mobile/manifest.webmanifest",
    "mobile/icon-192.png",
    "mobile/icon.svg",
]


def _own_member(user: Any) -> Member | None:
    """The login's own register entry, through the scoped queryset (a member sees only themselves)."""
    return Member.objects.restrict(user, "view").filter(user=user).select_related("org", "group").first()


def _no_member_page(request: HttpRequest) -> HttpResponse:
    """Residents (and officers without a register entry): what /m/ will offer them, and no dead links."""
    user = request.user
    assignments = role_assignments(user)
    resident_orgs = [ra.org for ra in assignments if ra.role == Role.RESIDENT]
    manages = is_system_admin(user) or bool(orgs_with(user, "view"))
    return render(
        request,
        "web/mobile/no_member.html",
        {
            "is_resident": bool(resident_orgs) and not manages,
            "community": resident_orgs[0] if resident_orgs else None,
            "manages": manages,
            "tab": None,
        },
    )


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """我的信息: the member's own card."""
    member = _own_member(request.user)
    if member is None:
        return _no_member_page(request)
    today = timezone.localdate()
    return render(
        request,
        "web/mobile/home.html",
        {
            "member": member,
            "age": member.age(today),
            "standing": member.party_standing_years(today),
            "birthday_in": days_to_anniversary(member.join_date, today),
            "is_probationary": member.status == MemberStatus.PROBATIONARY,
            # Unread messages first on the phone (the political-birthday greeting, reminders).
            "notifications": list(notifications.unread(request.user)[:5]),
            "unread": notifications.unread_count(request.user),
            "tab": "home",
        },
    )


def _term_progress(summary: dict[str, Any] | None, today: dt.date) -> int | None:
    if not summary:
        return None
    total = (summary["planned_end"] - summary["start_date"]).days or 1
    done = (today - summary["start_date"]).days
    return max(0, min(100, round(done * 100 / total)))


@never_cache
@login_required
def branch(request: HttpRequest) -> HttpResponse:
    """我的支部: the branch, its committee and its term."""
    member = _own_member(request.user)
    if member is None:
        return redirect("mobile:home")
    org: Organization = member.org
    today = timezone.localdate()
    summary = committee_summary(org, today=today)
    # The secretary first, then deputies and commissioners, in the order of the position list.
    order = {title: i for i, title in enumerate(CommitteePosition.Title.values)}
    positions = sorted(summary["positions"], key=lambda p: order.get(p["title"], 99)) if summary else []
    return render(
        request,
        "web/mobile/branch.html",
        {
            "member": member,
            "org": org,
            "summary": summary,
            "positions": positions,
            "secretary": secretary_of(org),
            "member_count": current_member_count(org),
            "term_progress": _term_progress(summary, today),
            "overdue_days": -summary["days_left"] if summary and summary["days_left"] < 0 else None,
            # The same warning window as the org page's term flag (rules/org_terms.yaml).
            "term_warn": summary is not None
            and summary["days_left"] <= rulebook.rule("org.terms", on=today, org=org)["warn_days_before_end"],
            "tab": "branch",
        },
    )


@never_cache
@login_required
def secretary(request: HttpRequest) -> HttpResponse:
    """我的书记: who leads the branch and how to reach the branch."""
    member = _own_member(request.user)
    if member is None:
        return redirect("mobile:home")
    org: Organization = member.org
    summary = committee_summary(org)
    deputies = [
        p
        for p in (summary["positions"] if summary else [])
        if p["title"] == CommitteePosition.Title.DEPUTY_SECRETARY
    ]
    return render(
        request,
        "web/mobile/secretary.html",
        {
            "member": member,
            "org": org,
            "secretary": secretary_of(org),
            "deputies": deputies,
            "summary": summary,
            "tab": "secretary",
        },
    )


def offline(request: HttpRequest) -> HttpResponse:
    """The page the service worker shows when the phone is offline (no personal data: it is cached)."""
    return render(request, "web/mobile/offline.html", {"tab": None})


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /m/ so that its scope covers the mobile pages.

    The script's text is a template because the shell's URLs come from ``static()`` (hashed names in
    production); browsers only let a worker control pages under the path it is served from.
    """
    offline_url = reverse("mobile:offline")
    shell = [offline_url, *(static(name) for name in SHELL_FILES)]
    # A new cache name whenever a shell URL changes (hashed static names in production), so that an
    # updated worker drops the old files.
    version = hashlib.sha256("\n".join([SHELL_VERSION, *shell]).encode()).hexdigest()[:12]
    response = render(
        request,
        "web/mobile/sw.js",
        {
            # JSON is valid JavaScript; the URLs are ours (static() and reverse()), not user input.
            "shell_json": json.dumps(shell),
            "offline_json": json.dumps(offline_url),
            "cache_json": json.dumps(f"dangjian-m-{version}"),
        },
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response
