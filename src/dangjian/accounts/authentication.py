"""API token authentication with expiry (``Authorization: Token <token>``)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):  # type: ignore[override]
        user, token = super().authenticate_credentials(key)
        if token.created < timezone.now() - dt.timedelta(days=settings.API_TOKEN_DAYS):
            raise exceptions.AuthenticationFailed(_("The token has expired; request a new one."))
        if user.is_locked():
            raise exceptions.AuthenticationFailed(_("This account is locked."))
        return user, token
