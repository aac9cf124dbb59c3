"""The votes panel of the meeting page (placeholder until its module provides it)."""

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def votes_panel(context, meeting):  # noqa: ANN001, ANN201
    return mark_safe("")  # noqa: S308
