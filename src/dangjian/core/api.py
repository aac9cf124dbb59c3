"""API plumbing: pagination, the error envelope, and the scoped base viewset every endpoint uses."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dangjian.core.scoping import can, ensure_in_scope

_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    423: "locked",
    429: "throttled",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every API error as ``{"error": {"code", "message", "fields"}}`` in the request's language."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    fields: dict[str, Any] = {}
    message = ""
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            for name, errors in detail.items():
                fields[name] = [str(e) for e in errors] if isinstance(errors, list) else errors
            first = next(iter(fields.values()), None)
            if isinstance(first, list) and first:
                message = _("Please correct the highlighted fields: %(first)s") % {"first": first[0]}
        elif isinstance(detail, list):
            message = "; ".join(str(d) for d in detail)
        message = message or _("The request contains invalid data.")
        code = "invalid"
    else:
        detail = getattr(exc, "detail", "")
        message = str(detail) if detail else str(exc)
        code = getattr(exc, "default_code", None) or _CODES.get(response.status_code, "error")
        if response.status_code == 404:
            code, message = "not_found", _("Not found.")
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


class ScopedViewSet(viewsets.GenericViewSet):
    """Base viewset: every list and object lookup goes through ``restrict(user, "view")``.

    An object outside the user's scope is 404, like a missing one; a visible object the user may not
    change is 403. Writes run in one transaction and are re-checked for scope before commit.
    """

    def get_queryset(self):  # type: ignore[override]
        return super().get_queryset().restrict(self.request.user, "view")

    def check_object_write(self, obj: Any, action: str = "change") -> None:
        model = type(obj)
        if not model._default_manager.all().restrict(self.request.user, action).filter(pk=obj.pk).exists():
            raise exceptions.PermissionDenied(_("You may view this but not change it."))


class ScopedModelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """List, retrieve, create and update (PATCH and PUT) with scope checks; no delete by default."""

    def update(self, request, *args, **kwargs):  # type: ignore[override]
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        self.check_object_write(instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            obj = self.perform_update(serializer) or serializer.instance
            ensure_in_scope(request.user, obj, "change")
        return Response(self.get_serializer(obj).data)

    def create(self, request, *args, **kwargs):  # type: ignore[override]
        # A role that may add nowhere (auditor, member, no role) is refused outright, not told to fix fields.
        if not can(request.user, "add"):
            raise exceptions.PermissionDenied(_("You do not have permission to do this here."))
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            obj = self.perform_create(serializer) or serializer.instance
            ensure_in_scope(request.user, obj, "change")
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)
