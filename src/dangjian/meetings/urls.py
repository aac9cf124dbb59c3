"""Pages of organization life (/meetings/, namespace ``meetings``); phone pages are in mobile_urls.py."""

from django.urls import path  # noqa: F401

from dangjian.meetings import appraisal_views

app_name = "meetings"

urlpatterns: list = []

# 谈心谈话, 组织生活会 and 民主评议党员 (meetings/appraisal_views.py).
urlpatterns += [
    path("<int:pk>/life/", appraisal_views.life, name="life"),
    path("<int:pk>/life/rectifications.xlsx", appraisal_views.life_export, name="life_export"),
    path("talks/", appraisal_views.talks, name="talks"),
    path("talks/export/", appraisal_views.talks_export, name="talks_export"),
    path("talks/<int:pk>/edit/", appraisal_views.talk_edit, name="talk_edit"),
    path("appraisals/", appraisal_views.appraisals, name="appraisals"),
    path("appraisals/export/", appraisal_views.appraisals_export, name="appraisals_export"),
]

# Meetings, calendar, plan, the meeting page and its writes (helper "pages": meetings/views.py).
from dangjian.meetings import views as _pages  # noqa: E402

urlpatterns += [
    path("", _pages.meeting_list, name="list"),
    path("export/", _pages.meeting_export, name="export"),
    path("calendar/", _pages.meeting_calendar, name="calendar"),
    path("plan/", _pages.meeting_plan, name="plan"),
    path("new/", _pages.meeting_create, name="create"),
    path("<int:pk>/", _pages.meeting_detail, name="detail"),
    path("<int:pk>/edit/", _pages.meeting_edit, name="edit"),
    path("<int:pk>/cancel/", _pages.meeting_cancel, name="cancel"),
    path("<int:pk>/held/", _pages.meeting_held, name="held"),
    path("<int:pk>/attendance/", _pages.attendance, name="attendance"),
    path("<int:pk>/attendance.xlsx", _pages.attendance_export, name="attendance_export"),
    path("<int:pk>/attendees/add/", _pages.attendee_add, name="attendee_add"),
    path("<int:pk>/attendees/options/", _pages.member_options, name="member_options"),
    path("attendees/<int:pk>/remove/", _pages.attendee_remove, name="attendee_remove"),
    path("attendees/<int:pk>/leave/", _pages.leave_decide, name="leave_decide"),
    path("<int:pk>/minutes/", _pages.minutes_save, name="minutes"),
    path("<int:pk>/attachments/", _pages.attachment_upload, name="attachment_upload"),
    path("attachments/<int:pk>/", _pages.attachment_download, name="attachment"),
    path("attachments/<int:pk>/delete/", _pages.attachment_delete, name="attachment_delete"),
    path("settings/<int:pk>/", _pages.org_settings, name="settings"),
]

# Attendance channels: the QR screen, the video link, the check-in devices (meetings/checkin_views.py).
from dangjian.meetings import checkin_views as _checkin  # noqa: E402

urlpatterns += [
    path("<int:pk>/checkin/", _checkin.checkin_screen, name="checkin_screen"),
    path("<int:pk>/video/", _checkin.video_join, name="video_join"),
    path("devices/", _checkin.devices_page, name="devices"),
]

# Compliance (三会一课落实情况) and recording votes (helper "votes": compliance_views.py, vote_views.py).
from dangjian.meetings import compliance_views as _compliance  # noqa: E402
from dangjian.meetings import vote_views as _votes  # noqa: E402

urlpatterns += [
    path("compliance/", _compliance.compliance_page, name="compliance"),
    path("compliance/export/", _compliance.compliance_export, name="compliance_export"),
    path("<int:pk>/votes/new/", _votes.vote_new, name="vote_new"),
]

# Transcripts, keywords and the report draft (helper "transcripts": meetings/transcript_views.py).
from dangjian.meetings import transcript_views as _transcripts  # noqa: E402

urlpatterns += [
    path("<int:pk>/transcript/", _transcripts.transcript, name="transcript"),
    path("<int:pk>/transcript/status/", _transcripts.transcript_status, name="transcript_status"),
    path("transcripts/<int:pk>/retry/", _transcripts.transcript_retry, name="transcript_retry"),
    path("transcripts/<int:pk>/delete/", _transcripts.transcript_delete, name="transcript_delete"),
    path("transcripts/<int:pk>/file/", _transcripts.transcript_file, name="transcript_file"),
    path("<int:pk>/report.docx", _transcripts.report_draft, name="report_draft"),
]
