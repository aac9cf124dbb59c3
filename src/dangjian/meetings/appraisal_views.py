"""Pages of 谈心谈话, the 组织生活会 and 民主评议党员 (RULES.md §3).

Desktop (namespace ``meetings``): ``life <pk>`` the organization life meeting — its talks, the notes by
member, who has no self-criticism yet, the rectification list (``life_export`` as xlsx); ``talks`` the
branch's talks of a year with the coverage (who has had no talk yet), ``talk_edit`` to correct one,
``talks_export``; ``appraisals`` the year's 民主评议党员 of a branch (open it, self-assessments, the
tally of the secret mutual ratings, the branch's rating) and ``appraisals_export``.
Phone (namespace ``mobile_meetings``): ``appraisal_mine`` — the member's self-assessment and their
rating of each fellow member, and their own final rating once the branch has set it.

Thin: reads through ``meetings.appraisal`` selectors on restricted querysets, writes through its
services, whose refusals are shown next to the field they concern. Objects outside the user's scope
answer 404; the desktop pages are for those holding a role over the branch, members use the phone.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.cache import never_cache
from openpyxl import Workbook

from dangjian.core.scoping import can, is_system_admin, orgs_with
from dangjian.core.spreadsheets import XLSX_CONTENT_TYPE, header_cells, safe_row, workbook_bytes
from dangjian.meetings import appraisal as svc
from dangjian.meetings.models import (
    Appraisal,
    AppraisalRating,
    LifeMeetingNote,
    Meeting,
    MeetingKind,
    MeetingStatus,
    TalkRecord,
)
from dangjian.members.models import Member
from dangjian.members.selectors import bounded_int
from dangjian.orgs.models import Organization
from dangjian.orgs.selectors import top_orgs_for

PAGE_SIZE = 50
RATING_BADGES = {
    AppraisalRating.EXCELLENT: "text-bg-danger",
    AppraisalRating.QUALIFIED: "text-bg-success",
    AppraisalRating.BASICALLY_QUALIFIED: "text-bg-warning",
    AppraisalRating.UNQUALIFIED: "text-bg-dark",
}


# --- helpers --------------------------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def _require_officer(user: Any) -> None:
    if not (is_system_admin(user) or orgs_with(user, "view")):
        raise PermissionDenied(
            _("These pages are for party workers. Members take part in the appraisal on their phone.")
        )


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _pick_org(request: HttpRequest, *, prefer_branch: bool = True) -> Organization:
    """The organisation in ``?org=`` (404 when outside the scope), else the user's first branch (or the
    top of their scope)."""
    raw = request.GET.get("org") or request.POST.get("org") or ""
    if raw.strip():
        org_id = bounded_int(raw, 1, 2**63 - 1)
        if org_id is None:
            raise Http404
        org = get_object_or_404(Organization.objects.restrict(request.user, "view"), pk=org_id)
        if not can(request.user, "view", org):  # a member sees their branch, but not these pages
            raise Http404
        return org
    tops = [o for o in top_orgs_for(request.user) if can(request.user, "view", o)]
    if not tops:
        raise PermissionDenied(_("You do not have a role in any organisation yet."))
    if prefer_branch:
        for top in tops:
            if top.org_type in svc.BRANCH_LIKE:
                return top
    return tops[0]


def _year(request: HttpRequest) -> int:
    today = _today()
    year = bounded_int(request.GET.get("year") or request.POST.get("year"), 1900, today.year)
    return year or today.year


def _years() -> list[int]:
    today = _today()
    first = max(today.year - 6, svc._min_year())
    return list(range(today.year, first - 1, -1))


def _section_context(
    request: HttpRequest, active: str, org: Organization, query: dict[str, Any]
) -> dict[str, Any]:
    """The module's tabs and organisation tree (meetings/_base.html), from the meetings pages."""
    try:
        from dangjian.meetings.views import _page_context
    except ImportError:  # the module's main pages are not installed: no tabs, no tree
        return {"sections": [], "tree": [], "show_tree": False, "org": org}
    return _page_context(request, active, org, {k: str(v) for k, v in query.items()})


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "；".join(m for msgs in exc.message_dict.values() for m in msgs)
        return "；".join(exc.messages)
    return str(exc)


