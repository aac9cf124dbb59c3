"""Forms of the organization-life pages: planning and editing a meeting, cancelling it, the attendee
adjustments, leave requests and decisions, minutes, uploads and an organisation's fixed theme day.

The forms only parse and lay out; the services decide (which organisation may hold which kind, whether
an end comes after the start, who may be added). A service's ``ValidationError`` is shown beside the
field it names (``add_service_errors``); the model's ``starts_at``/``ends_at`` map onto the date and time
inputs of the form.
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import ModelChoiceIterator
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.meetings import roster
from dangjian.meetings.models import AttendanceStatus, MeetingAttachment, MeetingKind, MeetingPlace
from dangjian.meetings.services import FIRST_YEAR, LAST_YEAR
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import Organization, OrgStatus, OrgType
from dangjian.web.forms import BootstrapFormMixin, DateInput

MEMBER_CHOICES_CAP = 500  # a select beyond this is unusable; the rest can still be typed by the API

# Service error keys → the form's inputs.
FIELD_ALIASES = {"starts_at": "start_time", "ends_at": "end_time", "date": "date", "venue": "venue"}


def org_types_for(kind: str) -> tuple[str, ...]:
    """The organisation types that hold ``kind`` (meetings.roster decides: MEETINGS.md)."""
    return tuple(t for t in OrgType.values if kind in roster.kinds_for(SimpleNamespace(org_type=t)))


def kinds_for(org: Organization) -> tuple[str, ...]:
    """The kinds an organisation can hold (for the org select's ``data-kinds``)."""
    return roster.kinds_for(org)


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError on the form: keyed messages beside their field, the rest on top."""
    if hasattr(error, "error_dict"):
        for key, messages in error.message_dict.items():
            name = FIELD_ALIASES.get(key, key)
            field = name if name in form.fields else None
            for message in messages:
                form.add_error(field, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def error_text(error: Exception) -> str:
    """One line of a ValidationError or PermissionDenied for a flash message."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return "；".join(m for ms in error.message_dict.values() for m in ms)
        return "；".join(error.messages)
    return str(error) or _("You do not have permission to do this here.")


class _CappedIterator(ModelChoiceIterator):
    """Render at most ``MEMBER_CHOICES_CAP`` options (validation still uses the whole queryset), and
    always the current value, so editing a meeting never silently drops its host."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        shown = list(self.queryset[:MEMBER_CHOICES_CAP])
        current = getattr(self.field, "current", None)
        if current is not None and all(o.pk != current.pk for o in shown):
            shown.insert(0, current)
        for obj in shown:
            yield self.choice(obj)

    def __len__(self) -> int:
        return min(self.queryset.count(), MEMBER_CHOICES_CAP) + (
            1 if self.field.empty_label is not None else 0
        )


class MemberChoiceField(forms.ModelChoiceField):
    iterator = _CappedIterator

    def label_from_instance(self, obj: Member) -> str:
        return obj.name


class OrgSelect(forms.Select):
    """The organisation select: each option says which kinds that organisation holds (``data-kinds``),
    so the page can hide the ones that do not fit the chosen kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: dict[str, str] = {}

    def create_option(self, name: str, value: Any, label: Any, selected: Any, index: int, **kw: Any) -> Any:
        option = super().create_option(name, value, label, selected, index, **kw)
        key = str(getattr(value, "value", value))
        if key in self.kinds:
            option["attrs"]["data-kinds"] = self.kinds[key]
        return option


class OrgChoiceField(forms.ModelChoiceField):
    widget = OrgSelect

    def label_from_instance(self, obj: Organization) -> str:
        return obj.name


def member_choices(org: Organization | None, actor: Any) -> Any:
    """The people a host, recorder or lecturer is picked from: the current members of the branch (for a
    party group: of its branch; for a committee: of its subtree), as the actor may see them."""
    qs = Member.objects.restrict(actor, "view").filter(status__in=CURRENT_STATUSES)
    if org is None:
        return qs.none()
    base = roster.branch_of(org)
    return qs.filter(base.subtree_q("org_")).only("id", "name", "org_id").order_by("name", "id")


def place_choices(org: Organization | None) -> Any:
    """The rooms of the organisation and of the organisations above it (a community's service centre)."""
    if org is None:
        return MeetingPlace.objects.none()
    step = Organization.steplen
    paths = [org.path[: i * step] for i in range(1, len(org.path) // step + 1)]
    return (
        MeetingPlace.objects.filter(org__path__in=paths, active=True)
        .select_related("org")
        .order_by("-org__depth", "name")
    )


class MeetingForm(BootstrapFormMixin, forms.Form):
    """Plan (or edit) one meeting. ``org`` and ``kind`` are fixed once the meeting exists: its attendees
    were derived from them."""

    kind = forms.ChoiceField(label=_l("Kind"), choices=MeetingKind.choices)
    org = OrgChoiceField(label=_l("Organization"), queryset=Organization.objects.none(), empty_label="—")
    title = forms.CharField(label=_l("Topic"), max_length=200)
    date = forms.DateField(label=_l("Date"), widget=DateInput())
    start_time = forms.TimeField(
        label=_l("Starts at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_time = forms.TimeField(
        label=_l("Ends at"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    place = forms.CharField(label=_l("Place"), max_length=200, required=False)
    venue = forms.ModelChoiceField(
        label=_l("Room with check-in devices"),
        queryset=MeetingPlace.objects.none(),
        required=False,
        empty_label="—",
        help_text=_l("Check-in devices installed in this room record attendance for the meeting."),
    )
    # The API's limits (serializers.MeetingWriteSerializer): the page refuses what the API refuses.
    agenda = forms.CharField(
        label=_l("Agenda"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 4})
    )
    host = MemberChoiceField(
        label=_l("Host"), queryset=Member.objects.none(), required=False, empty_label="—"
    )
    recorder = MemberChoiceField(
        label=_l("Recorder"), queryset=Member.objects.none(), required=False, empty_label="—"
    )
    lecturer = MemberChoiceField(
        label=_l("Lecturer"), queryset=Member.objects.none(), required=False, empty_label="—"
    )
    lecturer_name = forms.CharField(
        label=_l("Lecturer not on the register"),
        max_length=50,
        required=False,
        help_text=_l("A retired cadre, a party-school teacher: anyone who is not a member here."),
    )
    video = forms.BooleanField(label=_l("Open a video room for members who join remotely"), required=False)
    notes = forms.CharField(
        label=_l("Notes"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self,
        *args: Any,
        actor: Any,
        orgs: Any,
        org: Organization | None = None,
        meeting: Any = None,
        video_enabled: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.meeting = meeting
        self.fields["org"].queryset = orgs
        self.fields["org"].widget.kinds = {str(o.pk): " ".join(kinds_for(o)) for o in orgs}
        if meeting is not None:
            org = meeting.org
            for name in ("kind", "org"):
                self.fields[name].disabled = True
                self.fields[name].required = False
        for name in ("host", "recorder", "lecturer"):
            field = self.fields[name]
            field.queryset = member_choices(org, actor)
            field.current = getattr(meeting, name, None) if meeting is not None else None
        self.fields["venue"].queryset = place_choices(org)
        self.fields["venue"].label_from_instance = lambda p: (
            f"{p.name}（{p.org.display_name}）" if org is not None and p.org_id != org.pk else p.name
        )
        if not video_enabled:
            del self.fields["video"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.meeting is not None:
            data["kind"] = self.meeting.kind
            data["org"] = self.meeting.org
        kind = data.get("kind")
        day, start, end = data.get("date"), data.get("start_time"), data.get("end_time")
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            # Beside the date (the service refuses it too, on the start time, for the API).
            self.add_error(
                "date",
                _("The meeting must be dated between %(first)d and %(last)d.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR},
            )
            day = None
        if day and start:
            tz = timezone.get_current_timezone()
            data["starts_at"] = timezone.make_aware(dt.datetime.combine(day, start), tz)
            data["ends_at"] = timezone.make_aware(dt.datetime.combine(day, end), tz) if end else None
            if end is not None and end <= start:
                self.add_error("end_time", _("A meeting must end after it starts."))
        if kind != MeetingKind.PARTY_LECTURE:
            data["lecturer"] = None
            data["lecturer_name"] = ""
        return data

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as the services take them."""
        d = self.cleaned_data
        out = {
            "title": d["title"].strip(),
            "starts_at": d["starts_at"],
            "ends_at": d.get("ends_at"),
            "place": d.get("place", "").strip(),
            "venue": d.get("venue"),
            "agenda": d.get("agenda", ""),
            "host": d.get("host"),
            "recorder": d.get("recorder"),
            "lecturer": d.get("lecturer"),
            "lecturer_name": d.get("lecturer_name", "").strip(),
            "notes": d.get("notes", ""),
        }
        if "video" in self.fields:
            out["video"] = bool(d.get("video"))
        return out


def meeting_initial(meeting: Any) -> dict[str, Any]:
    """The edit form's starting values from a meeting."""
    starts = timezone.localtime(meeting.starts_at)
    ends = timezone.localtime(meeting.ends_at) if meeting.ends_at else None
    return {
        "kind": meeting.kind,
        "org": meeting.org_id,
        "title": meeting.title,
        "date": starts.date(),
        "start_time": starts.time().replace(second=0, microsecond=0),
        "end_time": ends.time().replace(second=0, microsecond=0) if ends else None,
        "place": meeting.place,
        "venue": meeting.venue_id,
        "agenda": meeting.agenda,
        "host": meeting.host_id,
        "recorder": meeting.recorder_id,
        "lecturer": meeting.lecturer_id,
        "lecturer_name": meeting.lecturer_name,
        "video": bool(meeting.video_room),
        "notes": meeting.notes,
    }


class ReasonForm(BootstrapFormMixin, forms.Form):
    """A required reason (cancelling a meeting, removing an attendee, asking for leave)."""

    reason = forms.CharField(label=_l("Reason"), max_length=200)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason."))
        return reason


class CancelForm(ReasonForm):
    reason = forms.CharField(
        label=_l("Reason for cancelling"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class AttendeeAddForm(BootstrapFormMixin, forms.Form):
    member = MemberChoiceField(label=_l("Member"), queryset=Member.objects.none(), empty_label="—")
    reason = forms.CharField(label=_l("Reason"), max_length=200)

    def __init__(self, *args: Any, queryset: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = queryset


class LeaveDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("refuse", "refuse")])
    note = forms.CharField(max_length=200, required=False)


class MinutesForm(forms.Form):
    # Sanitised by the service (nh3): what comes back is only the formatting the editor offers.
    html = forms.CharField(label=_l("Minutes"), required=False, widget=forms.Textarea(attrs={"rows": 12}))


_HTML_TAG = re.compile(r"<(/?[a-zA-Z][a-zA-Z0-9]*)[^>]*>")


def minutes_html(text: str) -> str:
    """The minutes as the editor sends them; typed without the editor (the plain textarea, no script),
    each line becomes a paragraph so that the line breaks survive."""
    if _HTML_TAG.search(text or ""):
        return text
    lines = [line.strip() for line in (text or "").splitlines()]
    return "".join(f"<p>{escape(line)}</p>" for line in lines if line)


class AttachmentForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_l("Kind"), choices=MeetingAttachment.Kind.choices)
    upload = forms.FileField(label=_l("File"))


class SettingForm(BootstrapFormMixin, forms.Form):
    theme_day = forms.IntegerField(
        label=_l("Theme party day (day of the month)"),
        min_value=1,
        max_value=31,
        required=False,
        help_text=_l(
            "The branch holds its theme party day once a month on this day (Branch Work Regulations, Art. 15). "
            "Leave it empty for no fixed day; in short months the last day counts."
        ),
    )


MARKABLE = (
    AttendanceStatus.PENDING,
    AttendanceStatus.PRESENT,
    AttendanceStatus.LEAVE,
    AttendanceStatus.ABSENT,
)


def active_orgs_for_planning(actor: Any) -> Any:
    """Organisations in the actor's scope where a meeting may be planned (any kind)."""
    types = {t for k in MeetingKind.values for t in org_types_for(k)}
    return (
        Organization.objects.restrict(actor, "add")
        .filter(org_type__in=types, status=OrgStatus.ACTIVE)
        .only("id", "name", "short_name", "org_type", "path", "depth")
    )
