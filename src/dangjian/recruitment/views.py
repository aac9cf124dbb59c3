"""Pages of developing members: worklists and funnel, a case's timeline with the next allowed steps and
their forms, opening a case, and the 发展党员纪实表 export.

Thin views: reads through ``selectors`` (scoped with ``restrict``), writes through ``services``. A step
refused by a rule re-renders the case page with the rule, its article and the date the step becomes
allowed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.core.scoping import can
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member
from dangjian.orgs.models import Organization, OrgType
from dangjian.recruitment import exports, rules, selectors, services, steps
from dangjian.recruitment.forms import RecruitmentCaseForm
from dangjian.recruitment.models import AttachmentKind, CaseAttachment, CaseStatus, RecruitmentCase

STATUS_BADGES = {
    CaseStatus.ACTIVE: "text-bg-primary",
    CaseStatus.ADMITTED: "text-bg-warning",
    CaseStatus.FULL: "text-bg-danger",
    CaseStatus.STOPPED: "text-bg-secondary",
    CaseStatus.CANCELLED: "text-bg-dark",
}
WORKLISTS = {"due_this_month": _("Due this month"), "overdue": _("Overdue")}


def _style(form: django_forms.BaseForm) -> django_forms.BaseForm:
    """Bootstrap classes on every widget, ``is-invalid`` on the fields with errors."""
    errors = form.errors if form.is_bound else {}
    for name, field in form.fields.items():
        widget = field.widget
        if isinstance(widget, django_forms.DateInput):
            widget.format = "%Y-%m-%d"
        base = "form-select" if isinstance(widget, django_forms.Select) else "form-control"
        widget.attrs["class"] = base + (" is-invalid" if name in errors else "")
    return form


def _visible_case(request: HttpRequest, pk: int) -> RecruitmentCase:
    return get_object_or_404(selectors.cases_for(request.user), pk=pk)


# --- list --------------------------------------------------------------------------------------------


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    params = {
        k: v for k in ("org", "stage", "status", "q", "worklist") if (v := (request.GET.get(k) or "").strip())
    }
    if params.get("worklist") not in (None, *WORKLISTS):
        params.pop("worklist")
    if params.get("stage") and params["stage"] not in {"1", "2", "3", "4", "5"}:
        params.pop("stage")
    if params.get("status") and params["status"] not in CaseStatus.values:
        params.pop("status")
    visible = selectors.visible_orgs(user)
    scoped = selectors.cases_for(user)
    qs = selectors.case_filter(scoped, params, visible_orgs=visible)
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    base = {k: v for k, v in params.items() if k not in ("stage", "worklist")}
    counts = selectors.stage_counts(selectors.case_filter(scoped, base, visible_orgs=visible))
    tabs = [
        {
            "label": _("All open"),
            "url": "?" + urlencode(base),
            "count": sum(counts.values()),
            "active": "stage" not in params and "worklist" not in params,
        }
    ]
    tabs += [
        {
            "label": steps.STAGE_TITLES[n],
            "url": "?" + urlencode({**base, "stage": n}),
            "count": counts[n],
            "active": params.get("stage") == str(n),
        }
        for n in range(1, 6)
    ]
    worklists = [
        {
            "label": label,
            "url": "?" + urlencode({**base, "worklist": key}),
            "count": selectors.worklist_filter(
                selectors.case_filter(scoped, base, visible_orgs=visible), key
            ).count(),
            "active": params.get("worklist") == key,
            "key": key,
        }
        for key, label in WORKLISTS.items()
    ]
    funnel = selectors.funnel(selectors.case_filter(scoped, base, visible_orgs=visible), year)
    context = {
        "page": page,
        "rows": [
            {
                "case": c,
                "badge": STATUS_BADGES.get(c.status, "text-bg-secondary"),
                "stage": steps.STAGE_TITLES[c.stage],
            }
            for c in page.object_list
        ],
        "params": params,
        "tabs": tabs,
        "worklists": worklists,
        "funnel": funnel,
        "chart_specs": [
            {
                "id": "funnel",
                "kind": "hbar",
                "title": "",
                "items": [{"name": str(f["label"]), "value": f["count"]} for f in funnel],
            }
        ],
        "funnel_year": year,
        "years": list(range(today.year, today.year - 6, -1)),
        "status_choices": CaseStatus.choices,
        "orgs": visible.filter(org_type__in=(OrgType.BRANCH, OrgType.JOINT_BRANCH)).only("id", "name")[:300],
        "page_query": urlencode(params),
        "can_add": can(user, "add"),
    }
    return render(request, "recruitment/list.html", context)


# --- create ------------------------------------------------------------------------------------------


@login_required
def case_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "add"):
        raise PermissionDenied(_("You do not have permission to do this here."))
    if request.method == "POST":
        form = RecruitmentCaseForm(request.POST, actor=request.user)
        if form.is_valid():
            try:
                case = services.case_open(actor=request.user, data=request.POST.dict())
            except ValidationError as exc:
                for field, errs in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                messages.success(request, _("The case of %(name)s was opened.") % {"name": case.name})
                return redirect("recruitment:case", case.pk)
    else:
        form = RecruitmentCaseForm(initial={"org": request.GET.get("org")}, actor=request.user)
    return render(request, "recruitment/form.html", {"form": _style(form)})


# --- detail ------------------------------------------------------------------------------------------


def _field_widgets(case: RecruitmentCase, user: Any) -> dict[str, Any]:
    """Choices for the step forms: members the user may pick, organisations above and below the branch."""
    steplen = Organization.steplen
    above = [case.org_path[: i * steplen] for i in range(1, len(case.org_path) // steplen)]
    committees = Organization.objects.filter(path__in=above).order_by("-depth")
    groups = Organization.objects.filter(org_type=OrgType.GROUP, path__startswith=case.org_path)
    members = (
        Member.objects.restrict(user, "view")
        .filter(org_id=case.org_id, status=MemberStatus.FULL)
        .only("id", "name", "status")
        .order_by("name")[:500]
    )
    return {"committees": list(committees), "groups": list(groups), "members": list(members)}


def _step_forms(
    case: RecruitmentCase, nxt: list[rules.NextStep], user: Any, today: dt.date
) -> list[dict[str, Any]]:
    widgets = _field_widgets(case, user)
    defaults = selectors.vote_defaults(case)
    forms = []
    for n in nxt:
        spec = steps.STEPS[n.step]
        fields = []
        for name, f in spec.fields.items():
            options: list[tuple[Any, str]] = []
            if f.kind == steps.CHOICE:
                labels = {**steps.NOMINATION_LABELS, **steps.MOTION_LABELS}
                options = [(c, str(labels.get(c, c))) for c in f.choices]
            elif f.kind == steps.MEMBERS:
                options = [(m.pk, m.name) for m in widgets["members"]]
            elif f.kind == steps.ORG:
                pool = widgets["groups"] if name == "group" else widgets["committees"]
                options = [(o.pk, o.name) for o in pool]
            fields.append(
                {
                    "name": name,
                    "label": f.label,
                    "kind": f.kind,
                    "required": f.required,
                    "options": options,
                    # The branch register's voting members, as a starting point (flowing guests excluded).
                    "value": defaults.get(name) if n.step in steps.VOTE_STEPS else None,
                }
            )
        choices = list(spec.outcomes)
        if n.step == 8 and rules.rule_for(today, case.org)["candidate_committee_agreement_required"]:
            choices.remove("filed")  # 2026 revision: the higher committee must agree, filing is not enough
        outcomes = [] if spec.computed_outcome else [(o, steps.OUTCOME_LABELS[o]) for o in choices]
        forms.append(
            {
                "step": n.step,
                "title": spec.title,
                "stage": spec.stage,
                "earliest": n.earliest,
                "latest": n.latest,
                "blocking": n.blocking,
                "warnings": n.warnings,
                "fields": fields,
                "outcomes": outcomes if len(outcomes) > 1 else [],
                "default_date": max(n.earliest, today) if n.earliest and n.earliest <= today else today,
                "needs_handler": n.step in services.HANDLER_REQUIRED,
                "attachment_kinds": [(k, AttachmentKind(k).label) for k in spec.attachment_kinds],
            }
        )
    return forms


def _timeline(case: RecruitmentCase) -> list[dict[str, Any]]:
    records = list(
        case.steps.select_related("vote", "actor").prefetch_related("attachments").order_by("date", "id")
    )
    by_step: dict[int, list[Any]] = {}
    for r in records:
        by_step.setdefault(r.step, []).append(r)
    stages = []
    for stage in range(1, 6):
        items = []
        for number, spec in steps.STEPS.items():
            if spec.stage != stage:
                continue
            done = by_step.get(number, [])
            items.append(
                {
                    "number": number,
                    "title": spec.title,
                    "records": [
                        {
                            "record": r,
                            "outcome": steps.OUTCOME_LABELS.get(r.outcome, r.outcome),
                            "positive": r.outcome in spec.positive,
                            "details": _details(r),
                        }
                        for r in done
                    ],
                    "done": any(r.outcome in spec.positive for r in done),
                }
            )
        stages.append({"number": stage, "title": steps.STAGE_TITLES[stage], "items": items})
    return stages


def _details(record: Any) -> list[tuple[str, str]]:
    """The step's own data as label/value pairs for the timeline."""
    spec = steps.STEPS[record.step]
    out = []
    labels = {**steps.NOMINATION_LABELS, **steps.MOTION_LABELS}
    for name, value in (record.fields or {}).items():
        f = spec.fields.get(name)
        if f is None or name in (
            "expected_voting",
            "present_voting",
            "full_members_expected",
            "yes",
            "no",
            "abstain",
            "written_opinions_yes",
            "written_opinions_no",
            "candidates",
        ):
            continue
        if isinstance(value, list):
            text = "、".join(str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value)
        elif isinstance(value, dict):
            text = str(value.get("name", ""))
        else:
            text = str(labels.get(value, value))
        out.append((str(f.label), text))
    return out


