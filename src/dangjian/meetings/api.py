"""Organization life over the API (issue 5 contract), under /api/v1/meetings/:

- ``GET  /`` (``meeting-list``): the meetings the caller sees, filtered by ``org`` (its subtree unless
  ``descendants=false``), ``kind``, ``status`` (comma-separated), ``year``, ``month``, ``date_from``,
  ``date_to``, ``q`` and ``mine=true`` (only those I am expected at); paginated, newest first.
  ``POST /`` plans a meeting (201).
- ``GET /{id}/``, ``PATCH /{id}/`` (``meeting-detail``): a meeting with its minutes, uploads and the
  caller's own attendance; PATCH changes it (``minutes`` saves the minutes).
- ``POST /{id}/cancel/`` (``meeting-cancel``): ``{"reason": ...}``.
- ``GET /{id}/attendance/`` (``meeting-attendance``): ``{"meeting", "totals", "rows"}``; POST one of
  ``{"marks": [{"member": 12, "status": "present"}, ...]}`` (by hand: pending, present, leave, absent),
  ``{"add": {"member": 12, "reason": ...}}`` or ``{"remove": {"member": 12, "reason": ...}}``; answers
  the attendance as GET does, with ``changed`` for marks.
- ``POST /{id}/leave/`` (``meeting-leave``): ``{"reason": ...}`` asks leave for the caller; a secretary
  adds ``"member"`` to ask on someone's behalf.
- ``POST /{id}/leave/decide/`` (``meeting-leave-decide``): ``{"attendee": id (or "member": id),
  "approve": true|false, "note": ...}``.

A member (role member) sees only the meetings they are expected at, and only their own attendance row.
Errors are the shared envelope (core/api.py): 400 with field messages, 403 for a write the caller may
not make, 404 for a meeting that is missing or outside the caller's scope.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import can
from dangjian.meetings import roster, selectors, services
from dangjian.meetings import serializers as s
from dangjian.meetings.models import Attendee, Meeting, MeetingPlace
from dangjian.members.models import Member
from dangjian.orgs.models import Organization


def _meeting_queryset():
    return Meeting.objects.select_related("org", "venue", "host", "recorder", "lecturer")


def _attendance(request: Any, meeting: Meeting, changed: int | None = None) -> dict[str, Any]:
    rows = selectors.attendees_of(meeting, request.user)
    data: dict[str, Any] = {
        "meeting": meeting.pk,
        "totals": selectors.attendance_totals(meeting).as_dict(),
        "rows": s.AttendeeSerializer(rows, many=True).data,
    }
    if changed is not None:
        data["changed"] = changed
    return data


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("org", int, description="Meetings of this organisation's subtree."),
            OpenApiParameter("descendants", bool, description="false: only this organisation's own."),
            OpenApiParameter("kind", str, description="Kinds, comma-separated."),
            OpenApiParameter("status", str, description="planned, held, cancelled (comma-separated)."),
            OpenApiParameter("year", int),
            OpenApiParameter("month", int),
            OpenApiParameter("date_from", str, description="YYYY-MM-DD, inclusive."),
            OpenApiParameter("date_to", str, description="YYYY-MM-DD, inclusive."),
            OpenApiParameter("q", str, description="Topic, agenda or place contains."),
            OpenApiParameter("mine", bool, description="Only the meetings I am expected at."),
        ]
    ),
    retrieve=extend_schema(responses={200: s.MeetingDetailSerializer}),
    create=extend_schema(request=s.MeetingWriteSerializer, responses={201: s.MeetingDetailSerializer}),
    partial_update=extend_schema(
        request=s.MeetingWriteSerializer, responses={200: s.MeetingDetailSerializer}
    ),
    cancel=extend_schema(request=s.MeetingCancelSerializer, responses={200: s.MeetingDetailSerializer}),
    leave=extend_schema(request=s.MeetingLeaveRequestSerializer, responses={200: s.AttendeeSerializer}),
)
class MeetingViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Meetings in the caller's scope; the writes call meetings.services."""

    queryset = _meeting_queryset()
    serializer_class = s.MeetingSerializer
    filterset_fields: list[str] = []

    def get_serializer_class(self):  # type: ignore[override]
        return s.MeetingSerializer if self.action == "list" else s.MeetingDetailSerializer

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action != "list":
            return qs.prefetch_related("attachments")
        params = s.MeetingFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        qs = selectors.meeting_filter(qs, p, actor=self.request.user)
        if p.get("mine"):
            qs = qs.filter(pk__in=selectors.my_meetings(self.request.user).values("pk"))
        return selectors.with_totals(qs).order_by("-starts_at", "-id")

    def _detail(self, meeting: Meeting, code: int = status.HTTP_200_OK) -> Response:
        fresh = _meeting_queryset().prefetch_related("attachments").get(pk=meeting.pk)
        return Response(s.MeetingDetailSerializer(fresh, context={"request": self.request}).data, status=code)

    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    # ── writes ──────────────────────────────────────────────────────────────────────────────────────

    def _resolve(self, v: dict[str, Any], org: Organization | None) -> dict[str, Any]:
        """Ids in a write body → objects (members the caller sees; rooms checked by the service)."""
        out: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if "venue" in v:
            venue = (
                MeetingPlace.objects.select_related("org").filter(pk=v["venue"]).first()
                if v["venue"]
                else None
            )
            if v["venue"] and venue is None:
                errors["venue"] = [_("Choose a room from the list.")]
            out["venue"] = venue
        visible = Member.objects.restrict(self.request.user, "view")
        for field in ("host", "recorder", "lecturer"):
            if field not in v:
                continue
            member = visible.filter(pk=v[field]).first() if v[field] else None
            if v[field] and member is None:
                errors[field] = [_("Choose a member of this branch.")]
            out[field] = member
        if errors:
            raise exceptions.ValidationError(errors)
        return out

    def _org(self, pk: int) -> Organization:
        org = Organization.objects.restrict(self.request.user, "add").filter(pk=pk).first()
        if org is None:
            raise exceptions.ValidationError({"org": [_("Choose an organisation you manage.")]})
        return org

    def create(self, request, *args, **kwargs):
        # A role that may add nowhere (auditor, member, no role) is refused outright.
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = s.MeetingWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = dict(body.validated_data)
        v.pop("minutes", None)
        org = self._org(v.pop("org"))
        v.update(self._resolve(v, org))
        meeting = services.meeting_create(actor=request.user, org=org, **v)
        return self._detail(meeting, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        meeting = self.get_object()
        self.check_object_write(meeting)
        body = s.MeetingWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        v = {k: val for k, val in body.validated_data.items() if k in request.data}
        minutes = v.pop("minutes", None)
        if "org" in v:
            v["org"] = self._org(v["org"])
        v.update(self._resolve(v, v.get("org")))
        if v:
            meeting = services.meeting_update(actor=request.user, meeting=meeting, **v)
        if minutes is not None:
            meeting = services.minutes_save(actor=request.user, meeting=meeting, html=minutes)
        return self._detail(meeting)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a planned meeting, with the reason; the attendees are told."""
        meeting = self.get_object()
        self.check_object_write(meeting)
        body = s.MeetingCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.meeting_cancel(actor=request.user, meeting=meeting, reason=body.validated_data["reason"])
        return self._detail(meeting)

    # ── attendance ──────────────────────────────────────────────────────────────────────────────────

    @extend_schema(responses={200: s.MeetingAttendanceSerializer})
    def attendance(self, request, pk=None):
        """The totals and the rows the caller may see (a member: their own)."""
        return Response(_attendance(request, self.get_object()))

    @extend_schema(request=s.AttendanceWriteSerializer, responses={200: s.MeetingAttendanceSerializer})
    def attendance_write(self, request, pk=None):
        """Marks by hand, or add / remove an attendee with the reason."""
        meeting = self.get_object()
        self.check_object_write(meeting)
        body = s.AttendanceWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        if "marks" in v:
            marks = {m["member"]: m["status"] for m in v["marks"]}
            changed = services.attendance_mark(actor=request.user, meeting=meeting, marks=marks)
            return Response(_attendance(request, meeting, changed))
        if "add" in v:
            member = self._addable(meeting).filter(pk=v["add"]["member"]).first()
            if member is None:
                raise exceptions.ValidationError({"member": [_("Choose a member you manage.")]})
            services.attendee_add(
                actor=request.user, meeting=meeting, member=member, reason=v["add"]["reason"]
            )
            return Response(_attendance(request, meeting))
        attendee = meeting.attendees.select_related("meeting").filter(member_id=v["remove"]["member"]).first()
        if attendee is None:
            raise exceptions.ValidationError(
                {"member": [_("This member is not on the list of this meeting.")]}
            )
        services.attendee_remove(actor=request.user, attendee=attendee, reason=v["remove"]["reason"])
        return Response(_attendance(request, meeting))

    def _addable(self, meeting: Meeting) -> Any:
        """Who may be added: members the caller sees, and flowing members hosted by the branch."""
        hosted = roster.hosted_flowing_members(roster.branch_of(meeting.org), meeting.date).values("pk")
        return Member.objects.filter(
            Q(pk__in=Member.objects.restrict(self.request.user, "view").values("pk")) | Q(pk__in=hosted)
        )

    # ── leave ───────────────────────────────────────────────────────────────────────────────────────

    @action(detail=True, methods=["post"])
    def leave(self, request, pk=None):
        """Ask for leave: for yourself, or (a secretary) for a member of the meeting."""
        meeting = self.get_object()
        body = s.MeetingLeaveRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        mine = selectors.my_member(request.user)
        if "member" in v and (mine is None or v["member"] != mine.pk):
            # On someone's behalf: only those who may change the meeting (checked before looking).
            self.check_object_write(meeting)
            row = meeting.attendees.select_related("member").filter(member_id=v["member"]).first()
            if row is None:
                raise exceptions.ValidationError(
                    {"member": [_("This member is not on the list of this meeting.")]}
                )
            member = row.member
        elif mine is None:
            raise exceptions.ValidationError(
                {"member": [_("You are not on the member register: say whose leave this is.")]}
            )
        else:
            member = mine
        attendee = services.leave_request(
            actor=request.user, meeting=meeting, member=member, reason=v["reason"]
        )
        return Response(s.AttendeeSerializer(attendee).data)

    @extend_schema(request=s.MeetingLeaveDecisionSerializer, responses={200: s.AttendeeSerializer})
    def leave_decide(self, request, pk=None):
        """Approve or refuse a leave request."""
        meeting = self.get_object()
        self.check_object_write(meeting)
        body = s.MeetingLeaveDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        rows = meeting.attendees.select_related("meeting", "member")
        attendee = (
            rows.filter(pk=v["attendee"]).first()
            if "attendee" in v
            else rows.filter(member_id=v["member"]).first()
        )
        if attendee is None:
            raise exceptions.ValidationError(
                {"attendee": [_("This member is not on the list of this meeting.")]}
            )
        attendee = services.leave_decide(
            actor=request.user, attendee=attendee, approve=v["approve"], note=v.get("note", "")
        )
        return Response(
            s.AttendeeSerializer(Attendee.objects.select_related("member").get(pk=attendee.pk)).data
        )


meeting_list = MeetingViewSet.as_view({"get": "list", "post": "create"})
meeting_detail = MeetingViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
meeting_cancel = MeetingViewSet.as_view({"post": "cancel"})
meeting_attendance = MeetingViewSet.as_view({"get": "attendance", "post": "attendance_write"})
meeting_leave = MeetingViewSet.as_view({"post": "leave"})
meeting_leave_decide = MeetingViewSet.as_view({"post": "leave_decide"})
