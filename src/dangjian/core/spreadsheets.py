"""Shared xlsx helpers: styled header rows, safe cell writing, and reading cells without evaluating them.

Spreadsheets travel between party workers, so two rules hold everywhere:

* **Never evaluate on import.** Workbooks are opened with ``data_only=False``: a formula cell reads as
  its formula text (``"=HYPERLINK(...)"``), which is then treated as plain text, never computed.
* **Never let an export evaluate.** A text value starting with ``=``, ``+``, ``-`` or ``@`` (or a tab /
  carriage return) is written as a *string* cell with Excel's quote-prefix flag — exactly what Excel
  stores when a user types ``'=...`` — so neither Excel nor LibreOffice treats it as a formula, and
  openpyxl reads the same text back. Strings that look like Excel error codes (``#N/A``) are kept as
  strings too.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="C00000")  # party red
REQUIRED_FILL = PatternFill("solid", fgColor="8B0000")
ERROR_ROW_FILL = PatternFill("solid", fgColor="FDE2E1")
ERROR_CELL_FILL = PatternFill("solid", fgColor="F8A5A0")
ERROR_FONT = Font(color="9C0006", bold=True)
SAMPLE_FONT = Font(italic=True, color="808080")
_THIN = Side(style="thin", color="BFBFBF")
HEADER_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)

# Full-width ASCII (！ to ～) and the ideographic space, as typed with a Chinese input method.
_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_HALFWIDTH_TABLE = str.maketrans(_FULLWIDTH)
_SPACES = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")


class SpreadsheetError(Exception):
    """The upload is not a workbook we can read; ``message`` says so in the user's language."""

    def __init__(self, message: str, code: str = "invalid_file") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- writing ----------------------------------------------------------------------------------------


def needs_neutralising(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def set_cell(cell: Cell, value: Any) -> Cell:
    """Write ``value`` so that it can never become a formula, an error code or a shifted date."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    cell.value = value
    if isinstance(value, str):
        # openpyxl turns "=..." into a formula and "#N/A" into an error; a string it stays.
        cell.data_type = "s"
        if needs_neutralising(value):
            cell.quotePrefix = True
    elif isinstance(value, dt.datetime | dt.date):
        cell.number_format = DATE_FORMAT if not isinstance(value, dt.datetime) else "yyyy-mm-dd hh:mm"
    return cell


def safe_row(ws: Any, values: Iterable[Any]) -> list[Cell]:
    """Cells for ``ws.append`` (normal and write-only workbooks alike), each written with ``set_cell``."""
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in values:
        cell = WriteOnlyCell(ws) if getattr(ws.parent, "write_only", False) else Cell(ws)
        cells.append(set_cell(cell, value))
    return cells


def header_cells(
    ws: Any, headers: list[str], required: Iterable[str] = (), widths: dict[str, int] | None = None
) -> list[Cell]:
    """A styled header row (bold white on red; required columns darker). Works in write-only mode."""
    required = set(required)
    cells = safe_row(ws, headers)
    for cell, header in zip(cells, headers, strict=True):
        cell.font = HEADER_FONT
        cell.fill = REQUIRED_FILL if header in required else HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = HEADER_BORDER
    for i, header in enumerate(headers, start=1):
        width = (widths or {}).get(header) or max(10, min(40, display_width(header) + 4))
        ws.column_dimensions[get_column_letter(i)].width = width
    return cells


def display_width(text: str) -> int:
    """Approximate column width: CJK characters are twice as wide as Latin ones."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def workbook_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# --- reading ----------------------------------------------------------------------------------------


def open_workbook(data: bytes, *, read_only: bool = True) -> Workbook:
    """Open uploaded bytes as an xlsx workbook, formulas as text; raise SpreadsheetError otherwise."""
    from django.utils.translation import gettext as _

    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: the old binary .xls (or an encrypted file)
        raise SpreadsheetError(
            _(
                "This is an old-style .xls (or a password-protected) file. Open it in Excel or WPS, "
                "save it as an .xlsx workbook without a password, and upload it again."
            ),
            code="wrong_type",
        )
    if not data.startswith(b"PK"):
        raise SpreadsheetError(
            _("This file is not an Excel workbook (.xlsx). Download the template and fill it in."),
            code="wrong_type",
        )
    try:
        return load_workbook(io.BytesIO(data), read_only=read_only, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise SpreadsheetError(
            _("The workbook is damaged or is not an .xlsx file and cannot be read (%(reason)s).")
            % {"reason": exc.__class__.__name__},
            code="corrupt",
        ) from exc
    except Exception as exc:  # openpyxl raises many kinds on malformed XML; none may become a 500
        raise SpreadsheetError(
            _("The workbook is damaged or is not an .xlsx file and cannot be read (%(reason)s).")
            % {"reason": exc.__class__.__name__},
            code="corrupt",
        ) from exc


def raw_value(value: Any) -> Any:
    """A cell value as read, with array/data-table formulas turned into their text (never evaluated)."""
    if isinstance(value, ArrayFormula):
        return value.text if str(value.text).startswith("=") else f"={value.text}"
    if isinstance(value, DataTableFormula):
        return "=TABLE()"
    return value


def iter_rows(ws: Any, max_columns: int | None = None) -> Iterator[tuple[int, list[Any]]]:
    """(sheet row number, values) for every row, formulas as text, trailing empty cells dropped."""
    for number, row in enumerate(ws.iter_rows(values_only=True, max_col=max_columns), start=1):
        values = [raw_value(v) for v in row]
        while values and values[-1] is None:
            values.pop()
        yield number, values


def to_halfwidth(text: str) -> str:
    return text.translate(_HALFWIDTH_TABLE)


def clean_text(value: Any, *, halfwidth: bool = False) -> str:
    """A cell as text: trimmed, runs of (full-width, non-breaking) spaces collapsed to one space."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        value = value.date()
    text = str(value)
    if halfwidth:
        text = to_halfwidth(text)
    return _SPACES.sub(" ", text).strip()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _SPACES.sub("", value))


_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# Serials of dates between 1900 and 2099; larger integers are read as yyyymmdd.
_MAX_SERIAL = 73415


def parse_date(value: Any) -> dt.date | None:
    """A date from a datetime cell, an Excel serial, or text (2020-01-05, 2020/1/5, 2020.1.5, 20200105,
    2020年1月5日, full-width digits allowed). None when empty; ValueError when not a date."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError("not a date")
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            value = int(value)  # a serial with a time of day
        number = int(value)
        if 19000101 <= number <= 29991231:
            return _compact(str(number))
        if 1 <= number <= _MAX_SERIAL:
            return from_excel(number).date()
        raise ValueError("not a date")
    text = clean_text(value, halfwidth=True)
    if not text:
        return None
    match = _DATE_RE.match(text)
    if match:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    if _COMPACT_DATE_RE.match(text):
        return _compact(text)
    if text.isdigit() and len(text) <= 5:  # a serial pasted as text
        return parse_date(int(text))
    raise ValueError("not a date")


def _compact(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
