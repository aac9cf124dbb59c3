"""Developing members over the API: cases, their steps, the next allowed steps, attachments.

Contract (issue 3): ``POST /api/v1/recruitment/cases/``; ``POST /api/v1/recruitment/cases/{id}/steps/``
with ``{"step": 1..25, "date": "YYYY-MM-DD", ...step fields}`` → 201, or 400 with
``{"error": {"code": "rule_violation", "rule": "<rule key>", "article": "...", "message": "..."}}``;
``GET /api/v1/recruitment/cases/{id}/`` shows every step, the next allowed steps and the earliest date
each becomes allowed. Every other error keeps the envelope of ``core.api.exception_handler``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from dangjian.core.api import ScopedModelViewSet, ScopedViewSet
from dangjian.recruitment import rules, selectors, services, steps
from dangjian.recruitment.forms import CASE_FIELDS
from dangjian.recruitment.models import CaseAttachment, CaseStep, RecruitmentCase

WRITE_FIELDS = [*CASE_FIELDS, "id_number", "phone"]


def rule_violation_response(exc: services.RuleViolationError) -> Response:
    """The contract's envelope for a refused step: the first blocking rule, and all of them."""
    v = exc.first
    return Response(
        {
            "error": {
                "code": "rule_violation",
                "rule": v.rule,
                "article": v.article,
                "message": v.message,
                "violation": v.code,
                "rule_version": v.rule_ref,
                "earliest_date": v.earliest.isoformat() if v.earliest else None,
                "latest_date": v.latest.isoformat() if v.latest else None,
                "field": v.field,
                "violations": [x.as_dict() for x in exc.violations],
                "fields": {},
            }
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


class AttachmentSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = CaseAttachment
        fields = [
            "id",
            "step",
            "kind",
            "kind_display",
            "original_name",
            "content_type",
            "size",
            "uploaded_at",
        ]


class CaseStepSerializer(serializers.ModelSerializer):
    title = serializers.SerializerMethodField()
    stage = serializers.SerializerMethodField()
    outcome_display = serializers.SerializerMethodField()
    vote = serializers.SerializerMethodField()
    recorded_by = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = CaseStep
        fields = [
            "id", "step", "title", "stage", "date", "outcome", "outcome_display", "handled_by", "fields",
            "warnings", "rule_ref", "vote", "notes", "recorded_by", "recorded_at", "attachments",
        ]  # fmt: skip

    def get_title(self, obj: CaseStep) -> str:
        return str(steps.STEPS[obj.step].title)

    def get_stage(self, obj: CaseStep) -> int:
        return steps.stage_of(obj.step)

    def get_outcome_display(self, obj: CaseStep) -> str:
        return str(steps.OUTCOME_LABELS.get(obj.outcome, obj.outcome))

    def get_recorded_by(self, obj: CaseStep) -> str:
        return (obj.actor.full_name or obj.actor.username) if obj.actor else ""

    def get_vote(self, obj: CaseStep) -> dict[str, Any] | None:
        v = obj.vote
        if v is None:
            return None
        return {
            "id": v.pk,
            "kind": v.kind,
            "meeting": v.meeting_id,
            "expected_voting": v.expected_voting,
            "present_voting": v.present_voting,
            "full_members_expected": v.full_members_expected,
            "yes": v.yes,
            "no": v.no,
            "abstain": v.abstain,
            "written_opinions_yes": v.written_opinions_yes,
            "written_opinions_no": v.written_opinions_no,
            "quorum_met": v.quorum_met,
            "passed": v.passed,
            "rule_ref": v.rule_ref,
        }


class CaseSerializer(serializers.ModelSerializer):
    """A case as the API shows it: personal numbers masked."""

    org_name = serializers.CharField(source="org.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    stage_display = serializers.SerializerMethodField()
    id_number = serializers.CharField(write_only=True, required=False, label=_("ID number"))
    phone = serializers.CharField(write_only=True, required=False, allow_blank=True, label=_("phone"))

    class Meta:
        model = RecruitmentCase
        fields = [
            "id", "name", "gender", "ethnicity", "birth_date", "id_number_masked", "phone_masked", "education",
            "occupation", "work_unit", "address", "org", "org_name", "stage", "stage_display", "status",
            "status_display", "last_step", "last_step_date", "application_date", "activist_date",
            "candidate_date", "admitted_date", "probation_end", "extensions", "full_date", "member",
            "closed_reason", "created_at", "id_number", "phone",
        ]  # fmt: skip
        read_only_fields = [
            "id_number_masked", "phone_masked", "stage", "status", "last_step", "last_step_date",
            "application_date", "activist_date", "candidate_date", "admitted_date", "probation_end",
            "extensions", "full_date", "member", "closed_reason", "created_at",
        ]  # fmt: skip

    def get_stage_display(self, obj: RecruitmentCase) -> str:
        return str(steps.STAGE_TITLES.get(obj.stage, ""))

    def to_internal_value(self, data):  # validation is RecruitmentCaseForm's, shared with the pages
        known = set(WRITE_FIELDS) | set(self.Meta.fields)
        unknown = set(data) - known
        if unknown:
            raise serializers.ValidationError({k: [_("Unknown field.")] for k in sorted(unknown)})
        return {k: v for k, v in data.items() if k in WRITE_FIELDS}


def next_steps_data(case: RecruitmentCase, on: dt.date | None = None) -> list[dict[str, Any]]:
    today = on or timezone.localdate()
    out = []
    for n in services.next_allowed_steps(case, today):
        out.append(
            {
                "step": n.step,
                "title": str(steps.STEPS[n.step].title),
                "stage": steps.stage_of(n.step),
                "earliest_date": n.earliest.isoformat() if n.earliest else None,
                "latest_date": n.latest.isoformat() if n.latest else None,
                "allowed_today": not n.blocking,
                "blocking": [v.as_dict() for v in n.blocking],
                "warnings": [v.as_dict() for v in n.warnings],
            }
        )
    return out


class CaseDetailSerializer(CaseSerializer):
    steps = serializers.SerializerMethodField()
    next_steps = serializers.SerializerMethodField()
    introducers = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "steps", "next_steps", "introducers", "rule"]

    def get_steps(self, obj: RecruitmentCase) -> list[dict[str, Any]]:
        qs = obj.steps.select_related("vote", "actor").prefetch_related("attachments").order_by("date", "id")
        return CaseStepSerializer(qs, many=True).data

    def get_next_steps(self, obj: RecruitmentCase) -> list[dict[str, Any]]:
        return next_steps_data(obj)

    def get_introducers(self, obj: RecruitmentCase) -> list[dict[str, Any]]:
        return [
            {"member": i.member_id, "name": i.member.name, "since": i.since}
            for i in obj.introducers.select_related("member")
        ]

    def get_rule(self, obj: RecruitmentCase) -> dict[str, Any]:
        r = rules.rule_for(timezone.localdate(), obj.org)
        return {
            "ref": r.ref,
            "title": r.title,
            "source": r.source,
            "confidence": r.confidence,
            "pending_confirmation": r.pending_confirmation,
        }


_FILTERS = [
    OpenApiParameter("org", int, description="organisation id; includes its subtree"),
    OpenApiParameter("stage", int, description="1–5"),
    OpenApiParameter("status", str),
    OpenApiParameter("q", str, description="name"),
    OpenApiParameter("worklist", str, description="due_this_month | overdue"),
]

_STEP_REQUEST = inline_serializer(
    "RecruitmentStepRequest",
    {
        "step": serializers.IntegerField(min_value=1, max_value=25),
        "date": serializers.DateField(),
        "outcome": serializers.CharField(required=False),
        "handled_by": serializers.CharField(required=False),
        "notes": serializers.CharField(required=False),
    },
)


@extend_schema(parameters=_FILTERS)
class RecruitmentCaseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Recruitment cases of the user's part of the tree (scoped by the branch path)."""

    queryset = RecruitmentCase.objects.all()
    serializer_class = CaseSerializer
    filter_backends: list = []
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    create = ScopedModelViewSet.create

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CaseDetailSerializer
        return CaseSerializer

    def get_queryset(self):
        qs = super().get_queryset().select_related("org")
        if self.action == "list":
            qs = selectors.case_filter(
                qs, self.request.query_params, visible_orgs=selectors.visible_orgs(self.request.user)
            )
        return qs

    def perform_create(self, serializer):
        return services.case_open(actor=self.request.user, data=serializer.validated_data)

    @extend_schema(request=_STEP_REQUEST, responses={201: CaseStepSerializer})
    @action(detail=True, methods=["post"])
    def steps(self, request, pk=None):
        """Record a step; refused with the rule and article that forbid it, and when it becomes allowed."""
        case = self.get_object()
        self.check_object_write(case)
        data = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        if hasattr(request.data, "getlist"):  # a form: lists of members come as repeated keys
            for name in ("mentors", "introducers"):
                if name in request.data:
                    data[name] = request.data.getlist(name)
        try:
            record = services.step_record(actor=request.user, case=case, data=data)
        except services.RuleViolationError as exc:
            return rule_violation_response(exc)
        case.refresh_from_db()
        body = CaseStepSerializer(record).data
        body["case"] = CaseSerializer(case).data
        body["next_steps"] = next_steps_data(case)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=inline_serializer(
            "RecruitmentStopRequest", {"date": serializers.DateField(), "reason": serializers.CharField()}
        ),
        responses={200: CaseSerializer},
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        """Stop a case before admission, with a reason; the steps stay as the record."""
        case = self.get_object()
        self.check_object_write(case)
        date = services._parse_date(request.data.get("date") or timezone.localdate().isoformat(), "date")
        case = services.case_stop(
            actor=request.user, case=case, date=date, reason=request.data.get("reason") or ""
        )
        return Response(CaseSerializer(case).data)

    @extend_schema(
        request=inline_serializer(
            "RecruitmentRevealRequest", {"field": serializers.ChoiceField(["id_number", "phone"])}
        ),
        responses={
            200: inline_serializer(
                "RecruitmentRevealResponse",
                {"field": serializers.CharField(), "value": serializers.CharField()},
            )
        },
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """Reveal the unmasked ID or phone number (audited; only roles that may reveal)."""
        case = self.get_object()
        field = request.data.get("field", "")
        return Response(
            {"field": field, "value": services.case_reveal(actor=request.user, case=case, field=field)}
        )

    @extend_schema(
        request=inline_serializer(
            "RecruitmentAttachmentRequest",
            {
                "step": serializers.IntegerField(),
                "kind": serializers.CharField(),
                "file": serializers.FileField(),
            },
        ),
        responses={201: AttachmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def attachments(self, request, pk=None):
        """Attach a scanned document (pdf, jpg, png, docx; type checked by content) to a recorded step.

        ``step`` is the id of the recorded step (or its number 1–25: the latest record of it).
        """
        case = self.get_object()
        self.check_object_write(case)
        upload = request.FILES.get("file")
        if upload is None:
            raise exceptions.ValidationError({"file": [_("Choose a file.")]})
        ref = str(request.data.get("step") or "")
        record = None
        if ref.isdigit():
            record = case.steps.filter(pk=int(ref)).first() or (
                case.steps.filter(step=int(ref)).order_by("-id").first() if int(ref) <= 25 else None
            )
        if record is None:
            raise exceptions.ValidationError({"step": [_("Choose a recorded step of this case.")]})
        attachment = services.attachment_add(
            actor=request.user, step=record, kind=request.data.get("kind") or "other", upload=upload
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentViewSet(mixins.RetrieveModelMixin, ScopedViewSet):
    """One attachment's file, for those who may see its case."""

    queryset = CaseAttachment.objects.select_related("step__case")
    serializer_class = AttachmentSerializer

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def retrieve(self, request, *args, **kwargs):
        attachment = self.get_object()
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
