"""Importing members from xlsx: the template, reading real-world spreadsheets, all-or-nothing commit.

The flow (issue 2, "Member register"):

1. ``read_upload`` opens the workbook with formulas as text (never evaluated), finds the header row by
   matching the template's Chinese headers (any order, extra columns ignored with a warning), and keeps
   every row exactly as uploaded.
2. ``validate_rows`` normalises each row's cells (dates in many forms, full-width digits and spaces,
   codes and Chinese labels of choices, branch codes inside the importer's scope) and validates it with
   ``MemberForm`` — the one validation path shared with pages and the API. Duplicate ID numbers inside
   the file are flagged on every row involved, naming the others.
3. If any row has an error, nothing is saved and ``error_workbook`` returns the original rows with an
   extra column 错误说明 saying what to fix (in the user's language), error rows highlighted.
   Otherwise ``commit`` inserts everything in one transaction: members and their first status change
   in batches, and one audit row summarising the import.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.forms.models import construct_instance
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from dangjian.core import spreadsheets as xl
from dangjian.core.audit import audit_log
from dangjian.core.scoping import can
from dangjian.members.choices import (
    ETHNIC_GROUPS,
    REGISTER_STATUS_CHOICES,
    Degree,
    DuesCategory,
    Education,
    Gender,
    MemberStatus,
    Occupation,
)
from dangjian.members.forms import MemberForm
from dangjian.members.idnumbers import make_id_number, normalize_digits
from dangjian.members.models import Member, MemberStatusChange
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus, OrgType

Progress = Callable[..., None]

ERROR_HEADER = "错误说明"  # the error file's extra column (a fixed part of the file format, like the headers)
DATA_SHEET = "党员信息"
MAX_COLUMNS = 100
BATCH_SIZE = 1000
# A sheet whose rows run on blank for this long has ended (Excel keeps formatted empty rows).
BLANK_RUN_LIMIT = 2000

TEXT, DATE, ID, PHONE, CHOICE, CODE = "text", "date", "id", "phone", "choice", "code"


@dataclass(frozen=True)
class Column:
    """One column of the import template: the MemberForm field it feeds and its Chinese header."""

    field: str
    header: str
    kind: str
    required: bool = False  # the header must be present (the form needs a value with no default)
    aliases: tuple[str, ...] = ()


COLUMNS: list[Column] = [
    Column("name", "姓名", TEXT, True),
    Column("gender", "性别", CHOICE),
    Column("ethnicity", "民族", CHOICE, True),
    Column("birth_date", "出生日期", DATE, aliases=("出生年月",)),
    Column("id_number", "公民身份号码", ID, True, ("身份证号", "身份证号码", "公民身份证号码", "证件号码")),
    Column("phone", "手机号码", PHONE, aliases=("手机", "手机号", "联系电话", "电话")),
    Column("education", "学历", CHOICE, True),
    Column("degree", "学位", CHOICE),
    Column("occupation", "职业类别", CHOICE, True, ("职业", "工作岗位")),
    Column("work_unit", "工作单位", TEXT),
    Column("position", "职务", TEXT),
    Column("native_place", "籍贯", TEXT),
    Column("address", "居住地址", TEXT, aliases=("家庭住址", "现居住地")),
    Column("join_date", "入党日期", DATE, True, ("入党时间",)),
    Column("full_date", "转正日期", DATE, aliases=("转正时间",)),
    Column("status", "党员状态", CHOICE, True, ("人员类别", "党籍状态")),
    Column("org", "所在支部编码", CODE, True, ("支部编码", "党支部编码", "所在党支部编码", "党组织编码")),
    Column("group", "党小组编码", CODE, aliases=("所在党小组编码",)),
    Column("dues_category", "党费类别", CHOICE, True, ("党费缴纳类别",)),
]
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}

# The Chinese labels used in the template's dropdowns (the vocabulary of 党员信息 forms and 党内统计);
# the import also accepts the stored code, the English label and the label in the user's language.
CHINESE_LABELS: dict[str, dict[str, str]] = {
    "gender": {Gender.MALE: "男", Gender.FEMALE: "女"},
    "ethnicity": {e: e for e in ETHNIC_GROUPS},
    "education": {
        Education.DOCTORATE: "博士研究生",
        Education.MASTER: "硕士研究生",
        Education.BACHELOR: "大学本科",
        Education.JUNIOR_COLLEGE: "大学专科",
        Education.SECONDARY_VOCATIONAL: "中专",
        Education.HIGH_SCHOOL: "高中",
        Education.JUNIOR_HIGH_OR_BELOW: "初中及以下",
    },
    "degree": {Degree.NONE: "无", Degree.BACHELOR: "学士", Degree.MASTER: "硕士", Degree.DOCTOR: "博士"},
    "occupation": {
        Occupation.WORKER: "工人",
        Occupation.FARMER: "农牧渔民",
        Occupation.MANAGER: "企事业单位管理人员",
        Occupation.PROFESSIONAL: "专业技术人员",
        Occupation.OFFICIAL: "党政机关工作人员",
        Occupation.STUDENT: "学生",
        Occupation.SOLDIER: "解放军、武警",
        Occupation.RETIRED: "离退休人员",
        Occupation.UNEMPLOYED: "无业人员",
        Occupation.OTHER: "其他职业人员",
    },
    "status": {
        MemberStatus.PROBATIONARY: "预备党员",
        MemberStatus.FULL: "正式党员",
        MemberStatus.SUSPENDED: "停止党籍",
        MemberStatus.LEFT: "出党",
        MemberStatus.DECEASED: "已故",
        MemberStatus.HISTORICAL: "历史党员",
    },
    "dues_category": {
        DuesCategory.EMPLOYED: "在职",
        DuesCategory.RETIREE: "离退休",
        DuesCategory.FARMER: "农民",
        DuesCategory.STUDENT: "学生",
        DuesCategory.UNEMPLOYED: "下岗失业",
        DuesCategory.LOW_INCOME: "生活困难",
        DuesCategory.OTHER: "其他",
    },
}
# Other spellings found in real registers.
SYNONYMS: dict[str, dict[str, str]] = {
    "gender": {"男性": Gender.MALE, "女性": Gender.FEMALE},
    "education": {
        "博士": Education.DOCTORATE,
        "研究生(博士)": Education.DOCTORATE,
        "硕士": Education.MASTER,
        "研究生(硕士)": Education.MASTER,
        "研究生": Education.MASTER,
        "本科": Education.BACHELOR,
        "大学": Education.BACHELOR,
        "大专": Education.JUNIOR_COLLEGE,
        "专科": Education.JUNIOR_COLLEGE,
        "中专中技": Education.SECONDARY_VOCATIONAL,
        "中技": Education.SECONDARY_VOCATIONAL,
        "职高": Education.HIGH_SCHOOL,
        "初中": Education.JUNIOR_HIGH_OR_BELOW,
        "小学": Education.JUNIOR_HIGH_OR_BELOW,
    },
    "degree": {
        "无学位": Degree.NONE,
        "学士学位": Degree.BACHELOR,
        "硕士学位": Degree.MASTER,
        "博士学位": Degree.DOCTOR,
    },
    "occupation": {"军人": Occupation.SOLDIER, "离退休": Occupation.RETIRED, "退休": Occupation.RETIRED},
    # 流动党员 is read, then refused with where it belongs (a flow certificate): see MemberForm.
    "status": {
        "预备": MemberStatus.PROBATIONARY,
        "正式": MemberStatus.FULL,
        "流动党员": MemberStatus.FLOWING,
        "流动": MemberStatus.FLOWING,
        "flowing": MemberStatus.FLOWING,
    },
    "dues_category": {
        "在职党员": DuesCategory.EMPLOYED,
        "离退休党员": DuesCategory.RETIREE,
        "退休": DuesCategory.RETIREE,
    },
}
CHOICES_OF = {
    "gender": Gender.choices,
    "ethnicity": [(e, e) for e in ETHNIC_GROUPS],
    "education": Education.choices,
    "degree": Degree.choices,
    "occupation": Occupation.choices,
    "status": REGISTER_STATUS_CHOICES,
    "dues_category": DuesCategory.choices,
}
# An empty cell means the model's default (most members have no degree).
DEFAULTS = {"degree": Degree.NONE}

# The template's sample row: a valid but fictional ID number; a row carrying it is skipped on import.
SAMPLE_ID = make_id_number("110101", dt.date(1990, 3, 7), 123)


def _key(text: Any) -> str:
    """Normalised form for matching headers and labels: half-width, no spaces, no brackets' kind."""
    text = xl.to_halfwidth(str(text)).lower()
    text = re.sub(r"[\s\u00a0*]+", "", text)
    return text.replace("（", "(").replace("）", ")")


