"""Organization life on the phone (/m/meetings/, namespace ``mobile_meetings``): my meetings, leave
requests and QR check-in."""

from django.urls import path  # noqa: F401

from dangjian.meetings import appraisal_views

app_name = "mobile_meetings"

urlpatterns: list = []

# 民主评议党员 on the phone: self-assessment and mutual rating (meetings/appraisal_views.py).
urlpatterns += [
    path("appraisal/", appraisal_views.appraisal_mine, name="appraisal_mine"),
]

# My meetings and leave requests (helper "pages": meetings/views.py).
from dangjian.meetings import views as _pages  # noqa: E402

urlpatterns += [
    path("", _pages.mobile_list, name="list"),
    path("<int:pk>/", _pages.mobile_detail, name="detail"),
    path("<int:pk>/leave/", _pages.mobile_leave, name="leave"),
]

# QR check-in on the phone: what the code on the meeting screen opens (meetings/checkin_views.py).
from dangjian.meetings import checkin_views as _checkin  # noqa: E402

urlpatterns += [
    path("checkin/done/<int:pk>/", _checkin.mobile_checkin_done, name="checkin_done"),
    path("checkin/<str:token>/", _checkin.mobile_checkin, name="checkin"),
]
