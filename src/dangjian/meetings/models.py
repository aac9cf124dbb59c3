"""Organization life (三会一课 and the rest): one meeting record entered once and counted everywhere.

A ``Meeting`` is planned, notified, attended (``Attendee`` rows: QR, video, device or manual), minuted,
voted (``Vote``), transcribed (``Transcript``) and from then on read by compliance, points, indices and
reports. The yearly 组织生活会 keeps its 谈心谈话 (``TalkRecord``) and criticism notes
(``LifeMeetingNote``); 民主评议党员 keeps one ``Appraisal`` per member and year with its secret mutual
ratings (``MutualRating``). Check-in devices (``CheckinDevice``, ``CheckinCard``) publish over MQTT;
every message they send is logged (``DeviceMessage``). Frequencies and thresholds come from the
rulebook (``rules/meetings.yaml``, RULES.md §3).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from dangjian.core.scoping import RestrictedQuerySet


class MeetingKind(models.TextChoices):
    """The kinds of organization life (GLOSSARY); frequencies per kind are in ``rules/meetings.yaml``."""

    GENERAL_MEETING = "general_meeting", _("Branch general meeting")
    COMMITTEE_MEETING = "committee_meeting", _("Branch committee meeting")
    GROUP_MEETING = "group_meeting", _("Party group meeting")
    PARTY_LECTURE = "party_lecture", _("Party lecture")
    THEME_DAY = "theme_day", _("Theme party day")
    LIFE_MEETING = "life_meeting", _("Organization life meeting")
    DEMOCRATIC_APPRAISAL = "democratic_appraisal", _("Democratic appraisal of members")
    OTHER = "other", _("Other")


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    HELD = "held", _("Held")
    CANCELLED = "cancelled", _("Cancelled")


def _user_fk(verbose: str, **kw: object) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **kw,
    )


class MeetingPlace(models.Model):
    """A room where an organisation meets (a service centre's hall, a branch's activity room); check-in
    devices are installed at places, and a device records attendance for the meeting in progress there."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    active = models.BooleanField(_("in use"), default=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("meeting place")
        verbose_name_plural = _("meeting places")
        ordering = ["org_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="meetings_place_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Meeting(models.Model):
    """One meeting of an organisation: a branch (most kinds), a party group (group meetings) or a
    committee (its secretary's party lecture). ``date`` is the local date of ``starts_at``, kept for the
    compliance counts. Minutes are sanitised rich text (HTML)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="meetings"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=MeetingKind.choices)
    title = models.CharField(_("topic"), max_length=200)
    agenda = models.TextField(_("agenda"), blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    date = models.DateField(_("date"), editable=False)
    place = models.CharField(_("place"), max_length=200, blank=True)
    venue = models.ForeignKey(
        MeetingPlace,
        verbose_name=_("room with check-in devices"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="meetings",
    )
    host = models.ForeignKey(
        "members.Member",
        verbose_name=_("host"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorder = models.ForeignKey(
        "members.Member",
        verbose_name=_("recorder"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lecturer = models.ForeignKey(
        "members.Member",
        verbose_name=_("lecturer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A lecturer from outside the register (a retired cadre, a party-school teacher).
    lecturer_name = models.CharField(_("lecturer (not on the register)"), max_length=50, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED
    )
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    minutes_recorded_at = models.DateTimeField(_("minutes recorded at"), null=True, blank=True)
    minutes_recorded_by = _user_fk(_("minutes recorded by"))
    # The Jitsi Meet room of the meeting ("" = no video); only offered when DANGJIAN_JITSI_URL is set.
    video_room = models.CharField(_("video room"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    planned_notified_at = models.DateTimeField(_("attendees notified at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True)
    created_by = _user_fk(_("planned by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["org", "kind", "date"], name="meetings_meeting_org_kind_date"),
            models.Index(fields=["date", "status"], name="meetings_meeting_date_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="meetings_meeting_ends_after_start",
                violation_error_message=_("A meeting must end after it starts."),
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancel_reason=""),
                name="meetings_meeting_cancel_has_reason",
                violation_error_message=_("Give the reason for cancelling the meeting."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date} {self.title}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> Q:
        """A member sees the meetings they are expected at (core.scoping SELF); one the secretary
        removed from the list (``expected=False``) is no longer theirs."""
        return Q(pk__in=Attendee.objects.filter(member__user=user, expected=True).values("meeting_id"))


class MeetingAttachment(models.Model):
    """A validated upload of a meeting: a document, a photo, or the final minutes uploaded back."""

    class Kind(models.TextChoices):
        ATTACHMENT = "attachment", _("Attachment")
        PHOTO = "photo", _("Photo")
        FINAL_MINUTES = "final_minutes", _("Final minutes")

    meeting = models.ForeignKey(
        Meeting, verbose_name=_("meeting"), on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ATTACHMENT)
    file = models.FileField(_("file"), upload_to="meetings/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    uploaded_by = _user_fk(_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    scope_org_field = "meeting__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("meeting attachment")
        verbose_name_plural = _("meeting attachments")
        ordering = ["meeting_id", "id"]

    def __str__(self) -> str:
        return self.original_name


class AttendanceStatus(models.TextChoices):
    PENDING = "pending", _("Not checked in")
    PRESENT = "present", _("Present")
    LEAVE = "leave", _("On leave")
    ABSENT = "absent", _("Absent")


class AttendanceChannel(models.TextChoices):
    QR = "qr", _("QR code")
    VIDEO = "video", _("Video")
    DEVICE = "device", _("Check-in device")
    MANUAL = "manual", _("Marked by the secretary")


class LeaveStatus(models.TextChoices):
    NONE = "", _("No request")
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class Attendee(models.Model):
    """One person at one meeting. Rows are derived from the roster for the meeting's kind when it is
    planned (``expected``); the secretary may add or remove people with a reason (a removed row stays,
    ``expected=False``, so the adjustment is visible). ``can_vote`` is fixed when the row is made: full
    members of the branch vote; probationary members, hosted flowing members and members under 留党察看
    without restored rights do not (members.selectors.voting_members)."""

    class Role(models.TextChoices):
        ROSTER = "roster", _("On the roster")
        GUEST = "guest", _("Flowing member hosted here")
        ADDED = "added", _("Added by the secretary")

    meeting = models.ForeignKey(
        Meeting, verbose_name=_("meeting"), on_delete=models.CASCADE, related_name="attendees"
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="meeting_attendances",
    )
    role = models.CharField(_("why expected"), max_length=16, choices=Role.choices, default=Role.ROSTER)
    expected = models.BooleanField(_("expected"), default=True)
    adjust_reason = models.CharField(_("reason for the adjustment"), max_length=200, blank=True)
    can_vote = models.BooleanField(_("has a vote"), default=False)
    status = models.CharField(
        _("attendance"), max_length=16, choices=AttendanceStatus.choices, default=AttendanceStatus.PENDING
    )
    channel = models.CharField(
        _("checked in by"), max_length=16, choices=AttendanceChannel.choices, blank=True
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    leave_status = models.CharField(
        _("leave request"), max_length=16, choices=LeaveStatus.choices, default=LeaveStatus.NONE, blank=True
    )
    leave_reason = models.CharField(_("reason for leave"), max_length=200, blank=True)
    leave_requested_at = models.DateTimeField(_("leave requested at"), null=True, blank=True)
    leave_decided_by = _user_fk(_("leave decided by"))
    leave_decided_at = models.DateTimeField(_("leave decided at"), null=True, blank=True)
    leave_note = models.CharField(_("note on the decision"), max_length=200, blank=True)
    updated_by = _user_fk(_("updated by"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_org_field = "meeting__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("attendee")
        verbose_name_plural = _("attendees")
        ordering = ["meeting_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member"], name="meetings_attendee_unique"),
            models.CheckConstraint(
                condition=Q(status="present") | Q(checked_in_at__isnull=True),
                name="meetings_attendee_checkin_only_present",
                violation_error_message=_("Only a member who is present has a check-in time."),
            ),
        ]
        indexes = [models.Index(fields=["member", "status"], name="meetings_attendee_member")]

    def __str__(self) -> str:
        return f"{self.member_id}@{self.meeting_id}: {self.status}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> Q:
        return Q(member__user=user)


class CheckinTokenUse(models.Model):
    """A QR check-in token a member has used: the same token presented again is a replay and refused."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("used check-in code")
        verbose_name_plural = _("used check-in codes")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "member", "nonce"], name="meetings_token_use_unique"),
        ]

    def __str__(self) -> str:
        return self.nonce


