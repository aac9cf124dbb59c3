"""The 25 steps of developing a member (发展党员工作细则, 细则 第二章至第五章) as data.

Each step says its stage, the steps it needs first, whether it may be recorded more than once, the
outcomes it may have (the first positive outcome is the default) and the fields it takes besides
``date``, ``handled_by`` (who did it / signs for it) and ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Field kinds a step may take (parsed and checked by services._parse_fields).
STR, INT, NUMBER, BOOL, DATE, MEMBERS, ORG, CHOICE, MEETING = (
    "str",
    "int",
    "number",
    "bool",
    "date",
    "members",
    "org",
    "choice",
    "meeting",
)


@dataclass(frozen=True)
class FieldSpec:
    kind: str
    label: Promise
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepSpec:
    number: int
    stage: int
    key: str
    title: Promise
    requires: tuple[int, ...] = ()
    repeatable: bool = False
    outcomes: tuple[str, ...] = ("done",)
    positive: tuple[str, ...] = ("done",)
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    computed_outcome: bool = False  # the outcome comes from a vote, not from the request
    attachment_kinds: tuple[str, ...] = ()


class Stage:
    APPLICANT, ACTIVIST, CANDIDATE, ADMISSION, PROBATION = 1, 2, 3, 4, 5


STAGE_TITLES = {
    1: _("Application"),
    2: _("Activist: selection and training"),
    3: _("Candidate: selection and assessment"),
    4: _("Admission as a probationary member"),
    5: _("Probation and full membership"),
}

NOMINATION_METHODS = ("member_recommendation", "mass_organization_recommendation")
NOMINATION_LABELS = {
    "member_recommendation": _("Recommended by party members"),
    "mass_organization_recommendation": _("Recommended by a mass organization (推优)"),
}
MOTIONS = ("full", "extend", "cancel")
MOTION_LABELS = {
    "full": _("Become a full member"),
    "extend": _("Extend the probation"),
    "cancel": _("Cancel the probationary membership"),
}
OUTCOME_LABELS = {
    "done": _("Done"),
    "passed": _("Passed"),
    "failed": _("Not passed"),
    "filed": _("Filed"),
    "agreed": _("Agreed"),
    "refused": _("Refused"),
    "approved": _("Approved"),
}

# Steps 15 and 23: the branch general meeting may be named (a held general meeting of the case's branch
# on the step's date). Then the three counts come from its attendance record (meetings.votes) and the
# secretary enters only the tallies; without it the counts are entered by hand as before.
MEETING_COUNT_FIELDS = ("expected_voting", "present_voting", "full_members_expected")
_VOTE_FIELDS = {
    "meeting": FieldSpec(MEETING, _("branch general meeting")),
    "expected_voting": FieldSpec(INT, _("voting members expected"), required=True),
    "present_voting": FieldSpec(INT, _("voting members present"), required=True),
    "full_members_expected": FieldSpec(INT, _("full members expected"), required=True),
    "yes": FieldSpec(INT, _("yes"), required=True),
    "no": FieldSpec(INT, _("no"), required=True),
    "abstain": FieldSpec(INT, _("abstentions"), required=True),
    "written_opinions_yes": FieldSpec(INT, _("written opinions in favour")),
    "written_opinions_no": FieldSpec(INT, _("written opinions against")),
    "candidates": FieldSpec(INT, _("candidates in this vote")),
}

_S = StepSpec
STEPS: dict[int, StepSpec] = {
    s.number: s
    for s in [
        _S(1, 1, "application", _("Application submitted"), attachment_kinds=("application",)),
        _S(2, 1, "talk", _("Talk with the applicant"), requires=(1,)),
        _S(
            3,
            2,
            "activist",
            _("Selected as an activist"),
            requires=(2,),
            fields={
                "nomination_method": FieldSpec(
                    CHOICE, _("nomination method"), required=True, choices=NOMINATION_METHODS
                ),
            },
        ),
        _S(4, 2, "activist_filed", _("Activist filed with the higher committee"), requires=(3,),
           fields={"committee": FieldSpec(ORG, _("higher committee"))}),
        _S(5, 2, "mentors", _("Mentors designated"), requires=(3,),
           fields={"mentors": FieldSpec(MEMBERS, _("mentors"), required=True)}),
        _S(6, 2, "assessment", _("Half-yearly assessment"), requires=(3,), repeatable=True,
           attachment_kinds=("thought_report", "assessment")),
        _S(
            7,
            3,
            "candidate",
            _("Selected as a candidate"),
            requires=(4, 5),
            fields={
                "public_notice_from": FieldSpec(DATE, _("public notice from")),
                "public_notice_to": FieldSpec(DATE, _("public notice to")),
            },
        ),
        _S(8, 3, "candidate_filed", _("Candidate filed with (agreed by) the higher committee"), requires=(7,),
           outcomes=("filed", "agreed", "refused"), positive=("filed", "agreed"),
           fields={"committee": FieldSpec(ORG, _("higher committee"))}),
        _S(9, 3, "introducers", _("Introducers designated"), requires=(8,),
           fields={"introducers": FieldSpec(MEMBERS, _("introducers"), required=True)}),
        _S(10, 3, "political_review", _("Political review"), requires=(8,),
           outcomes=("passed", "failed"), positive=("passed",), attachment_kinds=("political_review",)),
        _S(
            11,
            3,
            "training",
            _("Centralised training"),
            requires=(8,),
            fields={
                "training_days": FieldSpec(NUMBER, _("training days")),
                "training_hours": FieldSpec(NUMBER, _("training class hours")),
                "training_from": FieldSpec(DATE, _("training from")),
                "training_to": FieldSpec(DATE, _("training to")),
            },
        ),
        _S(12, 4, "committee_review", _("Review by the branch committee"), requires=(9, 10, 11),
           outcomes=("passed", "failed"), positive=("passed",)),
        _S(13, 4, "prereview", _("Pre-review by the higher committee"), requires=(12,),
           outcomes=("passed", "failed"), positive=("passed",),
           fields={"committee": FieldSpec(ORG, _("higher committee")),
                   "expected_departure": FieldSpec(DATE, _("expected to leave the unit on"))}),
        _S(14, 4, "application_form", _("Admission form filled in"), requires=(13,),
           fields={"form_number": FieldSpec(STR, _("form number"))}, attachment_kinds=("admission_form",)),
        _S(15, 4, "general_meeting", _("Branch general meeting: admission"), requires=(14,),
           outcomes=("passed", "failed"), positive=("passed",), fields=dict(_VOTE_FIELDS),
           computed_outcome=True),
        _S(16, 4, "committee_talk", _("Talk by the higher committee"), requires=(15,)),
        _S(17, 4, "approval", _("Approval by the higher committee"), requires=(16,),
           outcomes=("approved", "refused"), positive=("approved",),
           fields={"approver": FieldSpec(ORG, _("approving committee"), required=True)}),
        _S(18, 4, "approval_filed", _("Filed with the organization department above"), requires=(17,)),
        _S(19, 5, "placed", _("Placed in a branch and party group"), requires=(17,),
           fields={"group": FieldSpec(ORG, _("party group"))}),
        _S(20, 5, "oath", _("Admission oath"), requires=(17,)),
        _S(21, 5, "probation_assessment", _("Education and assessment during probation"), requires=(17,),
           repeatable=True, attachment_kinds=("thought_report", "assessment")),
        _S(22, 5, "full_application", _("Application for full membership"), requires=(19, 20),
           attachment_kinds=("application",)),
        _S(
            23,
            5,
            "full_meeting",
            _("Branch general meeting: full membership"),
            requires=(22,),
            outcomes=("passed", "failed"),
            positive=("passed",),
            fields={
                "motion": FieldSpec(CHOICE, _("motion"), required=True, choices=MOTIONS),
                "extension_months": FieldSpec(INT, _("extension (months)")),
                **_VOTE_FIELDS,
            },
            computed_outcome=True,
        ),
        _S(24, 5, "full_approval", _("Approval of the decision by the higher committee"), requires=(23,),
           outcomes=("approved", "refused"), positive=("approved",),
           fields={"approver": FieldSpec(ORG, _("approving committee"), required=True)}),
        _S(25, 5, "archived", _("Files archived"), requires=(18, 24)),
    ]
}  # fmt: skip

# Steps recorded again in each probation period after an approved extension (细则 第三十二条).
PROBATION_CYCLE_STEPS = (22, 23, 24)
# A step that may be done again while a later one has not happened: the pre-review is repeated when the
# general meeting could not be held within the time allowed after it (2026 revision).
REDO_UNTIL = {13: 15}
VOTE_STEPS = (15, 23)
APPROVAL_STEPS = (17, 24)
COMMON_FIELDS = ("step", "date", "handled_by", "notes", "outcome")


def stage_of(step: int) -> int:
    return STEPS[step].stage
