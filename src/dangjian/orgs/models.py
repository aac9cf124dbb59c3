"""The organisation tree (组织体系), its history, and its committees (班子)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from dangjian.core.scoping import RestrictedQuerySet, path_prefix_q


class OrgType(models.TextChoices):
    COMMITTEE = "committee", _("Party committee")
    WORKING_COMMITTEE = "working_committee", _("Working committee")
    GENERAL_BRANCH = "general_branch", _("General branch")
    BRANCH = "branch", _("Branch")
    JOINT_BRANCH = "joint_branch", _("Joint branch")
    GROUP = "group", _("Party group")


BRANCH_TYPES = (OrgType.BRANCH, OrgType.JOINT_BRANCH)


class Sector(models.TextChoices):
    ORGAN = "organ", _("Government organ")
    INSTITUTION = "institution", _("Public institution")
    ENTERPRISE = "enterprise", _("Enterprise")
    RURAL = "rural", _("Rural")
    COMMUNITY = "community", _("Community")
    SCHOOL = "school", _("School")
    SOCIAL = "social", _("Social organization")
    OTHER = "other", _("Other")


class OrgStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISSOLVED = "dissolved", _("Dissolved")
    MERGED = "merged", _("Merged")


class OrganizationQuerySet(MP_NodeQuerySet, RestrictedQuerySet):
    def active(self) -> OrganizationQuerySet:
        return self.filter(status=OrgStatus.ACTIVE)


class OrganizationManager(MP_NodeManager):
    def get_queryset(self) -> OrganizationQuerySet:
        return OrganizationQuerySet(self.model, using=self._db).order_by("path")

    def restrict(self, user: object, action: str = "view") -> OrganizationQuerySet:
        return self.get_queryset().restrict(user, action)


class Organization(MP_Node):
    """A party organisation: one node of the tree from the top committee down to party groups."""

    steplen = 4
    scope_org_field = ""  # an organisation is scoped by its own path

    org_type = models.CharField(_("type"), max_length=32, choices=OrgType.choices)
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    sector = models.CharField(_("sector"), max_length=32, choices=Sector.choices, default=Sector.OTHER)
    founded_on = models.DateField(_("founding date"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=OrgStatus.choices, default=OrgStatus.ACTIVE)
    dissolved_on = models.DateField(_("dissolved on"), null=True, blank=True)

    objects = OrganizationManager()

    node_order_by = None

    class Meta:
        verbose_name = _("party organization")
        verbose_name_plural = _("party organizations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(latitude__isnull=True) | models.Q(latitude__gte=-90, latitude__lte=90),
                name="orgs_organization_latitude_range",
                violation_error_message=_("Latitude must be between -90 and 90."),
            ),
            models.CheckConstraint(
                condition=models.Q(longitude__isnull=True)
                | models.Q(longitude__gte=-180, longitude__lte=180),
                name="orgs_organization_longitude_range",
                violation_error_message=_("Longitude must be between -180 and 180."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q | None:
        # A member sees the branch they belong to and its groups; a resident sees no organisation data
        # (the design notes: residents see their own cases and needs only).
        if assignment.role == "member":  # type: ignore[attr-defined]
            return path_prefix_q("path", assignment.org.path)  # type: ignore[attr-defined]
        return None

    @property
    def is_branch(self) -> bool:
        return self.org_type in BRANCH_TYPES

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    def subtree_q(self, prefix: str = "") -> models.Q:
        return path_prefix_q(f"{prefix}path", self.path)


class OrgEvent(models.Model):
    """One change in an organisation's history: founded, renamed, dissolved, merged, moved, ..."""

    class Kind(models.TextChoices):
        FOUND = "found", _("Founded")
        RENAME = "rename", _("Renamed")
        DISSOLVE = "dissolve", _("Dissolved")
        MERGE = "merge", _("Merged")
        UPGRADE = "upgrade", _("Upgraded")
        DOWNGRADE = "downgrade", _("Downgraded")
        MOVE = "move", _("Moved")
        UPDATE = "update", _("Details changed")

    org = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    date = models.DateField(_("date"))
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization event")
        verbose_name_plural = _("organization history")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.org} {self.get_kind_display()} {self.date}"


class CommitteeTerm(models.Model):
    """A term of office of an organisation's committee (班子): from election to re-election."""

    org = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="committee_terms"
    )
    start_date = models.DateField(_("start date"))
    term_years = models.PositiveSmallIntegerField(_("term length (years)"))
    end_date = models.DateField(_("actual end date"), null=True, blank=True)
    rule_ref = models.CharField(_("rule applied"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("committee term")
        verbose_name_plural = _("committee terms")
        ordering = ["-start_date"]
        constraints = [
            # 党章 第三十一条: grassroots committees, general branches and branches serve 3 to 5 years
            # (rules/org_terms.yaml min_years/max_years; services check the version in force).
            models.CheckConstraint(
                condition=models.Q(term_years__gte=3, term_years__lte=5),
                name="orgs_committeeterm_years_3_to_5",
                violation_error_message=_("A term lasts between 3 and 5 years."),
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="orgs_committeeterm_end_after_start",
                violation_error_message=_("A term cannot end before it starts."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.org} {self.start_date:%Y}–{self.planned_end:%Y}"

    @property
    def planned_end(self) -> dt.date:
        try:
            return self.start_date.replace(year=self.start_date.year + self.term_years)
        except ValueError:  # 29 February
            return self.start_date.replace(year=self.start_date.year + self.term_years, day=28)

    @property
    def is_current(self) -> bool:
        return self.end_date is None

    def days_left(self, today: dt.date | None = None) -> int:
        return (self.planned_end - (today or timezone.localdate())).days


class CommitteePosition(models.Model):
    """A position on a committee term (书记, 副书记, 组织委员, ...) held by a member."""

    class Title(models.TextChoices):
        SECRETARY = "secretary", _("Secretary")
        DEPUTY_SECRETARY = "deputy_secretary", _("Deputy secretary")
        ORGANIZATION = "organization", _("Organization commissioner")
        PUBLICITY = "publicity", _("Publicity commissioner")
        DISCIPLINE = "discipline", _("Discipline commissioner")
        YOUTH = "youth", _("Youth commissioner")
        WOMEN = "women", _("Women commissioner")
        MEMBER = "member", _("Committee member")

    term = models.ForeignKey(
        CommitteeTerm, verbose_name=_("term"), on_delete=models.CASCADE, related_name="positions"
    )
    title = models.CharField(_("position"), max_length=32, choices=Title.choices)
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="committee_positions",
    )
    start_date = models.DateField(_("from"), null=True, blank=True)
    end_date = models.DateField(_("until"), null=True, blank=True)

    scope_org_field = "term__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("committee position")
        verbose_name_plural = _("committee positions")
        ordering = ["term", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["term", "member", "title"],
                name="orgs_committeeposition_unique",
                violation_error_message=_("This member already holds this position in this term."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_title_display()} {self.member}"