def _keep_posted(step_forms: list[dict[str, Any]], posted: dict[str, Any] | None, step: Any) -> None:
    """A refused step's form comes back with what the user typed, so nothing has to be entered twice."""
    if not posted or step is None:
        return
    for form in step_forms:
        if str(form["step"]) != str(step):
            continue
        form["posted"] = {k: posted.get(k, "") for k in ("handled_by", "notes", "outcome")}
        for field in form["fields"]:
            if field["name"] in posted:
                value = posted[field["name"]]
                field["value"] = value
                field["selected"] = {str(v) for v in value} if isinstance(value, list) else {str(value)}


def _detail_context(request: HttpRequest, case: RecruitmentCase, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    nxt = services.next_allowed_steps(case, today)
    can_change = can(request.user, "change", case.org)
    r = rules.rule_for(today, case.org)
    step_forms = _step_forms(case, nxt, request.user, today) if can_change else []
    _keep_posted(step_forms, extra.get("posted"), extra.get("refused_step"))
    return {
        "case": case,
        "badge": STATUS_BADGES.get(case.status, "text-bg-secondary"),
        "stage_title": steps.STAGE_TITLES[case.stage],
        "timeline": _timeline(case),
        "step_forms": step_forms,
        "next_steps": nxt,
        "can_change": can_change,
        "can_reveal": can(request.user, "reveal", case.org),
        "rule": r,
        "today": today,
        "introducers": case.introducers.select_related("member"),
        **extra,
    }


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    return render(request, "recruitment/detail.html", _detail_context(request, case))


@login_required
@require_POST
def case_step(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    if not can(request.user, "change", case.org):
        raise PermissionDenied(_("You may view this but not change it."))
    data: dict[str, Any] = {
        k: v
        for k, v in request.POST.dict().items()
        # The attachment's kind goes with the upload (below), not with the step's own fields.
        if k not in ("csrfmiddlewaretoken", "attachment_kind") and v != ""
    }
    for name in ("mentors", "introducers"):
        if name in request.POST:
            data[name] = [v for v in request.POST.getlist(name) if v]
    upload = request.FILES.get("file")
    try:
        record = services.step_record(actor=request.user, case=case, data=data)
    except services.RuleViolationError as exc:
        context = _detail_context(
            request, case, refused=exc.violations, refused_step=data.get("step"), posted=data
        )
        return render(request, "recruitment/detail.html", context, status=400)
    except ValidationError as exc:
        context = _detail_context(
            request, case, invalid=exc.message_dict, refused_step=data.get("step"), posted=data
        )
        return render(request, "recruitment/detail.html", context, status=400)
    if upload is not None:
        try:
            services.attachment_add(
                actor=request.user,
                step=record,
                kind=request.POST.get("attachment_kind") or "other",
                upload=upload,
            )
        except ValidationError as exc:
            messages.warning(request, "; ".join(m for ms in exc.message_dict.values() for m in ms))
    for w in record.warnings:
        messages.warning(request, f"{w['message']}（{w['article']}）")
    messages.success(request, _("Step %(n)d recorded.") % {"n": record.step})
    return redirect("recruitment:case", case.pk)


@login_required
@require_POST
def case_stop(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    try:
        services.case_stop(
            actor=request.user, case=case, date=timezone.localdate(), reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(m for ms in exc.message_dict.values() for m in ms))
    return redirect("recruitment:case", case.pk)


@login_required
def case_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The 发展党员纪实表 (docx): every step with its date, who did it and the rule applied."""
    case = _visible_case(request, pk)
    content = exports.case_record_docx(case)
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    name = _("recruitment-record") + f"-{case.pk}.docx"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


@login_required
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = get_object_or_404(CaseAttachment.objects.restrict(request.user, "view"), pk=pk)
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