def _header_key(text: Any) -> str:
    # "*姓名（必填）" and "姓名" are the same column.
    return re.sub(r"\(.*?\)", "", _key(text))


def _header_lookup() -> dict[str, str]:
    """Header text → field: the Chinese header, aliases, the field name and its label (English and the
    user's language)."""
    lookup: dict[str, str] = {}
    for col in COLUMNS:
        label = MemberForm.base_fields[col.field].label
        with translation.override("en"):
            english = str(label)
        for name in (col.header, *col.aliases, col.field, english, str(label)):
            lookup.setdefault(_header_key(name), col.field)
    return lookup


def _choice_lookup(field_name: str) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for code, label in CHOICES_OF[field_name]:
        lookup[_key(code)] = code
        lookup[_key(CHINESE_LABELS[field_name][code])] = code
        with translation.override("en"):
            lookup.setdefault(_key(label), code)
        with translation.override("zh-hans"):
            lookup.setdefault(_key(label), code)
        lookup.setdefault(_key(label), code)
    for text, code in SYNONYMS.get(field_name, {}).items():
        lookup.setdefault(_key(text), code)
    if field_name == "ethnicity":  # "蒙古" for "蒙古族"
        for e in ETHNIC_GROUPS:
            lookup.setdefault(_key(e[:-1]), e)
    return lookup


def choice_label(field_name: str, code: str) -> str:
    """The label a spreadsheet shows for a stored code: Chinese in Chinese, else the translated label."""
    if (translation.get_language() or "").startswith("zh"):
        return CHINESE_LABELS[field_name].get(code, code)
    return str(dict(CHOICES_OF[field_name]).get(code, code))


