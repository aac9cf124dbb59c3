"""How meetings, their attendees and their uploads look over the API (meetings/api.py).

Read serializers show the codes with their labels (``kind`` / ``kind_display``), names next to ids
(organisation, host, recorder, lecturer) and the attendance totals. The video room's name is never
shown: members join through the platform's link, which records who joined (meetings.video).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from dangjian.meetings import selectors
from dangjian.meetings.models import (
    AttendanceStatus,
    Attendee,
    Meeting,
    MeetingAttachment,
    MeetingKind,
)

MAX_ID = 2**62


class AttendanceTotalsSerializer(serializers.Serializer):
    expected = serializers.IntegerField(help_text="应到: expected attendees")
    present = serializers.IntegerField(help_text="实到: present")
    leave = serializers.IntegerField(help_text="请假: on leave")
    absent = serializers.IntegerField(help_text="缺席: absent (pending rows count once the meeting is over)")
    pending = serializers.IntegerField(help_text="not checked in yet")
    voting_expected = serializers.IntegerField(help_text="expected attendees with a vote")
    voting_present = serializers.IntegerField(help_text="present attendees with a vote")
    rate = serializers.FloatField(help_text="present / expected, percent")


class AttendeeSerializer(serializers.ModelSerializer):
    """One person's row: why they are expected, whether they vote, their attendance and leave."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    role_display = serializers.CharField(source="get_role_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    channel_display = serializers.CharField(source="get_channel_display", read_only=True)
    leave_status_display = serializers.CharField(source="get_leave_status_display", read_only=True)

    class Meta:
        model = Attendee
        fields = [
            "id", "member", "member_name", "role", "role_display", "expected", "adjust_reason", "can_vote",
            "status", "status_display", "channel", "channel_display", "checked_in_at", "leave_status",
            "leave_status_display", "leave_reason", "leave_requested_at", "leave_decided_at", "leave_note",
        ]  # fmt: skip
        read_only_fields = fields


class MeetingAttachmentSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = MeetingAttachment
        fields = ["id", "kind", "kind_display", "original_name", "content_type", "size", "uploaded_at"]
        read_only_fields = fields


def _name(member: Any) -> str:
    return member.name if member is not None else ""


