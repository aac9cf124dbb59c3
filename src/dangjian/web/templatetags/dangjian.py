"""Small template helpers for the desktop pages."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (pagination links keep the filters)."""
    request = context.get("request")
    query: QueryDict = request.GET.copy() if request is not None else QueryDict(mutable=True)
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def initial(value: Any) -> str:
    """The first character of a name, for round avatars."""
    text = str(value or "").strip()
    return text[:1].upper() if text else "·"


_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def chart_data(specs: Any) -> str:
    """Chart specs as a JSON <script> that web/charts.js picks up (escaped like json_script)."""
    payload = json.dumps(specs, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_ESCAPES)
    return format_html('<script type="application/json" data-dj-charts>{}</script>', mark_safe(payload))


@register.filter
def compact_json(value: Any) -> str:
    """A JSON value on one line, Chinese kept readable (audit details)."""
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(", ", ": "))
