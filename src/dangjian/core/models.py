"""Plumbing tables every app uses: the audit log, background jobs, local rule overrides, alerts and
notifications."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from dangjian.core.scoping import RestrictedQuerySet


class AuditEntry(models.Model):
    """One thing a user did to one object (or one reveal of personal data), with where it happened."""

    # Scoped by the organisation path copied at write time, so the log needs no join to be restricted.
    scope_path_field = "org_path"

    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), null=True, blank=True, on_delete=models.SET_NULL
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), null=True, blank=True, on_delete=models.SET_NULL
    )
    org_path = models.CharField(_("organization path"), max_length=255, blank=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    changes = models.JSONField(_("details"), default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_repr}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.org_id and not self.org_path:
            self.org_path = self.org.path
        super().save(*args, **kwargs)


class Job(models.Model):
    """A long piece of work (an import, a report) run in the background, with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.CASCADE, related_name="jobs"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    progress = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    message = models.TextField(_("message"), blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    input_file = models.FileField(_("input file"), upload_to="jobs/in/%Y/%m/", blank=True)
    output_file = models.FileField(_("output file"), upload_to="jobs/out/%Y/%m/", blank=True)

    # A job holds its creator's uploads and results (which may contain personal data): owner only.
    scope_owner_field = "created_by"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(self.progress * 100 / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class RuleOverride(models.Model):
    """An organisation's local version of a national rule, in force for its subtree from a date.

    Overrides are never edited or deleted: a change is a new row from a later date, and ending an
    override is a row of kind ``end`` (from its date the values above the organisation apply again).
    """

    class Kind(models.TextChoices):
        SET = "set", _("Local values")
        END = "end", _("Back to the national rule")

    key = models.CharField(_("rule"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.SET)
    org = models.ForeignKey("orgs.Organization", verbose_name=_("organization"), on_delete=models.CASCADE)
    effective_from = models.DateField(_("effective from"))
    params = models.JSONField(_("parameters"))
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("local rule override")
        verbose_name_plural = _("local rule overrides")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "org", "effective_from"],
                name="core_ruleoverride_unique_per_date",
                violation_error_message=_(
                    "This organisation already has an override of this rule from that date."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} @ {self.org} from {self.effective_from}"

    @property
    def is_end(self) -> bool:
        return self.kind == self.Kind.END


class AlertQuerySet(RestrictedQuerySet):
    def open(self) -> AlertQuerySet:
        return self.filter(status=Alert.Status.OPEN)

    def by_severity(self) -> AlertQuerySet:
        """Most severe first, then the earliest due date (undated last), then the oldest."""
        rank = models.Case(
            *(models.When(severity=s, then=models.Value(i)) for i, s in enumerate(Alert.SEVERITY_ORDER)),
            default=models.Value(len(Alert.SEVERITY_ORDER)),
        )
        return self.annotate(severity_rank=rank).order_by(
            "severity_rank", models.F("due_date").asc(nulls_last=True), "created_at", "id"
        )


class Alert(models.Model):
    """A condition someone must act on (a talk overdue, a letter expiring), raised by a periodic check.

    Alerts are produced, not typed in: ``core.alerts.alerts_refresh`` asks every registered producer
    which alerts should be open on a date, opens the new ones and resolves those no longer produced.
    ``dedupe_key`` identifies the condition (``<kind>:<what>``), so a refresh never opens it twice.
    """

    class Severity(models.TextChoices):
        INFO = "info", _("Information")
        WARNING = "warning", _("Warning")
        DANGER = "danger", _("Urgent")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Dismissed")

    SEVERITY_ORDER = (Severity.DANGER, Severity.WARNING, Severity.INFO)

    # Scoped by the organisation path copied when the alert is written (like the audit log).
    scope_path_field = "org_path"
    scope_org_field = "org"

    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.WARNING
    )
    org = models.ForeignKey("orgs.Organization", verbose_name=_("organization"), on_delete=models.CASCADE)
    org_path = models.CharField(_("organization path"), max_length=255, db_index=True, editable=False)
    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), null=True, blank=True, on_delete=models.SET_NULL
    )
    subject_id = models.CharField(_("object id"), max_length=64, blank=True)
    subject_repr = models.CharField(_("object"), max_length=200, blank=True)
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    message = models.TextField(_("message"))
    url = models.CharField(_("link"), max_length=300, blank=True)
    rule_ref = models.CharField(_("rule"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    dedupe_key = models.CharField(_("condition key"), max_length=200)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # When the condition stopped (for a dismissed alert too: from then on it may be raised again).
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dismissed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dismiss_reason = models.CharField(_("reason for dismissing"), max_length=200, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org_path", "status"], name="core_alert_path_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(status="open"),
                name="core_alert_one_open_per_key",
                violation_error_message=_("This alert is already open."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:80]}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.org_id and not self.org_path:
            self.org_path = self.org.path
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Notification(models.Model):
    """A message to one user (a greeting, a reminder), shown in the top bar and on the phone home page."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=64, blank=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    # Sending the same reminder twice is a no-op: (user, dedupe_key) is unique when the key is set.
    dedupe_key = models.CharField(_("condition key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    # A user's own messages: only the addressee sees them, whatever their role.
    scope_owner_field = "user"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="core_notification_unread")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="core_notification_once_per_key",
                violation_error_message=_("This notification was already sent."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class LedgerAccount(models.Model):
    """The head of one hash chain: a member's dues account, an organisation's dues account, a points
    account. Its row is locked while an entry is appended, so concurrent writers queue and the balance
    read here is always the sum of the chain (core/ledger.py)."""

    scope_org_field = "org"

    ledger = models.CharField(_("ledger"), max_length=32)
    key = models.CharField(_("account"), max_length=64)
    # The organisation the account belongs to now (for scoping); not part of the chain, it may move.
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    balance = models.DecimalField(_("balance"), max_digits=16, decimal_places=2, default=0)
    seq = models.PositiveBigIntegerField(_("entries"), default=0)
    head_hash = models.CharField(_("head hash"), max_length=64, default="0" * 64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        constraints = [models.UniqueConstraint(fields=["ledger", "key"], name="ledger_account_unique")]

    def __str__(self) -> str:
        return f"{self.ledger}/{self.key}"


class LedgerEntry(models.Model):
    """One appended amount: never updated, never deleted. ``hash = sha256(prev_hash ‖ canonical payload)``
    where the payload is every column below but ``id``, ``prev_hash`` and ``hash`` (core/ledger.py). A
    correction is a new entry that ``reverses`` this one, at most once. ``source_key`` makes an append
    idempotent: the same fact sent twice books once."""

    ledger = models.CharField(_("ledger"), max_length=32)
    account = models.ForeignKey(
        LedgerAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    seq = models.PositiveBigIntegerField(_("sequence number"))
    kind = models.CharField(_("kind"), max_length=32)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    balance_after = models.DecimalField(_("balance after"), max_digits=16, decimal_places=2)
    occurred_on = models.DateField(_("date"))
    source_key = models.CharField(_("source"), max_length=128, null=True, blank=True)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["account_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="ledger_entry_seq_unique"),
            models.UniqueConstraint(
                fields=["ledger", "source_key"],
                condition=models.Q(source_key__isnull=False),
                name="ledger_entry_source_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ledger}/{self.account_id}#{self.seq} {self.amount}"


class LedgerAnchor(models.Model):
    """A daily commitment to every chain head: the Merkle root over the heads of all accounts as of
    entry ``through_entry`` (core/ledger.py says how the tree is built). Each anchor names the previous
    root, so a deleted or rewritten anchor breaks the next one."""

    day = models.DateField(_("day"), unique=True)
    through_entry = models.BigIntegerField(_("through entry"))
    accounts = models.PositiveBigIntegerField(_("accounts"))
    entries = models.PositiveBigIntegerField(_("entries"))
    root = models.CharField(_("root"), max_length=64)
    prev_root = models.CharField(_("previous root"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger anchor")
        verbose_name_plural = _("ledger anchors")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.root[:12]}"
