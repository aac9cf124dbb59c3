"""Organisation structure rules (支部工作条例), reading their numbers from the rulebook."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.orgs.models import BRANCH_TYPES, OrgType


@dataclass(frozen=True)
class Flag:
    """A structure finding shown on the org page and in the API; advisory, never blocking."""

    code: str
    message: str
    rule: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "rule": self.rule}

    @property
    def rule_label(self) -> str:
        return rule_label(self.rule)


def rule_label(ref: str) -> str:
    """A rule reference (``org.terms@2018``, ``key@2018/local-2024-01-01+org5``) as people read it: the
    rule's title and version. An unknown reference is shown as it is."""
    key, _at, rest = ref.partition("@")
    version = rest.partition("+")[0]
    national, _sep, local = version.partition("/local-")
    try:
        title = next((v.title for v in rulebook.versions(key) if v.version == national), "")
        title = title or rulebook.versions(key)[-1].title
    except rulebook.RuleNotFound:
        return ref
    if not national:
        return title
    if local:
        return _("%(title)s, version %(version)s with local rules") % {"title": title, "version": national}
    return _("%(title)s, version %(version)s") % {"title": title, "version": national}


def term_years(sector: str, on: dt.date | None = None, org: object | None = None) -> tuple[int, str]:
    """Default committee term length for a sector, and the rule version that decided it."""
    r = rulebook.rule("org.terms", on=on, org=org)
    return int(r["by_sector"].get(sector, r["default_years"])), r.ref


def structure_flags(
    *,
    org_type: str,
    members: int,
    full_members: int,
    has_committee: bool,
    committee_size: int = 0,
    officers_only: bool = False,
    on: dt.date | None = None,
    org: object | None = None,
) -> list[Flag]:
    """Compare an organisation's size with 支部工作条例 §5/§10 and the usual sizes of general branches
    and committees. ``members`` counts current members of the whole subtree; ``officers_only`` says
    that the current committee holds no position besides secretary and deputy secretary."""
    r = rulebook.rule("org.structure", on=on, org=org)
    p = r.params
    flags: list[Flag] = []
    if org_type in BRANCH_TYPES:
        # 支部工作条例 第五条: a branch generally has no more than 50 members.
        if members > p["branch_max_members"]:
            flags.append(
                Flag(
                    "branch_too_large",
                    _(
                        "The branch has %(n)d members, more than the usual maximum of %(max)d: consider splitting it or setting up a general branch."
                    )
                    % {"n": members, "max": p["branch_max_members"]},
                    r.ref,
                )
            )
        # 支部工作条例 第十条: 7 or more full members → a branch committee.
        if full_members >= p["committee_required_full_members"] and not has_committee:
            flags.append(
                Flag(
                    "committee_missing",
                    _(
                        "The branch has %(n)d full members (%(min)d or more) but no branch committee: elect one."
                    )
                    % {"n": full_members, "min": p["committee_required_full_members"]},
                    r.ref,
                )
            )
        # 支部工作条例 第五条: fewer than 3 full members → a joint branch instead.
        if org_type == OrgType.BRANCH and full_members < p["branch_min_full_members"]:
            flags.append(
                Flag(
                    "branch_too_small",
                    _("The branch has only %(n)d full members (fewer than %(min)d): consider a joint branch.")
                    % {"n": full_members, "min": p["branch_min_full_members"]},
                    r.ref,
                )
            )
        # 支部工作条例 第十条: below 7 full members a secretary, optionally with a deputy, is the normal
        # form, not an undersized committee; the size of 3–5 applies to a real branch committee.
        elected_committee = full_members >= p["committee_required_full_members"] or not officers_only
        if (
            has_committee
            and committee_size
            and elected_committee
            and not (p["committee_min_size"] <= committee_size <= p["committee_hard_max_size"])
        ):
            flags.append(
                Flag(
                    "committee_size",
                    _("The branch committee has %(n)d members; it should have %(min)d to %(max)d.")
                    % {"n": committee_size, "min": p["committee_min_size"], "max": p["committee_max_size"]},
                    r.ref,
                )
            )
    elif org_type == OrgType.GENERAL_BRANCH and members < p["general_branch_min_members"]:
        flags.append(
            Flag(
                "general_branch_small",
                _("The general branch has %(n)d members, fewer than the usual %(min)d.")
                % {"n": members, "min": p["general_branch_min_members"]},
                r.ref,
            )
        )
    elif org_type == OrgType.COMMITTEE and members < p["committee_min_members"]:
        flags.append(
            Flag(
                "committee_small",
                _("The party committee has %(n)d members, fewer than the usual %(min)d.")
                % {"n": members, "min": p["committee_min_members"]},
                r.ref,
            )
        )
    return flags
