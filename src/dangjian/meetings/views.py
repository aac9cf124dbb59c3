"""Pages of organization life (三会一课 and the rest): the meeting list, the month calendar and the year's
plan of a branch or a subtree, planning and editing a meeting, and the meeting page (attendance, leave
requests, minutes, attachments and photos, with the check-in, votes and transcript panels of the other
parts of the module); an organisation's fixed theme day; and the member's phone pages (/m/meetings/).

Thin: reads go through ``meetings.selectors`` (restricted to the user's scope), writes through
``meetings.services``, which decide and refuse; a refusal is shown beside the field it names. A meeting
outside the user's scope answers 404 like a missing one; a role that may see but not change (auditor)
gets the pages without their buttons and 403 on the writes. Members (no desk role) are sent to their
phone pages, which show only the meetings they are expected at.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import ExtractMonth
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dangjian.core import rulebook
from dangjian.core.scoping import can, is_system_admin, orgs_with, path_prefix_q
from dangjian.core.spreadsheets import XLSX_CONTENT_TYPE
from dangjian.meetings import exports, forms, selectors, services, video
from dangjian.meetings.models import (
    AttendanceStatus,
    Attendee,
    LeaveStatus,
    Meeting,
    MeetingAttachment,
    MeetingKind,
    MeetingOrgSetting,
    MeetingStatus,
)
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgType
from dangjian.orgs.selectors import top_orgs_for
from dangjian.web.navigation import is_desk_user

PAGE_SIZE = 30
# One colour per kind, the same on the list, the calendar chips, the plan and the legend.
KIND_COLORS = {
    MeetingKind.GENERAL_MEETING: "#c8161d",
    MeetingKind.COMMITTEE_MEETING: "#e8590c",
    MeetingKind.GROUP_MEETING: "#2b8a3e",
    MeetingKind.PARTY_LECTURE: "#1c7ed6",
    MeetingKind.THEME_DAY: "#ae3ec9",
    MeetingKind.LIFE_MEETING: "#b8860b",
    MeetingKind.DEMOCRATIC_APPRAISAL: "#0c8599",
    MeetingKind.OTHER: "#6c757d",
}
STATUS_BADGES = {
    MeetingStatus.PLANNED: "badge-soft-blue",
    MeetingStatus.HELD: "badge-soft-green",
    MeetingStatus.CANCELLED: "badge-soft-gray",
}
ATTENDANCE_BADGES = {
    AttendanceStatus.PENDING: "badge-soft-gray",
    AttendanceStatus.PRESENT: "badge-soft-green",
    AttendanceStatus.LEAVE: "badge-soft-amber",
    AttendanceStatus.ABSENT: "badge-soft-red",
}
LEAVE_BADGES = {
    LeaveStatus.REQUESTED: "badge-soft-amber",
    LeaveStatus.APPROVED: "badge-soft-green",
    LeaveStatus.REFUSED: "badge-soft-red",
}
PERIOD_LABELS = {"month": _l("monthly"), "quarter": _l("quarterly"), "year": _l("yearly")}
# The section's own tabs; entries of the other parts of the module appear once their pages exist.
SECTIONS = (
    ("list", _l("Meetings"), "meetings:list", "bi-list-ul"),
    ("calendar", _l("Calendar"), "meetings:calendar", "bi-calendar3"),
    ("plan", _l("Yearly plan"), "meetings:plan", "bi-grid-3x3"),
    ("compliance", _l("Compliance"), "meetings:compliance", "bi-clipboard-check"),
    ("appraisals", _l("Democratic appraisal"), "meetings:appraisals", "bi-person-check"),
    ("talks", _l("Heart-to-heart talks"), "meetings:talks", "bi-chat-heart"),
    ("devices", _l("Check-in devices"), "meetings:devices", "bi-upc-scan"),
)


# --- helpers --------------------------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def _int(value: Any, lo: int, hi: int) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if lo <= n <= hi else None


def _url(name: str, *args: Any) -> str | None:
    """The URL of a page of another part of the module, or None while it does not exist yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _video_enabled() -> bool:
    return video.video_enabled()


def _is_officer(user: Any) -> bool:
    return is_system_admin(user) or bool(orgs_with(user, "view"))


def _require_officer(user: Any) -> None:
    if not _is_officer(user):
        raise PermissionDenied(_("These pages are for party workers. Your meetings are on your phone page."))


def _may_plan(user: Any) -> bool:
    return can(user, "add")


def _visible_meeting(request: HttpRequest, pk: int) -> Meeting:
    return get_object_or_404(
        selectors.meetings_for(request.user).select_related(
            "org", "venue", "host", "recorder", "lecturer", "created_by", "minutes_recorded_by"
        ),
        pk=pk,
    )


