"""Bank-statement imports over the API (dues/statements.py does the work).

- ``GET /api/v1/dues/statements/`` — the imports of the caller's scope (``?org=<id>``: that subtree,
  ``?status=pending|confirmed|discarded``), each with its counts;
- ``POST /api/v1/dues/statements/`` (multipart: ``org``, ``file``) — import and match; 201 with the
  lines; a file without statement columns, or already imported for the organisation → 400 on ``file``;
- ``GET /api/v1/dues/statements/{id}/`` — the import with every line;
- ``PATCH /api/v1/dues/statements/{id}/lines/`` (``row``, ``decision`` book|ignore|pending, optional
  ``member`` id and ``months`` ["YYYY-MM", …]) — the treasurer's decision on one line;
- ``POST /api/v1/dues/statements/{id}/confirm/`` — book every line decided "book", all or nothing; a
  refused line → 400 ``{"error": {"code": "line_refused" | "rule_violation", "row", "message", ...}}``;
- ``POST /api/v1/dues/statements/{id}/discard/`` (optional ``reason``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import can, path_prefix_q
from dangjian.dues import rules, statements
from dangjian.dues.models import DuesStatement, DuesStatementLine
from dangjian.orgs.models import Organization


def _money(value: Any) -> str | None:
    return f"{value:.2f}" if value is not None else None


def _mask(account: str) -> str:
    return f"{account[:4]}****{account[-4:]}" if len(account) > 8 else account


class StatementLineSerializer(serializers.ModelSerializer):
    """One line: what the file says (the payer account masked), what it was matched to, the decision."""

    amount = serializers.SerializerMethodField()
    account_no = serializers.SerializerMethodField()
    member_name = serializers.CharField(source="member.name", read_only=True, default=None)
    match_display = serializers.CharField(source="get_match_display", read_only=True)
    decision_display = serializers.CharField(source="get_decision_display", read_only=True)

    class Meta:
        model = DuesStatementLine
        fields = [
            "id", "row", "paid_on", "amount", "payer", "account_no", "reference", "memo", "line_key", "match",
            "match_display", "match_note", "member", "member_name", "candidates", "months", "decision",
            "decision_display", "payment",
        ]  # fmt: skip
        read_only_fields = fields

    def get_amount(self, obj: DuesStatementLine) -> str | None:
        return _money(obj.amount)

    def get_account_no(self, obj: DuesStatementLine) -> str:
        return _mask(obj.account_no)


class StatementSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True, default=None)
    confirmed_by = serializers.CharField(source="confirmed_by.username", read_only=True, default=None)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = DuesStatement
        fields = [
            "id", "org", "org_name", "filename", "sha256", "status", "status_display", "uploaded_by",
            "uploaded_at", "confirmed_by", "confirmed_at", "summary",
        ]  # fmt: skip
        read_only_fields = fields

    def get_summary(self, obj: DuesStatement) -> dict[str, Any]:
        summary = statements.statement_summary(obj, obj.lines.all())
        return {k: _money(v) if k.endswith("_total") else v for k, v in summary.items()}


class StatementDetailSerializer(StatementSerializer):
    lines = StatementLineSerializer(many=True, read_only=True)

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    org = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    file = serializers.FileField()


class LineUpdateSerializer(serializers.Serializer):
    row = serializers.IntegerField(min_value=1, max_value=rules.MAX_ID)
    decision = serializers.ChoiceField(choices=DuesStatementLine.Decision.choices)
    member = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=rules.MAX_ID)
    months = serializers.ListField(child=serializers.CharField(), required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def line_refused_response(exc: statements.StatementLineRefused) -> Response:
    error: dict[str, Any] = {"code": "line_refused", "row": exc.row, "message": exc.messages[0], "fields": {}}
    v = exc.violation
    if v is not None:
        error.update(
            code="rule_violation", rule=v.rule, article=v.article, violation=v.code, rule_version=v.rule_ref
        )
    return Response({"error": error}, status=status.HTTP_400_BAD_REQUEST)


class DuesStatementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = DuesStatement.objects.select_related("org", "uploaded_by", "confirmed_by")
    serializer_class = StatementSerializer

    def get_serializer_class(self):  # type: ignore[override]
        return StatementSerializer if self.action == "list" else StatementDetailSerializer

    def get_queryset(self):  # type: ignore[override]
        qs = super().get_queryset()
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("org"):
            org_id = rules.parse_int(params["org"])
            if org_id is None:
                raise exceptions.ValidationError({"org": [_("Give a whole number.")]})
            org = Organization.objects.restrict(self.request.user, "view").filter(pk=org_id).first()
            if org is None:
                return qs.none()
            qs = qs.filter(path_prefix_q("org_path", org.path))
        lines = DuesStatementLine.objects.select_related("member").order_by("row")
        return qs.prefetch_related(Prefetch("lines", queryset=lines))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, "change"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        org = (
            Organization.objects.restrict(request.user, "view").filter(pk=body.validated_data["org"]).first()
        )
        if org is None:
            raise exceptions.ValidationError({"org": [_("Choose an organisation you manage.")]})
        statement = statements.statement_import(actor=request.user, org=org, file=body.validated_data["file"])
        statement = self.get_queryset().get(pk=statement.pk)
        return Response(StatementDetailSerializer(statement).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["patch"], url_path="lines", url_name="lines")
    def lines(self, request: Request, pk: Any = None) -> Response:
        statement = self.get_object()
        self.check_object_write(statement)
        body = LineUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        line = statement.lines.filter(row=v["row"]).first()
        if line is None:
            raise exceptions.ValidationError(
                {"row": [_("The statement has no row %(row)s.") % {"row": v["row"]}]}
            )
        kwargs: dict[str, Any] = {}
        if v.get("member") is not None:
            kwargs["member"] = v["member"]
        if "months" in v:
            kwargs["months"] = v["months"]
        line = statements.statement_line_set(actor=request.user, line=line, decision=v["decision"], **kwargs)
        return Response(
            StatementLineSerializer(DuesStatementLine.objects.select_related("member").get(pk=line.pk)).data
        )

    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: Any = None) -> Response:
        statement = self.get_object()
        self.check_object_write(statement)
        try:
            statements.statement_confirm(actor=request.user, statement=statement)
        except statements.StatementLineRefused as exc:
            return line_refused_response(exc)
        return Response(StatementDetailSerializer(self.get_queryset().get(pk=statement.pk)).data)

    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: Any = None) -> Response:
        statement = self.get_object()
        self.check_object_write(statement)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statements.statement_discard(
            actor=request.user, statement=statement, reason=body.validated_data["reason"]
        )
        return Response(StatementDetailSerializer(self.get_queryset().get(pk=statement.pk)).data)
