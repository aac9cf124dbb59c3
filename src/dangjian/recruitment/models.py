"""Developing members (发展党员): a case per person, its steps, attachments and introducers."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dangjian.core.crypto import PersonalNumbersMixin
from dangjian.core.scoping import RestrictedQuerySet
from dangjian.members.choices import ETHNICITY_CHOICES, HAN, Education, Gender, Occupation


class CaseStatus(models.TextChoices):
    ACTIVE = "active", _("In progress")
    ADMITTED = "admitted", _("Probationary member")
    FULL = "full", _("Full member")
    STOPPED = "stopped", _("Stopped")
    CANCELLED = "cancelled", _("Probation cancelled")


# A person has at most one open case: while it is active, or while they are on probation.
OPEN_STATUSES = (CaseStatus.ACTIVE, CaseStatus.ADMITTED)


class RecruitmentCase(PersonalNumbersMixin, models.Model):
    """A person who is not (yet) a member, walking the 25 steps of 发展党员 with one branch."""

    scope_path_field = "org_path"
    scope_org_field = "org"

    name = models.CharField(_("name"), max_length=50, db_index=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    ethnicity = models.CharField(_("ethnicity"), max_length=10, choices=ETHNICITY_CHOICES, default=HAN)
    birth_date = models.DateField(_("birth date"))
    id_number_encrypted = models.TextField(_("ID number (encrypted)"), editable=False)
    id_number_index = models.CharField(_("ID number index"), max_length=64, db_index=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=24, editable=False)
    phone_encrypted = models.TextField(_("phone (encrypted)"), blank=True, editable=False)
    phone_index = models.CharField(_("phone index"), max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    education = models.CharField(_("education"), max_length=32, choices=Education.choices)
    occupation = models.CharField(_("occupation"), max_length=32, choices=Occupation.choices)
    work_unit = models.CharField(_("work unit"), max_length=100, blank=True)
    address = models.CharField(_("residence address"), max_length=200, blank=True)
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        related_name="recruitment_cases",
    )
    org_path = models.CharField(_("organization path"), max_length=255, db_index=True, editable=False)
    stage = models.PositiveSmallIntegerField(_("stage"), default=1)
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.ACTIVE, db_index=True
    )
    last_step = models.PositiveSmallIntegerField(_("last step"), null=True, blank=True)
    last_step_date = models.DateField(_("last step on"), null=True, blank=True)
    # Key dates, copied from the steps for worklists and filters (the steps stay the record).
    application_date = models.DateField(_("application date"), null=True, blank=True)
    activist_date = models.DateField(_("activist since"), null=True, blank=True)
    candidate_date = models.DateField(_("candidate since"), null=True, blank=True)
    admitted_date = models.DateField(_("admitted by the general meeting on"), null=True, blank=True)
    probation_end = models.DateField(_("probation ends"), null=True, blank=True)
    extensions = models.PositiveSmallIntegerField(_("probation extensions"), default=0)
    full_date = models.DateField(_("full member since"), null=True, blank=True)
    closed_reason = models.TextField(_("reason for stopping"), blank=True)
    member = models.OneToOneField(
        "members.Member",
        verbose_name=_("member record"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recruitment_case",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("recruitment case")
        verbose_name_plural = _("recruitment cases")
        ordering = ["org_path", "stage", "name", "id"]
        indexes = [
            models.Index(fields=["org_path", "status", "stage"], name="recruitment_case_path_stage"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_index"],
                condition=Q(status__in=OPEN_STATUSES),
                name="recruitment_case_one_open_per_person",
                violation_error_message=_("This person already has an open recruitment case."),
            ),
            models.CheckConstraint(
                condition=Q(stage__gte=1, stage__lte=5),
                name="recruitment_case_stage_range",
                violation_error_message=_("The stage is between 1 and 5."),
            ),
            models.CheckConstraint(
                condition=Q(last_step__isnull=True) | Q(last_step__gte=1, last_step__lte=25),
                name="recruitment_case_last_step_range",
                violation_error_message=_("A step is numbered 1 to 25."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def age(self, on: dt.date | None = None) -> int:
        on = on or timezone.localdate()
        b = self.birth_date
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


class CaseStep(models.Model):
    """One of the 25 steps as it was done: its date, who did it, the outcome and the rule version used."""

    case = models.ForeignKey(
        RecruitmentCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="steps"
    )
    step = models.PositiveSmallIntegerField(_("step"))
    date = models.DateField(_("date"))
    outcome = models.CharField(_("outcome"), max_length=16, default="done")
    handled_by = models.CharField(_("handled by"), max_length=100, blank=True)
    fields = models.JSONField(_("details"), default=dict, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    rule_ref = models.CharField(_("rule applied"), max_length=100)
    vote = models.OneToOneField(
        "meetings.Vote",
        verbose_name=_("vote"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recruitment_step",
    )
    notes = models.TextField(_("notes"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_path_field = "case__org_path"
    scope_org_field = "case__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("recruitment step")
        verbose_name_plural = _("recruitment steps")
        ordering = ["case", "date", "step", "id"]
        indexes = [models.Index(fields=["case", "step"], name="recruitment_step_case_step")]
        constraints = [
            models.CheckConstraint(
                condition=Q(step__gte=1, step__lte=25),
                name="recruitment_step_number_range",
                violation_error_message=_("A step is numbered 1 to 25."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} #{self.step} {self.date}"


class AttachmentKind(models.TextChoices):
    APPLICATION = "application", _("Application letter")
    THOUGHT_REPORT = "thought_report", _("Thought report")
    ASSESSMENT = "assessment", _("Assessment opinion")
    POLITICAL_REVIEW = "political_review", _("Political review materials")
    ADMISSION_FORM = "admission_form", _("Admission form")
    OTHER = "other", _("Other")


class CaseAttachment(models.Model):
    """A scanned document of a step (申请书, 思想汇报, 考察意见, 政审材料, 志愿书): pdf, jpg, png or docx."""

    step = models.ForeignKey(
        CaseStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=AttachmentKind.choices)
    file = models.FileField(_("file"), upload_to="recruitment/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    scope_path_field = "step__case__org_path"
    scope_org_field = "step__case__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["step", "id"]

    def __str__(self) -> str:
        return self.original_name


class Introducer(models.Model):
    """An introducer (入党介绍人) of a case: a full member designated at step 9 (细则 第十四条)."""

    case = models.ForeignKey(
        RecruitmentCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="introducers"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="introduced_cases"
    )
    step = models.ForeignKey(
        CaseStep, verbose_name=_("designated at"), on_delete=models.CASCADE, related_name="introducers"
    )
    since = models.DateField(_("since"))

    scope_path_field = "case__org_path"
    scope_org_field = "case__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("introducer")
        verbose_name_plural = _("introducers")
        ordering = ["case", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "member"],
                name="recruitment_introducer_once_per_case",
                violation_error_message=_("This member is already an introducer of this case."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.case}"
