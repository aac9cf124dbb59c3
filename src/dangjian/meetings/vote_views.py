"""Recording a vote at a meeting (表决), from the meeting page.

The secretary enters the secret tallies; who should attend and who attended with a vote are read from
the meeting's attendance record and shown beside the form with the quorum and the yes votes the rule
requires (``meetings.votes``). For an election the form is filled once per candidate ("save and record
the next candidate" keeps the election open). Admission and full membership are recorded on the
recruitment case naming the meeting; the form says so.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core.scoping import can
from dangjian.meetings import views as pages
from dangjian.meetings import votes
from dangjian.meetings.models import Meeting, MeetingKind, VoteKind


class VoteForm(forms.Form):
    kind = forms.ChoiceField(label=_l("Kind of vote"))
    title = forms.CharField(
        label=_l("Candidate or motion"),
        max_length=200,
        required=False,
        help_text=_l("For an election: one candidate per vote, by name."),
    )
    yes = forms.IntegerField(label=_l("In favour"), min_value=0)
    no = forms.IntegerField(label=_l("Against"), min_value=0)
    abstain = forms.IntegerField(label=_l("Abstentions"), min_value=0, initial=0)
    written_opinions_yes = forms.IntegerField(
        label=_l("Written opinions in favour"),
        min_value=0,
        initial=0,
        required=False,
        help_text=_l("Handed in before the meeting by full members who could not attend."),
    )
    written_opinions_no = forms.IntegerField(
        label=_l("Written opinions against"), min_value=0, initial=0, required=False
    )
    notes = forms.CharField(label=_l("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = votes.KINDS_BY_MEETING.get(meeting.kind, ())
        self.fields["kind"].choices = [(k, VoteKind(k).label) for k in kinds]
        if meeting.kind == MeetingKind.COMMITTEE_MEETING:
            del self.fields["written_opinions_yes"]
            del self.fields["written_opinions_no"]
        for field in self.fields.values():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.setdefault("class", css)
            if isinstance(field, forms.IntegerField):
                field.widget.attrs.update({"inputmode": "numeric", "style": "max-width: 9rem"})

    def mark_invalid(self) -> None:
        """``is-invalid`` on the fields with errors (those of the form and those the service named)."""
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] += " is-invalid"


def _meeting(request: HttpRequest, pk: int) -> Meeting:
    return get_object_or_404(Meeting.objects.restrict(request.user, "view").select_related("org"), pk=pk)


@login_required
def vote_new(request: HttpRequest, pk: int) -> HttpResponse:
    """记录表决: the tallies of one motion or one candidate at a held general (or committee) meeting."""
    pages._require_officer(request.user)
    meeting = _meeting(request, pk)
    if not can(request.user, "add", meeting.org):
        raise PermissionDenied(_("You may view this meeting but not change it."))
    basis = votes.meeting_vote_basis(meeting) if meeting.kind in votes.VOTING_KINDS else None
    problem = ""
    try:
        votes.check_meeting(meeting)
    except ValidationError as exc:
        problem = "；".join(exc.message_dict.get("meeting", exc.messages))
    data = request.POST if request.method == "POST" else None
    initial = {"kind": request.GET.get("kind") or VoteKind.ELECTION}
    form = VoteForm(data, meeting=meeting, initial=initial) if not problem else None
    if form is not None and data is not None and form.is_valid():
        values = {k: (v if v is not None else 0) for k, v in form.cleaned_data.items()}
        try:
            vote = votes.meeting_vote_record(actor=request.user, meeting=meeting, **values)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            result = _("passed") if vote.passed else _("not passed")
            messages.success(
                request,
                _("Vote recorded: %(title)s — %(yes)s in favour, %(result)s.")
                % {"title": vote.title, "yes": vote.yes_total, "result": result},
            )
            if "next" in request.POST:
                return redirect(reverse("meetings:vote_new", args=[meeting.pk]) + f"?kind={vote.kind}")
            return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#votes")
    if form is not None and form.is_bound:
        form.mark_invalid()
    context = {
        **pages._page_context(request, "list", meeting.org, {"org": str(meeting.org_id)}),
        "show_tree": False,
        "meeting": meeting,
        "form": form,
        "basis": basis,
        "problem": problem,
        "is_committee": meeting.kind == MeetingKind.COMMITTEE_MEETING,
        "recorded": list(votes.votes_of(request.user, meeting)),
    }
    status = 400 if data is not None and form is not None and form.errors else 200
    return render(request, "meetings/vote_form.html", context, status=status)
