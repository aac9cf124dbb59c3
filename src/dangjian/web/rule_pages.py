"""The 规则 page: every rule in force for an organisation, its source and confidence, and local overrides.

Anyone who may see the organisation sees the rules that govern it (including a higher organisation's
local version and its reason). Setting or ending a local version needs ``manage_rules`` on the
organisation (org managers); the writes go through ``core.services``, which check again and audit.

Values are shown with their labels (the rule file's ``value_labels``: 党员推荐, not a code). Any
organisation of the user's scope can be opened: the chooser lists the way up and down from the one shown,
and a search (``?q=``, or as you type through ``rules/orgs/``) finds any other by name or code.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dangjian.core import rulebook, services
from dangjian.core.forms import RuleEndForm, RuleOverrideForm
from dangjian.core.scoping import Action, can, path_prefix_q
from dangjian.core.selectors import rules_in_force
from dangjian.orgs.models import Organization, OrgStatus
from dangjian.orgs.selectors import ancestors, top_orgs_for


def _visible(user: Any) -> Any:
    return Organization.objects.restrict(user, "view")


def _selected(request: HttpRequest) -> Organization | None:
    """The organisation asked for (``?org=``, 404 outside the user's scope), else the user's first."""
    raw = request.GET.get("org", "")
    if raw:
        if not raw.isdigit():
            raise Http404
        return get_object_or_404(_visible(request.user), pk=int(raw))
    tops = top_orgs_for(request.user)
    return tops[0] if tops else None


def _chooser(user: Any, org: Organization | None) -> list[dict[str, Any]]:
    """Organisations to switch to: the user's tops, the chosen one's ancestors in scope, its children."""
    tops = top_orgs_for(user)
    options: dict[int, Organization] = {o.pk: o for o in tops}
    if org is not None:
        chain = ancestors(org)
        visible = set(_visible(user).filter(pk__in=[a.pk for a in chain]).values_list("pk", flat=True))
        options.update({a.pk: a for a in chain if a.pk in visible})
        options[org.pk] = org
        kids = _visible(user).filter(path_prefix_q("path", org.path), depth=org.depth + 1).active()
        for kid in kids.order_by("path")[:50]:
            options[kid.pk] = kid
    top_depth = min((o.depth for o in options.values()), default=1)
    return [
        {"org": o, "prefix": "　" * (o.depth - top_depth), "selected": org is not None and o.pk == org.pk}
        for o in sorted(options.values(), key=lambda o: o.path)
    ]


SEARCH_LIMIT = 20


def org_search(user: Any, query: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Organisations of the user's scope whose name, short name or code matches ``query``, each with the
    names of its ancestors in scope (to tell apart the many 第一党支部 of a city), highest first."""
    query = query.strip()[:50]
    if not query:
        return []
    # The exact name (or code) first, then names starting with the query, then the rest; higher first.
    closeness = Case(
        When(Q(name=query) | Q(short_name=query) | Q(code__iexact=query), then=Value(0)),
        When(Q(name__startswith=query) | Q(short_name__startswith=query), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    found = list(
        _visible(user)
        .active()
        .filter(Q(name__icontains=query) | Q(short_name__icontains=query) | Q(code__iexact=query))
        .annotate(closeness=closeness)
        .order_by("closeness", "depth", "path")[:limit]
    )
    steplen = Organization.steplen
    paths = {o.path[: i * steplen] for o in found for i in range(1, o.depth)}
    names = dict(_visible(user).filter(path__in=paths).values_list("path", "name")) if paths else {}
    return [
        {
            "org": o,
            "chain": [
                names[o.path[: i * steplen]] for i in range(1, o.depth) if o.path[: i * steplen] in names
            ],
        }
        for o in found
    ]


def _labelled(items: list[Any]) -> None:
    """Each parameter's values, and each local version's values in the history, with their labels."""
    for item in items:
        for p in item.params:
            p.value_text = rulebook.display(item.national, p.name, p.value)
            p.national_text = rulebook.display(item.national, p.name, p.national)
        labels = {p.name: p.label for p in item.params}
        for h in item.history:
            if h.override is not None and h.override.params:
                h.values = [
                    (labels.get(name, name), rulebook.display(item.national, name, value))
                    for name, value in h.override.params.items()
                ]


def _page(
    request: HttpRequest,
    org: Organization | None,
    bound: RuleOverrideForm | RuleEndForm | None = None,
) -> HttpResponse:
    user = request.user
    items = rules_in_force(org)
    _labelled(items)
    query = request.GET.get("q", "").strip()
    may_manage = org is not None and org.status == OrgStatus.ACTIVE and can(user, Action.MANAGE_RULES, org)
    for item in items:
        item.override_form = None
        item.end_form = None
        if not may_manage or not item.overridable:
            continue
        current = dict(item.own.params) if item.own else None
        item.override_form = RuleOverrideForm(key=item.key, national=item.national, current=current)
        if item.own is not None:
            item.end_form = RuleEndForm(key=item.key)
        if bound is not None and bound.key == item.key:
            if isinstance(bound, RuleOverrideForm):
                item.override_form = bound
            else:
                item.end_form = bound
            item.open_form = "end" if isinstance(bound, RuleEndForm) else "override"
    return render(
        request,
        "web/rules.html",
        {
            "org": org,
            "items": items,
            "chooser": _chooser(user, org),
            "query": query,
            "found": org_search(user, query) if query else None,
            "may_manage": may_manage,
            "pending_count": sum(1 for i in items if i.current.pending_confirmation),
            "local_count": sum(1 for i in items if i.layers),
        },
        status=400 if bound is not None else 200,
    )


@login_required
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    return _page(request, _selected(request))


@login_required
@require_GET
def org_choices(request: HttpRequest) -> HttpResponse:
    """HTMX: the organisations of the user's scope matching ``q``, as links to their rules."""
    query = request.GET.get("q", "").strip()
    return render(
        request,
        "web/_rule_orgs.html",
        {"query": query, "found": org_search(request.user, query) if query else None},
    )


def _target(request: HttpRequest, pk: int, key: str) -> tuple[Organization, rulebook.RuleVersion]:
    org = get_object_or_404(_visible(request.user), pk=pk)
    if not can(request.user, Action.MANAGE_RULES, org) or org.status != OrgStatus.ACTIVE:
        raise PermissionDenied(
            _("Only the organisation department of this organisation can set its local rules.")
        )
    try:
        national = rulebook.national_rule(key)
    except rulebook.RuleNotFound:
        raise Http404 from None
    return org, national


def _back(org: Organization, key: str) -> str:
    return f"{reverse('web:rules')}?org={org.pk}#rule-{key.replace('.', '-')}"  # RuleInForce.anchor


@login_required
@require_POST
def override(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    org, national = _target(request, pk, key)
    form = RuleOverrideForm(request.POST, key=key, national=national)
    if form.is_valid():
        try:
            services.rule_override_set(
                actor=request.user,
                org=org,
                key=key,
                params=form.params(),
                effective_from=form.cleaned_data["effective_from"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_service_errors(error.message_dict)
        else:
            messages.success(
                request,
                _("The local version of “%(rule)s” was saved for %(org)s.")
                % {"rule": national.title, "org": org.name},
            )
            return redirect(_back(org, key))
    return _page(request, org, bound=form)


@login_required
@require_POST
def end(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    org, national = _target(request, pk, key)
    form = RuleEndForm(request.POST, key=key)
    if form.is_valid():
        try:
            services.rule_override_end(
                actor=request.user,
                org=org,
                key=key,
                effective_from=form.cleaned_data["effective_from"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(
                request,
                _("%(org)s goes back to the rule from above for “%(rule)s”.")
                % {"rule": national.title, "org": org.name},
            )
            return redirect(_back(org, key))
    return _page(request, org, bound=form)
