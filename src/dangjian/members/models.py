"""The member register (党员信息) and each member's status history."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.core.crypto import PersonalNumbersMixin
from dangjian.core.scoping import RestrictedQuerySet, path_prefix_q
from dangjian.members.choices import (
    CURRENT_STATUSES,
    ETHNICITY_CHOICES,
    FLOWING_IS_NOT_A_STATUS,
    HAN,
    REGISTER_STATUS_CHOICES,
    Degree,
    DuesCategory,
    Education,
    Gender,
    MemberStatus,
    Occupation,
)


class MemberQuerySet(RestrictedQuerySet):
    def current(self) -> MemberQuerySet:
        from dangjian.members.choices import CURRENT_STATUSES

        return self.filter(status__in=CURRENT_STATUSES)

    def in_subtree(self, org: models.Model) -> MemberQuerySet:
        return self.filter(path_prefix_q("org_path", org.path))  # type: ignore[attr-defined]


class Member(PersonalNumbersMixin, models.Model):
    """A person in the membership register, counted through their formal organisation relation."""

    # Scoped by a copy of the branch's tree path: one indexed prefix query, and a usable shard key.
    scope_path_field = "org_path"
    scope_org_field = "org"

    name = models.CharField(_("name"), max_length=50, db_index=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    ethnicity = models.CharField(_("ethnicity"), max_length=10, choices=ETHNICITY_CHOICES, default=HAN)
    birth_date = models.DateField(_("birth date"))
    id_number_encrypted = models.TextField(_("ID number (encrypted)"), editable=False)
    id_number_index = models.CharField(_("ID number index"), max_length=64, unique=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=24, editable=False)
    phone_encrypted = models.TextField(_("phone (encrypted)"), blank=True, editable=False)
    phone_index = models.CharField(_("phone index"), max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    education = models.CharField(_("education"), max_length=32, choices=Education.choices)
    degree = models.CharField(_("degree"), max_length=16, choices=Degree.choices, default=Degree.NONE)
    occupation = models.CharField(_("occupation"), max_length=32, choices=Occupation.choices)
    work_unit = models.CharField(_("work unit"), max_length=100, blank=True)
    position = models.CharField(_("job title"), max_length=50, blank=True)
    native_place = models.CharField(_("native place"), max_length=50, blank=True)
    address = models.CharField(_("residence address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    join_date = models.DateField(_("date joined the Party"))
    full_date = models.DateField(_("date became a full member"), null=True, blank=True)
    # The member's standing (full, probationary, suspended, ...). Whether they are away as a flowing member
    # is not a status: an active transfers.FlowCertificate tells it (see members.choices).
    status = models.CharField(_("status"), max_length=16, choices=REGISTER_STATUS_CHOICES, db_index=True)
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="members"
    )
    org_path = models.CharField(_("organization path"), max_length=255, db_index=True, editable=False)
    group = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("party group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_members",
    )
    dues_category = models.CharField(
        _("dues category"), max_length=16, choices=DuesCategory.choices, default=DuesCategory.EMPLOYED
    )
    # When the branch last reached the member: 6 months without contact allows suspension (停止党籍,
    # 党员教育管理工作条例 第三十四条) and raises the "lost contact" alert (transfers/alerts.py).
    last_contact_on = models.DateField(_("date of last contact"), null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("party member")
        verbose_name_plural = _("party members")
        ordering = ["org_path", "name", "id"]
        indexes = [
            models.Index(fields=["org_path", "status"], name="members_member_path_status"),
            # The member list of a subtree in its display order: the first page is read straight off it.
            models.Index(fields=["org_path", "name", "id"], name="members_member_list_order"),
            # Statistics of a subtree's current members (members.selectors.subtree_member_stats) read
            # from this index alone; partial, so that plain counts keep using the narrow indexes.
            models.Index(
                fields=["org_path", "status", "gender", "ethnicity", "education", "birth_date", "full_date"],
                condition=models.Q(status__in=CURRENT_STATUSES),
                name="members_member_current_stats",
            ),
            models.Index(fields=["join_date"], name="members_member_join_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(full_date__isnull=True) | models.Q(full_date__gte=models.F("join_date")),
                name="members_member_full_after_join",
                violation_error_message=_("The full-membership date cannot be before the joining date."),
            ),
            models.CheckConstraint(
                condition=models.Q(join_date__gt=models.F("birth_date")),
                name="members_member_join_after_birth",
                violation_error_message=_("The joining date must be after the birth date."),
            ),
            models.CheckConstraint(
                condition=~models.Q(status=MemberStatus.FLOWING),
                name="members_member_status_not_flowing",
                violation_error_message=FLOWING_IS_NOT_A_STATUS,
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        return models.Q(user=user)

    def age(self, on: dt.date | None = None) -> int:
        on = on or timezone.localdate()
        return (
            on.year
            - self.birth_date.year
            - ((on.month, on.day) < (self.birth_date.month, self.birth_date.day))
        )

    def party_standing_years(self, on: dt.date | None = None) -> int | None:
        """党龄: whole years since becoming a full member (党章 §7: counted from the date of 转正)."""
        if not self.full_date:
            return None
        on = on or timezone.localdate()
        years = (
            on.year - self.full_date.year - ((on.month, on.day) < (self.full_date.month, self.full_date.day))
        )
        return max(years, 0)


class MemberStatusChange(models.Model):
    """One change of a member's status (joined, became full, suspended, left, ...), kept for history."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(_("from"), max_length=16, choices=MemberStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=MemberStatus.choices)
    date = models.DateField(_("date"))
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_path_field = "member__org_path"
    scope_org_field = "member__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status history")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.member} {self.from_status}→{self.to_status} {self.date}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        return models.Q(member__user=user)