# --- reading ----------------------------------------------------------------------------------------


@dataclass
class UploadedSheet:
    """The uploaded rows as they are, plus where the template's columns were found."""

    title: str
    header_row: int
    columns: dict[str, int]  # field → 0-based column index
    headers: list[Any]  # the header row as uploaded
    rows: list[tuple[int, list[Any]]]  # every row of the sheet (1-based sheet row number, values)
    ignored: list[str] = field(default_factory=list)

    def header_of(self, field_name: str) -> str:
        idx = self.columns.get(field_name)
        if idx is None:
            return COLUMN_BY_FIELD[field_name].header
        return xl.clean_text(self.headers[idx]) or COLUMN_BY_FIELD[field_name].header

    @property
    def data_rows(self) -> list[tuple[int, list[Any]]]:
        return [(n, v) for n, v in self.rows if n > self.header_row]


def check_size(size: int) -> None:
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise xl.SpreadsheetError(
            _("The file is %(size).1f MB; the limit is %(limit).1f MB. Split it into smaller files.")
            % {"size": size / 1048576, "limit": limit / 1048576},
            code="too_large",
        )
    if size == 0:
        raise xl.SpreadsheetError(_("The file is empty."), code="empty")


def read_upload(data: bytes) -> UploadedSheet:
    """Read the member sheet of an uploaded workbook, or raise SpreadsheetError saying what is wrong."""
    check_size(len(data))
    wb = xl.open_workbook(data)
    try:
        lookup = _header_lookup()
        first_missing: list[str] | None = None
        for ws in _visible_sheets(wb):
            sheet = _read_sheet(ws, lookup)
            missing = _missing(sheet.columns)
            if not missing:
                return sheet
            if first_missing is None:
                first_missing = missing
        raise _missing_error(first_missing)
    finally:
        wb.close()


def _find_header(rows: Iterable[tuple[int, list[Any]]], lookup: dict[str, str]) -> tuple[int, dict[str, int]]:
    """The header row is the one among the first ten matching most template headers (a title line may
    sit above it): its number and field → column index."""
    best_row, best_columns = 0, {}
    for number, values in list(rows)[:10]:
        found: dict[str, int] = {}
        for idx, value in enumerate(values):
            fieldname = lookup.get(_header_key(value)) if not xl.is_blank(value) else None
            if fieldname and fieldname not in found:
                found[fieldname] = idx
        if len(found) > len(best_columns):
            best_row, best_columns = number, found
    return best_row, best_columns


def _missing(columns: dict[str, int]) -> list[str]:
    return [c.header for c in COLUMNS if c.required and c.field not in columns]


def _missing_error(missing: list[str] | None) -> xl.SpreadsheetError:
    return xl.SpreadsheetError(
        _("Required columns are missing: %(columns)s. Use the import template's headers.")
        % {"columns": "、".join(missing or [c.header for c in COLUMNS if c.required])},
        code="missing_columns",
    )


def _visible_sheets(wb: Any) -> list[Any]:
    sheets = [
        ws
        for ws in wb.worksheets
        if getattr(ws, "sheet_state", "visible") == "visible" and hasattr(ws, "iter_rows")
    ]
    sheets.sort(key=lambda ws: ws.title != DATA_SHEET)  # the template's sheet first, if present
    return sheets


def inspect_upload(data: bytes) -> int:
    """Check size, type and headers cheaply and estimate the number of data rows (to choose between
    running the import now or as a job); raise SpreadsheetError like ``read_upload``."""
    check_size(len(data))
    wb = xl.open_workbook(data)
    try:
        lookup = _header_lookup()
        first_missing: list[str] | None = None
        for ws in _visible_sheets(wb):
            head = list(itertools.islice(xl.iter_rows(ws, MAX_COLUMNS), 10))
            header_row, columns = _find_header(head, lookup)
            missing = _missing(columns)
            if missing and first_missing is None:
                first_missing = missing
            if missing or len(columns) < 2:
                continue
            # The sheet's stated dimension is enough to choose (it may count formatted empty rows,
            # which only sends a small file to the background); without one, count the rows.
            if ws.max_row:
                return max(ws.max_row - header_row, 0)
            width = max(columns.values()) + 1
            return sum(
                1
                for number, values in xl.iter_rows(ws, width)
                if number > header_row and not all(xl.is_blank(v) for v in values)
            )
        raise _missing_error(first_missing)
    finally:
        wb.close()


