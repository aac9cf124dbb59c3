"""谈心谈话, 组织生活会 notes and 民主评议党员 over the API (under /api/v1/meetings/).

- ``GET/POST talks/`` (``talk-list``): talks of the caller's scope (``?org=`` subtree, ``?year=``);
  POST records one.
- ``GET/POST appraisals/`` (``appraisal-list``): appraisals (``?org=``, ``?year=``); POST opens the
  year's appraisal of a branch (``{"org", "year", "meeting"?}``; 201 when rows were made, 200 when all
  were there already).
- ``GET/PATCH appraisals/<id>/`` (``appraisal-detail``): ``rating`` and ``notes`` by the branch,
  ``self_assessment`` by the member or the branch.
- ``POST appraisals/<id>/mutual/`` (``appraisal-rate``): a fellow member's secret rating.
- ``GET/POST <meeting id>/life-notes/`` (``life-note-list``): the notes of an organization life meeting.

Secrecy: a member sees only their own appraisal (``Appraisal.scope_self_q``) and never a mutual tally;
who gave which mutual rating is in no answer at all — officers see the count per rating only.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import can, path_prefix_q
from dangjian.meetings import appraisal as svc
from dangjian.meetings.models import (
    Appraisal,
    AppraisalRating,
    LifeMeetingNote,
    Meeting,
    MeetingKind,
    TalkRecord,
)
from dangjian.members.models import Member
from dangjian.members.selectors import bounded_int
from dangjian.orgs.models import Organization

MAX_ID = 2**63 - 1
YEAR_PARAMS = [
    OpenApiParameter("org", OpenApiTypes.INT, description="Organisation (its whole subtree)."),
    OpenApiParameter("year", OpenApiTypes.INT, description="Year."),
]


def _int_param(request: Request, name: str, lo: int = 1, hi: int = MAX_ID) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    value = bounded_int(raw, lo, hi)
    if value is None:
        raise exceptions.ValidationError({name: [_("Give a whole number.")]})
    return value


def _org_filter(request: Request, qs: Any, path_field: str = "org__path") -> Any:
    org_id = _int_param(request, "org")
    if org_id is not None:
        top = Organization.objects.filter(pk=org_id).only("path").first()
        qs = qs.filter(path_prefix_q(path_field, top.path)) if top else qs.none()
    year = _int_param(request, "year", 1900, 9999)
    if year is not None:
        qs = qs.filter(**({"date__year": year} if qs.model is TalkRecord else {"year": year}))
    return qs


def _user_name(user: Any) -> str:
    return (user.full_name or user.username) if user is not None else ""


def _visible(model: Any, user: Any, pk: int | None) -> Any:
    if pk is None:
        return None
    return model.objects.restrict(user, "view").filter(pk=pk).first()


def _require_adder(user: Any) -> None:
    # A role that may add nowhere (auditor, member, no role) is refused outright, not told to fix fields.
    if not can(user, "add"):
        raise exceptions.PermissionDenied(_("You do not have permission to do this here."))


# ── talks ─────────────────────────────────────────────────────────────────────────────────────────


class TalkSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    initiator_name = serializers.CharField(source="initiator.name", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    recorded_by_name = serializers.SerializerMethodField()

    class Meta:
        model = TalkRecord
        fields = [
            "id", "org", "org_name", "meeting", "date", "initiator", "initiator_name", "partner", "partner_name",
            "topic", "notes", "recorded_by", "recorded_by_name", "recorded_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_recorded_by_name(self, obj: TalkRecord) -> str:
        return _user_name(obj.recorded_by)


class TalkCreateSerializer(serializers.Serializer):
    org = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    initiator = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    partner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    date = serializers.DateField()
    topic = serializers.CharField(max_length=svc.TOPIC_MAX)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=svc.TEXT_MAX)
    meeting = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)


@extend_schema_view(
    list=extend_schema(parameters=YEAR_PARAMS),
    create=extend_schema(request=TalkCreateSerializer, responses={201: TalkSerializer}),
)
class TalkViewSet(mixins.ListModelMixin, ScopedViewSet):
    """谈心谈话 records in the caller's scope; at least one a year for every member (RULES.md §3)."""

    queryset = TalkRecord.objects.select_related("org", "initiator", "partner", "recorded_by")
    serializer_class = TalkSerializer
    filter_backends: list[Any] = []

    def get_queryset(self):  # type: ignore[override]
        return _org_filter(self.request, super().get_queryset()).order_by("-date", "-id")

    def create(self, request, *args, **kwargs):
        _require_adder(request.user)
        body = TalkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        org = _visible(Organization, request.user, v["org"])
        if org is None:
            raise exceptions.ValidationError({"org": [_("Choose a branch within your scope.")]})
        meeting = _visible(Meeting, request.user, v.get("meeting"))
        if v.get("meeting") and meeting is None:
            raise exceptions.ValidationError({"meeting": [_("Choose a meeting within your scope.")]})
        talk = svc.talk_record(
            actor=request.user,
            org=org,
            initiator=_visible(Member, request.user, v["initiator"]),
            partner=_visible(Member, request.user, v["partner"]),
            date=v["date"],
            topic=v["topic"],
            notes=v["notes"],
            meeting=meeting,
        )
        return Response(
            TalkSerializer(self.get_queryset().get(pk=talk.pk)).data, status=status.HTTP_201_CREATED
        )


