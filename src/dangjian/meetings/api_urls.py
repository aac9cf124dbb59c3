"""API routes of organization life under /api/v1/meetings/ (names in the ``api`` namespace).

Each module adds its own lines; the contract paths are in issue 5: the meeting list and detail, and per
meeting attendance/, checkin/, votes/, transcript/ and keywords/; compliance/ for a subtree and year.
"""

from django.urls import path  # noqa: F401

from dangjian.meetings import api as meetings_api
from dangjian.meetings import appraisal_api, compliance_api, vote_api

urlpatterns: list = []

# 谈心谈话, 组织生活会 notes and 民主评议党员 (meetings/appraisal_api.py).
urlpatterns += [
    path("talks/", appraisal_api.TalkViewSet.as_view({"get": "list", "post": "create"}), name="talk-list"),
    path(
        "appraisals/",
        appraisal_api.AppraisalViewSet.as_view({"get": "list", "post": "create"}),
        name="appraisal-list",
    ),
    path(
        "appraisals/<int:pk>/",
        appraisal_api.AppraisalViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="appraisal-detail",
    ),
    path("appraisals/<int:pk>/mutual/", appraisal_api.AppraisalMutualView.as_view(), name="appraisal-rate"),
    path("<int:pk>/life-notes/", appraisal_api.LifeNotesView.as_view(), name="life-note-list"),
]

# Votes of a meeting and the compliance table (meetings/vote_api.py, meetings/compliance_api.py).
urlpatterns += [
    path("<int:pk>/votes/", vote_api.MeetingVotesView.as_view(), name="meeting-votes"),
    path("compliance/", compliance_api.ComplianceView.as_view(), name="meeting-compliance"),
]

# The meetings themselves: list and plan, detail and change, cancel, attendance, leave (meetings/api.py).
urlpatterns += [
    path("", meetings_api.meeting_list, name="meeting-list"),
    path("<int:pk>/", meetings_api.meeting_detail, name="meeting-detail"),
    path("<int:pk>/cancel/", meetings_api.meeting_cancel, name="meeting-cancel"),
    path("<int:pk>/attendance/", meetings_api.meeting_attendance, name="meeting-attendance"),
    path("<int:pk>/leave/", meetings_api.meeting_leave, name="meeting-leave"),
    path("<int:pk>/leave/decide/", meetings_api.meeting_leave_decide, name="meeting-leave-decide"),
]

# QR check-in: the current code for the screen (GET), a member's check-in (POST) (meetings/checkin_api.py).
from dangjian.meetings import checkin_api  # noqa: E402

urlpatterns += [
    path("<int:pk>/checkin/", checkin_api.MeetingCheckinView.as_view(), name="meeting-checkin"),
]

# Transcripts and keywords (meetings/transcript_api.py): GET/POST the transcript, GET its analysis.
from dangjian.meetings import transcript_api  # noqa: E402

urlpatterns += [
    path("<int:pk>/transcript/", transcript_api.MeetingTranscriptView.as_view(), name="meeting-transcript"),
    path("<int:pk>/keywords/", transcript_api.MeetingKeywordsView.as_view(), name="meeting-keywords"),
]
