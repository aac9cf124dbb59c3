"""Relation transfers (组织关系转接), flow certificates of flowing members (流动党员活动证), their yearly
reports, and proposals of status changes that a branch confirms (党员教育管理工作条例)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from dangjian.core.scoping import RestrictedQuerySet


class TransferKind(models.TextChoices):
    WITHIN = "within", _("Within the platform")
    OUT = "out_of_platform", _("Out of the platform")
    INTO = "into_platform", _("Into the platform")


class TransferStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned")
    ON_HOLD = "on_hold", _("On hold")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


# Waiting for the receiving side; the sending org stays responsible for the member meanwhile.
OPEN_STATUSES = (TransferStatus.SENT, TransferStatus.ON_HOLD)
CLOSED_STATUSES = (
    TransferStatus.ACCEPTED,
    TransferStatus.RETURNED,
    TransferStatus.CANCELLED,
    TransferStatus.EXPIRED,
)


class Transfer(models.Model):
    """A move of a member's organisation relation, with its introduction letter (介绍信) and return slip.

    Both sides see it: scoped by the sending org's path OR the receiving org's path (copies, "" for an
    organisation outside the platform). The member stays with the sending org until acceptance.
    """

    scope_path_field = ("from_org_path", "to_org_path")

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="transfers"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=TransferKind.choices)
    from_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("sending organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers_out",
    )
    to_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("receiving organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers_in",
    )
    from_org_path = models.CharField(max_length=255, blank=True, db_index=True, editable=False)
    to_org_path = models.CharField(max_length=255, blank=True, db_index=True, editable=False)
    outside_org_name = models.CharField(_("outside organisation"), max_length=100, blank=True)
    outside_org_address = models.CharField(_("outside organisation address"), max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    letter_number = models.CharField(_("letter number"), max_length=40, unique=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    dues_paid_until = models.CharField(_("dues paid up to (month)"), max_length=7, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=TransferStatus.choices,
        default=TransferStatus.DRAFT,
        db_index=True,
    )
    decision_reason = models.CharField(_("reason of the decision"), max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    rule_ref = models.CharField(_("rule applied"), max_length=60, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("relation transfer")
        verbose_name_plural = _("relation transfers")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.letter_number} {self.member}"

    @property
    def from_name(self) -> str:
        return self.from_org.name if self.from_org else self.outside_org_name

    @property
    def to_name(self) -> str:
        return self.to_org.name if self.to_org else self.outside_org_name


class TransferEvent(models.Model):
    """One step of a transfer (created, sent, held, returned, accepted, cancelled), for its timeline."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=16)
    status = models.CharField(_("status"), max_length=16, choices=TransferStatus.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    scope_path_field = ("transfer__from_org_path", "transfer__to_org_path")
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.transfer_id} {self.action}"


class FlowStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


class FlowCertificate(models.Model):
    """A flowing member's activity certificate (流动党员活动证): host organisation and period.

    An active certificate is the one record that a member is flowing (流动党员): the member's status stays
    full or probationary, and the statistics count the active certificates of current members. At the host
    the member attends organisation life and may pay dues, but has no vote. Scoped by the home branch (the
    member's) and by the host org when it is in the platform.
    """

    scope_path_field = ("home_org_path", "host_org_path")

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="flow_certificates"
    )
    home_org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("home organisation"), on_delete=models.PROTECT, related_name="+"
    )
    host_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("host organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hosted_flow_certificates",
    )
    home_org_path = models.CharField(max_length=255, db_index=True, editable=False)
    host_org_path = models.CharField(max_length=255, blank=True, db_index=True, editable=False)
    outside_host_name = models.CharField(_("host outside the platform"), max_length=100, blank=True)
    place = models.CharField(_("place"), max_length=100, blank=True)
    fixed_place = models.BooleanField(_("at a fixed place"), default=True)
    number = models.CharField(_("certificate number"), max_length=40, unique=True)
    start = models.DateField(_("from"))
    end = models.DateField(_("until"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=FlowStatus.choices, default=FlowStatus.ACTIVE
    )
    ended_reason = models.CharField(_("reason for ending"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("flow certificate")
        verbose_name_plural = _("flow certificates")
        ordering = ["-start", "-id"]
        constraints = [
            # The active certificate is the one record that a member is flowing: never two at once.
            models.UniqueConstraint(
                fields=["member"],
                condition=models.Q(status="active"),
                name="transfers_one_active_certificate",
                violation_error_message=_("This member already has an active flow certificate."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.member}"

    @property
    def host_name(self) -> str:
        return self.host_org.name if self.host_org else self.outside_host_name


class FlowReport(models.Model):
    """A flowing member's report to the home organisation (at least yearly)."""

    certificate = models.ForeignKey(FlowCertificate, on_delete=models.CASCADE, related_name="reports")
    year = models.PositiveSmallIntegerField(_("year"))
    date = models.DateField(_("date"))
    summary = models.TextField(_("summary"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    scope_path_field = ("certificate__home_org_path", "certificate__host_org_path")
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["certificate", "year"], name="transfers_one_report_a_year")
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id} {self.year}"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")


class StatusProposal(models.Model):
    """A proposal to treat a member as having left (党章 第九条): never automatic, the branch confirms it."""

    scope_path_field = "org_path"

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="status_proposals")
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    org_path = models.CharField(max_length=255, db_index=True, editable=False)
    to_status = models.CharField(_("proposed status"), max_length=16, default="left")
    inactive_since = models.DateField(_("inactive since"))
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_on = models.DateField(_("proposed on"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)
    rule_ref = models.CharField(_("rule applied"), max_length=60, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("status proposal")
        verbose_name_plural = _("status proposals")
        ordering = ["-proposed_on", "-id"]

    def __str__(self) -> str:
        return f"{self.member} → {self.to_status}"
