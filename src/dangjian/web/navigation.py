"""The left navigation, grouped by the four platforms; only links to pages that exist and that the user may use.

An entry names a URL and the action the user must hold somewhere in the tree (``core.scoping.can``).
A URL that does not resolve yet (its page belongs to a later issue or another app) is skipped, so the
navigation never shows a dead link; a group left without entries is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from dangjian.core.scoping import Action, Role, can, role_assignments

# Roles whose holders work on the desktop site; everyone else (members, residents) uses /m/.
DESK_ROLES = frozenset({Role.ADMIN, Role.ORG_MANAGER, Role.SECRETARY, Role.COMMITTEE_MEMBER, Role.AUDITOR})


@dataclass(frozen=True)
class NavEntry:
    label: Promise | str
    url_name: str
    icon: str
    action: str | None = Action.VIEW  # None: any logged-in user
    exact: bool = False  # active only on the exact URL (not on pages below it)


@dataclass(frozen=True)
class NavGroup:
    label: Promise | str
    icon: str
    entries: tuple[NavEntry, ...] = field(default_factory=tuple)


HOME = NavEntry(_("Home"), "web:home", "bi-house-door", action=None, exact=True)

# The four platforms of the product. Later issues add their entries here; an entry whose URL does not
# exist yet is dropped at render time.
NAVIGATION: tuple[NavGroup, ...] = (
    NavGroup(
        _("Decision platform"),
        "bi-bar-chart-line",
        (
            NavEntry(_("Big screen"), "cockpit:screen", "bi-display"),
            NavEntry(_("Statistics"), "cockpit:statistics", "bi-pie-chart"),
        ),
    ),
    NavGroup(
        _("Party affairs platform"),
        "bi-briefcase",
        (
            NavEntry(_("Organisation tree"), "orgs:tree", "bi-diagram-3"),
            NavEntry(_("Party members"), "members:list", "bi-people"),
            NavEntry(_("Developing members"), "recruitment:list", "bi-person-plus"),
            NavEntry(_("Relation transfers"), "transfers:list", "bi-arrow-left-right"),
            NavEntry(_("Flowing members"), "transfers:flowing", "bi-geo-alt"),
            NavEntry(_("Party dues"), "dues:collection", "bi-cash-coin"),
            NavEntry(_("Dues reports"), "dues:reports", "bi-graph-up-arrow"),
            NavEntry(_("Member import"), "members:import", "bi-file-earmark-arrow-up", action=Action.ADD),
            NavEntry(_("Alerts"), "web:alerts", "bi-bell"),
            NavEntry(_("Rules"), "web:rules", "bi-journal-bookmark"),
            NavEntry(_("Role appointments"), "accounts:roles", "bi-person-badge", action=Action.MANAGE_ROLES),
            NavEntry(_("Audit log"), "accounts:audit", "bi-journal-text", action=Action.AUDIT),
        ),
    ),
    NavGroup(
        _("Branch empowerment platform"),
        "bi-lightning-charge",
        (
            NavEntry(_("Organisation life"), "meetings:list", "bi-calendar3"),
            NavEntry(_("Meeting calendar"), "meetings:calendar", "bi-calendar-week"),
            NavEntry(_("Check-in devices"), "meetings:devices", "bi-cpu", action=Action.ADD),
            NavEntry(_("Points"), "points:list", "bi-award"),
        ),
    ),
    NavGroup(
        _("Party–public service platform"),
        "bi-hand-thumbs-up",
        (
            NavEntry(_("Case handling"), "cases:list", "bi-telephone-inbound"),
            NavEntry(_("Volunteer service"), "service:list", "bi-heart"),
        ),
    ),
)


def _resolve(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def _visible(entry: NavEntry, user: Any) -> bool:
    return entry.action is None or can(user, entry.action)


def _item(entry: NavEntry, url: str, path: str) -> dict[str, Any]:
    active = path == url if entry.exact else path.startswith(url)
    return {
        "label": entry.label,
        "url": url,
        "icon": entry.icon,
        "active": active,
        "url_name": entry.url_name,
    }


def build_navigation(request: HttpRequest) -> dict[str, Any]:
    """Navigation and org context for the logged-in user (template context, see context_processors)."""
    user = request.user
    path = request.path
    groups: list[dict[str, Any]] = []
    for group in NAVIGATION:
        items = []
        for entry in group.entries:
            if not _visible(entry, user):
                continue
            url = _resolve(entry.url_name)
            if url is not None:
                items.append(_item(entry, url, path))
        if items:
            groups.append({"label": group.label, "icon": group.icon, "items": items})
    # Only the most specific match is highlighted (/orgs/ vs /orgs/tree/ style prefixes).
    flat = [i for g in groups for i in g["items"]]
    active = [i for i in flat if i["active"]]
    if len(active) > 1:
        best = max(active, key=lambda i: len(i["url"]))
        for i in active:
            i["active"] = i is best
    home_url = _resolve(HOME.url_name)
    home = _item(HOME, home_url, path) if home_url else None
    return {"nav_home": home, "nav_groups": groups, "org_context": org_context(user)}


def org_context(user: Any) -> list[dict[str, Any]]:
    """The user's roles and orgs for the top bar, most senior first."""
    order = {r.value: i for i, r in enumerate(Role)}
    rows = sorted(role_assignments(user), key=lambda ra: (order.get(ra.role, 99), ra.org.path))
    context = [
        {
            "role": ra.get_role_display(),
            "role_code": ra.role,
            "org": ra.org.short_name or ra.org.name,
            "org_id": ra.org_id,
        }
        for ra in rows
    ]
    if not context and getattr(user, "is_superuser", False):
        context.append({"role": Role.ADMIN.label, "role_code": Role.ADMIN.value, "org": "", "org_id": None})
    return context


def nav_urls(request: HttpRequest) -> list[str]:
    """Every href the navigation shows this user (tests check that each one answers 200)."""
    nav = build_navigation(request)
    urls = [nav["nav_home"]["url"]] if nav["nav_home"] else []
    return urls + [i["url"] for g in nav["nav_groups"] for i in g["items"]]


def is_desk_user(user: Any) -> bool:
    """Whether the user works on the desktop site (otherwise a member or resident: sent to /m/)."""
    if getattr(user, "is_superuser", False):
        return True
    return any(ra.role in DESK_ROLES for ra in role_assignments(user))


def is_mobile_user(user: Any) -> bool:
    """A member or resident without any desk role: their pages are the mobile ones under /m/."""
    roles = {ra.role for ra in role_assignments(user)}
    return not is_desk_user(user) and bool(roles & {Role.MEMBER, Role.RESIDENT})
