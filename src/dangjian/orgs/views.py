"""Pages of the organisation tree: the tree browser with subtree statistics, org detail, and its changes.

Every lookup goes through ``Organization.objects.restrict(user, ...)``: an organisation outside the
user's scope answers 404 like a missing one. Changes need ``can(user, "manage_org", org)`` (403 otherwise)
and go through ``orgs.services``, which check again and write the history and the audit row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from dangjian.core.alerts import matter_summary
from dangjian.core.scoping import can, path_prefix_q
from dangjian.core.selectors import alerts_in_subtree
from dangjian.orgs import forms as org_forms
from dangjian.orgs import selectors, services
from dangjian.orgs.models import CommitteePosition, Organization, OrgEvent, OrgStatus, OrgType
from dangjian.web import charts
from dangjian.web.forms import add_service_errors


def _visible(user: Any) -> Any:
    return Organization.objects.restrict(user, "view")


def _get_org(user: Any, pk: int) -> Organization:
    return get_object_or_404(_visible(user), pk=pk)


def _member_counts(orgs: list[Organization]) -> None:
    """Set ``member_count`` (current members of the subtree) and ``has_kids`` on each org.

    Two queries per tree level, whatever the number of organisations shown.
    """
    from dangjian.members.models import Member

    by_depth: dict[int, list[Organization]] = {}
    for org in orgs:
        by_depth.setdefault(org.depth, []).append(org)
    for depth, level in by_depth.items():
        length = depth * Organization.steplen
        q = Q()
        for org in level:
            q |= path_prefix_q("org_path", org.path)
        counts = dict(
            Member.objects.current()
            .filter(q)
            .annotate(prefix=Substr("org_path", 1, length))
            .values("prefix")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("prefix", "n")
        )
        kid_q = Q()
        for org in level:
            kid_q |= path_prefix_q("path", org.path)
        with_kids = set(
            Organization.objects.filter(kid_q, depth=depth + 1, status=OrgStatus.ACTIVE)
            .annotate(prefix=Substr("path", 1, length))
            .values_list("prefix", flat=True)
            .distinct()
            .order_by()
        )
        # Members belong to their branch (org_path); a party group counts the members assigned to it.
        groups = [o.pk for o in level if o.org_type == OrgType.GROUP]
        group_counts = (
            dict(
                Member.objects.current()
                .filter(group__in=groups)
                .values("group")
                .annotate(n=Count("id"))
                .order_by()
                .values_list("group", "n")
            )
            if groups
            else {}
        )
        for org in level:
            if org.org_type == OrgType.GROUP:
                org.member_count = group_counts.get(org.pk, 0)
            else:
                org.member_count = counts.get(org.path, 0)
            org.has_kids = org.path in with_kids


def _children(user: Any, parents: Iterable[Organization]) -> dict[str, list[Organization]]:
    """The active children of several organisations in one query, by parent path."""
    parents = list(parents)
    if not parents:
        return {}
    q = Q()
    for p in parents:
        q |= path_prefix_q("path", p.path) & Q(depth=p.depth + 1)
    result: dict[str, list[Organization]] = {p.path: [] for p in parents}
    kids = list(_visible(user).active().filter(q))
    _member_counts(kids)
    for kid in kids:
        result.setdefault(kid.path[: -Organization.steplen], []).append(kid)
    return result


def _tree(user: Any, selected: Organization | None) -> list[Organization]:
    """The top organisations with the branch leading to ``selected`` opened (children loaded)."""
    tops = selectors.top_orgs_for(user)
    _member_counts(tops)
    for top in tops:
        top.tree_children = None
    # Open every top, and every ancestor of the selected organisation within the user's scope.
    if selected is not None:
        chain = [
            path
            for path in (selected.path[: i * Organization.steplen] for i in range(1, selected.depth))
            if any(path.startswith(t.path) and len(path) > len(t.path) for t in tops)
        ]
    else:
        chain = []
    level = list(tops)
    while level:
        kids = _children(user, level)
        next_level = []
        for parent in level:
            parent.tree_children = kids.get(parent.path, [])
            for kid in parent.tree_children:
                kid.tree_children = None
                if kid.path in chain:
                    next_level.append(kid)
        level = next_level
    return tops


def _panel_context(org: Organization) -> dict[str, Any]:
    stats = selectors.org_stats(org)
    return {
        "org": org,
        "stats": stats,
        "member_charts": charts.member_charts(stats),
        "org_charts": charts.org_charts(stats),
        "chart_specs": charts.member_charts(stats) + charts.org_charts(stats),
    }


@login_required
@require_GET
def tree(request: HttpRequest) -> HttpResponse:
    user = request.user
    selected = None
    if request.GET.get("org", "").isdigit():
        selected = _get_org(user, int(request.GET["org"]))
    tops = _tree(user, selected)
    if selected is None and tops and _visible(user).filter(pk=tops[0].pk).exists():
        selected = tops[0]  # the panel only ever shows an organisation within the user's scope
    context: dict[str, Any] = {"tops": tops, "selected": selected}
    if selected is not None:
        context.update(_panel_context(selected))
    return render(request, "orgs/tree.html", context)


@login_required
@require_GET
def children(request: HttpRequest, pk: int) -> HttpResponse:
    """HTMX fragment: the next level of the tree under one organisation."""
    parent = _get_org(request.user, pk)
    kids = _children(request.user, [parent])[parent.path]
    for kid in kids:
        kid.tree_children = None
    return render(request, "orgs/_tree_nodes.html", {"nodes": kids, "selected_id": None})


@login_required
@require_GET
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """HTMX fragment: the statistics panel of one organisation (the right side of the tree browser)."""
    org = _get_org(request.user, pk)
    return render(request, "orgs/_panel.html", _panel_context(org))


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    from dangjian.members.models import Member

    user = request.user
    org = _get_org(user, pk)
    kids = list(Organization.objects.get_children(org))
    _member_counts(kids)
    ancestors = selectors.ancestors(org)
    visible_ids = set(_visible(user).filter(pk__in=[a.pk for a in ancestors]).values_list("pk", flat=True))
    for a in ancestors:
        a.in_scope = a.pk in visible_ids
    members = (
        Member.objects.in_subtree(org)
        .current()
        .aggregate(n=Count("id"), direct=Count("id", filter=Q(org=org)))
    )
    return render(
        request,
        "orgs/detail.html",
        {
            "org": org,
            "ancestors": ancestors,
            "flags": selectors.org_flags(org) if org.status == OrgStatus.ACTIVE else [],
            "committee": _committee(org),
            "kids": kids,
            "events": [event_item(e) for e in org.events.select_related("actor")[:100]],
            "member_total": members["n"],
            "member_direct": members["direct"],
            # Restructuring and elections are the org managers' (core.scoping "manage_org").
            "can_change": org.status == OrgStatus.ACTIVE and can(user, "manage_org", org),
            "can_add": org.status == OrgStatus.ACTIVE and can(user, "manage_org", org),
            # Open alerts of this subtree that the user may see (core/alerts.py).
            "alerts": matter_summary(alerts_in_subtree(user, org)),
            "alerts_url": f"{reverse('web:alerts')}?org={org.pk}",
            "rules_url": f"{reverse('web:rules')}?org={org.pk}",
        },
    )


def event_summary(event: OrgEvent) -> str:
    """One line describing a history event, from the details its service recorded."""
    d = event.details or {}
    kind = event.kind
    if kind == OrgEvent.Kind.RENAME:
        return _("%(old)s → %(new)s") % {"old": d.get("old_name", ""), "new": d.get("new_name", "")}
    if kind in (OrgEvent.Kind.UPGRADE, OrgEvent.Kind.DOWNGRADE):
        labels = dict(OrgType.choices)
        return _("%(old)s → %(new)s") % {
            "old": labels.get(d.get("old_type"), d.get("old_type", "")),
            "new": labels.get(d.get("new_type"), d.get("new_type", "")),
        }
    if kind == OrgEvent.Kind.MOVE:
        return _("From %(old)s to %(new)s") % {
            "old": d.get("old_parent_name") or "—",
            "new": d.get("new_parent_name") or "—",
        }
    if kind == OrgEvent.Kind.MERGE:
        if d.get("into_name"):
            return _("Merged into %(name)s (%(n)s members moved)") % {
                "name": d["into_name"],
                "n": d.get("members_moved", 0),
            }
        return _("%(name)s merged in (%(n)s members moved)") % {
            "name": d.get("merged_from_name", ""),
            "n": d.get("members_moved", 0),
        }
    if kind == OrgEvent.Kind.UPDATE and d.get("positions"):
        titles = dict(CommitteePosition.Title.choices)
        return "、".join(f"{titles.get(t, t)} {name}" for t, name in d["positions"])
    if kind == OrgEvent.Kind.UPDATE and d.get("changes"):
        fields = {f.name: f.verbose_name for f in Organization._meta.fields}
        return "；".join(f"{fields.get(k, k)}：{a or '—'} → {b or '—'}" for k, (a, b) in d["changes"].items())
    return ""


def _committee(org: Organization) -> dict[str, Any] | None:
    """The current committee with its positions in protocol order (secretary first)."""
    summary = selectors.committee_summary(org)
    if summary is not None:
        order = {t: i for i, t in enumerate(CommitteePosition.Title.values)}
        summary["positions"].sort(key=lambda p: (order.get(p["title"], 99), p["name"]))
    return summary


def event_item(event: OrgEvent) -> dict[str, Any]:
    """How a history event is shown (org timeline, home page): title, reason and a one-line summary."""
    elected = bool((event.details or {}).get("positions"))
    return {
        "event": event,
        # An election is recorded as an "update" event whose reason is the words "Committee elected".
        "title": _("Committee elected") if elected else event.get_kind_display(),
        "reason": "" if elected else event.reason,
        "summary": event_summary(event),
    }


# --- changes ------------------------------------------------------------------------------------------

Perform = Callable[[Any, Organization, dict[str, Any], forms.Form], Any]


def _change_view(
    request: HttpRequest,
    pk: int,
    *,
    form_factory: Callable[..., forms.Form],
    perform: Perform,
    title: Any,
    icon: str,
    done: Any,
    action: str = "manage_org",
    intro: Any = "",
    danger: bool = False,
) -> HttpResponse:
    """GET shows the form, POST calls the service; its ValidationErrors come back onto the form."""
    user = request.user
    org = _get_org(user, pk)
    if org.status != OrgStatus.ACTIVE or not can(user, action, org):
        raise PermissionDenied(_("You may not change this organisation."))
    form = form_factory(request.POST or None, org=org, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            result = perform(user, org, form.cleaned_data, form)
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error) or _("You may not do this here."))
        else:
            messages.success(request, done)
            target = result if isinstance(result, Organization) else org
            return redirect("orgs:detail", target.pk)
    return render(
        request,
        "orgs/change.html",
        {"org": org, "form": form, "title": title, "icon": icon, "intro": intro, "danger": danger},
        status=400 if form.is_bound and form.errors else 200,
    )


def _plain(form_class: type[forms.Form]) -> Callable[..., forms.Form]:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        return form_class(data)

    return make


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        # A copy: the ModelForm writes into its instance while validating, the service compares old and new.
        return org_forms.OrgEditForm(data, instance=Organization.objects.get(pk=org.pk))

    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        fields = {k: data[k] for k in services.EDITABLE_FIELDS}
        return services.org_update(actor=user, org=org, reason=data.get("reason", ""), **fields)

    return _change_view(
        request, pk, form_factory=make, perform=perform, title=gettext_lazy("Edit details"),
        icon="bi-pencil-square", done=gettext_lazy("The details were saved."),
    )  # fmt: skip


@login_required
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        return services.org_rename(
            actor=user, org=org, name=data["name"], short_name=data["short_name"] or None,
            date=data["date"], reason=data["reason"],
        )  # fmt: skip

    return _change_view(
        request, pk, form_factory=_plain(org_forms.RenameForm), perform=perform,
        title=gettext_lazy("Rename"), icon="bi-input-cursor-text", done=gettext_lazy("The organisation was renamed."),
    )  # fmt: skip


@login_required
def change_type(request: HttpRequest, pk: int) -> HttpResponse:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        return org_forms.ChangeTypeForm(data, org=org)

    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        return services.org_change_type(
            actor=user, org=org, org_type=data["org_type"], date=data["date"], reason=data["reason"]
        )

    return _change_view(
        request, pk, form_factory=make, perform=perform, title=gettext_lazy("Upgrade or downgrade"),
        icon="bi-arrow-down-up", done=gettext_lazy("The organisation's type was changed."),
        intro=gettext_lazy("For example, a branch that has grown past 50 members becomes a general branch."),
    )  # fmt: skip


@login_required
def move(request: HttpRequest, pk: int) -> HttpResponse:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        return org_forms.MoveForm(data, org=org, user=user)

    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        return services.org_move(
            actor=user, org=org, new_parent=data["new_parent"], date=data["date"], reason=data["reason"]
        )

    return _change_view(
        request, pk, form_factory=make, perform=perform, title=gettext_lazy("Move under another organisation"),
        icon="bi-arrows-move", done=gettext_lazy("The organisation and its whole subtree were moved."),
        intro=gettext_lazy("The organisation moves with all its sub-organisations and members."),
    )  # fmt: skip


@login_required
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        return org_forms.MergeForm(data, org=org, user=user)

    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        return services.org_merge(
            actor=user, source=org, target=data["target"], date=data["date"], reason=data["reason"]
        )

    return _change_view(
        request, pk, form_factory=make, perform=perform, title=gettext_lazy("Merge into another organisation"),
        icon="bi-union", done=gettext_lazy("The organisations were merged."), danger=True,
        intro=gettext_lazy("Its members and sub-organisations move to the chosen organisation; this one closes as merged."),
    )  # fmt: skip


@login_required
def dissolve(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        return services.org_dissolve(actor=user, org=org, date=data["date"], reason=data["reason"])

    return _change_view(
        request, pk, form_factory=_plain(org_forms.DissolveForm), perform=perform,
        title=gettext_lazy("Dissolve"), icon="bi-x-octagon", done=gettext_lazy("The organisation was dissolved."),
        intro=gettext_lazy("Transfer its members and move or dissolve its sub-organisations first."), danger=True,
    )  # fmt: skip


@login_required
def found(request: HttpRequest, pk: int) -> HttpResponse:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        return org_forms.FoundForm(data, parent=org)

    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        extra = {k: data[k] for k in ("short_name", "sector", "address", "contact_name", "contact_phone")}
        return services.org_found(
            actor=user, parent=org, org_type=data["org_type"], code=data["code"], name=data["name"],
            date=data["date"], reason=data.get("reason", ""), **extra,
        )  # fmt: skip

    return _change_view(
        request, pk, form_factory=make, perform=perform,
        title=gettext_lazy("Found a sub-organisation"), icon="bi-node-plus",
        done=gettext_lazy("The new organisation was founded."),
    )  # fmt: skip


@login_required
def committee(request: HttpRequest, pk: int) -> HttpResponse:
    def make(data: Any, *, org: Organization, user: Any) -> forms.Form:
        return org_forms.CommitteeForm(data, org=org, user=user)

    def perform(user: Any, org: Organization, data: dict[str, Any], form: forms.Form) -> Any:
        services.committee_term_start(
            actor=user, org=org, start_date=data["start_date"], positions=form.positions(),  # type: ignore[attr-defined]
            term_years=data["term_years"], notes=data.get("notes", ""),
        )  # fmt: skip
        return org

    return _change_view(
        request, pk, form_factory=make, perform=perform, title=gettext_lazy("Record a committee election"),
        icon="bi-people", done=gettext_lazy("The new committee was recorded."),
        intro=gettext_lazy("The current term ends on the election date and the new term starts."),
    )  # fmt: skip
