"""Template helpers of the dues pages."""

from __future__ import annotations

from django import template

from dangjian.dues import rules

register = template.Library()


@register.filter
def rule_label(ref: str | None) -> str:
    """``{{ bill.rule_ref|rule_label }}``: "党费收缴标准（2008年版）" instead of the stored code ``dues@2008``."""
    return rules.rule_label(ref)