# ── appraisals ────────────────────────────────────────────────────────────────────────────────────


class AppraisalSerializer(serializers.ModelSerializer):
    """One member's appraisal. ``mutual`` (the count per rating of the secret mutual assessment) is
    given only to those who hold a role over the branch; it is null for the member."""

    org_name = serializers.CharField(source="org.name", read_only=True)
    member_name = serializers.CharField(source="member.name", read_only=True)
    rating_display = serializers.CharField(source="get_rating_display", read_only=True)
    self_assessment_done = serializers.SerializerMethodField()
    mutual = serializers.SerializerMethodField()
    hint = serializers.SerializerMethodField()

    class Meta:
        model = Appraisal
        fields = [
            "id", "org", "org_name", "year", "member", "member_name", "meeting", "self_assessment",
            "self_assessment_done", "mutual", "rating", "rating_display", "rated_at", "notes", "rule_ref", "hint",
        ]  # fmt: skip
        read_only_fields = fields

    def get_self_assessment_done(self, obj: Appraisal) -> bool:
        return bool(obj.self_assessment)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_mutual(self, obj: Appraisal) -> dict[str, int] | None:
        user = self.context["request"].user
        if not svc.sees_branch_detail(user, obj.org):
            return None
        tally = self.context.get("tally")
        if tally is None or obj.pk not in tally:
            tally = svc.mutual_tally([obj.pk])
        return tally[obj.pk]

    def get_hint(self, obj: Appraisal) -> str:
        return str(svc.UNQUALIFIED_HINT) if obj.rating == AppraisalRating.UNQUALIFIED else ""


class AppraisalOpenSerializer(serializers.Serializer):
    org = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    year = serializers.IntegerField(min_value=1900, max_value=9999)
    meeting = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)


class AppraisalPatchSerializer(serializers.Serializer):
    rating = serializers.CharField(required=False, allow_blank=True, max_length=24)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=svc.TEXT_MAX)
    self_assessment = serializers.CharField(required=False, allow_blank=True, max_length=svc.TEXT_MAX)


class MutualRatingSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=AppraisalRating.choices)


def _summary_json(summary: svc.AppraisalSummary) -> dict[str, Any]:
    return {
        "year": summary.year,
        "total": summary.total,
        "rated": summary.rated,
        "unrated": summary.unrated,
        "self_assessment_done": summary.self_done,
        "counts": summary.counts,
        "excellent_percent": summary.excellent_percent,
        "excellent_warn_percent": summary.warn_percent,
        "excellent_over_share": summary.excellent_over_share,
        "excellent_share_note": str(svc.EXCELLENT_SHARE_NOTE),
    }