def _read_sheet(ws: Any, lookup: dict[str, str]) -> UploadedSheet:
    max_rows = settings.IMPORT_MAX_ROWS
    rows: list[tuple[int, list[Any]]] = []
    blank_run = filled = 0
    for number, values in xl.iter_rows(ws, MAX_COLUMNS):
        if all(xl.is_blank(v) for v in values):
            blank_run += 1
            if blank_run > BLANK_RUN_LIMIT:
                break
            rows.append((number, []))
            continue
        blank_run = 0
        filled += 1
        if filled > max_rows + 10:
            raise xl.SpreadsheetError(
                _("The sheet has more than %(max)d rows. Split it into smaller files.") % {"max": max_rows},
                code="too_many_rows",
            )
        rows.append((number, list(values)))
    while rows and not rows[-1][1]:
        rows.pop()
    best_row, best_columns = _find_header(rows, lookup)
    if len(best_columns) < 2:
        return UploadedSheet(ws.title, 0, {}, [], rows)
    headers = next(v for n, v in rows if n == best_row)
    used = set(best_columns.values())
    ignored: list[str] = []
    for idx, header in enumerate(headers):
        if idx in used or xl.is_blank(header) or _header_key(header) == _header_key(ERROR_HEADER):
            continue
        if lookup.get(_header_key(header)) in best_columns:
            ignored.append(_("a second “%(header)s” column") % {"header": xl.clean_text(header)})
        else:
            ignored.append(xl.clean_text(header))
    sheet = UploadedSheet(ws.title, best_row, best_columns, list(headers), rows, ignored)
    if max_rows < sum(1 for _n, v in sheet.data_rows if v):
        raise xl.SpreadsheetError(
            _("The sheet has more than %(max)d rows. Split it into smaller files.") % {"max": max_rows},
            code="too_many_rows",
        )
    return sheet


# --- validating -------------------------------------------------------------------------------------


@dataclass
class RowError:
    """One problem in one row: the column as headed in the file, a stable code, and what to fix."""

    row: int
    field: str | None
    column: str | None
    code: str
    message: str

    def as_text(self) -> str:
        if not self.column:
            return self.message
        return _("%(column)s: %(message)s") % {"column": self.column, "message": self.message}

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Validation:
    """The outcome of checking every row: cleaned data per good row, errors and warnings."""

    cleaned: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: int = 0  # non-empty data rows checked

    @property
    def error_rows(self) -> dict[int, list[RowError]]:
        grouped: dict[int, list[RowError]] = defaultdict(list)
        for e in self.errors:
            grouped[e.row].append(e)
        return dict(sorted(grouped.items()))


class _Context:
    """Per-import lookups: choice vocabularies and the branches/groups the importer may add to."""

    def __init__(self, actor: Any, sheet: UploadedSheet) -> None:
        self.choices = {f: _choice_lookup(f) for f in CHOICES_OF}
        codes: set[str] = set()
        for fname in ("org", "group"):
            idx = sheet.columns.get(fname)
            if idx is None:
                continue
            for _n, values in sheet.data_rows:
                if idx < len(values):
                    codes.add(_code(values[idx]))
        codes.discard("")
        # Only organisations where the importer may add: an unknown code and a code outside the scope
        # get the same answer, so an import cannot probe which codes exist elsewhere.
        scoped = Organization.objects.restrict(actor, "add").filter(code__in=codes)
        self.orgs = {o.code: o for o in scoped}
        self.orgs_ci = {o.code.upper(): o for o in self.orgs.values()}
        # The querysets MemberForm offers this actor for org and group, evaluated once for the import.
        probe = MemberForm(actor=actor)
        pks = [o.pk for o in self.orgs.values()]
        self.form_class = _row_form_class()
        self.form_choices = {
            name: {o.pk: o for o in probe.fields[name].queryset.filter(pk__in=pks)}
            for name in ("org", "group")
        }

    def org(self, code: str) -> Organization | None:
        return self.orgs.get(code) or self.orgs_ci.get(code.upper())