class MeetingSerializer(serializers.ModelSerializer):
    """A meeting in a list: facts, labels, names and totals."""

    org_name = serializers.CharField(source="org.name", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    venue_name = serializers.SerializerMethodField()
    host_name = serializers.SerializerMethodField()
    recorder_name = serializers.SerializerMethodField()
    lecturer_display = serializers.SerializerMethodField(
        help_text="the lecturer's name, on the register or not"
    )
    video = serializers.SerializerMethodField(help_text="whether the meeting has a video room")
    has_minutes = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()

    class Meta:
        model = Meeting
        fields = [
            "id", "org", "org_name", "kind", "kind_display", "title", "agenda", "starts_at", "ends_at", "date",
            "place", "venue", "venue_name", "host", "host_name", "recorder", "recorder_name", "lecturer",
            "lecturer_name", "lecturer_display", "status", "status_display", "cancel_reason", "video",
            "has_minutes", "minutes_recorded_at", "planned_notified_at", "reminded_at", "totals", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_venue_name(self, obj: Meeting) -> str:
        return obj.venue.name if obj.venue_id else ""

    def get_host_name(self, obj: Meeting) -> str:
        return _name(obj.host)

    def get_recorder_name(self, obj: Meeting) -> str:
        return _name(obj.recorder)

    def get_lecturer_display(self, obj: Meeting) -> str:
        return _name(obj.lecturer) or obj.lecturer_name

    def get_video(self, obj: Meeting) -> bool:
        return bool(obj.video_room)

    def get_has_minutes(self, obj: Meeting) -> bool:
        return obj.minutes_recorded_at is not None

    def get_totals(self, obj: Meeting) -> dict[str, Any]:
        return selectors.totals_of(obj).as_dict()


class MeetingDetailSerializer(MeetingSerializer):
    """A meeting on its own: also the minutes, the uploads, and the caller's own attendance row."""

    attachments = MeetingAttachmentSerializer(many=True, read_only=True)
    my_attendance = serializers.SerializerMethodField()

    class Meta(MeetingSerializer.Meta):
        fields = [*MeetingSerializer.Meta.fields, "notes", "minutes", "attachments", "my_attendance"]
        read_only_fields = fields

    def get_my_attendance(self, obj: Meeting) -> dict[str, Any] | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if not getattr(user, "is_authenticated", False):
            return None
        row = Attendee.objects.filter(meeting=obj, member__user=user).select_related("member").first()
        return AttendeeSerializer(row).data if row is not None else None


# ── request bodies ────────────────────────────────────────────────────────────────────────────────


class SafeDateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, but a naive time at the edge of the calendar (``0001-01-01T00:00:00``)
    answers 400 "out of range" instead of an OverflowError from DRF's own time-zone check (a 500)."""

    def enforce_timezone(self, value: Any) -> Any:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


def _id(**kw: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kw)


class MeetingWriteSerializer(serializers.Serializer):
    """Plan a meeting (POST) or change it (PATCH: any of these fields). Ids name the organisation, the
    room and the members; times are ISO 8601 (without an offset they are read in the server's zone)."""

    org = _id()
    kind = serializers.ChoiceField(choices=MeetingKind.choices)
    title = serializers.CharField(max_length=200)
    agenda = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    starts_at = SafeDateTimeField()
    ends_at = SafeDateTimeField(required=False, allow_null=True, default=None)
    place = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    venue = _id(required=False, allow_null=True, default=None)
    host = _id(required=False, allow_null=True, default=None)
    recorder = _id(required=False, allow_null=True, default=None)
    lecturer = _id(required=False, allow_null=True, default=None)
    lecturer_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=50,
        help_text="a lecturer not on the register",
    )
    video = serializers.BooleanField(required=False, default=False)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    minutes = serializers.CharField(
        required=False, allow_blank=True, max_length=200_000, help_text="PATCH only: the minutes (rich text)"
    )


class MeetingCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class AttendanceMarkSerializer(serializers.Serializer):
    member = _id()
    status = serializers.ChoiceField(choices=AttendanceStatus.choices)


class AttendeeAdjustSerializer(serializers.Serializer):
    member = _id()
    reason = serializers.CharField(max_length=200)


class AttendanceWriteSerializer(serializers.Serializer):
    """One of: ``marks`` (attendance by hand), ``add`` or ``remove`` (an attendee, with the reason)."""

    marks = AttendanceMarkSerializer(many=True, required=False)
    add = AttendeeAdjustSerializer(required=False)
    remove = AttendeeAdjustSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [k for k in ("marks", "add", "remove") if k in attrs]
        if len(given) != 1:
            raise serializers.ValidationError({"non_field_errors": [_("Send one of: marks, add or remove.")]})
        return attrs


class MeetingAttendanceSerializer(serializers.Serializer):
    """The attendance of a meeting: its totals and the rows the caller may see."""

    meeting = serializers.IntegerField()
    totals = AttendanceTotalsSerializer()
    rows = AttendeeSerializer(many=True)
    changed = serializers.IntegerField(required=False)


class MeetingLeaveRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)
    member = _id(
        required=False, help_text="whose leave (a secretary asking on a member's behalf); default: yours"
    )


class MeetingLeaveDecisionSerializer(serializers.Serializer):
    attendee = _id(required=False, help_text="the attendance row (or give member)")
    member = _id(required=False)
    approve = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "attendee" not in attrs and "member" not in attrs:
            raise serializers.ValidationError({"attendee": [_("Say whose leave request this is.")]})
        return attrs


class MeetingFilterSerializer(serializers.Serializer):
    """The list's query parameters; a value that is not what it should be answers 400."""

    org = _id(required=False)
    descendants = serializers.BooleanField(required=False, default=True)
    kind = serializers.CharField(required=False, help_text="one or several kinds, comma-separated")
    status = serializers.CharField(required=False, help_text="planned, held or cancelled (comma-separated)")
    year = serializers.IntegerField(
        required=False, min_value=selectors.YEAR_MIN, max_value=selectors.YEAR_MAX
    )
    month = serializers.IntegerField(required=False, min_value=1, max_value=12)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    q = serializers.CharField(required=False, max_length=100)
    mine = serializers.BooleanField(
        required=False, default=False, help_text="only the meetings I am expected at"
    )

    def _codes(self, value: str, allowed: list[str]) -> str:
        codes = [v.strip() for v in value.split(",") if v.strip()]
        bad = [c for c in codes if c not in allowed]
        if bad:
            raise serializers.ValidationError(_("Choose from: %(codes)s.") % {"codes": ", ".join(allowed)})
        return ",".join(codes)

    def validate_kind(self, value: str) -> str:
        return self._codes(value, MeetingKind.values)

    def validate_status(self, value: str) -> str:
        from dangjian.meetings.models import MeetingStatus

        return self._codes(value, MeetingStatus.values)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": [_("The end date is before the start date.")]})
        return attrs