class VideoJoin(models.Model):
    """A member joining the meeting's video room through the platform's link (who and when)."""

    meeting = models.ForeignKey(
        Meeting, verbose_name=_("meeting"), on_delete=models.CASCADE, related_name="video_joins"
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    user = _user_fk(_("user"))
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    scope_org_field = "meeting__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("video join")
        verbose_name_plural = _("video joins")
        ordering = ["meeting_id", "joined_at"]

    def __str__(self) -> str:
        return f"{self.member_id}@{self.meeting_id}"


class CheckinDevice(models.Model):
    """A card reader or face terminal at a place; it publishes on ``dangjian/checkin/<device_id>`` and
    signs each message with its own secret (HMAC-SHA256), kept encrypted (core.crypto)."""

    device_id = models.SlugField(_("device id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    place = models.ForeignKey(
        MeetingPlace, verbose_name=_("place"), on_delete=models.PROTECT, related_name="devices"
    )
    secret_encrypted = models.TextField(_("secret (encrypted)"), editable=False)
    active = models.BooleanField(_("in use"), default=True)
    last_seen_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("check-in device")
        verbose_name_plural = _("check-in devices")
        ordering = ["device_id"]

    def __str__(self) -> str:
        return self.device_id


class CheckinCard(models.Model):
    """A member's card for the check-in devices, looked up by its blind index (the number is not kept)."""

    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.CASCADE, related_name="checkin_cards"
    )
    card_index = models.CharField(_("card index"), max_length=64, unique=True, editable=False)
    card_masked = models.CharField(_("card"), max_length=32, editable=False)
    active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_org_field = "member__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("check-in card")
        verbose_name_plural = _("check-in cards")
        ordering = ["member_id", "id"]

    def __str__(self) -> str:
        return self.card_masked


class DeviceMessage(models.Model):
    """Every message a check-in device sent, with what became of it (the listener never crashes on one)."""

    class Outcome(models.TextChoices):
        RECORDED = "recorded", _("Attendance recorded")
        DUPLICATE = "duplicate", _("Already checked in")
        UNKNOWN_DEVICE = "unknown_device", _("Unknown device")
        BAD_SIGNATURE = "bad_signature", _("Bad signature")
        MALFORMED = "malformed", _("Malformed message")
        UNKNOWN_PERSON = "unknown_person", _("Unknown person")
        NO_MEETING = "no_meeting", _("No meeting in progress")
        NOT_EXPECTED = "not_expected", _("Not expected at this meeting")
        STALE = "stale", _("Timestamp out of range")

    # The device id from the topic, as sent (it may name no known device).
    device_code = models.CharField(_("device id"), max_length=64, db_index=True)
    device = models.ForeignKey(
        CheckinDevice,
        verbose_name=_("device"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    # The message as received, cut to a bounded length; card numbers and identities are masked first.
    payload = models.TextField(_("payload"), blank=True)
    meeting = models.ForeignKey(
        Meeting, verbose_name=_("meeting"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    scope_org_field = "device__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("device message")
        verbose_name_plural = _("device messages")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.device_code} {self.outcome}"


class MeetingOrgSetting(models.Model):
    """An organisation's own arrangements for organization life: the fixed day of its theme party day
    (支部工作条例 第十五条: once a month on a relatively fixed day)."""

    org = models.OneToOneField(
        "orgs.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="meeting_setting",
    )
    theme_day = models.PositiveSmallIntegerField(
        _("theme party day (day of the month)"), null=True, blank=True
    )
    updated_by = _user_fk(_("updated by"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization-life setting")
        verbose_name_plural = _("organization-life settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(theme_day__isnull=True) | Q(theme_day__gte=1, theme_day__lte=31),
                name="meetings_setting_theme_day_range",
                violation_error_message=_("The theme party day is a day of the month, 1 to 31."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.org_id}: {self.theme_day}"


class Transcript(models.Model):
    """The spoken record of a meeting: an uploaded transcript file (txt, srt, vtt, docx), or an audio
    file transcribed by a background job from the local model in ``DANGJIAN_ASR_MODEL``. Without a model
    the audio is kept and the transcript waits (``no_model``). ``analysis`` caches keywords, frequent
    words and the summary (meetings.keywords), with the version of the analysis that produced it."""

    class Source(models.TextChoices):
        TXT = "txt", _("Text file")
        SRT = "srt", _("SubRip subtitles")
        VTT = "vtt", _("WebVTT subtitles")
        DOCX = "docx", _("Word document")
        AUDIO = "audio", _("Audio recording")

    class Status(models.TextChoices):
        READY = "ready", _("Ready")
        QUEUED = "queued", _("Waiting to be transcribed")
        TRANSCRIBING = "transcribing", _("Transcribing")
        NO_MODEL = "no_model", _("No speech model configured")
        FAILED = "failed", _("Failed")

    meeting = models.ForeignKey(
        Meeting, verbose_name=_("meeting"), on_delete=models.CASCADE, related_name="transcripts"
    )
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    file = models.FileField(_("file"), upload_to="meetings/transcripts/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.READY)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    text = models.TextField(_("text"), blank=True)
    analysis = models.JSONField(_("analysis"), default=dict, blank=True)
    job = models.ForeignKey(
        "core.Job", verbose_name=_("job"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by = _user_fk(_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_org_field = "meeting__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("transcript")
        verbose_name_plural = _("transcripts")
        ordering = ["meeting_id", "-uploaded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="meetings_transcript_progress_le_100"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class TranscriptSegment(models.Model):
    """One timed piece of a transcript, with its speaker where the source names one."""

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField(_("number"))
    start_ms = models.PositiveIntegerField(_("start (ms)"), null=True, blank=True)
    end_ms = models.PositiveIntegerField(_("end (ms)"), null=True, blank=True)
    speaker = models.CharField(_("speaker"), max_length=50, blank=True)
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("transcript segment")
        verbose_name_plural = _("transcript segments")
        ordering = ["transcript_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["transcript", "index"], name="meetings_segment_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.text[:20]}"


class TalkRecord(models.Model):
    """谈心谈话: a heart-to-heart talk between two members, at least once a year (RULES.md §3), usually
    before the organization life meeting (``meeting``, optional)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    meeting = models.ForeignKey(
        Meeting,
        verbose_name=_("organization life meeting"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="talks",
    )
    date = models.DateField(_("date"))
    initiator = models.ForeignKey(
        "members.Member", verbose_name=_("talked with"), on_delete=models.PROTECT, related_name="+"
    )
    partner = models.ForeignKey(
        "members.Member", verbose_name=_("talk partner"), on_delete=models.PROTECT, related_name="+"
    )
    topic = models.CharField(_("topic"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = _user_fk(_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("heart-to-heart talk")
        verbose_name_plural = _("heart-to-heart talks")
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(initiator=F("partner")),
                name="meetings_talk_two_people",
                violation_error_message=_("A talk is between two different members."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.topic}"


class LifeMeetingNote(models.Model):
    """What one member said at the organization life meeting: self-criticism, criticism of another
    member, or the rectification they undertake."""

    class Kind(models.TextChoices):
        SELF_CRITICISM = "self_criticism", _("Self-criticism")
        CRITICISM = "criticism", _("Criticism of another member")
        RECTIFICATION = "rectification", _("Rectification undertaken")

    meeting = models.ForeignKey(
        Meeting, verbose_name=_("meeting"), on_delete=models.CASCADE, related_name="life_notes"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    about = models.ForeignKey(
        "members.Member",
        verbose_name=_("about"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    text = models.TextField(_("text"))
    recorded_by = _user_fk(_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    scope_org_field = "meeting__org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization life meeting note")
        verbose_name_plural = _("organization life meeting notes")
        ordering = ["meeting_id", "member_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="criticism") | Q(about__isnull=False),
                name="meetings_note_criticism_about",
                violation_error_message=_("Say whom the criticism is about."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind}"


class AppraisalRating(models.TextChoices):
    """民主评议党员 ratings (RULES.md §3)."""

    EXCELLENT = "excellent", _("Excellent")
    QUALIFIED = "qualified", _("Qualified")
    BASICALLY_QUALIFIED = "basically_qualified", _("Basically qualified")
    UNQUALIFIED = "unqualified", _("Unqualified")


class Appraisal(models.Model):
    """民主评议党员 of one member for one year: self-assessment, the tally of the secret mutual ratings,
    and the branch's rating (which later indices read). ``rule_ref`` records the rule in force."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="+"
    )
    meeting = models.ForeignKey(
        Meeting,
        verbose_name=_("appraisal meeting"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appraisals",
    )
    year = models.PositiveSmallIntegerField(_("year"))
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="appraisals"
    )
    self_assessment = models.TextField(_("self-assessment"), blank=True)
    rating = models.CharField(
        _("branch's rating"), max_length=24, choices=AppraisalRating.choices, blank=True
    )
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    rated_by = _user_fk(_("rated by"))
    rule_ref = models.CharField(_("rule applied"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    scope_org_field = "org"
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("democratic appraisal")
        verbose_name_plural = _("democratic appraisals")
        ordering = ["-year", "org_id", "member_id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "year"], name="meetings_appraisal_one_per_year"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.member_id} {self.rating}"

    @classmethod
    def scope_self_q(cls, user: object, assignment: object) -> Q:
        return Q(member__user=user)


class MutualRating(models.Model):
    """One member's secret rating of another in the mutual assessment; pages show only the tally."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="mutual_ratings")
    rater = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    rating = models.CharField(_("rating"), max_length=24, choices=AppraisalRating.choices)
    rated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mutual rating")
        verbose_name_plural = _("mutual ratings")
        constraints = [
            models.UniqueConstraint(fields=["appraisal", "rater"], name="meetings_mutual_one_per_rater"),
        ]

    def __str__(self) -> str:
        return f"{self.appraisal_id}: {self.rating}"


class VoteKind(models.TextChoices):
    ADMISSION = "admission", _("Admission of a probationary member")
    FULL_MEMBERSHIP = "full_membership", _("Full membership")
    EXTENSION = "extension", _("Extension of the probation")
    CANCELLATION = "cancellation", _("Cancellation of the probationary membership")
    ELECTION = "election", _("Election of a candidate")
    DECISION = "decision", _("Decision on a motion")
    OTHER = "other", _("Other motion")


class Vote(models.Model):
    """One vote of a branch general meeting on one motion about one subject (one candidate at a time).
    ``meeting`` links it to the meeting whose attendance record gave its counts; ``title`` names the
    motion or the candidate for elections and decisions."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("organization"), on_delete=models.PROTECT, related_name="votes"
    )
    subject_type = models.ForeignKey(
        ContentType, verbose_name=_("subject type"), on_delete=models.PROTECT, null=True, blank=True
    )
    subject_id = models.PositiveBigIntegerField(_("subject id"), null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    kind = models.CharField(_("motion"), max_length=32, choices=VoteKind.choices)
    meeting = models.ForeignKey(
        Meeting,
        verbose_name=_("meeting"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="votes",
    )
    title = models.CharField(_("motion or candidate"), max_length=200, blank=True)
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