class DisciplineKind(models.TextChoices):
    """The five party disciplinary measures (党章 第三十九条; 中国共产党纪律处分条例 第八条)."""

    WARNING = "warning", _("Warning (警告)")
    SERIOUS_WARNING = "serious_warning", _("Serious warning (严重警告)")
    REMOVAL_FROM_POST = "removal_from_post", _("Removal from party posts (撤销党内职务)")
    PROBATION_WITHIN_PARTY = "probation_within_party", _("Probation within the Party (留党察看)")
    EXPULSION = "expulsion", _("Expulsion from the Party (开除党籍)")


class MemberDiscipline(models.Model):
    """A disciplinary measure decided against a member (党纪处分), kept for good: never deleted.

    留党察看 lasts one or two years (党章 第三十九条); meanwhile the member has no right to vote, elect or be
    elected, nor to introduce an applicant (发展党员工作细则, 细则 第十四条), until the rights are restored by
    a decision recorded in ``rights_restored_on``.
    """

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="disciplines"
    )
    kind = models.CharField(_("measure"), max_length=32, choices=DisciplineKind.choices)
    decided_on = models.DateField(_("decided on"))
    until = models.DateField(_("probation until"), null=True, blank=True)
    rights_restored_on = models.DateField(_("rights restored on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        "orgs.Organization", verbose_name=_("decided by"), on_delete=models.PROTECT, related_name="+"
    )
    document_no = models.CharField(_("document number"), max_length=100, blank=True)
    reason = models.TextField(_("reason"))
    restore_reason = models.TextField(_("reason for restoring the rights"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_path_field = "member__org_path"
    scope_org_field = "member__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("disciplinary measure")
        verbose_name_plural = _("disciplinary measures")
        ordering = ["-decided_on", "-id"]
        indexes = [models.Index(fields=["member", "kind"], name="members_discipline_member_kind")]
        constraints = [
            # Only 留党察看 has a term, and it always has one, ending after the decision.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="probation_within_party", until__isnull=False, until__gt=models.F("decided_on")
                    )
                    | (~models.Q(kind="probation_within_party") & models.Q(until__isnull=True))
                ),
                name="members_discipline_until_for_probation",
                violation_error_message=_(
                    "Only probation within the Party has an end date, and it needs one."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(rights_restored_on__isnull=True)
                | models.Q(kind="probation_within_party", rights_restored_on__gte=models.F("decided_on")),
                name="members_discipline_restored_after_decision",
                violation_error_message=_(
                    "Rights are restored only after probation within the Party, and not before its decision."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.get_kind_display()} {self.decided_on}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        return models.Q(member__user=user)