def _changeable_meeting(request: HttpRequest, pk: int) -> Meeting:
    """The meeting for a write: 404 outside the scope, 403 for a read-only role."""
    meeting = _visible_meeting(request, pk)
    if not can(request.user, "change", meeting.org):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    return meeting


def _pick_org(request: HttpRequest) -> Organization:
    """The organisation in ``?org=`` (404 when outside the scope), else the top of the user's scope."""
    raw = (request.GET.get("org") or "").strip()
    if raw:
        org_id = _int(raw, 1, 2**63 - 1)
        if org_id is None:
            raise Http404
        return get_object_or_404(Organization.objects.restrict(request.user, "view"), pk=org_id)
    tops = top_orgs_for(request.user)
    if not tops:
        raise PermissionDenied(_("You do not have a role in any organisation yet."))
    return tops[0]


def _org_tree(user: Any, selected: Organization | None, query: dict[str, str]) -> list[dict[str, Any]]:
    """The left-hand tree: the user's top organisations, opened down to the selected one (party groups
    left out: choosing their branch shows their meetings too). Two queries however large the subtree."""
    tops = top_orgs_for(user)
    open_paths = {t.path for t in tops}
    step = Organization.steplen
    if selected is not None:
        for top in tops:
            if selected.path.startswith(top.path):
                open_paths |= {selected.path[: i * step] for i in range(top.depth, selected.depth + 1)}
    q = Q(pk__in=[])
    for path in open_paths:
        q |= path_prefix_q("path", path) & Q(depth=len(path) // step + 1)
    children = (
        Organization.objects.restrict(user, "view")
        .filter(q)
        .exclude(org_type=OrgType.GROUP)
        .only("id", "name", "short_name", "path", "depth", "numchild", "org_type")
    )
    by_parent: dict[str, list[Organization]] = {}
    for child in children:
        by_parent.setdefault(child.path[:-step], []).append(child)
    extra = urlencode({k: v for k, v in query.items() if v and k not in ("org", "page")})
    rows: list[dict[str, Any]] = []

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
                "url": f"?org={node.pk}" + (f"&{extra}" if extra else ""),
            }
        )
        for kid in kids:
            walk(kid, level + 1)

    for top in tops:
        walk(top, 0)
    return rows


def _sections(active: str, org: Organization | None) -> list[dict[str, Any]]:
    query = f"?org={org.pk}" if org is not None else ""
    items = []
    for key, label, name, icon in SECTIONS:
        url = _url(name)
        if url is None:
            continue
        items.append({"key": key, "label": label, "url": url + query, "icon": icon, "active": key == active})
    return items


def _page_context(
    request: HttpRequest, active: str, org: Organization | None, query: dict[str, str]
) -> dict[str, Any]:
    tree = _org_tree(request.user, org, query)
    return {
        "section": active,
        "sections": _sections(active, org),
        "org": org,
        "tree": tree,
        "show_tree": len(tree) > 1,
        "can_plan": _may_plan(request.user) and (org is None or can(request.user, "add", org)),
        "kind_colors": [(k, label, KIND_COLORS[k]) for k, label in MeetingKind.choices],
    }


def _with_totals(qs: Any) -> Any:
    """Attendance totals (selectors.with_totals: ``t_expected``, ``t_present`` …) and whether final
    minutes were uploaded, in the list's one query (no query per row)."""
    final = MeetingAttachment.objects.filter(
        meeting=OuterRef("pk"), kind=MeetingAttachment.Kind.FINAL_MINUTES
    )
    return selectors.with_totals(qs).annotate(has_final_minutes=Exists(final))


def _row(m: Meeting) -> dict[str, Any]:
    return {
        "meeting": m,
        "color": KIND_COLORS.get(m.kind, "#6c757d"),
        "badge": STATUS_BADGES.get(m.status, "badge-soft-gray"),
        "has_minutes": bool(m.minutes.strip()) or getattr(m, "has_final_minutes", False),
    }