def _xlsx(filename: str, sheets: list[tuple[str, list[str], list[list[Any]]]]) -> FileResponse:
    wb = Workbook()
    wb.remove(wb.active)
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title[:31])
        ws.append(header_cells(ws, headers))
        for row in rows:
            ws.append(safe_row(ws, row))
        ws.freeze_panes = "A2"
    return FileResponse(
        io.BytesIO(workbook_bytes(wb)), as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
    )


def _status_label(member: Member) -> str:
    return member.get_status_display()


# --- forms ----------------------------------------------------------------------------------------------


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Member) -> str:  # type: ignore[override]
        return obj.name


class TalkForm(forms.Form):
    """谈心谈话: who held it, with whom, when and about what."""

    initiator = MemberChoiceField(label=_l("Held by"), queryset=Member.objects.none())
    partner = MemberChoiceField(label=_l("Talked with"), queryset=Member.objects.none())
    date = forms.DateField(label=_l("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    topic = forms.CharField(label=_l("Topic of the talk"), max_length=svc.TOPIC_MAX)
    notes = forms.CharField(
        label=_l("Record of the talk"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("initiator", "partner"):
            self.fields[name].queryset = people
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


def _talk_people(user: Any, org: Organization) -> Any:
    """Who may take part in a talk of ``org``: its current members and the members of the higher
    committees that the user can see."""
    higher = svc.higher_committee_member_ids(org)
    return (
        Member.objects.restrict(user, "view")
        .filter(pk__in=set(svc.current_members(org).values_list("pk", flat=True)) | higher)
        .order_by("name", "pk")
    )


class LifeNoteForm(forms.Form):
    member = MemberChoiceField(label=_l("Member"), queryset=Member.objects.none())
    kind = forms.ChoiceField(label=_l("Kind of note"), choices=LifeMeetingNote.Kind.choices)
    about = MemberChoiceField(
        label=_l("Criticism of"),
        queryset=Member.objects.none(),
        required=False,
        help_text=_l("Only for a criticism of another member."),
    )
    text = forms.CharField(label=_l("What was said"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, participants: list[Member], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        qs = Member.objects.filter(pk__in=[m.pk for m in participants]).order_by("name", "pk")
        self.fields["member"].queryset = qs
        self.fields["about"].queryset = qs
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


# --- 组织生活会 -------------------------------------------------------------------------------------------


def _life_meeting(request: HttpRequest, pk: int) -> Meeting:
    meeting = get_object_or_404(
        Meeting.objects.restrict(request.user, "view").select_related("org"),
        pk=pk,
        kind=MeetingKind.LIFE_MEETING,
    )
    if not can(request.user, "view", meeting.org):
        raise Http404
    return meeting


@login_required
def life(request: HttpRequest, pk: int) -> HttpResponse:
    """组织生活会: talks before it, what each member said, who has no self-criticism, the rectifications."""
    _require_officer(request.user)
    meeting = _life_meeting(request, pk)
    may_add = can(request.user, "add", meeting.org)
    may_change = can(request.user, "change", meeting.org)
    participants = svc.life_participants(meeting)
    note_form = LifeNoteForm(participants=participants, initial={"kind": LifeMeetingNote.Kind.SELF_CRITICISM})
    talk_form = TalkForm(
        people=_talk_people(request.user, meeting.org), initial={"date": min(meeting.date, _today())}
    )
    open_form = ""
    if request.method == "POST":
        action = request.POST.get("action")
        back = reverse("meetings:life", args=[meeting.pk])
        if action == "note":
            if not may_add:
                raise PermissionDenied(_("You may view this but not change it."))
            note_form = LifeNoteForm(request.POST, participants=participants)
            if note_form.is_valid():
                d = note_form.cleaned_data
                try:
                    svc.life_note_add(
                        actor=request.user,
                        meeting=meeting,
                        member=d["member"],
                        kind=d["kind"],
                        text=d["text"],
                        about=d.get("about"),
                    )
                except ValidationError as exc:
                    _apply_errors(note_form, exc)
                else:
                    messages.success(request, _("Note recorded."))
                    return redirect(back + "#notes")
            open_form = "note"
        elif action == "talk":
            if not may_add:
                raise PermissionDenied(_("You may view this but not change it."))
            talk_form = TalkForm(request.POST, people=_talk_people(request.user, meeting.org))
            if talk_form.is_valid():
                d = talk_form.cleaned_data
                try:
                    svc.talk_record(actor=request.user, org=meeting.org, meeting=meeting, **d)
                except ValidationError as exc:
                    _apply_errors(talk_form, exc)
                else:
                    messages.success(request, _("Talk recorded."))
                    return redirect(back + "#talks")
            open_form = "talk"
        elif action == "delete_note":
            if not may_change:
                raise PermissionDenied(_("You may view this but not change it."))
            note = get_object_or_404(
                LifeMeetingNote.objects.restrict(request.user, "change"),
                pk=bounded_int(request.POST.get("note"), 1, 2**63 - 1) or 0,
                meeting=meeting,
            )
            svc.life_note_delete(actor=request.user, note=note, reason=request.POST.get("reason", ""))
            messages.success(request, _("Note deleted."))
            return redirect(back + "#notes")
        else:
            raise Http404
    overview = svc.life_overview(request.user, meeting)
    context = {
        **_section_context(request, "life", meeting.org, {}),
        "show_tree": False,  # the page is about one meeting: no organisation to choose
        "meeting": meeting,
        "org": meeting.org,
        "o": overview,
        "note_form": note_form,
        "talk_form": talk_form,
        "open_form": open_form,
        "may_add": may_add and meeting.status != MeetingStatus.CANCELLED,
        "may_change": may_change,
        "detail_url": _url("meetings:detail", meeting.pk),
        "talks_url": reverse("meetings:talks")
        + "?"
        + urlencode({"org": meeting.org_id, "year": meeting.date.year}),
        "appraisals_url": reverse("meetings:appraisals")
        + "?"
        + urlencode({"org": meeting.org_id, "year": meeting.date.year}),
        "export_url": reverse("meetings:life_export", args=[meeting.pk]),
        "self_done": len(overview.participants) - len(overview.missing_self_criticism),
        "criticism_count": sum(len(g.criticism) for g in overview.groups),
    }
    return render(request, "meetings/life.html", context)


@login_required
def life_export(request: HttpRequest, pk: int) -> FileResponse:
    """The rectification list of the meeting (整改清单) as xlsx."""
    _require_officer(request.user)
    meeting = _life_meeting(request, pk)
    overview = svc.life_overview(request.user, meeting)
    rows = [
        [i, n.member.name, n.text, timezone.localtime(n.recorded_at).replace(tzinfo=None)]
        for i, n in enumerate(overview.rectifications, start=1)
    ]
    missing = [[i, m.name, _status_label(m)] for i, m in enumerate(overview.missing_self_criticism, start=1)]
    return _xlsx(
        f"整改清单-{meeting.org.display_name}-{meeting.date:%Y%m%d}.xlsx",
        [
            (
                _("Rectification list"),
                [_("No."), _("Name"), _("Rectification undertaken"), _("Recorded at")],
                rows,
            ),
            (_("No self-criticism yet"), [_("No."), _("Name"), _("Status")], missing),
        ],
    )


# --- 谈心谈话 -------------------------------------------------------------------------------------------


@login_required
def talks(request: HttpRequest) -> HttpResponse:
    """The talks of a branch (or a subtree) in a year, with who has had none yet (RULES.md §3)."""
    _require_officer(request.user)
    org = _pick_org(request)
    year = _year(request)
    is_branch = org.org_type in svc.BRANCH_LIKE
    may_add = is_branch and can(request.user, "add", org)
    form = TalkForm(people=_talk_people(request.user, org), initial={"date": _today()}) if is_branch else None
    query = {"org": org.pk, "year": year}
    here = reverse("meetings:talks") + "?" + urlencode(query)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add" and is_branch:
            if not may_add:
                raise PermissionDenied(_("You may view this but not change it."))
            form = TalkForm(request.POST, people=_talk_people(request.user, org))
            if form.is_valid():
                try:
                    svc.talk_record(actor=request.user, org=org, **form.cleaned_data)
                except ValidationError as exc:
                    _apply_errors(form, exc)
                else:
                    messages.success(request, _("Talk recorded."))
                    return redirect(here)
        elif action == "delete":
            talk = get_object_or_404(
                TalkRecord.objects.restrict(request.user, "change"),
                pk=bounded_int(request.POST.get("talk"), 1, 2**63 - 1) or 0,
            )
            try:
                svc.talk_delete(actor=request.user, talk=talk, reason=request.POST.get("reason", ""))
            except ValidationError as exc:
                messages.error(request, _error_text(exc))
            else:
                messages.success(request, _("Talk deleted."))
            return redirect(here)
        else:
            raise Http404
    qs = svc.talk_list(request.user, org, year)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    coverage = svc.talk_coverage(org, year) if is_branch else None
    context = {
        "org": org,
        "year": year,
        "years": _years(),
        **_section_context(request, "talks", org, {"year": year}),
        "is_branch": is_branch,
        "page": page,
        "talks": page.object_list,
        "coverage": coverage,
        "form": form,
        "form_open": request.method == "POST",
        "may_add": may_add,
        "may_change": can(request.user, "change", org),
        "export_url": reverse("meetings:talks_export") + "?" + urlencode(query),
        "appraisals_url": reverse("meetings:appraisals") + "?" + urlencode(query),
    }
    return render(request, "meetings/life_talks.html", context)


@login_required
def talk_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a talk recorded with a mistake (audited)."""
    _require_officer(request.user)
    talk = get_object_or_404(talks_qs(request.user, "change"), pk=pk)
    people = _talk_people(request.user, talk.org)
    initial = {f: getattr(talk, f) for f in ("initiator", "partner", "date", "topic", "notes")}
    form = TalkForm(request.POST or None, people=people, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            svc.talk_update(actor=request.user, talk=talk, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Talk corrected."))
            return redirect(
                reverse("meetings:talks") + "?" + urlencode({"org": talk.org_id, "year": talk.date.year})
            )
    back = reverse("meetings:talks") + "?" + urlencode({"org": talk.org_id, "year": talk.date.year})
    return render(request, "meetings/life_talk_form.html", {"talk": talk, "form": form, "back": back})


def talks_qs(user: Any, action: str) -> Any:
    return TalkRecord.objects.restrict(user, action).select_related("org", "initiator", "partner")


@login_required
def talks_export(request: HttpRequest) -> FileResponse:
    _require_officer(request.user)
    org = _pick_org(request)
    year = _year(request)
    rows = [
        [t.date, t.org.display_name, t.initiator.name, t.partner.name, t.topic, t.notes]
        for t in svc.talk_list(request.user, org, year)
    ]
    sheets = [
        (
            _("Talks"),
            [
                _("Date"),
                _("Branch"),
                _("Held by"),
                _("Talked with"),
                _("Topic of the talk"),
                _("Record of the talk"),
            ],
            rows,
        )
    ]
    if org.org_type in svc.BRANCH_LIKE:
        cov = svc.talk_coverage(org, year)
        sheets.append(
            (
                _("Coverage"),
                [_("Name"), _("Status"), _("Talks this year"), _("Last talk")],
                [[r.member.name, _status_label(r.member), r.talks, r.last] for r in cov.rows],
            )
        )
    return _xlsx(f"谈心谈话-{org.display_name}-{year}.xlsx", sheets)


# --- 民主评议党员 ----------------------------------------------------------------------------------------


def _appraisal_meetings(org: Organization, year: int) -> list[Meeting]:
    return list(
        Meeting.objects.filter(
            org=org,
            date__year=year,
            kind__in=(MeetingKind.DEMOCRATIC_APPRAISAL, MeetingKind.LIFE_MEETING),
        )
        .exclude(status=MeetingStatus.CANCELLED)
        .order_by("-date")
    )


@login_required
def appraisals(request: HttpRequest) -> HttpResponse:
    """民主评议党员 of a branch for a year: open it, follow self-assessments and the mutual tally, rate."""
    _require_officer(request.user)
    org = _pick_org(request)
    year = _year(request)
    is_branch = org.org_type in svc.BRANCH_LIKE
    query = {"org": org.pk, "year": year}
    here = reverse("meetings:appraisals") + "?" + urlencode(query)
    may_add = is_branch and can(request.user, "add", org)
    may_change = can(request.user, "change", org)
    row_errors: dict[int, dict[str, str]] = {}
    posted: dict[int, dict[str, str]] = {}
    open_error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "open":
            meeting_id = bounded_int(request.POST.get("meeting"), 1, 2**63 - 1)
            meeting = (
                Meeting.objects.restrict(request.user, "view").filter(pk=meeting_id).first()
                if meeting_id
                else None
            )
            try:
                n = svc.appraisal_open(actor=request.user, org=org, year=year, meeting=meeting)
            except ValidationError as exc:
                open_error = _error_text(exc)
            else:
                if n:
                    messages.success(
                        request,
                        _("Appraisal opened: %(n)s members to appraise. They have been told.") % {"n": n},
                    )
                else:
                    messages.info(
                        request, _("Every member of the branch already has an appraisal for this year.")
                    )
                return redirect(here)
        elif action in ("rate", "self"):
            appraisal = get_object_or_404(
                Appraisal.objects.restrict(request.user, "view").select_related("org", "member"),
                pk=bounded_int(request.POST.get("appraisal"), 1, 2**63 - 1) or 0,
                org=org,
                year=year,
            )
            try:
                if action == "rate":
                    svc.appraisal_rate(
                        actor=request.user,
                        appraisal=appraisal,
                        rating=request.POST.get("rating", ""),
                        notes=request.POST.get("notes", ""),
                    )
                    messages.success(
                        request, _("Rating of %(name)s saved.") % {"name": appraisal.member.name}
                    )
                else:
                    svc.self_assessment_save(
                        actor=request.user, appraisal=appraisal, text=request.POST.get("text", "")
                    )
                    messages.success(
                        request, _("Self-assessment of %(name)s saved.") % {"name": appraisal.member.name}
                    )
            except ValidationError as exc:
                row_errors[appraisal.pk] = {
                    k: "；".join(v)
                    for k, v in (
                        exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
                    ).items()
                }
                posted[appraisal.pk] = {k: request.POST.get(k, "") for k in ("rating", "notes", "text")}
                posted[appraisal.pk]["action"] = action
            else:
                return redirect(here + f"#a{appraisal.pk}")
        else:
            raise Http404
    rows = svc.appraisal_rows(request.user, org, year) if is_branch else []
    for r in rows:
        r.errors = row_errors.get(r.pk, {})  # type: ignore[attr-defined]
        r.posted = posted.get(r.pk, {})  # type: ignore[attr-defined]
        r.badge = RATING_BADGES.get(r.rating, "")  # type: ignore[attr-defined]
        r.tally_cells = [(k, r.tally[k]) for k in svc.RATINGS]  # type: ignore[attr-defined]
    summary = svc.appraisal_summary(org, year)
    branch_lines = svc.appraisal_branch_summaries(request.user, org, year) if not is_branch else []
    for line in branch_lines:
        line["cells"] = [line["counts"][k] for k in svc.RATINGS]
    missing = []
    if is_branch:
        have = {r.member_id for r in rows}
        missing = [m for m in svc.current_members(org) if m.pk not in have]
    context = {
        "org": org,
        "year": year,
        "years": _years(),
        **_section_context(request, "appraisals", org, {"year": year}),
        "is_branch": is_branch,
        "rows": rows,
        "summary": summary,
        "branch_lines": branch_lines,
        "missing": missing,
        "ratings": AppraisalRating.choices,
        "may_add": may_add,
        "may_change": may_change,
        "show_open": may_add and (not rows or bool(missing)),
        "open_error": open_error,
        "meetings": _appraisal_meetings(org, year) if is_branch else [],
        "export_url": reverse("meetings:appraisals_export") + "?" + urlencode(query),
        "talks_url": reverse("meetings:talks") + "?" + urlencode(query),
        "unqualified_hint": svc.UNQUALIFIED_HINT,
        "excellent_note": svc.EXCELLENT_SHARE_NOTE,
        "rule_ref": rows[0].rule_ref if rows else "",
        "mobile_url": _url("mobile_meetings:appraisal_mine"),
    }
    return render(request, "meetings/appraisals.html", context)


@login_required
def appraisals_export(request: HttpRequest) -> FileResponse:
    """The year's appraisal of a branch (or the branch lines of a subtree) as xlsx."""
    _require_officer(request.user)
    org = _pick_org(request)
    year = _year(request)
    # str(): the labels are lazy translations, which openpyxl cannot write (a 500 before the review).
    labels = {k: str(v) for k, v in AppraisalRating.choices}
    if org.org_type in svc.BRANCH_LIKE:
        rows = [
            [
                r.member.name,
                _status_label(r.member),
                r.self_assessment,
                *[r.tally[k] for k in svc.RATINGS],
                labels.get(r.rating, ""),
                r.notes,
                timezone.localtime(r.rated_at).replace(tzinfo=None) if r.rated_at else None,
                r.rule_ref,
            ]
            for r in svc.appraisal_rows(request.user, org, year)
        ]
        headers = [
            _("Name"),
            _("Status"),
            _("Self-assessment"),
            *[_("Mutual: %(rating)s") % {"rating": labels[k]} for k in svc.RATINGS],
            _("Branch's rating"),
            _("Notes"),
            _("Rated at"),
            _("Rule applied"),
        ]
    else:
        lines = svc.appraisal_branch_summaries(request.user, org, year)
        rows = [
            [
                line["name"],
                line["total"],
                *[line["counts"][k] for k in svc.RATINGS],
                line["unrated"],
                line["excellent_percent"],
            ]
            for line in lines
        ]
        headers = [
            _("Branch"),
            _("Members appraised"),
            *[labels[k] for k in svc.RATINGS],
            _("Not rated yet"),
            _("Share rated excellent (percent)"),
        ]
    return _xlsx(f"民主评议党员-{org.display_name}-{year}.xlsx", [(_("Democratic appraisal"), headers, rows)])


# --- the member's phone page ------------------------------------------------------------------------------


@never_cache
@login_required
def appraisal_mine(request: HttpRequest) -> HttpResponse:
    """民主评议党员 on the phone: my self-assessment, my secret rating of each fellow member, my result."""
    year = bounded_int(request.GET.get("year"), 1900, _today().year)
    mine = svc.my_appraisal(request.user, year)
    if mine is None:
        return render(request, "meetings/mobile/appraisal_none.html", {"tab": "branch"})
    here = reverse("mobile_meetings:appraisal_mine") + f"?year={mine.year}"
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "self" and mine.own is not None:
                svc.self_assessment_save(
                    actor=request.user, appraisal=mine.own, text=request.POST.get("text", "")
                )
                messages.success(request, _("Your self-assessment is saved."))
            elif action == "rate":
                pk = bounded_int(request.POST.get("appraisal"), 1, 2**63 - 1)
                target = next((a for a in mine.fellows if a.pk == pk), None)
                if target is None:
                    raise Http404
                svc.mutual_rate(actor=request.user, appraisal=target, rating=request.POST.get("rating", ""))
                messages.success(
                    request, _("Your rating of %(name)s is saved.") % {"name": target.member.name}
                )
                here += f"#a{target.pk}"
            else:
                raise Http404
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
        return redirect(here)
    fellows = [
        {
            "appraisal": a,
            "given": mine.given.get(a.pk, ""),
            "closed": bool(a.rating),
        }
        for a in mine.fellows
    ]
    fellows.sort(key=lambda f: f["closed"])  # those still open to rating first (stable: by name within)
    context = {
        "tab": "branch",
        "mine": mine,
        "own": mine.own,
        "fellows": fellows,
        "rated_count": sum(1 for f in fellows if f["given"]),
        "ratings": AppraisalRating.choices,
        "own_badge": RATING_BADGES.get(mine.own.rating, "") if mine.own else "",
        "may_edit_self": mine.own is not None and not mine.own.rating,
        "years": sorted(
            set(Appraisal.objects.filter(member=mine.member).values_list("year", flat=True)) | {mine.year},
            reverse=True,
        ),
    }
    return render(request, "meetings/mobile/appraisal_mine.html", context)
