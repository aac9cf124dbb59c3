"""Pages of the attendance channels: the secretary's QR screen, the phone check-in, the video link and
the check-in devices.

- ``meetings:checkin_screen`` (/meetings/<id>/checkin/): a big QR code that renews itself every
  ``checkin_token_seconds`` (fetched as JSON from ``api:meeting-checkin``, no reload), present/expected
  and who checked in, polled. For those who may change the meeting.
- ``mobile_meetings:checkin`` (/m/meetings/checkin/<token>/): what the QR code opens on the phone. GET
  judges the code and shows a confirm button; only the POST (with CSRF) checks in — a link prefetch
  never records attendance. Not logged in: to the login page and back, with a scan proof so the wait
  does not expire the code (meetings/checkin.py). ``mobile_meetings:checkin_done`` shows the result.
- ``meetings:video_join`` (/meetings/<id>/video/): GET shows a join button, POST records the join (and
  attendance inside the check-in window) and sends the browser to the Jitsi room. 404 without
  ``DANGJIAN_JITSI_URL``.
- ``meetings:devices`` (/meetings/devices/): places, devices (the secret shown once when registered),
  the messages they sent with their outcomes (filter, xlsx export), members' cards.

Thin: the work is in ``checkin``, ``video`` and ``devices``; querysets go through ``restrict``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dangjian.core.scoping import can
from dangjian.core.spreadsheets import XLSX_CONTENT_TYPE, header_cells, safe_row, workbook_bytes
from dangjian.meetings import checkin, devices, video
from dangjian.meetings.checkin_api import may_run_checkin, screen_payload
from dangjian.meetings.models import (
    AttendanceStatus,
    Attendee,
    CheckinCard,
    CheckinDevice,
    DeviceMessage,
    Meeting,
    MeetingPlace,
    MeetingStatus,
)
from dangjian.web.forms import BootstrapFormMixin, add_service_errors
from dangjian.web.navigation import is_desk_user

PAGE_SIZE = 50


def _url_or(name: str, *args: Any, default: str = "") -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return default


# --- the secretary's screen -------------------------------------------------------------------------


@never_cache
@login_required
def checkin_screen(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(
        Meeting.objects.restrict(request.user, "view").select_related("org", "venue"), pk=pk
    )
    if not may_run_checkin(request.user, meeting):
        raise PermissionDenied(_("Only those who run this meeting can show its check-in code."))
    data = screen_payload(request, meeting)
    return render(
        request,
        "meetings/checkin_screen.html",
        {
            "meeting": meeting,
            "data": data,
            "api_url": reverse("api:meeting-checkin", kwargs={"pk": meeting.pk}),
            "detail_url": _url_or("meetings:detail", meeting.pk),
            "list_url": _url_or("meetings:list"),
            "devices": devices.devices_at(meeting.venue),
            "video_enabled": video.has_video(meeting),
        },
    )


# --- the phone -------------------------------------------------------------------------------------


def _mobile_error(request: HttpRequest, exc: ValidationError, meeting: Meeting | None = None) -> HttpResponse:
    code = checkin.refusal_code(exc) or "invalid"
    return render(
        request,
        "meetings/mobile/checkin.html",
        {
            "error": checkin.refusal_message(exc),
            "code": code,
            "rescan": code in ("expired", "replay", "bad_signature"),
            "meeting": meeting,
            "home_url": _url_or("mobile_meetings:list", default=_url_or("mobile:home", default="/")),
        },
        status=400,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def mobile_checkin(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    proof = request.POST.get("s") or request.GET.get("s") or ""
    scanned_at = checkin.scan_time(proof, token, now)
    if not request.user.is_authenticated:
        # Remember when the code was scanned, so that logging in first does not make it expire.
        if scanned_at is None:
            try:
                checkin.token_check(token, None, now)
                proof = checkin.scan_proof(token, now)
            except ValidationError:
                proof = ""
        target = request.path + (f"?s={proof}" if proof else "")
        return redirect_to_login(target)
    if request.method == "POST":
        try:
            attendee = checkin.checkin_by_token(
                user=request.user, token=token, now=now, scanned_at=scanned_at
            )
        except ValidationError as exc:
            return _mobile_error(request, exc)
        url = reverse("mobile_meetings:checkin_done", kwargs={"pk": attendee.meeting_id})
        return HttpResponseRedirect(url + ("?new=1" if attendee.checkin_created else ""))
    # GET: judge the code, record nothing.
    member = checkin.member_of(request.user)
    meeting = None
    try:
        if member is None:
            raise checkin.refusal(
                "no_member",
                _(
                    "Your login is not linked to a party member in the register, so you cannot check in. Ask your branch secretary."
                ),
            )
        data = checkin.token_decode(token)
        if checkin.present_attendee(data.meeting_id, member) is not None:
            return redirect("mobile_meetings:checkin_done", pk=data.meeting_id)
        meeting = checkin.token_check(token, member, now, scanned_at=scanned_at)
        if checkin.expected_attendee(meeting, member) is None:
            raise checkin.refusal(
                "not_expected",
                _(
                    "You are not on the list of people expected at this meeting. Ask the secretary to add you."
                ),
            )
    except ValidationError as exc:
        return _mobile_error(request, exc, meeting)
    return render(
        request,
        "meetings/mobile/checkin.html",
        {
            "meeting": meeting,
            "member": member,
            "token": token,
            "proof": proof if scanned_at is not None else checkin.scan_proof(token, now),
            "now": now,
        },
    )


@never_cache
@login_required
def mobile_checkin_done(request: HttpRequest, pk: int) -> HttpResponse:
    attendee = (
        Attendee.objects.select_related("meeting", "meeting__org", "member")
        .filter(meeting_id=pk, member__user=request.user)
        .first()
    )
    if attendee is None:
        raise Http404
    return render(
        request,
        "meetings/mobile/checkin_done.html",
        {
            "attendee": attendee,
            "meeting": attendee.meeting,
            "present": attendee.status == AttendanceStatus.PRESENT,
            "new": request.GET.get("new") == "1",
            "detail_url": _url_or("mobile_meetings:detail", pk),
            "home_url": _url_or("mobile_meetings:list", default=_url_or("mobile:home", default="/")),
        },
    )


# --- video -----------------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def video_join(request: HttpRequest, pk: int) -> HttpResponse:
    if not video.video_enabled():
        raise Http404
    meeting = get_object_or_404(Meeting.objects.restrict(request.user, "view").select_related("org"), pk=pk)
    if not meeting.video_room:
        raise Http404
    cancelled = meeting.status == MeetingStatus.CANCELLED
    if request.method == "POST" and not cancelled:
        video.video_join_record(user=request.user, meeting=meeting)
        return HttpResponseRedirect(
            video.join_url(meeting, request.user, moderator=may_run_checkin(request.user, meeting))
        )
    desk = is_desk_user(request.user)
    return render(
        request,
        "meetings/checkin_video.html",
        {
            "meeting": meeting,
            "cancelled": cancelled,
            "base_template": "web/base.html" if desk else "web/mobile/base.html",
            "desk": desk,
            "checkin_open": checkin.checkin_is_open(meeting),
            "detail_url": _url_or("meetings:detail", meeting.pk)
            if desk
            else _url_or("mobile_meetings:detail", meeting.pk),
        },
    )


# --- devices ---------------------------------------------------------------------------------------


def _orgs_for(user: Any, action: str = "add") -> Any:
    from dangjian.orgs.models import Organization

    return Organization.objects.restrict(user, action).order_by("path")


class PlaceForm(BootstrapFormMixin, forms.Form):
    org = forms.ModelChoiceField(label=_l("Organization"), queryset=None)
    name = forms.CharField(label=_l("Place name"), max_length=100)
    address = forms.CharField(label=_l("Address"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = _orgs_for(user)


class DeviceForm(BootstrapFormMixin, forms.Form):
    place = forms.ModelChoiceField(label=_l("Place"), queryset=None)
    org = forms.ModelChoiceField(
        label=_l("Organization"),
        queryset=None,
        required=False,
        help_text=_l("The organisation that runs the device (default: the place's)."),
    )
    device_id = forms.CharField(
        label=_l("Device id"),
        max_length=64,
        help_text=_l("Letters, digits, hyphens; the device publishes on dangjian/checkin/<device id>."),
    )
    name = forms.CharField(label=_l("Device name"), max_length=100)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = (
            MeetingPlace.objects.restrict(user, "view").filter(active=True).select_related("org")
        )
        self.fields["org"].queryset = _orgs_for(user)


class CardForm(BootstrapFormMixin, forms.Form):
    member = forms.ModelChoiceField(label=_l("Member"), queryset=None)
    card_number = forms.CharField(
        label=_l("Card number"),
        max_length=40,
        help_text=_l("Only a keyed fingerprint and the last four digits are kept."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        from dangjian.members.choices import CURRENT_STATUSES
        from dangjian.members.models import Member

        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = (
            Member.objects.restrict(user, "change")
            .filter(status__in=CURRENT_STATUSES)
            .select_related("org")
            .order_by("org__path", "name")
        )
        self.fields["member"].label_from_instance = lambda m: f"{m.name}（{m.org.display_name}）"


class MessageFilter(BootstrapFormMixin, forms.Form):
    outcome = forms.ChoiceField(
        label=_l("Outcome"),
        required=False,
        choices=[("", _l("All outcomes")), *DeviceMessage.Outcome.choices],
    )
    device = forms.CharField(label=_l("Device id"), required=False, max_length=64)
    day = forms.DateField(label=_l("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


TABS = (
    ("devices", _l("Devices"), "bi-cpu"),
    ("places", _l("Places"), "bi-geo-alt"),
    ("messages", _l("Messages"), "bi-broadcast"),
    ("cards", _l("Cards"), "bi-credit-card-2-front"),
)
OUTCOME_BADGES = {
    DeviceMessage.Outcome.RECORDED: "text-bg-success",
    DeviceMessage.Outcome.DUPLICATE: "text-bg-secondary",
    DeviceMessage.Outcome.NO_MEETING: "text-bg-warning",
    DeviceMessage.Outcome.NOT_EXPECTED: "text-bg-warning",
    DeviceMessage.Outcome.UNKNOWN_PERSON: "text-bg-warning",
    DeviceMessage.Outcome.STALE: "text-bg-warning",
}


def _filtered_messages(user: Any, form: MessageFilter) -> Any:
    qs = devices.messages_for(user)
    if form.is_valid():
        data = form.cleaned_data
        if data.get("outcome"):
            qs = qs.filter(outcome=data["outcome"])
        if data.get("device"):
            qs = qs.filter(device_code=data["device"].strip())
        if data.get("day"):
            start = timezone.make_aware(dt.datetime.combine(data["day"], dt.time.min))
            qs = qs.filter(received_at__gte=start, received_at__lt=start + dt.timedelta(days=1))
    return qs


def _messages_xlsx(rows: Any) -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Device messages"))
    headers = [
        _("Received at"),
        _("Device id"),
        _("Place"),
        _("Outcome"),
        _("Detail"),
        _("Member"),
        _("Meeting"),
    ]
    ws.append(header_cells(ws, headers))
    for m in rows[:10000]:
        ws.append(
            safe_row(
                ws,
                [
                    timezone.localtime(m.received_at).strftime("%Y-%m-%d %H:%M:%S"),
                    m.device_code,
                    m.device.place.name if m.device else "",
                    m.get_outcome_display(),
                    m.detail,
                    m.member.name if m.member else "",
                    m.meeting.title if m.meeting else "",
                ],
            )
        )
    response = HttpResponse(workbook_bytes(wb), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''device-messages.xlsx"
    return response


def _device_post(request: HttpRequest, user: Any) -> tuple[HttpResponse | None, dict[str, Any]]:
    """Handle a write on the devices page; returns a redirect, or forms with errors / a new secret."""
    action = request.POST.get("action", "")
    extra: dict[str, Any] = {}
    try:
        if action == "place_add":
            form = PlaceForm(request.POST, user=user)
            extra["place_form"] = form
            if form.is_valid():
                place = devices.place_create(actor=user, **form.cleaned_data)
                messages.success(request, _("Place “%(name)s” added.") % {"name": place.name})
                return redirect(reverse("meetings:devices") + "?tab=places"), extra
        elif action == "device_add":
            form = DeviceForm(request.POST, user=user)
            extra["device_form"] = form
            if form.is_valid():
                data = form.cleaned_data
                device, secret = devices.device_register(
                    actor=user,
                    org=data.get("org") or data["place"].org,
                    place=data["place"],
                    device_id=data["device_id"],
                    name=data["name"],
                )
                extra["new_secret"] = {"device": device, "secret": secret}
                extra["device_form"] = DeviceForm(user=user)
        elif action in ("device_reset", "device_toggle"):
            device = get_object_or_404(
                CheckinDevice.objects.restrict(user, "change"), pk=request.POST.get("device")
            )
            if action == "device_reset":
                extra["new_secret"] = {
                    "device": device,
                    "secret": devices.device_secret_reset(actor=user, device=device),
                    "reset": True,
                }
            else:
                devices.device_set_active(actor=user, device=device, active=not device.active)
                messages.success(request, _("Device %(id)s updated.") % {"id": device.device_id})
                return redirect(reverse("meetings:devices")), extra
        elif action == "card_add":
            form = CardForm(request.POST, user=user)
            extra["card_form"] = form
            if form.is_valid():
                card = devices.card_register(
                    actor=user,
                    member=form.cleaned_data["member"],
                    card_number=form.cleaned_data["card_number"],
                )
                messages.success(
                    request,
                    _("Card %(card)s registered for %(name)s.")
                    % {"card": card.card_masked, "name": card.member.name},
                )
                return redirect(reverse("meetings:devices") + "?tab=cards"), extra
        elif action == "card_deactivate":
            card = get_object_or_404(
                CheckinCard.objects.restrict(user, "change"), pk=request.POST.get("card")
            )
            devices.card_deactivate(actor=user, card=card)
            messages.success(request, _("Card %(card)s no longer checks in.") % {"card": card.card_masked})
            return redirect(reverse("meetings:devices") + "?tab=cards"), extra
        else:
            raise Http404
    except ValidationError as exc:
        form = extra.get("place_form") or extra.get("device_form") or extra.get("card_form")
        if form is not None:
            add_service_errors(form, exc)
        else:
            messages.error(request, checkin.refusal_message(exc))
    return None, extra


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def devices_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, "view"):
        raise PermissionDenied(_("These pages are for party workers."))
    may_add = can(user, "add")
    tab = request.GET.get("tab") or request.POST.get("tab") or "devices"
    if tab not in {t[0] for t in TABS}:
        tab = "devices"
    extra: dict[str, Any] = {}
    if request.method == "POST":
        if not may_add:
            raise PermissionDenied(_("You may view this but not change it."))
        response, extra = _device_post(request, user)
        if response is not None:
            return response
        if "place_form" in extra:
            tab = "places"
        elif "card_form" in extra:
            tab = "cards"
        else:
            tab = "devices"

    message_filter = MessageFilter(request.GET or None)
    if tab == "messages" and request.GET.get("export") == "xlsx":
        return _messages_xlsx(_filtered_messages(user, message_filter))

    device_qs = CheckinDevice.objects.restrict(user, "view").select_related("place", "org")
    place_qs = (
        MeetingPlace.objects.restrict(user, "view")
        .select_related("org")
        .annotate(device_count=Count("devices", distinct=True))
    )
    since = timezone.now() - dt.timedelta(hours=24)
    recent = devices.messages_for(user).filter(received_at__gte=since)
    context: dict[str, Any] = {
        "tab": tab,
        "tabs": [{"key": k, "label": label, "icon": icon, "active": k == tab} for k, label, icon in TABS],
        "may_add": may_add,
        "stats": {
            "places": place_qs.count(),
            "devices": device_qs.filter(active=True).count(),
            "messages": recent.count(),
            "recorded": recent.filter(outcome=DeviceMessage.Outcome.RECORDED).count(),
            "refused": recent.filter(
                outcome__in=[
                    DeviceMessage.Outcome.BAD_SIGNATURE,
                    DeviceMessage.Outcome.UNKNOWN_DEVICE,
                    DeviceMessage.Outcome.MALFORMED,
                ]
            ).count(),
        },
        "new_secret": extra.get("new_secret"),
        "mqtt_configured": bool(getattr(settings, "MQTT_URL", "")),
        "list_url": _url_or("meetings:list"),
    }
    if tab == "devices":
        context["devices"] = device_qs.order_by("place__name", "device_id")
        context["device_form"] = extra.get("device_form") or (DeviceForm(user=user) if may_add else None)
    elif tab == "places":
        context["places"] = place_qs.order_by("org__path", "name")
        context["place_form"] = extra.get("place_form") or (PlaceForm(user=user) if may_add else None)
    elif tab == "messages":
        qs = _filtered_messages(user, message_filter)
        context["filter"] = message_filter if message_filter.is_bound else MessageFilter()
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        for m in page:
            m.badge = OUTCOME_BADGES.get(m.outcome, "text-bg-danger")
        context["page"] = page
    else:
        q = (request.GET.get("q") or "").replace("\x00", "").strip()  # PostgreSQL refuses NUL
        cards = CheckinCard.objects.restrict(user, "view").select_related("member", "member__org")
        if q:
            cards = cards.filter(Q(member__name__contains=q) | Q(card_masked__endswith=q))
        context["q"] = q
        context["page"] = Paginator(
            cards.order_by("-active", "member__org__path", "member__name", "id"), PAGE_SIZE
        ).get_page(request.GET.get("page"))
        context["card_form"] = extra.get("card_form") or (CardForm(user=user) if may_add else None)
    status = (
        400
        if any(
            f is not None and f.errors
            for f in (extra.get(k) for k in ("place_form", "device_form", "card_form"))
        )
        else 200
    )
    return render(request, "meetings/devices.html", context, status=status)