def _file_response(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


# --- the list -------------------------------------------------------------------------------------------


def _list_params(request: HttpRequest) -> dict[str, str]:
    """The list's filters from the query string, unknown values dropped."""
    get = request.GET
    params = {k: (get.get(k) or "").strip() for k in ("org", "kind", "status", "year", "month", "q")}
    if params["kind"] not in MeetingKind.values:
        params["kind"] = ""
    if params["status"] not in MeetingStatus.values:
        params["status"] = ""
    if _int(params["year"], 1949, 2100) is None:
        params["year"] = ""
    if _int(params["month"], 1, 12) is None:
        params["month"] = ""
    return {k: v for k, v in params.items() if v}


def _filtered(request: HttpRequest, params: dict[str, str], org: Organization | None) -> Any:
    query = {**params}
    if org is not None:
        query["org"] = org
    return selectors.meeting_filter(selectors.meetings_for(request.user), query, actor=request.user)


@login_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    """会议列表: the meetings in the user's scope, filtered by organisation, kind, status, month, topic."""
    user = request.user
    if not _is_officer(user):
        if not is_desk_user(user):
            return redirect("mobile_meetings:list")
        raise PermissionDenied
    params = _list_params(request)
    org = _pick_org(request) if params.get("org") else None
    qs = _with_totals(_filtered(request, params, org)).select_related("org").order_by("-starts_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = _today()
    context = {
        **_page_context(request, "list", org, params),
        "params": params,
        "page": page,
        "rows": [_row(m) for m in page.object_list],
        "kind_choices": MeetingKind.choices,
        "status_choices": MeetingStatus.choices,
        "years": list(range(today.year + 1, today.year - 6, -1)),
        "months": list(range(1, 13)),
        "export_url": reverse("meetings:export") + ("?" + urlencode(params) if params else ""),
        "create_url": reverse("meetings:create") + (f"?org={org.pk}" if org is not None else ""),
        "filtered": any(k != "org" for k in params),
    }
    return render(request, "meetings/list.html", context)


@login_required
def meeting_export(request: HttpRequest) -> HttpResponse:
    """The filtered meeting list as xlsx (one row per meeting, with its attendance counts)."""
    _require_officer(request.user)
    params = _list_params(request)
    org = _pick_org(request) if params.get("org") else None
    qs = _with_totals(_filtered(request, params, org)).select_related("org", "host", "recorder", "lecturer")
    data = exports.meetings_xlsx(qs.order_by("starts_at", "id"), actor=request.user, org=org)
    name = _("meetings") + (f"-{org.display_name}" if org is not None else "") + f"-{_today():%Y%m%d}.xlsx"
    return _file_response(data, name, XLSX_CONTENT_TYPE)


# --- calendar and plan ----------------------------------------------------------------------------------


def _month_arg(request: HttpRequest) -> tuple[int, int]:
    today = _today()
    year = _int(request.GET.get("year"), 1949, 2100) or today.year
    month = _int(request.GET.get("month"), 1, 12) or (today.month if year == today.year else 1)
    return year, month


@login_required
def meeting_calendar(request: HttpRequest) -> HttpResponse:
    """会议日历: a month of one branch or of a whole subtree, a chip per meeting coloured by kind."""
    _require_officer(request.user)
    org = _pick_org(request)
    year, month = _month_arg(request)
    first = dt.date(year, month, 1)
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    start, end = weeks[0][0], weeks[-1][-1]
    meetings = (
        selectors.meetings_for(request.user)
        .filter(org.subtree_q("org__"), date__gte=start, date__lte=end)
        .select_related("org")
        .order_by("starts_at", "id")
    )
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for m in meetings:
        by_day.setdefault(m.date, []).append(_row(m))
    today = _today()
    per_day = 4
    grid = [
        [
            {
                "date": d,
                "in_month": d.month == month,
                "today": d == today,
                "rows": by_day.get(d, [])[:per_day],
                "more": max(0, len(by_day.get(d, [])) - per_day),
            }
            for d in week
        ]
        for week in weeks
    ]
    prev_first = (first - dt.timedelta(days=1)).replace(day=1)
    next_first = (first + dt.timedelta(days=32)).replace(day=1)
    query = {"org": str(org.pk), "year": str(year), "month": str(month)}
    month_meetings = [m for d, rows in by_day.items() if d.month == month for m in rows]
    context = {
        **_page_context(request, "calendar", org, query),
        "year": year,
        "month": month,
        "first": first,
        "weeks": grid,
        "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        "prev": {"year": prev_first.year, "month": prev_first.month},
        "next": {"year": next_first.year, "month": next_first.month},
        "this_month": {"year": today.year, "month": today.month},
        "month_total": len(month_meetings),
        "month_held": sum(1 for r in month_meetings if r["meeting"].status == MeetingStatus.HELD),
        "list_url": reverse("meetings:list") + "?" + urlencode({"org": org.pk, "year": year, "month": month}),
        "plan_url": reverse("meetings:plan") + "?" + urlencode({"org": org.pk, "year": year}),
    }
    return render(request, "meetings/calendar.html", context)


def _periods(org: Organization, year: int, *, own_lectures: bool) -> dict[str, str]:
    """Each kind's least frequency for the organisation in that year (rulebook, RULES.md §3). A
    committee's own party lecture is yearly (its secretary's); a subtree's columns show the branches'."""
    try:
        version = rulebook.rule("meetings", on=dt.date(year, 12, 31), org=org)
    except Exception:  # noqa: BLE001 - the plan still renders before the rule file is there
        return {}
    periods = dict(version["periods"] or {})
    committee = own_lectures and org.org_type in (OrgType.COMMITTEE, OrgType.WORKING_COMMITTEE)
    periods[MeetingKind.PARTY_LECTURE] = version[
        "committee_lecture_period" if committee else "party_lecture_period"
    ]
    return periods


@login_required
def meeting_plan(request: HttpRequest) -> HttpResponse:
    """年度计划: months × kinds of one branch or a subtree, with what is planned and what was held."""
    _require_officer(request.user)
    org = _pick_org(request)
    today = _today()
    year = _int(request.GET.get("year"), 1949, 2100) or today.year
    scoped = selectors.meetings_for(request.user).filter(org.subtree_q("org__"), date__year=year)
    counts: dict[tuple[int, str], dict[str, int]] = {}
    for row in (
        scoped.annotate(m=ExtractMonth("date"))
        .values("m", "kind", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        cell = counts.setdefault((row["m"], row["kind"]), {"planned": 0, "held": 0, "cancelled": 0})
        cell[row["status"]] = cell.get(row["status"], 0) + row["n"]
    # One organisation (a branch): its meetings as chips; a subtree: counts only, linking to the list.
    single = org.org_type in (*BRANCH_TYPES, OrgType.GENERAL_BRANCH, OrgType.GROUP) or org.numchild == 0
    chips: dict[tuple[int, str], list[dict[str, Any]]] = {}
    if single:
        for m in scoped.select_related("org").order_by("starts_at", "id")[:500]:
            chips.setdefault((m.date.month, m.kind), []).append(_row(m))
    periods = _periods(org, year, own_lectures=single)
    kinds = [
        (k, label, KIND_COLORS[k], PERIOD_LABELS.get(periods.get(k, ""), ""))
        for k, label in MeetingKind.choices
    ]
    list_base = reverse("meetings:list")
    rows = []
    for month in range(1, 13):
        cells = []
        for k, _label, _color, _period in kinds:
            c = counts.get((month, k), {})
            cells.append(
                {
                    "kind": k,
                    "planned": c.get(MeetingStatus.PLANNED, 0),
                    "held": c.get(MeetingStatus.HELD, 0),
                    "cancelled": c.get(MeetingStatus.CANCELLED, 0),
                    "chips": chips.get((month, k), []),
                    "url": list_base
                    + "?"
                    + urlencode({"org": org.pk, "kind": k, "year": year, "month": month}),
                }
            )
        rows.append(
            {
                "month": month,
                "current": year == today.year and month == today.month,
                "quarter_start": month % 3 == 1,
                "cells": cells,
            }
        )
    totals = [
        {
            "held": sum(c.get(MeetingStatus.HELD, 0) for (m, kk), c in counts.items() if kk == k),
            "planned": sum(c.get(MeetingStatus.PLANNED, 0) for (m, kk), c in counts.items() if kk == k),
        }
        for k, *_rest in kinds
    ]
    query = {"org": str(org.pk), "year": str(year)}
    setting = MeetingOrgSetting.objects.filter(org=org).first() if org.org_type in BRANCH_TYPES else None
    context = {
        **_page_context(request, "plan", org, query),
        "year": year,
        "years": list(range(today.year + 1, today.year - 6, -1)),
        "kinds": kinds,
        "rows": rows,
        "totals": totals,
        "single": single,
        "setting": setting,
        "settings_url": reverse("meetings:settings", args=[org.pk])
        if org.org_type in (*BRANCH_TYPES, OrgType.GENERAL_BRANCH) and can(request.user, "change", org)
        else None,
        "calendar_url": reverse("meetings:calendar") + "?" + urlencode({"org": org.pk, "year": year}),
    }
    return render(request, "meetings/plan.html", context)


# --- planning and editing -------------------------------------------------------------------------------


def _form_org(request: HttpRequest, data: Any, orgs: Any, kind: str) -> Organization | None:
    """The organisation the form is about (its members fill the host/recorder/lecturer selects): the
    one chosen, else the only one in the user's scope that holds the kind (a secretary's branch)."""
    raw = (data or {}).get("org") if data is not None else None
    raw = raw or request.GET.get("org")
    org_id = _int(raw, 1, 2**63 - 1) if raw else None
    if org_id is not None:
        return orgs.filter(pk=org_id).first()
    if data is not None:
        return None
    fitting = [o for o in orgs[:50] if kind in forms.kinds_for(o)]
    return fitting[0] if len(fitting) == 1 else None


@login_required
def meeting_create(request: HttpRequest) -> HttpResponse:
    """计划会议: kind, organisation, topic, time, place, agenda, host, recorder, lecturer."""
    user = request.user
    if not _may_plan(user):
        raise PermissionDenied(_("You do not have permission to do this here."))
    orgs = forms.active_orgs_for_planning(user)
    data = request.POST if request.method == "POST" else None
    kind = request.GET.get("kind") if request.GET.get("kind") in MeetingKind.values else ""
    kind = kind or MeetingKind.GENERAL_MEETING
    org = _form_org(request, data, orgs, kind)
    video = _video_enabled()
    initial: dict[str, Any] = {"kind": kind}
    if org is not None:
        initial["org"] = org.pk
    if request.GET.get("refresh"):
        # The page re-drawn after the kind or the organisation changed (htmx): keep what was typed.
        initial.update({k: v for k, v in request.GET.items() if k in forms.MeetingForm.base_fields and v})
    form = forms.MeetingForm(data, actor=user, orgs=orgs, org=org, video_enabled=video, initial=initial)
    if data is not None and form.is_valid():
        v = form.cleaned_data
        try:
            meeting = services.meeting_create(
                actor=user, org=v["org"], kind=v["kind"], **form.service_fields()
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error("org", forms.error_text(exc))
        else:
            messages.success(
                request,
                _("The meeting “%(title)s” was planned; %(n)d people are expected and were notified.")
                % {"title": meeting.title, "n": meeting.attendees.filter(expected=True).count()},
            )
            return redirect("meetings:detail", meeting.pk)
    context = {
        "form": form,
        "meeting": None,
        "video_enabled": video,
        "lecture_kind": MeetingKind.PARTY_LECTURE,
        "form_org": org,
    }
    status = 400 if data is not None else 200
    if request.headers.get("HX-Request") == "true":
        return render(request, "meetings/_meeting_form.html", context)
    return render(request, "meetings/form.html", context, status=status)


@login_required
def meeting_edit(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _changeable_meeting(request, pk)
    if meeting.status == MeetingStatus.CANCELLED:
        messages.warning(request, _("A cancelled meeting cannot be changed."))
        return redirect("meetings:detail", meeting.pk)
    data = request.POST if request.method == "POST" else None
    video = _video_enabled()
    form = forms.MeetingForm(
        data,
        actor=request.user,
        orgs=Organization.objects.filter(pk=meeting.org_id),
        org=meeting.org,
        meeting=meeting,
        video_enabled=video,
        initial=forms.meeting_initial(meeting),
    )
    if data is not None and form.is_valid():
        try:
            services.meeting_update(actor=request.user, meeting=meeting, **form.service_fields())
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, forms.error_text(exc))
        else:
            messages.success(request, _("The meeting was saved."))
            return redirect("meetings:detail", meeting.pk)
    context = {
        "form": form,
        "meeting": meeting,
        "video_enabled": video,
        "lecture_kind": MeetingKind.PARTY_LECTURE,
        "form_org": meeting.org,
    }
    return render(request, "meetings/form.html", context, status=400 if data is not None else 200)


@login_required
@require_POST
def meeting_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _changeable_meeting(request, pk)
    form = forms.CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for cancelling the meeting."))
    else:
        try:
            services.meeting_cancel(actor=request.user, meeting=meeting, reason=form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, forms.error_text(exc))
        else:
            messages.success(request, _("The meeting was cancelled; the attendees were told."))
    return redirect("meetings:detail", meeting.pk)


@login_required
@require_POST
def meeting_held(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _changeable_meeting(request, pk)
    try:
        services.meeting_mark_held(actor=request.user, meeting=meeting)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, forms.error_text(exc))
    else:
        messages.success(request, _("The meeting is recorded as held."))
    return redirect("meetings:detail", meeting.pk)


# --- the meeting page -----------------------------------------------------------------------------------


def _attendee_rows(meeting: Meeting) -> list[dict[str, Any]]:
    attendees = meeting.attendees.select_related("member", "member__group").order_by(
        "-expected", "role", "member__name", "id"
    )
    return [
        {
            "a": a,
            "badge": ATTENDANCE_BADGES.get(a.status, "badge-soft-gray"),
            "leave_badge": LEAVE_BADGES.get(a.leave_status, ""),
        }
        for a in attendees
    ]


def _add_candidates(meeting: Meeting, user: Any, q: str = "") -> Any:
    """Members who may be added: current members of the branch (of a group meeting's branch; of a
    committee's subtree) not expected yet, as the user may see them."""
    qs = forms.member_choices(meeting.org, user).exclude(
        pk__in=meeting.attendees.filter(expected=True).values("member_id")
    )
    if q:
        qs = qs.filter(name__contains=q)
    return qs


def _links(meeting: Meeting) -> list[dict[str, Any]]:
    """Links to the pages the other parts of the module give this meeting, once they exist."""
    links = []
    if meeting.kind == MeetingKind.LIFE_MEETING:
        url = _url("meetings:life", meeting.pk)
        if url:
            links.append({"url": url, "label": _("Talks and criticism notes"), "icon": "bi-chat-heart"})
    if meeting.kind == MeetingKind.DEMOCRATIC_APPRAISAL:
        url = _url("meetings:appraisals")
        if url:
            url += "?" + urlencode({"org": meeting.org_id, "year": meeting.date.year})
        else:
            url = _url("meetings:appraisals", meeting.pk)
        if url:
            links.append(
                {"url": url, "label": _("Democratic appraisal of members"), "icon": "bi-person-check"}
            )
    return links


def _detail_context(request: HttpRequest, meeting: Meeting, **extra: Any) -> dict[str, Any]:
    user = request.user
    can_change = can(user, "change", meeting.org)
    rows = _attendee_rows(meeting)
    attachments = list(meeting.attachments.select_related("uploaded_by").order_by("kind", "id"))
    open_meeting = meeting.status != MeetingStatus.CANCELLED
    context = {
        "meeting": meeting,
        "color": KIND_COLORS.get(meeting.kind, "#6c757d"),
        "badge": STATUS_BADGES.get(meeting.status, "badge-soft-gray"),
        "totals": selectors.attendance_totals(meeting),
        "rows": rows,
        "expected_rows": [r for r in rows if r["a"].expected],
        "removed_rows": [r for r in rows if not r["a"].expected],
        "leave_rows": [r for r in rows if r["a"].leave_status],
        "markable": [(s, AttendanceStatus(s).label) for s in forms.MARKABLE],
        "photos": [a for a in attachments if a.kind == MeetingAttachment.Kind.PHOTO],
        "files": [a for a in attachments if a.kind != MeetingAttachment.Kind.PHOTO],
        "can_change": can_change,
        "can_edit": can_change and open_meeting,
        "can_mark_held": can_change
        and meeting.status == MeetingStatus.PLANNED
        and meeting.starts_at <= timezone.now(),
        "can_cancel": can_change and meeting.status == MeetingStatus.PLANNED,
        "is_general": meeting.kind == MeetingKind.GENERAL_MEETING,
        "cancel_form": forms.CancelForm(),
        "add_form": forms.AttendeeAddForm(queryset=_add_candidates(meeting, user)) if can_change else None,
        "attachment_form": forms.AttachmentForm() if can_change else None,
        "links": _links(meeting),
        "minutes_due": meeting.status == MeetingStatus.HELD and not meeting.minutes.strip(),
        "lecturer_shown": meeting.kind == MeetingKind.PARTY_LECTURE,
    }
    context.update(extra)
    return context


@login_required
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """会议详情: facts, attendance, leave requests, minutes, attachments and the other panels."""
    if not _is_officer(request.user) and not is_desk_user(request.user):
        return redirect("mobile_meetings:detail", pk)
    meeting = _visible_meeting(request, pk)
    return render(request, "meetings/detail.html", _detail_context(request, meeting))


@login_required
@require_POST
def attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """Manual marking: one status select per attendee, saved at once (only the changed rows)."""
    meeting = _changeable_meeting(request, pk)
    current = dict(meeting.attendees.filter(expected=True).values_list("member_id", "status"))
    marks: dict[int, str] = {}
    for key, value in request.POST.items():
        if not key.startswith("status_"):
            continue
        member_id = _int(key.removeprefix("status_"), 1, 2**63 - 1)
        if member_id is None or member_id not in current or value not in forms.MARKABLE:
            continue
        if current[member_id] != value:
            marks[member_id] = value
    if not marks:
        messages.info(request, _("Nothing changed."))
    else:
        try:
            n = services.attendance_mark(actor=request.user, meeting=meeting, marks=marks)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, forms.error_text(exc))
        else:
            messages.success(request, _("Attendance saved: %(n)d changed.") % {"n": n})
    return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#attendance")


@login_required
def member_options(request: HttpRequest, pk: int) -> HttpResponse:
    """The members who may be added, as <option>s for the add form (htmx search by name)."""
    meeting = _changeable_meeting(request, pk)
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:50]  # PostgreSQL refuses NUL
    members = list(
        _add_candidates(meeting, request.user, q).select_related("org")[: forms.MEMBER_CHOICES_CAP]
    )
    return render(request, "meetings/_member_options.html", {"members": members, "q": q})


@login_required
@require_POST
def attendee_add(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _changeable_meeting(request, pk)
    form = forms.AttendeeAddForm(request.POST, queryset=_add_candidates(meeting, request.user))
    if not form.is_valid():
        messages.error(request, "；".join(e for errs in form.errors.values() for e in errs))
    else:
        try:
            a = services.attendee_add(
                actor=request.user,
                meeting=meeting,
                member=form.cleaned_data["member"],
                reason=form.cleaned_data["reason"].strip(),
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, forms.error_text(exc))
        else:
            messages.success(request, _("%(name)s was added to the attendees.") % {"name": a.member.name})
    return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#attendance")


def _changeable_attendee(request: HttpRequest, pk: int) -> Attendee:
    attendee = get_object_or_404(
        Attendee.objects.restrict(request.user, "view").select_related("meeting", "meeting__org", "member"),
        pk=pk,
    )
    if not can(request.user, "change", attendee.meeting.org):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    return attendee


@login_required
@require_POST
def attendee_remove(request: HttpRequest, pk: int) -> HttpResponse:
    attendee = _changeable_attendee(request, pk)
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for removing %(name)s.") % {"name": attendee.member.name})
    else:
        try:
            services.attendee_remove(
                actor=request.user, attendee=attendee, reason=form.cleaned_data["reason"]
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, forms.error_text(exc))
        else:
            messages.success(
                request, _("%(name)s is no longer expected at this meeting.") % {"name": attendee.member.name}
            )
    return redirect(reverse("meetings:detail", args=[attendee.meeting_id]) + "#attendance")


@login_required
@require_POST
def leave_decide(request: HttpRequest, pk: int) -> HttpResponse:
    attendee = _changeable_attendee(request, pk)
    form = forms.LeaveDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Approve or refuse the request."))
    else:
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.leave_decide(
                actor=request.user, attendee=attendee, approve=approve, note=form.cleaned_data["note"]
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, forms.error_text(exc))
        else:
            msg = _("Leave of %(name)s approved.") if approve else _("Leave of %(name)s refused.")
            messages.success(request, msg % {"name": attendee.member.name})
    return redirect(reverse("meetings:detail", args=[attendee.meeting_id]) + "#leave")


@login_required
@require_POST
def minutes_save(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _changeable_meeting(request, pk)
    form = forms.MinutesForm(request.POST)
    if "html" not in request.POST or not form.is_valid():
        # Bad input (a NUL character, no minutes field at all) saves nothing: before the review it
        # saved empty minutes over the recorded ones.
        errors = "；".join(e for errs in form.errors.values() for e in errs) if form.is_bound else ""
        messages.error(request, errors or _("Nothing was saved: the minutes were not sent."))
        return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#minutes")
    try:
        services.minutes_save(
            actor=request.user, meeting=meeting, html=forms.minutes_html(form.cleaned_data.get("html", ""))
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, forms.error_text(exc))
    else:
        messages.success(request, _("The minutes were saved."))
    return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#minutes")


@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _changeable_meeting(request, pk)
    form = forms.AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "；".join(e for errs in form.errors.values() for e in errs))
    else:
        try:
            a = services.attachment_add(
                actor=request.user,
                meeting=meeting,
                upload=form.cleaned_data["upload"],
                kind=form.cleaned_data["kind"],
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, forms.error_text(exc))
        else:
            messages.success(request, _("“%(name)s” was uploaded.") % {"name": a.original_name})
    return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#files")


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """A meeting's file through the scope check (uploads are never served from MEDIA_URL)."""
    attachment = get_object_or_404(MeetingAttachment.objects.restrict(request.user, "view"), pk=pk)
    inline = request.GET.get("inline") == "1" and attachment.content_type.startswith("image/")
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )


@login_required
@require_POST
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = get_object_or_404(
        MeetingAttachment.objects.restrict(request.user, "view").select_related("meeting", "meeting__org"),
        pk=pk,
    )
    if not can(request.user, "change", attachment.meeting.org):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    meeting_id = attachment.meeting_id
    name = attachment.original_name
    try:
        services.attachment_delete(actor=request.user, attachment=attachment)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, forms.error_text(exc))
    else:
        messages.success(request, _("“%(name)s” was deleted.") % {"name": name})
    return redirect(reverse("meetings:detail", args=[meeting_id]) + "#files")


@login_required
def attendance_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The meeting's sign-in sheet as xlsx: who was expected, present, on leave or absent."""
    _require_officer(request.user)
    meeting = _visible_meeting(request, pk)
    rows = [r["a"] for r in _attendee_rows(meeting)]
    data = exports.attendance_xlsx(meeting, rows, selectors.attendance_totals(meeting), actor=request.user)
    name = _("attendance") + f"-{meeting.date:%Y%m%d}-{meeting.org.display_name}.xlsx"
    return _file_response(data, name, XLSX_CONTENT_TYPE)


# --- an organisation's arrangements ---------------------------------------------------------------------


@login_required
def org_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """The branch's fixed theme party day (支部工作条例 第十五条)."""
    org = get_object_or_404(Organization.objects.restrict(request.user, "view"), pk=pk)
    if not can(request.user, "change", org):
        raise PermissionDenied(_("You may view this but not change it."))
    current = MeetingOrgSetting.objects.filter(org=org).first()
    data = request.POST if request.method == "POST" else None
    form = forms.SettingForm(data, initial={"theme_day": current.theme_day if current else None})
    if data is not None and form.is_valid():
        try:
            services.meeting_setting_set(
                actor=request.user, org=org, theme_day=form.cleaned_data["theme_day"]
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, forms.error_text(exc))
        else:
            messages.success(request, _("The arrangements of %(org)s were saved.") % {"org": org.name})
            return redirect(reverse("meetings:plan") + f"?org={org.pk}")
    context = {
        **_page_context(request, "plan", org, {"org": str(org.pk)}),
        "form": form,
        "current": current,
    }
    return render(request, "meetings/settings.html", context, status=400 if form.errors else 200)


# --- the phone pages (/m/meetings/) ---------------------------------------------------------------------


def _own_member(user: Any) -> Member | None:
    return Member.objects.restrict(user, "view").filter(user=user).select_related("org", "group").first()


def _my_rows(meetings: Any) -> list[dict[str, Any]]:
    """Rows of my meetings with my own attendance (annotated by selectors.my_meetings)."""
    rows = []
    for m in meetings:
        status = getattr(m, "my_status", "") or ""
        leave = getattr(m, "my_leave_status", "") or ""
        rows.append(
            {
                **_row(m),
                "my_status": status,
                "my_status_label": AttendanceStatus(status).label
                if status in AttendanceStatus.values
                else "",
                "my_leave_status": leave,
            }
        )
    return rows


@never_cache
@login_required
def mobile_list(request: HttpRequest) -> HttpResponse:
    """我的会议: the meetings I am expected at, upcoming first, then the past ones with my attendance."""
    member = _own_member(request.user)
    if member is None:
        return redirect("mobile:home")
    now = timezone.now()
    mine = selectors.my_meetings(request.user)
    # Upcoming: not over yet (a meeting in progress included); past: the rest, newest first.
    not_over = Q(ends_at__gt=now) | Q(ends_at__isnull=True, date__gte=_today())
    upcoming = list(mine.filter(not_over).order_by("starts_at", "id")[:30])
    past = list(mine.exclude(not_over).order_by("-starts_at", "-id")[:40])
    context = {
        "member": member,
        "upcoming": _my_rows(upcoming),
        "past": _my_rows(past),
        "tab": "meetings",
    }
    return render(request, "meetings/mobile/list.html", context)


def _my_meeting(request: HttpRequest, pk: int) -> tuple[Meeting, Attendee | None]:
    meeting = get_object_or_404(
        selectors.my_meetings(request.user).select_related("org", "host", "recorder", "lecturer", "venue"),
        pk=pk,
    )
    attendee = Attendee.objects.filter(meeting=meeting, member__user=request.user).first()
    return meeting, attendee


@never_cache
@login_required
def mobile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of my meetings: the facts, the agenda, my attendance, and asking for leave."""
    member = _own_member(request.user)
    if member is None:
        return redirect("mobile:home")
    return _mobile_detail_page(request, member, pk)


def _mobile_detail_page(request: HttpRequest, member: Member, pk: int, form: Any = None) -> HttpResponse:
    meeting, attendee = _my_meeting(request, pk)
    now = timezone.now()
    ends = meeting.ends_at or meeting.starts_at + dt.timedelta(hours=2)
    may_ask_leave = (
        attendee is not None
        and attendee.expected
        and meeting.status == MeetingStatus.PLANNED
        and attendee.status == AttendanceStatus.PENDING
        and attendee.leave_status in (LeaveStatus.NONE, LeaveStatus.REFUSED)
        and ends > now
    )
    today_meeting = (
        timezone.localtime(meeting.starts_at).date() == _today() and meeting.status != MeetingStatus.CANCELLED
    )
    context = {
        "member": member,
        "meeting": meeting,
        "attendee": attendee,
        "color": KIND_COLORS.get(meeting.kind, "#6c757d"),
        "my_badge": ATTENDANCE_BADGES.get(attendee.status, "badge-soft-gray") if attendee else "",
        "leave_badge": LEAVE_BADGES.get(attendee.leave_status, "") if attendee else "",
        "may_ask_leave": may_ask_leave,
        "started": meeting.starts_at <= now,
        "leave_form": form or forms.ReasonForm(),
        "checkin_hint": today_meeting
        and attendee is not None
        and attendee.expected
        and attendee.status == AttendanceStatus.PENDING,
        "video_url": _url("meetings:video_join", meeting.pk) if meeting.video_room else None,
        "tab": "meetings",
    }
    return render(request, "meetings/mobile/detail.html", context, status=400 if form is not None else 200)


@never_cache
@login_required
@require_POST
def mobile_leave(request: HttpRequest, pk: int) -> HttpResponse:
    """请假: the member asks for leave with a reason; the secretary decides on the meeting page."""
    member = _own_member(request.user)
    if member is None:
        raise Http404
    meeting, attendee = _my_meeting(request, pk)
    form = forms.ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.leave_request(
                actor=request.user, meeting=meeting, member=member, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, forms.error_text(exc))
        else:
            messages.success(request, _("Your leave request was sent to the branch."))
            return redirect("mobile_meetings:detail", meeting.pk)
    return _mobile_detail_page(request, member, pk, form=form)