@extend_schema_view(
    list=extend_schema(parameters=YEAR_PARAMS),
    create=extend_schema(request=AppraisalOpenSerializer, responses={201: OpenApiTypes.OBJECT}),
    partial_update=extend_schema(request=AppraisalPatchSerializer, responses={200: AppraisalSerializer}),
)
class AppraisalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """民主评议党员: officers see their subtree, a member only their own appraisal."""

    queryset = Appraisal.objects.select_related("org", "member", "meeting")
    serializer_class = AppraisalSerializer
    filter_backends: list[Any] = []
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        if self.action == "list":
            qs = _org_filter(self.request, qs)
        return qs.order_by("-year", "org__path", "member__name", "member_id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = page if page is not None else list(self.get_queryset())
        context = {**self.get_serializer_context(), "tally": svc.mutual_tally(r.pk for r in rows)}
        data = AppraisalSerializer(rows, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def create(self, request, *args, **kwargs):
        """Open the year's appraisal of a branch (idempotent)."""
        _require_adder(request.user)
        body = AppraisalOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        org = _visible(Organization, request.user, v["org"])
        if org is None:
            raise exceptions.ValidationError({"org": [_("Choose a branch within your scope.")]})
        meeting = _visible(Meeting, request.user, v.get("meeting"))
        if v.get("meeting") and meeting is None:
            raise exceptions.ValidationError({"meeting": [_("Choose a meeting within your scope.")]})
        created = svc.appraisal_open(actor=request.user, org=org, year=v["year"], meeting=meeting)
        body = {
            "org": org.pk,
            "year": v["year"],
            "created": created,
            "summary": _summary_json(svc.appraisal_summary(org, v["year"])),
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs):
        """``rating`` and ``notes`` by the branch (不合格 needs notes); ``self_assessment`` by the
        member themself or the branch."""
        appraisal = self.get_object()
        body = AppraisalPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        with transaction.atomic():
            if "self_assessment" in v:
                svc.self_assessment_save(actor=request.user, appraisal=appraisal, text=v["self_assessment"])
            if "rating" in v or "notes" in v:
                svc.appraisal_rate(
                    actor=request.user,
                    appraisal=appraisal,
                    rating=v.get("rating", appraisal.rating),
                    notes=v.get("notes", appraisal.notes),
                )
        fresh = self.get_queryset().get(pk=appraisal.pk)
        return Response(AppraisalSerializer(fresh, context=self.get_serializer_context()).data)


class AppraisalMutualView(APIView):
    """A fellow member's secret rating of one appraisal (``{"rating": ...}``): by a current member of
    the same branch through their own login, never of themselves; sending it again changes it until the
    branch has rated the member. The answer names only the caller's own rating."""

    @extend_schema(request=MutualRatingSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        user = request.user
        rater = svc.own_member(user)
        # Visible to the caller's role, or in the caller's own branch (a member rating a fellow member,
        # whose appraisal scope_self_q does not show them): else 404, like a missing one.
        where = Q(pk__in=Appraisal.objects.restrict(user, "view").values("pk"))
        if rater is not None:
            where |= Q(org_id=rater.org_id)
        appraisal = Appraisal.objects.filter(where).select_related("org", "member").filter(pk=pk).first()
        if appraisal is None:
            raise exceptions.NotFound()
        body = MutualRatingSerializer(data=request.data)
        if rater is None or rater.org_id != appraisal.org_id:
            raise exceptions.PermissionDenied(
                _("Only fellow members of the branch take part in the mutual assessment.")
            )
        body.is_valid(raise_exception=True)
        row = svc.mutual_rate(actor=user, appraisal=appraisal, rating=body.validated_data["rating"])
        return Response({"appraisal": appraisal.pk, "rating": row.rating})


# ── organization life meeting notes ─────────────────────────────────────────────────────────────────


class LifeNoteSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.name", read_only=True)
    about_name = serializers.CharField(source="about.name", read_only=True, default="")
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = LifeMeetingNote
        fields = [
            "id",
            "meeting",
            "member",
            "member_name",
            "kind",
            "kind_display",
            "about",
            "about_name",
            "text",
            "recorded_at",
        ]
        read_only_fields = fields


class LifeNoteCreateSerializer(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=LifeMeetingNote.Kind.choices)
    text = serializers.CharField(max_length=svc.TEXT_MAX)
    about = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)


def _life_meeting(user: Any, pk: int) -> Meeting:
    """The organization life meeting if the caller holds a role over its branch; else 404."""
    meeting = (
        Meeting.objects.restrict(user, "view")
        .filter(pk=pk, kind=MeetingKind.LIFE_MEETING)
        .select_related("org")
        .first()
    )
    if meeting is None or not can(user, "view", meeting.org):
        raise exceptions.NotFound()
    return meeting


class LifeNotesView(APIView):
    """The notes of an organization life meeting: self-criticism, criticism (with whom it is about)
    and rectification, per member; ``missing_self_criticism`` lists who has none yet."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        meeting = _life_meeting(request.user, pk)
        notes = (
            svc.life_notes_for(request.user).filter(meeting=meeting).order_by("member__name", "kind", "id")
        )
        have = set(notes.filter(kind=LifeMeetingNote.Kind.SELF_CRITICISM).values_list("member_id", flat=True))
        missing = [{"id": m.pk, "name": m.name} for m in svc.life_participants(meeting) if m.pk not in have]
        return Response(
            {
                "meeting": meeting.pk,
                "results": LifeNoteSerializer(notes, many=True).data,
                "missing_self_criticism": missing,
            }
        )

    @extend_schema(request=LifeNoteCreateSerializer, responses={201: LifeNoteSerializer})
    def post(self, request: Request, pk: int) -> Response:
        meeting = _life_meeting(request.user, pk)
        if not can(request.user, "add", meeting.org):
            raise exceptions.PermissionDenied(_("You may view this but not change it."))
        body = LifeNoteCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        note = svc.life_note_add(
            actor=request.user,
            meeting=meeting,
            member=_visible(Member, request.user, v["member"]),
            kind=v["kind"],
            text=v["text"],
            about=_visible(Member, request.user, v.get("about")),
        )
        return Response(LifeNoteSerializer(note).data, status=status.HTTP_201_CREATED)