class _PrefetchedChoiceField(forms.ModelChoiceField):
    """MemberForm's org / group choice with its queryset evaluated once per import, not once per row."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Organization.objects.none(), **kwargs)
        self.cache: dict[int, Organization] | None = None

    def to_python(self, value: Any) -> Organization | None:
        if value in self.empty_values:
            return None
        if self.cache is None:
            return super().to_python(value)
        try:
            return self.cache[int(value)]
        except (KeyError, ValueError, TypeError):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            ) from None


class ImportMemberForm(MemberForm):
    """MemberForm for thousands of rows: the same fields and clean methods, without its per-row queries
    for choices the import has already looked up and for model checks MemberForm.clean already makes."""

    org = _PrefetchedChoiceField(label=Member._meta.get_field("org").verbose_name)
    group = _PrefetchedChoiceField(label=Member._meta.get_field("group").verbose_name, required=False)

    def __init__(self, data: dict[str, Any], *, actor: Any, choices: dict[str, dict[int, Organization]]):
        super().__init__(data, actor=actor)
        for name in ("org", "group"):
            self.fields[name].cache = choices[name]

    def _post_clean(self) -> None:
        # ModelForm._post_clean, minus two kinds of per-row query: the foreign-key existence checks (the
        # branch and group came from the prefetched, scoped choices) and the model's check constraints
        # (full date not before join date; joined after birth), which MemberForm.clean checks in Python
        # and the database enforces again on insert.
        exclude = self._get_validation_exclusions() | {"org", "group"}
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        except ValidationError as e:
            self._update_errors(e)
        try:
            self.instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as e:
            self._update_errors(e)


class _SharedFields(dict):
    """The fields of one import's row forms, built once: Django deep-copies a form's fields for every
    instance (MemberForm's choice lists included), which was a third of the checking time. Only the
    forms of this one import share them, and MemberForm.__init__ sets the same values for every row."""

    def __deepcopy__(self, memo: dict) -> dict:
        return dict(self)


def _row_form_class() -> type[ImportMemberForm]:
    form_class = type("RowMemberForm", (ImportMemberForm,), {"__module__": __name__})
    form_class.base_fields = _SharedFields(copy.deepcopy(ImportMemberForm.base_fields))
    return form_class


def _code(value: Any) -> str:
    return xl.clean_text(value, halfwidth=True).replace(" ", "")


def _choices_hint(field_name: str) -> str:
    labels = list(CHINESE_LABELS[field_name].values())
    hint = "、".join(labels[:8])
    return hint + ("……" if len(labels) > 8 else "")


def _normalise(
    values: list[Any], sheet: UploadedSheet, ctx: _Context
) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """Form data from raw cells, and the errors found while normalising (field → (code, message))."""
    data: dict[str, Any] = {}
    problems: dict[str, tuple[str, str]] = {}
    for col in COLUMNS:
        idx = sheet.columns.get(col.field)
        raw = values[idx] if idx is not None and idx < len(values) else None
        if xl.is_blank(raw):
            if col.field in DEFAULTS:
                data[col.field] = DEFAULTS[col.field]
            continue
        if col.kind == TEXT:
            data[col.field] = xl.clean_text(raw)
        elif col.kind == DATE:
            try:
                day = xl.parse_date(raw)
            except (ValueError, OverflowError):
                problems[col.field] = (
                    "invalid_date",
                    _("“%(value)s” is not a date; write it like 2020-01-05.") % {"value": xl.clean_text(raw)},
                )
            else:
                data[col.field] = day.isoformat() if day else ""
        elif col.kind == ID:
            # Excel keeps 15 significant digits: an 18-digit number typed into a number cell is ruined.
            if isinstance(raw, float) and (raw >= 1e15 or not raw.is_integer()):
                problems[col.field] = (
                    "id_as_number",
                    _(
                        "The ID number was stored as a number and has lost digits; format the column "
                        "as text and type the number again."
                    ),
                )
            else:
                data[col.field] = xl.clean_text(raw, halfwidth=True)
        elif col.kind == PHONE:
            data[col.field] = normalize_digits(xl.clean_text(raw, halfwidth=True))
        elif col.kind == CHOICE:
            text = xl.clean_text(raw, halfwidth=True)
            code = ctx.choices[col.field].get(_key(text))
            if code is None:
                problems[col.field] = (
                    "invalid_choice",
                    _("“%(value)s” is not one of the allowed values (%(choices)s).")
                    % {"value": text, "choices": _choices_hint(col.field)},
                )
            else:
                data[col.field] = code
        elif col.kind == CODE:
            code = _code(raw)
            org = ctx.org(code)
            if col.field == "org":
                if org is None:
                    problems["org"] = (
                        "unknown_org",
                        _(
                            "There is no branch with code “%(code)s” among the organisations you may "
                            "add members to."
                        )
                        % {"code": code},
                    )
                elif org.org_type not in BRANCH_TYPES:
                    problems["org"] = (
                        "not_a_branch",
                        _(
                            "“%(code)s” is %(name)s, which is not a branch: members belong to a "
                            "branch (党支部)."
                        )
                        % {"code": code, "name": org.name},
                    )
                elif org.status != OrgStatus.ACTIVE:
                    problems["org"] = (
                        "org_inactive",
                        _("The branch “%(code)s” has been dissolved or merged.") % {"code": code},
                    )
                else:
                    data["org"] = org.pk
            elif org is None or org.org_type != OrgType.GROUP:
                problems["group"] = (
                    "unknown_group",
                    _(
                        "There is no party group with code “%(code)s” among the organisations you may "
                        "add members to."
                    )
                    % {"code": code},
                )
            else:
                data["group"] = org.pk
    return data, problems


def validate_rows(actor: Any, sheet: UploadedSheet, progress: Progress | None = None) -> Validation:
    """Check every row through MemberForm; nothing is written."""
    result = Validation()
    ctx = _Context(actor, sheet)
    if sheet.ignored:
        result.warnings.append(
            _("These columns are not in the template and were ignored: %(columns)s")
            % {"columns": "、".join(sheet.ignored)}
        )
    data_rows = [(n, v) for n, v in sheet.data_rows if v and not all(xl.is_blank(x) for x in v)]
    total = len(data_rows)
    if progress is not None:
        progress(0, total, _("Checking rows"), force=True)
    id_idx = sheet.columns.get("id_number")
    ids: dict[str, list[int]] = defaultdict(list)
    formula_rows: list[int] = []
    for i, (number, values) in enumerate(data_rows, start=1):
        if progress is not None:
            progress(i, total)
        raw_id = values[id_idx] if id_idx is not None and id_idx < len(values) else None
        id_key = normalize_digits(xl.clean_text(raw_id, halfwidth=True)).upper() if raw_id else ""
        if id_key == SAMPLE_ID:
            result.warnings.append(
                _("Row %(row)d is the template's sample row and was skipped.") % {"row": number}
            )
            continue
        result.rows += 1
        if id_key:
            ids[id_key].append(number)
        if any(xl.needs_neutralising(v) and str(v).startswith("=") for v in values):
            formula_rows.append(number)
        data, problems = _normalise(values, sheet, ctx)
        form = ctx.form_class(data, actor=actor, choices=ctx.form_choices)
        valid = form.is_valid()
        if valid and not problems:
            result.cleaned.append((number, form.cleaned_data))
            continue
        for fname, (code, message) in problems.items():
            result.errors.append(RowError(number, fname, sheet.header_of(fname), code, message))
        form_errors = form.errors.as_data() if not valid else {}
        for fname, errs in form_errors.items():
            if fname in problems:
                continue  # our own message says more than the form's "required" / "invalid"
            if fname in ("birth_date", "gender") and "id_number" in form_errors and fname not in data:
                continue  # they come from the ID number, whose error is reported
            for err in errs:
                for message in err.messages:
                    column = sheet.header_of(fname) if fname in COLUMN_BY_FIELD else None
                    result.errors.append(
                        RowError(number, fname if column else None, column, err.code or "invalid", message)
                    )
    for numbers in ids.values():
        if len(numbers) < 2:
            continue
        for number in numbers:
            others = "、".join(str(n) for n in numbers if n != number)
            result.errors.append(
                RowError(
                    number,
                    "id_number",
                    sheet.header_of("id_number"),
                    "duplicate_in_file",
                    _("The same ID number is also on row %(rows)s of this file.") % {"rows": others},
                )
            )
    if formula_rows:
        shown = "、".join(str(n) for n in formula_rows[:10]) + ("……" if len(formula_rows) > 10 else "")
        result.warnings.append(
            _("Cells starting with “=” (rows %(rows)s) were read as plain text; formulas are never run.")
            % {"rows": shown}
        )
    result.errors.sort(key=lambda e: e.row)
    return result


# --- the error file ---------------------------------------------------------------------------------


def error_workbook(sheet: UploadedSheet, validation: Validation) -> bytes:
    """The uploaded rows as they were (formulas kept as text) with 错误说明 per row, errors highlighted."""
    wb = Workbook()
    ws = wb.active
    ws.title = (sheet.title or DATA_SHEET)[:31]
    width = max([len(sheet.headers), *(len(v) for _n, v in sheet.rows)], default=0)
    error_col = width + 1
    by_row = validation.error_rows
    separator = "；" if (translation.get_language() or "").startswith("zh") else "; "
    last = 0
    for number, values in sheet.rows:
        for _blank in range(last + 1, number):  # keep blank rows, so row numbers match the upload
            ws.append([])
        last = number
        ws.append(xl.safe_row(ws, values))
        if number == sheet.header_row:
            cell = ws.cell(row=number, column=error_col)
            xl.set_cell(cell, ERROR_HEADER)
            cell.font = xl.HEADER_FONT
            cell.fill = xl.HEADER_FILL
            for c in ws[number]:
                if c.value is not None and c.column != error_col:
                    c.font = Font(bold=True)
            continue
        errors = by_row.get(number)
        if not errors:
            continue
        for c in range(1, error_col):
            ws.cell(row=number, column=c).fill = xl.ERROR_ROW_FILL
        for err in errors:
            idx = sheet.columns.get(err.field) if err.field else None
            if idx is not None:
                ws.cell(row=number, column=idx + 1).fill = xl.ERROR_CELL_FILL
        cell = ws.cell(row=number, column=error_col)
        xl.set_cell(cell, separator.join(dict.fromkeys(e.as_text() for e in errors)))
        cell.font = xl.ERROR_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    # Errors that belong to no data row (e.g. "no rows to import"): shown under the header.
    written = {n for n, v in sheet.rows if n > sheet.header_row}
    for number, errors in by_row.items():
        if number not in written:
            cell = ws.cell(row=max(number, sheet.header_row + 1), column=error_col)
            xl.set_cell(cell, separator.join(e.as_text() for e in errors))
            cell.font = xl.ERROR_FONT
    ws.column_dimensions[get_column_letter(error_col)].width = 60
    for name, idx in sheet.columns.items():
        letter = get_column_letter(idx + 1)
        ws.column_dimensions[letter].width = max(10, xl.display_width(sheet.header_of(name)) + 4)
        if name == "id_number":
            ws.column_dimensions[letter].width = 22
    if sheet.header_row:
        ws.freeze_panes = ws.cell(row=sheet.header_row + 1, column=1)

    summary = wb.create_sheet(_("Error list")[:31])
    summary.append(
        xl.header_cells(summary, [_("Row"), _("Column"), _("What to fix")], widths={_("What to fix"): 80})
    )
    for err in validation.errors:
        summary.append(xl.safe_row(summary, [err.row, err.column or "", err.message]))
    for warning in validation.warnings:
        summary.append(xl.safe_row(summary, ["", _("Note"), warning]))
    return xl.workbook_bytes(wb)


# --- committing -------------------------------------------------------------------------------------


def common_org(paths: Iterable[str]) -> Organization | None:
    """The lowest organisation above every path (where an audit row about many members belongs)."""
    paths = list(paths)
    if not paths:
        return None
    prefix = paths[0]
    for p in paths[1:]:
        while not p.startswith(prefix):
            prefix = prefix[:-1]
    steplen = Organization.steplen
    prefix = prefix[: len(prefix) - len(prefix) % steplen]
    return Organization.objects.filter(path=prefix).first() if prefix else None


class ImportConflict(Exception):
    """The register changed while the file was checked (someone added one of its ID numbers)."""


def commit(*, actor: Any, cleaned: list[dict[str, Any]], filename: str = "") -> list[Member]:
    """Insert every checked row in one transaction (all or nothing), with one audit row for the import."""
    from dangjian.members.services import member_build

    members = [member_build(cleaned=c) for c in cleaned]
    orgs = {m.org_id: m.org for m in members}
    reason = (
        _("Imported from %(file)s") % {"file": filename} if filename else _("Imported from a spreadsheet")
    )
    try:
        with transaction.atomic():
            # Re-check inside the transaction that every branch is still the importer's to add to.
            allowed = Organization.objects.restrict(actor, "add").filter(pk__in=list(orgs)).count()
            if allowed != len(orgs) or not all(can(actor, "add", o) for o in orgs.values()):
                raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
            created: list[Member] = []
            for start in range(0, len(members), BATCH_SIZE):
                created += Member.objects.bulk_create(members[start : start + BATCH_SIZE])
            changes = [
                MemberStatusChange(
                    member=m,
                    from_status="",
                    to_status=m.status,
                    date=m.full_date if m.status == MemberStatus.FULL and m.full_date else m.join_date,
                    reason=reason,
                    actor=actor,
                )
                for m in created
            ]
            MemberStatusChange.objects.bulk_create(changes, batch_size=BATCH_SIZE)
            per_org = Counter(orgs[m.org_id].code for m in created)
            audit_log(
                actor=actor,
                action="members.imported",
                org=common_org(o.path for o in orgs.values()),
                changes={"count": len(created), "file": filename, "by_branch": dict(per_org)},
            )
    except IntegrityError as exc:
        raise ImportConflict from exc
    return created


def first_branch_code(actor: Any) -> str:
    org = (
        Organization.objects.restrict(actor, "add")
        .filter(org_type__in=BRANCH_TYPES, status=OrgStatus.ACTIVE)
        .only("code")
        .first()
    )
    return org.code if org else "ZB0001"


# --- the whole import -------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    """What an import did: members saved, or the errors (and the error file) with nothing saved."""

    imported: int = 0
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_file: bytes | None = None
    message: str = ""  # a file-level problem (wrong type, missing columns, ...)
    code: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.message

    def summary(self) -> dict[str, Any]:
        """The job result / API body: counts, warnings, and the first rows' errors."""
        rows = sorted({e.row for e in self.errors})
        return {
            "imported": self.imported,
            "rows": self.rows,
            "error_rows": len(rows),
            "errors": [e.as_dict() for e in self.errors[:500]],
            "warnings": self.warnings,
            **({"code": self.code, "message": self.message} if self.message else {}),
        }


def member_import(
    *, actor: Any, data: bytes, filename: str = "", progress: Progress | None = None
) -> ImportOutcome:
    """Import members from xlsx bytes: check every row, then save all of them or none."""
    outcome = ImportOutcome()
    if progress is not None:
        progress(0, None, _("Reading the file"), force=True)
    try:
        sheet = read_upload(data)
    except xl.SpreadsheetError as problem:
        outcome.message, outcome.code = problem.message, problem.code
        return outcome
    validation = validate_rows(actor, sheet, progress)
    outcome.rows, outcome.warnings = validation.rows, validation.warnings
    if validation.errors:
        outcome.errors = validation.errors
        outcome.error_file = error_workbook(sheet, validation)
        return outcome
    if not validation.cleaned:
        outcome.message, outcome.code = _("The sheet has no member rows to import."), "no_rows"
        return outcome
    if progress is not None:
        progress(validation.rows, validation.rows, _("Saving"), force=True)
    try:
        created = commit(actor=actor, cleaned=[c for _n, c in validation.cleaned], filename=filename)
    except ImportConflict:
        outcome.message, outcome.code = (
            _(
                "While the file was being checked, someone added a member with one of its ID numbers. "
                "Nothing was imported; upload the file again to see which row."
            ),
            "conflict",
        )
        return outcome
    outcome.imported = len(created)
    return outcome


def count_rows(data: bytes) -> int:
    """A quick count of the non-empty rows below the header (to decide whether to run as a job)."""
    return sum(1 for _n, v in read_upload(data).data_rows if v)


# --- the template -----------------------------------------------------------------------------------


def template_workbook(actor: Any) -> bytes:
    """The import template: headers, a sample row, dropdowns for choices and codes, instructions."""
    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    headers = [c.header for c in COLUMNS]
    widths = {"公民身份号码": 22, "手机号码": 15, "工作单位": 24, "居住地址": 30, "所在支部编码": 14}
    ws.append(xl.header_cells(ws, headers, required=[c.header for c in COLUMNS if c.required], widths=widths))
    ws.row_dimensions[1].height = 24
    branch_code = first_branch_code(actor)
    sample = {
        "name": "张三",
        "gender": "男",
        "ethnicity": "汉族",
        "birth_date": "1990-03-07",
        "id_number": SAMPLE_ID,
        "phone": "13800000000",
        "education": "大学本科",
        "degree": "学士",
        "occupation": "专业技术人员",
        "work_unit": "示范市第一中学",
        "position": "教师",
        "native_place": "北京市",
        "address": "示范市东城区人民路1号",
        "join_date": "2015-07-01",
        "full_date": "2016-07-01",
        "status": "正式党员",
        "org": branch_code,
        "group": "",
        "dues_category": "在职",
    }
    ws.append(xl.safe_row(ws, [sample[c.field] for c in COLUMNS]))
    for cell in ws[2]:
        cell.font = xl.SAMPLE_FONT
    ws.freeze_panes = "B2"
    last_row = 2 + max(10_000, settings.IMPORT_MAX_ROWS)
    # Long numbers must be text, or Excel turns 110101199003071234 into 1.10101E+17 and loses digits.
    for i, col in enumerate(COLUMNS, start=1):
        if col.kind in (ID, PHONE, CODE):
            ws.column_dimensions[get_column_letter(i)].number_format = "@"

    options = wb.create_sheet("选项")
    options.sheet_state = "hidden"
    lists: list[tuple[str, list[str]]] = [
        (c.field, list(CHINESE_LABELS[c.field].values())) for c in COLUMNS if c.kind == CHOICE
    ]
    codes = list(
        Organization.objects.restrict(actor, "add")
        .filter(org_type__in=BRANCH_TYPES, status=OrgStatus.ACTIVE)
        .values_list("code", flat=True)[:5000]
    )
    groups = list(
        Organization.objects.restrict(actor, "add")
        .filter(org_type=OrgType.GROUP, status=OrgStatus.ACTIVE)
        .values_list("code", flat=True)[:5000]
    )
    lists += [("org", codes), ("group", groups)]
    for i, (fname, values) in enumerate(lists, start=1):
        letter = get_column_letter(i)
        options.cell(row=1, column=i, value=COLUMN_BY_FIELD[fname].header)
        for r, value in enumerate(values, start=2):
            xl.set_cell(options.cell(row=r, column=i), value)
        if not values:
            continue
        target = get_column_letter([c.field for c in COLUMNS].index(fname) + 1)
        dv = DataValidation(
            type="list",
            formula1=f"'选项'!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True,
            showDropDown=False,  # (sic) False shows the in-cell arrow
            showErrorMessage=True,
            errorStyle="warning",  # a code typed instead of the label is accepted on import
            errorTitle=_("Not in the list"),
            error=_("Choose a value from the list (the import also accepts the code)."),
        )
        dv.add(f"{target}2:{target}{last_row}")
        ws.add_data_validation(dv)

    notes = wb.create_sheet(_("Instructions")[:31], 1)
    notes.append([_("How to fill in the member import template")])
    notes["A1"].font = Font(bold=True, size=14)
    for line in (
        _("Fill in one member per row on the sheet “%(sheet)s”. Delete the grey sample row (row 2).")
        % {"sheet": DATA_SHEET},
        _(
            "The import checks every row first and saves all of them or none: if any row has an error "
            "you get the file back with a column 错误说明 saying what to fix, and nothing is saved."
        ),
        _(
            "Columns may be in any order and extra columns are ignored; the header names must stay as "
            "they are. Empty rows are skipped."
        ),
        _("Dates may be written as 2020-01-05, 2020/1/5, 2020.1.5, 20200105 or 2020年1月5日."),
        _(
            "Keep ID numbers as text (the column is formatted as text): Excel rounds long numbers. The "
            "birth date and gender may be left empty; they are read from the ID number."
        ),
        _("Cells are imported as text; formulas are never run."),
        _("At most %(rows)d rows and %(mb)d MB per file.")
        % {
            "rows": settings.IMPORT_MAX_ROWS,
            "mb": settings.IMPORT_MAX_BYTES // 1048576,
        },
    ):
        notes.append(["", "", line])
        notes.cell(row=notes.max_row, column=3).alignment = Alignment(wrap_text=True)
    notes.append([])
    notes.append(xl.header_cells(notes, [_("Column"), _("Required"), _("What to enter")]))
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 12
    notes.column_dimensions["C"].width = 90
    for col in COLUMNS:
        notes.append(xl.safe_row(notes, [col.header, _("yes") if col.required else "", _column_help(col)]))
        notes.cell(row=notes.max_row, column=3).alignment = Alignment(wrap_text=True)
    return xl.workbook_bytes(wb)


def _column_help(col: Column) -> str:
    if col.kind == CHOICE:
        return _("One of: %(values)s (or the code).") % {
            "values": "、".join(CHINESE_LABELS[col.field].values())
        }
    helps = {
        "name": _("The member's name as on the ID card."),
        "birth_date": _("Optional: taken from the ID number when empty; must match it."),
        "id_number": _("18 characters; the last may be X. Must be unique in the register."),
        "phone": _("An 11-digit mobile number or a landline such as 010-12345678."),
        "join_date": _("The date of joining the Party (becoming a probationary member)."),
        "full_date": _("Required for full members; empty for probationary members."),
        "org": _("The code of the branch the member belongs to (see the dropdown)."),
        "group": _("Optional: the code of a party group of that branch."),
    }
    return str(helps.get(col.field, _("Free text.")))
