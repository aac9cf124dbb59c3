"""Account endpoints: token login (with lockout), who am I, role appointments."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from dangjian.accounts import services
from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.api import ScopedViewSet
from dangjian.core.scoping import APPOINTABLE_ROLES, can, role_assignments
from dangjian.orgs.models import Organization


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(label=_("username"), max_length=150)
    password = serializers.CharField(label=_("password"), max_length=128, trim_whitespace=False)


@extend_schema(
    request=TokenRequestSerializer,
    responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def token_obtain(request):
    """Exchange a username and password for an API token (locked after repeated failures)."""
    ser = TokenRequestSerializer(data=request.data)
    ser.is_valid(raise_exception=True)
    try:
        user = services.login_attempt(request=request, **ser.validated_data)
    except services.AccountLocked as locked:
        return Response({"error": {"code": "locked", "message": locked.message(), "fields": {}}}, status=423)
    if user is None:
        # Built by hand: on a view without authenticators DRF would turn AuthenticationFailed into a 403.
        body = {"code": "authentication_failed", "message": _("Wrong username or password."), "fields": {}}
        return Response({"error": body}, status=401, headers={"WWW-Authenticate": "Token"})
    return Response({"token": services.token_issue(user=user).key})


class RoleSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)

    class Meta:
        model = RoleAssignment
        fields = ["id", "role", "org", "org_name"]


@extend_schema(
    responses={
        200: inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "name": serializers.CharField(),
                "member": serializers.IntegerField(allow_null=True),
                "roles": RoleSerializer(many=True),
            },
        )
    }
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request):
    """The logged-in user, their member record (if any) and their roles, each with its org id."""
    user = request.user
    member = getattr(user, "member", None)
    return Response(
        {
            "id": user.pk,
            "username": user.username,
            "name": user.display_name,
            "member": member.pk if member else None,
            "roles": RoleSerializer(role_assignments(user), many=True).data,
        }
    )


class RoleAssignmentSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(source="user", slug_field="username", queryset=User.objects.all())
    role = serializers.ChoiceField(choices=[(r.value, r.label) for r in APPOINTABLE_ROLES])
    org = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())

    class Meta:
        model = RoleAssignment
        fields = ["id", "username", "org", "role", "active", "created_at"]
        read_only_fields = ["active", "created_at"]


class RoleAssignmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    ScopedViewSet,
):
    """Appointments: an org manager appoints secretaries and committee members within their subtree."""

    queryset = RoleAssignment.objects.filter(active=True).select_related("user", "org")
    serializer_class = RoleAssignmentSerializer
    filterset_fields = ["org", "role"]

    def create(self, request, *args, **kwargs):
        if not can(request.user, "manage_roles"):  # refused outright, before any field is looked at
            raise exceptions.PermissionDenied(
                _("You can only appoint people within the organisations you manage.")
            )
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        org = ser.validated_data["org"]
        if not Organization.objects.restrict(request.user, "view").filter(pk=org.pk).exists():
            raise exceptions.ValidationError({"org": [_("Unknown organisation.")]})
        ra = services.role_appoint(
            actor=request.user, user=ser.validated_data["user"], org=org, role=ser.validated_data["role"]
        )
        return Response(self.get_serializer(ra).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        ra = self.get_object()
        services.role_revoke(actor=request.user, assignment=ra)
        return Response(status=status.HTTP_204_NO_CONTENT)
