"""Organization life (三会一课). For now only the votes of branch general meetings.

A ``Vote`` is the one record of a decision taken by a show of ballots (admitting a probationary member,
making one a full member, extending a probation, ...). Its subject is generic (content type + id), so
the organisation-life module will attach votes to its meetings — through a meeting foreign key added
then — without a second vote model.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from dangjian.core.scoping import RestrictedQuerySet


class VoteKind(models.TextChoices):
    ADMISSION = "admission", _("Admission of a probationary member")
    FULL_MEMBERSHIP = "full_membership", _("Full membership")
    EXTENSION = "extension", _("Extension of the probation")
    CANCELLATION = "cancellation", _("Cancellation of the probationary membership")
    OTHER = "other", _("Other motion")


class Vote(models.Model):
    """One vote of a branch general meeting on one motion about one subject (one candidate at a time)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="votes"
    )
    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("subject type"), on_delete=models.PROTECT, null=True, blank=True
    )
    subject_id = models.PositiveBigIntegerField(_("subject id"), null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    kind = models.CharField(_("motion"), max_length=32, choices=VoteKind.choices)
    date = models.DateField(_("date"))
    expected_voting = models.PositiveIntegerField(_("voting members expected"))
    present_voting = models.PositiveIntegerField(_("voting members present"))
    full_members_expected = models.PositiveIntegerField(_("full members expected"))
    yes = models.PositiveIntegerField(_("votes in favour"))
    no = models.PositiveIntegerField(_("votes against"))
    abstain = models.PositiveIntegerField(_("abstentions"))
    written_opinions_yes = models.PositiveIntegerField(_("written opinions in favour"), default=0)
    written_opinions_no = models.PositiveIntegerField(_("written opinions against"), default=0)
    quorum_met = models.BooleanField(_("quorum met"))
    passed = models.BooleanField(_("passed"))
    rule_ref = models.CharField(_("rule applied"), max_length=100)
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="meetings_vote_subject")]
        constraints = [
            models.CheckConstraint(
                condition=Q(present_voting__lte=F("expected_voting")),
                name="meetings_vote_present_le_expected",
                violation_error_message=_("More voting members are present than should attend."),
            ),
            models.CheckConstraint(
                condition=Q(full_members_expected__lte=F("expected_voting")),
                name="meetings_vote_full_le_expected",
                violation_error_message=_(
                    "The full members who should attend cannot outnumber the voting members who should attend."
                ),
            ),
            models.CheckConstraint(
                condition=Q(yes__lte=F("present_voting") - F("no") - F("abstain")),
                name="meetings_vote_ballots_le_present",
                violation_error_message=_("More ballots were cast than voting members were present."),
            ),
            models.CheckConstraint(
                condition=Q(
                    written_opinions_yes__lte=F("expected_voting")
                    - F("present_voting")
                    - F("written_opinions_no")
                ),
                name="meetings_vote_written_le_absent",
                violation_error_message=_("Written opinions can only come from absent members."),
            ),
            models.CheckConstraint(
                condition=Q(passed=False) | Q(quorum_met=True),
                name="meetings_vote_passed_needs_quorum",
                violation_error_message=_("A vote without a quorum cannot pass."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date} ({self.yes}/{self.no}/{self.abstain})"

    @property
    def yes_total(self) -> int:
        return self.yes + self.written_opinions_yes
