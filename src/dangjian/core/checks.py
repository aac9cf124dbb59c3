"""System checks: production settings (``dangjian check --deploy``) and the shipped rule files."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_production_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.FIELD_KEY in ("", settings.INSECURE_FIELD_KEY):
        errors.append(
            Error(
                "DANGJIAN_FIELD_KEY is not set to a secret value.",
                id="dangjian.E001",
                hint="Set DANGJIAN_FIELD_KEY; it encrypts ID-card and phone numbers.",
            )
        )
    if settings.SECRET_KEY == settings.INSECURE_SECRET_KEY:
        errors.append(Error("DANGJIAN_SECRET_KEY is the development default.", id="dangjian.E002"))
    return errors


@register()
def check_rule_files(app_configs: Any, **kwargs: Any) -> list[Error]:
    from dangjian.core import rulebook

    try:
        for key in rulebook.rule_keys():
            rulebook.versions(key)
    except Exception as exc:  # a broken rule file must stop the site, not mis-decide quietly
        return [Error(f"A rule file cannot be read: {exc}", id="dangjian.E010")]
    return []
