"""Party dues (党费): declarations of the base, monthly bills, payments booked on the dues ledger,
hardship reductions, bank-statement imports and remittances up the tree. Rules: RULES.md §2, rule file
``rules/dues.yaml``; amounts come from ``dues.rules.dues_calculate`` and every bill keeps the rule
version that computed it. Money moves only through ``core.ledger`` (ledger ``dues``): accounts
``member:<id>`` (what the member paid) and ``org:<id>`` (what the organisation collected, remitted and
received)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from dangjian.core.scoping import RestrictedQuerySet
from dangjian.members.choices import DuesCategory

LEDGER = "dues"


def member_account(member_id: int) -> str:
    return f"member:{member_id}"


def org_account(org_id: int) -> str:
    return f"org:{org_id}"


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    ONLINE = "online", _("Online payment")


class BillStatus(models.TextChoices):
    OPEN = "open", _("Unpaid")
    PART_PAID = "part_paid", _("Partly paid")
    PAID = "paid", _("Paid")
    WAIVED = "waived", _("Waived")


class DuesDeclaration(models.Model):
    """A member's dues base from a month on (党费基数申报): the category, the base (monthly pay after tax,
    or pension), or for farmers the amount they chose (0.2–1 yuan). The newest declaration whose
    ``effective_month`` is not after a bill's month computes that bill; with "fix for the year" in the
    rulebook, a change takes effect from the next January instead."""

    scope_path_field = "member__org_path"

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="dues_declarations"
    )
    category = models.CharField(_("dues category"), max_length=16, choices=DuesCategory.choices)
    base = models.DecimalField(_("dues base (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True)
    chosen_amount = models.DecimalField(
        _("chosen monthly amount (yuan)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    # Deducted from the base only where the rule's ``deduct_social_insurance`` is on (contested: U).
    social_insurance = models.DecimalField(
        _("personal social-insurance contributions (yuan)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    effective_month = models.DateField(_("effective from (month)"))
    # A flowing member holding a 活动证 may pay at the host organisation (RULES.md §2).
    pay_at_host = models.BooleanField(_("pays at the host organisation"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    attachment = models.FileField(_("attachment"), upload_to="dues/declarations/%Y/", blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("declared by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    declared_at = models.DateTimeField(_("declared at"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dues base declaration")
        verbose_name_plural = _("dues base declarations")
        ordering = ["member_id", "-effective_month", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "effective_month"],
                name="dues_declaration_month_unique",
                violation_error_message=_("This member already has a declaration from this month."),
            ),
            models.CheckConstraint(
                condition=models.Q(effective_month__day=1),
                name="dues_declaration_first_day",
                violation_error_message=_("A declaration takes effect from the first day of a month."),
            ),
            models.CheckConstraint(
                condition=models.Q(base__isnull=True) | models.Q(base__gte=0),
                name="dues_declaration_base_not_negative",
                violation_error_message=_("The base cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.effective_month:%Y-%m}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        """A member sees their own rows (core.scoping SELF)."""
        return models.Q(member__user=user)


class DuesReduction(models.Model):
    """A hardship reduction or waiver (减免) for a period, approved by the branch and then by the next
    higher committee (RULES.md §2). Only an approved one changes bills."""

    class Kind(models.TextChoices):
        REDUCE = "reduce", _("Reduction")
        WAIVE = "waive", _("Waiver")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Awaiting the branch")
        BRANCH_APPROVED = "branch_approved", _("Awaiting the higher committee")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    scope_path_field = "member__org_path"

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="dues_reductions"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    monthly_amount = models.DecimalField(
        _("reduced monthly amount (yuan)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    start_month = models.DateField(_("from (month)"))
    end_month = models.DateField(_("until (month)"))
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    proposed_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    branch_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    branch_decided_at = models.DateTimeField(_("branch decided at"), null=True, blank=True)
    higher_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("approving committee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    higher_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    higher_decided_at = models.DateTimeField(_("higher committee decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason of the decision"), max_length=200, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dues reduction")
        verbose_name_plural = _("dues reductions")
        ordering = ["-proposed_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_month__gte=models.F("start_month")), name="dues_reduction_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {self.start_month:%Y-%m}–{self.end_month:%Y-%m}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        """A member sees their own rows (core.scoping SELF)."""
        return models.Q(member__user=user)


class DuesBill(models.Model):
    """What a member owes for one month (应交), computed once by the monthly job from the declaration and
    the rule in force on the month's first day; ``rule_ref`` records that rule. ``org`` is the
    organisation collecting it (the member's branch, or the host when the member pays there)."""

    scope_path_field = ("org_path", "member__org_path")

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="dues_bills"
    )
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("collecting organisation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    org_path = models.CharField(max_length=255, db_index=True, editable=False)
    month = models.DateField(_("month"))
    category = models.CharField(_("dues category"), max_length=16, choices=DuesCategory.choices)
    base = models.DecimalField(_("dues base (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True)
    rate = models.DecimalField(_("rate"), max_digits=6, decimal_places=4, null=True, blank=True)
    standard_amount = models.DecimalField(_("standard amount (yuan)"), max_digits=10, decimal_places=2)
    amount = models.DecimalField(_("amount due (yuan)"), max_digits=10, decimal_places=2)
    paid_amount = models.DecimalField(_("amount paid (yuan)"), max_digits=10, decimal_places=2, default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=BillStatus.choices, default=BillStatus.OPEN, db_index=True
    )
    declaration = models.ForeignKey(
        DuesDeclaration,
        verbose_name=_("declaration"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reduction = models.ForeignKey(
        DuesReduction,
        verbose_name=_("reduction"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bills",
    )
    rule_ref = models.CharField(_("rule applied"), max_length=60)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dues bill")
        verbose_name_plural = _("dues bills")
        ordering = ["-month", "member_id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "month"], name="dues_bill_member_month_unique"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="dues_bill_first_day"),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0, standard_amount__gte=0, paid_amount__gte=0),
                name="dues_bill_amounts_not_negative",
                violation_error_message=_("Dues amounts cannot be negative."),
            ),
        ]
        indexes = [models.Index(fields=["org_path", "month"], name="dues_bill_path_month")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m} {self.amount}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        """A member sees their own rows (core.scoping SELF)."""
        return models.Q(member__user=user)

    @property
    def outstanding(self) -> Decimal:
        if self.status == BillStatus.WAIVED:
            return Decimal("0.00")
        return max(self.amount - self.paid_amount, Decimal("0.00"))


class DuesPayment(models.Model):
    """Money a member paid (实交): the months it covers (``DuesPaymentMonth``), voluntary extra dues, how
    it was paid and by whom (代缴 by proxy). Booked on the dues ledger in the same transaction
    (``ledger_entry``); a mistake is corrected by a reversal, never by an edit."""

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        REVERSED = "reversed", _("Reversed")

    scope_path_field = ("org_path", "member__org_path")

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="dues_payments"
    )
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("collecting organisation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    org_path = models.CharField(max_length=255, db_index=True, editable=False)
    paid_on = models.DateField(_("paid on"))
    method = models.CharField(_("payment method"), max_length=16, choices=PaymentMethod.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    dues_amount = models.DecimalField(_("dues (yuan)"), max_digits=10, decimal_places=2)
    extra_amount = models.DecimalField(
        _("voluntary extra dues (yuan)"), max_digits=12, decimal_places=2, default=0
    )
    # A single extra payment of 1000 yuan or more is passed in full to the central organisation (RULES.md §2).
    extra_to_central = models.BooleanField(_("extra passed in full to the centre"), default=False)
    by_proxy = models.BooleanField(_("paid by proxy (代缴)"), default=False)
    proxy_name = models.CharField(_("paid by"), max_length=50, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.BOOKED)
    reversal_reason = models.CharField(_("reason for reversal"), max_length=200, blank=True)
    ledger_entry = models.OneToOneField(
        "core.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="dues_payment"
    )
    reversal_entry = models.OneToOneField(
        "core.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dues_payment_reversal",
    )
    rule_ref = models.CharField(_("rule applied"), max_length=60)
    # For a payment booked under an idempotency key: a hash of what was asked (member, months, method,
    # amounts), so that the same key sent with a different request is refused instead of replayed.
    request_fingerprint = models.CharField(
        _("request fingerprint"), max_length=64, blank=True, editable=False
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dues payment")
        verbose_name_plural = _("dues payments")
        ordering = ["-paid_on", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id} {self.paid_on} {self.dues_amount}+{self.extra_amount}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> models.Q:
        """A member sees their own rows (core.scoping SELF)."""
        return models.Q(member__user=user)

    @property
    def total(self) -> Decimal:
        return self.dues_amount + self.extra_amount


class DuesPaymentMonth(models.Model):
    """The part of a payment that settles one month's bill."""

    payment = models.ForeignKey(DuesPayment, on_delete=models.CASCADE, related_name="months")
    bill = models.ForeignKey(DuesBill, on_delete=models.PROTECT, related_name="payment_months")
    amount = models.DecimalField(_("amount (yuan)"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("month paid")
        verbose_name_plural = _("months paid")
        constraints = [models.UniqueConstraint(fields=["payment", "bill"], name="dues_payment_month_unique")]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.bill_id}: {self.amount}"


class DuesOrgSetting(models.Model):
    """A branch's own dues arrangements: whether members may pay quarterly (with the branch's consent,
    RULES.md §2) and when the branch decided it."""

    scope_org_field = "org"

    org = models.OneToOneField("orgs.Organization", on_delete=models.CASCADE, related_name="dues_setting")
    quarterly_allowed = models.BooleanField(_("members may pay quarterly"), default=False)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dues arrangement")
        verbose_name_plural = _("dues arrangements")

    def __str__(self) -> str:
        return f"{self.org_id} quarterly={self.quarterly_allowed}"


class DuesStatement(models.Model):
    """An imported bank or payment-platform statement (xlsx or csv). Its lines are matched to members and
    months and booked only when the treasurer confirms; the same file, or the same line in another file,
    never books twice (``sha256`` per organisation, ``DuesStatementLine.line_key``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        DISCARDED = "discarded", _("Discarded")

    scope_org_field = "org"
    scope_path_field = "org_path"

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    org_path = models.CharField(max_length=255, db_index=True, editable=False)
    file = models.FileField(_("file"), upload_to="dues/statements/%Y/")
    filename = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-uploaded_at"]
        constraints = [models.UniqueConstraint(fields=["org", "sha256"], name="dues_statement_file_unique")]

    def __str__(self) -> str:
        return self.filename


class DuesStatementLine(models.Model):
    """One line of a statement and what it was matched to."""

    class Match(models.TextChoices):
        MATCHED = "matched", _("Matched")
        AMBIGUOUS = "ambiguous", _("Ambiguous")
        UNMATCHED = "unmatched", _("Unmatched")
        DUPLICATE = "duplicate", _("Already booked")

    class Decision(models.TextChoices):
        PENDING = "pending", _("To confirm")
        BOOK = "book", _("Book")
        IGNORE = "ignore", _("Ignore")

    statement = models.ForeignKey(DuesStatement, on_delete=models.CASCADE, related_name="lines")
    row = models.PositiveIntegerField(_("row"))
    paid_on = models.DateField(_("date"), null=True, blank=True)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True)
    payer = models.CharField(_("payer"), max_length=100, blank=True)
    account_no = models.CharField(_("payer account"), max_length=64, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    line_key = models.CharField(max_length=64, db_index=True)
    match = models.CharField(_("match"), max_length=16, choices=Match.choices)
    match_note = models.CharField(_("why"), max_length=200, blank=True)
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    candidates = models.JSONField(default=list, blank=True)
    months = models.JSONField(_("months"), default=list, blank=True)
    decision = models.CharField(
        _("decision"), max_length=16, choices=Decision.choices, default=Decision.PENDING
    )
    payment = models.OneToOneField(
        DuesPayment, null=True, blank=True, on_delete=models.PROTECT, related_name="statement_line"
    )

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement_id", "row"]
        constraints = [models.UniqueConstraint(fields=["statement", "row"], name="dues_statement_row_unique")]

    def __str__(self) -> str:
        return f"{self.statement_id}:{self.row}"


class DuesRemittance(models.Model):
    """Dues an organisation passed up to the next level (上缴) for a period, and the higher level's
    confirmation of receipt. Booked on the dues ledger at both ends, so the trail from branch to the top
    is tamper-evident."""

    class Status(models.TextChoices):
        SENT = "sent", _("Sent, awaiting confirmation")
        CONFIRMED = "confirmed", _("Receipt confirmed")
        RETURNED = "returned", _("Returned")

    scope_path_field = ("from_org_path", "to_org_path")

    from_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("remitting organisation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("receiving organisation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    from_org_path = models.CharField(max_length=255, db_index=True, editable=False)
    to_org_path = models.CharField(max_length=255, db_index=True, editable=False)
    period_start = models.DateField(_("from (month)"))
    period_end = models.DateField(_("until (month)"))
    amount = models.DecimalField(_("amount (yuan)"), max_digits=14, decimal_places=2)
    central_amount = models.DecimalField(
        _("of which extra dues for the centre (yuan)"), max_digits=14, decimal_places=2, default=0
    )
    remitted_on = models.DateField(_("remitted on"))
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SENT)
    note = models.CharField(_("note"), max_length=200, blank=True)
    sent_entry = models.OneToOneField(
        "core.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_entry = models.OneToOneField(
        "core.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("remittance")
        verbose_name_plural = _("remittances")
        ordering = ["-remitted_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="dues_remittance_period"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="dues_remittance_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.from_org_id} → {self.to_org_id} {self.amount}"
