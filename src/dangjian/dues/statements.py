"""Bank and payment-platform statements (银行流水 / 支付平台账单): import, match, review, confirm.

The treasurer's monthly close (issue 4): upload the statement the bank or the payment platform exports
(xlsx, or csv in UTF-8 or GBK/GB18030), see every incoming line matched to a member and the months it
pays, fix what the machine could not decide, and confirm. Nothing is booked until then.

1. ``statement_import`` reads the file (``read_statement``): the header row is found among the first rows
   by the usual bank and platform headers (交易日期/记账日期/日期, 金额/交易金额/贷方金额/收入金额, 对方户名/
   付款人/对方名称, 对方账号, 摘要/附言/用途/备注, 流水号/凭证号, 收/支 or 借贷标志); amounts may carry
   thousands separators, full-width digits and ¥; dates may be Excel dates, serials or text. Outgoing
   (支出) lines, closed or refunded platform trades and unreadable rows are kept, marked and ignored.
   A file without the columns is refused, naming the headers expected, and nothing is stored; the same
   file again for the same organisation is refused, naming the earlier import.
2. Each incoming line is matched (``_Matcher``): the payer's name, or a name in the memo (or, failing
   both, the payer account an earlier confirmed statement booked to one member) must identify exactly
   one current member of the organisation's subtree; its amount must equal the outstanding total of the
   member's k oldest open months (k ≥ 1, months the rules let them pay on that date: back payment at
   most ``back_payment_max_months``) → **matched**, to be booked. k months plus a remainder (voluntary
   extra dues?), less than one month, several members of that name → **ambiguous**, with a note and a
   suggestion; no member → **unmatched**. Lines of one statement are matched in date order and never
   claim the same month twice. A line whose ``line_key`` (sha256 of its normalised date, amount, payer,
   account, reference and memo, and its occurrence in the file) was booked by an earlier statement of
   the organisation, of one above or of one below it → **duplicate** (已入账), ignored.
3. ``statement_line_set`` lets the treasurer choose the member and months of a line, or ignore it.
4. ``statement_confirm`` books every line decided "book" through ``payments.payment_record`` with the
   source key ``stmt:<org id>:<line_key>`` in one transaction: all or nothing, and a refused line names
   its row and the reason. A line booked meanwhile (an overlapping statement) is skipped as a duplicate;
   booking the same line twice is impossible (the ledger's source keys are unique).
5. ``statement_discard`` drops a statement awaiting confirmation; its file may then be imported again.

``sample_statement(org, month)`` builds a realistic statement for the demo and the "download a sample"
link: the open bills of the month paid by most members, one by a relative (代缴), one with extra dues,
one unknown payer and one outgoing line.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from dangjian.core import spreadsheets as xl
from dangjian.core.audit import audit_log
from dangjian.core.scoping import can, path_prefix_q
from dangjian.dues.models import (
    BillStatus,
    DuesBill,
    DuesPayment,
    DuesStatement,
    DuesStatementLine,
    PaymentMethod,
)
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import Organization, OrgStatus

Match = DuesStatementLine.Match
Decision = DuesStatementLine.Decision
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
OPEN_BILL_STATUSES = (BillStatus.OPEN, BillStatus.PART_PAID)
HEADER_SEARCH_ROWS = 30  # the header row is among the first rows (a bank puts its title lines above it)
MAX_COLUMNS = 60

# ── the columns of a statement ────────────────────────────────────────────────────────────────────

DATE, AMOUNT, CREDIT, DEBIT, DIRECTION = "date", "amount", "credit", "debit", "direction"
PAYER, ACCOUNT, MEMO, REFERENCE, STATE = "payer", "account", "memo", "reference", "state"

# Headers as the banks and platforms write them (normalised: half-width, no spaces, no unit in
# brackets such as 金额（元）). Within a field the earlier alias wins when a file has several
# (交易日期 before 交易时间, which some banks use for the time of day only).
ALIASES: dict[str, tuple[str, ...]] = {
    DATE: (
        "交易日期", "记账日期", "日期", "入账日期", "交易日", "发生日期", "到账日期", "交易时间", "记账时间",
        "入账时间", "付款时间", "交易创建时间", "创建时间", "到账时间", "date", "transactiondate",
    ),
    AMOUNT: ("金额", "交易金额", "发生额", "交易额", "收支金额", "amount"),
    CREDIT: (
        "贷方金额", "收入金额", "收入", "贷方发生额", "存入金额", "入账金额", "贷方", "收款金额", "转入金额",
        "存入", "credit",
    ),
    DEBIT: (
        "借方金额", "支出金额", "支出", "借方发生额", "支取金额", "借方", "转出金额", "支取", "付款金额", "debit",
    ),
    DIRECTION: ("收/支", "收支", "借贷标志", "借贷方向", "借贷", "收支类型", "收支方向", "资金方向", "交易方向", "收付标志"),
    PAYER: (
        "对方户名", "付款人", "对方名称", "付款人名称", "付款户名", "对方账户名", "对方账户名称", "对方户名称",
        "付款方", "付款方名称", "交易对方", "对手户名", "对方单位", "对方姓名", "payer",
    ),
    ACCOUNT: (
        "对方账号", "付款账号", "付款人账号", "付款方账号", "对方账户", "对方卡号", "对手账号", "对方帐号",
        "付款帐号", "对方账号/卡号", "account",
    ),
    MEMO: (
        "附言", "用途", "摘要", "备注", "交易附言", "交易用途", "交易摘要", "商品说明", "商品名称", "商品",
        "附加信息", "说明", "memo",
    ),
    REFERENCE: (
        "流水号", "交易流水号", "凭证号", "交易单号", "交易号", "业务流水号", "交易参考号", "银行流水号",
        "凭证号码", "订单号", "商户单号", "商户订单号", "reference",
    ),
    STATE: ("交易状态", "当前状态", "状态"),
}  # fmt: skip
# Headers only payment platforms (支付宝, 微信支付, ...) write: their lines are booked as online payments.
PLATFORM_HEADERS = frozenset(
    {"交易对方", "收/支", "交易单号", "商户单号", "商户订单号", "商品", "商品名称", "支付方式"}
)
_LOOKUP = {alias: (name, i) for name, aliases in ALIASES.items() for i, alias in enumerate(aliases)}

_CREDIT_WORDS = {"收入", "收", "入", "贷", "贷方", "c", "cr", "credit", "转入", "存入", "入账", "来账", "+"}
_DEBIT_WORDS = {"支出", "支", "出", "借", "借方", "d", "dr", "debit", "转出", "支取", "往账", "-"}
_NEUTRAL_WORDS = {"不计收支", "其他", "/"}
# A platform trade in one of these states moved no money in (closed, failed, refunded, reversed).
_DEAD_STATES = ("关闭", "失败", "撤销", "退款", "冲正", "退回", "已退")
_TOTAL_WORDS = ("合计", "总计", "小计", "汇总", "累计", "本页", "期初余额", "期末余额")

_BRACKETS = re.compile(r"[(\[（【].*?[)\]）】]")
_NAME_BRACKETS = re.compile(r"[(\[（【<《].*?[)\]）】>》]")
_AMOUNT_NOISE = re.compile(r"[\s,'，¥￥$]|元|RMB|CNY|人民币", re.IGNORECASE)
_AMOUNT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_EXCEL_TEXT = re.compile(r'^="(.*)"$')  # ="0123" keeps Excel from eating leading zeros
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·", "∙": "·"})


def _hkey(value: Any) -> str:
    text = xl.clean_text(value, halfwidth=True)
    text = _BRACKETS.sub("", text)
    return re.sub(r"[\s*:：]", "", text).lower()


def _cell_text(value: Any) -> str:
    text = xl.clean_text(value, halfwidth=True)
    match = _EXCEL_TEXT.match(text)
    return match[1].strip() if match else text


def _norm_name(value: Any) -> str:
    """A person's name as compared: half-width, no spaces, no bracketed note (张三（个人）→ 张三), one kind
    of middle dot (阿不都·热合曼)."""
    text = _cell_text(value).translate(_MIDDLE_DOTS)
    return re.sub(r"\s+", "", _NAME_BRACKETS.sub("", text))


def parse_amount(value: Any) -> Decimal | None:
    """An amount from a number cell or text: ``1,234.50``, ``¥1,234.50``, ``１２３．００``, ``(12.00)`` (a
    negative), ``50.00元``. None when empty; ValueError when not an amount with at most two decimals."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError("not an amount")
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    else:
        text = _AMOUNT_NOISE.sub("", _cell_text(value).replace("\u2212", "-"))
        if text in ("", "-", "--", "—", "/"):
            return None
        negative = text.startswith("(") and text.endswith(")")
        text = text.strip("()")
        if text.endswith("-") and text[:-1].replace(".", "").isdigit():  # 12.00- (a debit, some banks)
            text, negative = text[:-1], True
        if not _AMOUNT_RE.match(text):
            raise ValueError("not an amount")
        number = Decimal(text) * (-1 if negative else 1)
    try:
        rounded = number.quantize(CENT)
    except InvalidOperation as exc:
        raise ValueError("not an amount") from exc
    # A float cell may carry binary noise (30.000000000000004); real third decimals are refused.
    if abs(number - rounded) > Decimal("0.000001"):
        raise ValueError("more than two decimals")
    return rounded


def parse_date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        value = _cell_text(value).replace("T", " ")
    return xl.parse_date(value)


# ── reading the file ──────────────────────────────────────────────────────────────────────────────


@dataclass
class RawLine:
    """One data row of the statement as read: ``note`` says why a row is shown but not booked."""

    row: int
    paid_on: dt.date | None
    amount: Decimal | None  # incoming > 0; an outgoing line is negative
    payer: str = ""
    account_no: str = ""
    reference: str = ""
    memo: str = ""
    note: str = ""

    @property
    def bookable(self) -> bool:
        return not self.note and self.paid_on is not None and self.amount is not None and self.amount > 0


@dataclass
class ParsedStatement:
    """What ``read_statement`` found: the header row, the columns (field → column indexes), the kind
    of statement (``bank`` or ``platform``) and the data rows."""

    kind: str
    header_row: int
    columns: dict[str, list[int]]
    headers: list[str]
    lines: list[RawLine] = field(default_factory=list)

    @property
    def method(self) -> str:
        return PaymentMethod.ONLINE if self.kind == "platform" else PaymentMethod.BANK_TRANSFER


def _file_error(message: str, code: str = "invalid_file") -> ValidationError:
    return ValidationError({"file": ValidationError(message, code=code)})


def _check_size(size: int) -> None:
    limit = getattr(settings, "IMPORT_MAX_BYTES", 20 * 1024 * 1024)
    if size == 0:
        raise _file_error(_("The file is empty."), "empty")
    if size > limit:
        raise _file_error(
            _("The file is %(size).1f MB; the limit is %(limit).1f MB. Export a shorter period.")
            % {"size": size / 1048576, "limit": limit / 1048576},
            "too_large",
        )


def _decode(data: bytes) -> str:
    """The text of a csv export: UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030 (what
    most Chinese banks write)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise _file_error(
            _("This file is neither an Excel workbook (.xlsx) nor a text (.csv) statement."), "wrong_type"
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _file_error(
        _("The text of this file could not be read (neither UTF-8 nor GBK). Export the statement again."),
        "wrong_type",
    )


def _csv_tables(text: str) -> list[list[tuple[int, list[Any]]]]:
    """The rows of a text statement, once per plausible delimiter (the header decides which one)."""
    lower = text[:2048].lower()
    if "<html" in lower or "<table" in lower:
        raise _file_error(
            _(
                "This file is a web page saved with a spreadsheet name. Open it in Excel or WPS, save it as "
                "an .xlsx workbook, and upload that."
            ),
            "wrong_type",
        )
    lines = text.splitlines()
    tables = []
    for delimiter in (",", "\t", ";", "|"):
        if not any(delimiter in line for line in lines[:HEADER_SEARCH_ROWS]):
            continue
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        tables.append([(n, row[:MAX_COLUMNS]) for n, row in enumerate(reader, start=1)])
    return tables


def _xlsx_tables(data: bytes) -> list[list[tuple[int, list[Any]]]]:
    try:
        wb = xl.open_workbook(data)
    except xl.SpreadsheetError as exc:
        raise _file_error(exc.message, exc.code) from None
    try:
        limit = getattr(settings, "IMPORT_MAX_ROWS", 50000) + HEADER_SEARCH_ROWS
        tables = []
        for ws in wb.worksheets:
            if getattr(ws, "sheet_state", "visible") != "visible" or not hasattr(ws, "iter_rows"):
                continue
            rows = []
            for number, values in xl.iter_rows(ws, MAX_COLUMNS):
                if number > limit:
                    break
                rows.append((number, values))
            tables.append(rows)
        return tables
    finally:
        wb.close()


def _find_header(rows: Sequence[tuple[int, list[Any]]]) -> tuple[int, dict[str, list[int]], list[str]]:
    """The row among the first ones naming most statement columns: its number, field → columns."""
    best: tuple[int, dict[str, list[int]], list[str]] = (0, {}, [])
    for number, values in rows[:HEADER_SEARCH_ROWS]:
        found: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for idx, value in enumerate(values):
            hit = _LOOKUP.get(_hkey(value)) if not xl.is_blank(value) else None
            if hit:
                found[hit[0]].append((hit[1], idx))
        columns = {
            name: [idx for _rank, idx in sorted(hits)] if name == MEMO else [min(hits)[1]]
            for name, hits in found.items()
        }
        if MEMO in columns:
            columns[MEMO].sort()
        if len(columns) > len(best[1]):
            best = (number, columns, [_hkey(v) for v in values])
    return best


def _missing(columns: dict[str, list[int]]) -> list[str]:
    missing = []
    if DATE not in columns:
        missing.append(_("a date (交易日期, 记账日期 or 日期)"))
    if AMOUNT not in columns and CREDIT not in columns:
        missing.append(_("an amount (金额, 交易金额, 贷方金额 or 收入金额)"))
    if PAYER not in columns and MEMO not in columns:
        missing.append(_("the payer (对方户名, 付款人 or 对方名称) or a memo (摘要, 附言, 用途 or 备注)"))
    return missing


def read_statement(data: bytes) -> ParsedStatement:
    """Read an uploaded statement (xlsx by its content, otherwise csv/text) or raise ValidationError on
    ``file`` saying what is wrong. Reads only: nothing is stored."""
    _check_size(len(data))
    if data.startswith(b"PK") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        tables = _xlsx_tables(data)
    else:
        tables = _csv_tables(_decode(data))
    best: tuple[list[tuple[int, list[Any]]], int, dict[str, list[int]], list[str]] | None = None
    for rows in tables:
        header_row, columns, headers = _find_header(rows)
        if not _missing(columns):
            return _parse_rows(rows, header_row, columns, headers)
        if best is None or len(columns) > len(best[2]):
            best = (rows, header_row, columns, headers)
    missing = _missing(best[2] if best else {})
    raise _file_error(
        _(
            "No statement columns were recognised: the file needs a header row with %(missing)s. Export "
            "the account's transaction details (交易明细) from the bank or the payment platform, or "
            "download the sample to see the format."
        )
        % {"missing": _("; ").join(missing)},
        "missing_columns",
    )


def _value(values: list[Any], columns: dict[str, list[int]], name: str) -> Any:
    idx = columns.get(name)
    if not idx or idx[0] >= len(values):
        return None
    return values[idx[0]]


def _text(values: list[Any], columns: dict[str, list[int]], name: str, limit: int) -> str:
    parts = []
    for idx in columns.get(name, []):
        if idx < len(values):
            text = _cell_text(values[idx])
            if text and text not in parts:
                parts.append(text)
    return " ".join(parts)[:limit]


def _direction(value: Any) -> str | None:
    word = _hkey(value)
    if not word:
        return None
    if word in _CREDIT_WORDS or word.startswith("收入") or word.startswith("贷"):
        return "credit"
    if word in _DEBIT_WORDS or word.startswith("支出") or word.startswith("借"):
        return "debit"
    if word in _NEUTRAL_WORDS:
        return "neutral"
    return None


def _parse_rows(
    rows: list[tuple[int, list[Any]]], header_row: int, columns: dict[str, list[int]], headers: list[str]
) -> ParsedStatement:
    kind = "platform" if PLATFORM_HEADERS & set(headers) else "bank"
    parsed = ParsedStatement(kind=kind, header_row=header_row, columns=columns, headers=headers)
    max_rows = getattr(settings, "IMPORT_MAX_ROWS", 50000)
    for number, values in rows:
        if number <= header_row or all(xl.is_blank(v) for v in values):
            continue
        if any(_cell_text(v).startswith(_TOTAL_WORDS) for v in values[:6] if isinstance(v, str)):
            continue  # 合计 / 本页小计 / 期末余额 lines under the table
        line = _parse_line(number, values, columns)
        if line is None:
            continue
        parsed.lines.append(line)
        if len(parsed.lines) > max_rows:
            raise _file_error(
                _("The statement has more than %(max)s lines. Export a shorter period.") % {"max": max_rows},
                "too_many_rows",
            )
    return parsed


def _parse_line(number: int, values: list[Any], columns: dict[str, list[int]]) -> RawLine | None:
    raw_date = _value(values, columns, DATE)
    problems = []
    try:
        paid_on = parse_date(raw_date)
    except ValueError:
        paid_on = None
        problems.append(_("the date “%(value)s” is not a date") % {"value": _cell_text(raw_date)[:30]})
    amount: Decimal | None = None
    direction = _direction(_value(values, columns, DIRECTION)) if DIRECTION in columns else None
    try:
        if CREDIT in columns or DEBIT in columns:
            credit = parse_amount(_value(values, columns, CREDIT)) if CREDIT in columns else None
            debit = parse_amount(_value(values, columns, DEBIT)) if DEBIT in columns else None
            if credit:
                amount = credit  # a negative credit is a reversal (冲正): not money in
            elif debit:
                amount = -abs(debit)
            elif AMOUNT in columns:
                amount = parse_amount(_value(values, columns, AMOUNT))
        else:
            amount = parse_amount(_value(values, columns, AMOUNT))
    except ValueError:
        shown = (
            _value(values, columns, CREDIT)
            or _value(values, columns, AMOUNT)
            or _value(values, columns, DEBIT)
        )
        problems.append(
            _("the amount “%(value)s” is not an amount in yuan") % {"value": _cell_text(shown)[:30]}
        )
    if amount is not None and direction == "debit":
        amount = -abs(amount)
    elif amount is not None and direction == "credit":
        amount = abs(amount)
    if paid_on is None and (amount is None or amount == 0):
        return None  # a title, a note or a balance line: not a transaction
    if not problems and (amount is None or amount == 0):
        return None  # no money moved (a balance-only line)
    line = RawLine(
        row=number,
        paid_on=paid_on,
        amount=amount,
        payer=_text(values, columns, PAYER, 100),
        account_no=re.sub(r"\s+", "", _text(values, columns, ACCOUNT, 64)),
        reference=_text(values, columns, REFERENCE, 100),
        memo=_text(values, columns, MEMO, 200),
    )
    if problems:
        line.note = _("Could not be read: %(problems)s. Record this payment by hand if it is dues.") % {
            "problems": _("; ").join(problems)
        }
    elif paid_on is None:
        line.note = _("The line has no date. Record this payment by hand if it is dues.")
    elif direction == "neutral":
        line.note = _("Marked neither income nor expense by the platform: ignored.")
    elif amount is not None and amount < 0:
        line.note = _("An outgoing payment (支出), not dues: ignored.")
    else:
        state = _text(values, columns, STATE, 40)
        if state and any(word in state for word in _DEAD_STATES):
            line.note = _("The trade is “%(state)s”: no money came in; ignored.") % {"state": state}
    return line


def line_keys(lines: Iterable[RawLine]) -> list[str]:
    """Each line's key: sha256 of its normalised date, amount, payer, account, reference and memo, and
    how many identical lines came before it in the file (two equal payments on one day stay two)."""
    seen: dict[str, int] = defaultdict(int)
    keys = []
    for line in lines:
        parts = [
            line.paid_on.isoformat() if line.paid_on else "",
            f"{line.amount:.2f}" if line.amount is not None else "",
            _norm_name(line.payer),
            re.sub(r"[\s-]", "", line.account_no),
            re.sub(r"\s+", "", line.reference),
            re.sub(r"\s+", "", line.memo),
        ]
        base = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
        seen[base] += 1
        keys.append(hashlib.sha256(f"{base}#{seen[base]}".encode()).hexdigest())
    return keys


# ── matching ──────────────────────────────────────────────────────────────────────────────────────


def _ym(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def _parse_month(value: Any) -> dt.date:
    """``2024-03`` (or a date, or ``2024-03-01``) → 2024-03-01; ValueError otherwise."""
    from dangjian.dues.rules import parse_month

    month = parse_month(value)
    if month is None:
        raise ValueError(str(value))
    return month


def _months_between(earlier: dt.date, later: dt.date) -> int:
    return (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month)


def _max_back(on: dt.date, org: Organization) -> int:
    from dangjian.dues.rules import rule_for

    return int(rule_for(on, org).params.get("back_payment_max_months", 6))


def subtree_members(org: Organization) -> Any:
    """The members whose dues this organisation's statements may carry: current members of the
    organisation and below, and members whose open bills it collects (flowing members paying here)."""
    collected = DuesBill.objects.filter(path_prefix_q("org_path", org.path), status__in=OPEN_BILL_STATUSES)
    return Member.objects.filter(
        (path_prefix_q("org_path", org.path) & Q(status__in=CURRENT_STATUSES))
        | Q(pk__in=collected.values("member_id"))
    )


def open_bills(org: Organization, member_ids: Iterable[int]) -> dict[int, list[DuesBill]]:
    """member id → the open bills the organisation's subtree collects, oldest first."""
    found: dict[int, list[DuesBill]] = defaultdict(list)
    rows = (
        DuesBill.objects.filter(
            path_prefix_q("org_path", org.path), member_id__in=list(member_ids), status__in=OPEN_BILL_STATUSES
        )
        .select_related("org")
        .order_by("member_id", "month")
    )
    for bill in rows:
        if bill.outstanding > 0:
            found[bill.member_id].append(bill)
    return found


@dataclass
class _Fit:
    match: str
    months: list[dt.date]
    note: str


class _Matcher:
    """Matches the incoming lines of one statement, in date order, to members and months."""

    def __init__(
        self,
        org: Organization,
        members: Iterable[Member],
        bills: dict[int, list[DuesBill]],
        accounts: dict[str, set[int]] | None = None,
        claimed: Iterable[tuple[int, dt.date]] = (),
    ) -> None:
        self.org = org
        self.members = {m.pk: m for m in members}
        self.by_name: dict[str, list[Member]] = defaultdict(list)
        for m in self.members.values():
            self.by_name[_norm_name(m.name)].append(m)
        self.longest = max((len(n) for n in self.by_name), default=0)
        self.bills = bills
        self.accounts = accounts or {}
        self.claimed: set[tuple[int, dt.date]] = set(claimed)
        self._max_back: dict[tuple[int, int], int] = {}

    @classmethod
    def for_lines(cls, org: Organization, lines: Sequence[RawLine]) -> _Matcher:
        """A matcher for a statement's lines: the subtree's members, their open bills, and the payer
        accounts earlier confirmed statements of the organisation booked to one member."""
        members = list(subtree_members(org).select_related("org").only("id", "name", "org__name", "status"))
        ids = {m.pk for m in members}
        wanted = {ln.account_no for ln in lines if ln.account_no and "*" not in ln.account_no}
        accounts: dict[str, set[int]] = defaultdict(set)
        if wanted:
            for account, member_id in DuesStatementLine.objects.filter(
                statement__org=org, payment__isnull=False, account_no__in=wanted
            ).values_list("account_no", "member_id"):
                if member_id in ids:
                    accounts[account].add(member_id)
        return cls(org, members, open_bills(org, ids), accounts)

    # who paid

    def names_in(self, text: str) -> list[str]:
        """Member names written in ``text``, a name inside a longer one dropped (张三 in 张三丰)."""
        text = _norm_name(text)
        found = set()
        for length in range(min(self.longest, len(text)), 1, -1):
            for i in range(len(text) - length + 1):
                if text[i : i + length] in self.by_name:
                    found.add(text[i : i + length])
        return sorted(n for n in found if not any(n != o and n in o for o in found))

    def identify(self, line: RawLine) -> tuple[list[Member], str]:
        """The members the line may be for, and how they were found."""
        payer = _norm_name(line.payer)
        by_payer = self.by_name.get(payer, []) if payer else []
        memo = _norm_name(line.memo)
        if payer and not by_payer:
            # A payer who is not a member (张三丰) does not make the member 张三 whose name is inside theirs.
            memo = memo.replace(payer, "|")
        in_memo = self.names_in(memo)
        memo_members = [m for n in in_memo for m in self.by_name[n]]
        if by_payer and "代" in line.memo and memo_members and payer not in in_memo:
            # 王五 transfers “代张三交党费”: the memo names whose dues these are.
            return memo_members, _("named in the memo as paid on their behalf")
        if by_payer:
            return by_payer, _("the payer's name")
        if memo_members:
            return memo_members, _("the name in the memo")
        known = self.accounts.get(line.account_no, set())
        if len(known) == 1:
            return [self.members[next(iter(known))]], _("the payer account, as in earlier statements")
        return [], ""

    # which months

    def max_back(self, on: dt.date) -> int:
        key = (on.year, on.month)
        if key not in self._max_back:
            self._max_back[key] = _max_back(on, self.org)
        return self._max_back[key]

    def payable(self, member: Member, on: dt.date) -> tuple[list[DuesBill], list[DuesBill]]:
        """The member's open months that may be paid on ``on`` (oldest first, not yet claimed by an earlier
        line), and the open months older than the back-payment limit."""
        limit = self.max_back(on)
        ok, too_old = [], []
        for bill in self.bills.get(member.pk, []):
            if (member.pk, bill.month) in self.claimed or bill.month > on.replace(day=1):
                continue
            (too_old if _months_between(bill.month, on) > limit else ok).append(bill)
        return ok, too_old

    def fit(self, member: Member, line: RawLine) -> _Fit:
        assert line.amount is not None and line.paid_on is not None
        bills, too_old = self.payable(member, line.paid_on)
        amount = line.amount
        old_note = ""
        if too_old:
            old_note = " " + _(
                "Older arrears (%(months)s) are beyond the back-payment limit and are left to the branch."
            ) % {"months": ", ".join(_ym(b.month) for b in too_old)}
        if not bills:
            return _Fit(
                Match.AMBIGUOUS,
                [],
                _("%(name)s has no unpaid month to pay on %(date)s: voluntary extra dues, or a mistake?")
                % {"name": member.name, "date": line.paid_on}
                + old_note,
            )
        total = ZERO
        for k, bill in enumerate(bills, start=1):
            total += bill.outstanding
            if total == amount:
                return _Fit(Match.MATCHED, [b.month for b in bills[:k]], old_note.strip())
            if total > amount:
                covered = bills[: k - 1]
                if not covered:
                    return _Fit(
                        Match.AMBIGUOUS,
                        [],
                        _("%(amount)s yuan is less than the oldest unpaid month (%(month)s, %(due)s yuan).")
                        % {"amount": amount, "month": _ym(bill.month), "due": bill.outstanding}
                        + old_note,
                    )
                paid = total - bill.outstanding
                return _Fit(
                    Match.AMBIGUOUS,
                    [b.month for b in covered],
                    _(
                        "%(amount)s yuan is %(count)s month(s) (%(dues)s yuan) plus %(rest)s yuan: voluntary "
                        "extra dues, or part of %(next)s?"
                    )
                    % {
                        "amount": amount,
                        "count": len(covered),
                        "dues": paid,
                        "rest": amount - paid,
                        "next": _ym(bill.month),
                    }
                    + old_note,
                )
        return _Fit(
            Match.AMBIGUOUS,
            [b.month for b in bills],
            _(
                "%(amount)s yuan is every unpaid month (%(count)s, %(dues)s yuan) plus %(rest)s yuan: voluntary "
                "extra dues?"
            )
            % {"amount": amount, "count": len(bills), "dues": total, "rest": amount - total}
            + old_note,
        )

    def match(self, line: RawLine) -> dict[str, Any]:
        """The line's match fields (match, match_note, member, candidates, months, decision)."""
        members, how = self.identify(line)
        if not members:
            return {
                "match": Match.UNMATCHED,
                "match_note": _("No member of %(org)s is named “%(payer)s”, and the memo names no member.")
                % {"org": self.org.name, "payer": line.payer or "—"},
            }
        if len(members) == 1:
            member = members[0]
            result = self.fit(member, line)
            self.claim(member, result.months)
            note = _("Found by %(how)s.") % {"how": how}
            return {
                "match": result.match,
                "match_note": f"{note} {result.note}".strip(),
                "member": member,
                "months": [_ym(m) for m in result.months],
                "decision": Decision.BOOK if result.match == Match.MATCHED else Decision.PENDING,
            }
        fits = {m.pk: self.fit(m, line) for m in members}
        candidates = [
            {"id": m.pk, "name": m.name, "org": m.org.name, "fits": fits[m.pk].match == Match.MATCHED}
            for m in members
        ]
        fitting = [m for m in members if fits[m.pk].match == Match.MATCHED]
        names = "、".join(sorted({m.name for m in members}))
        fields: dict[str, Any] = {"match": Match.AMBIGUOUS, "candidates": candidates}
        if len(fitting) == 1:
            member = fitting[0]
            self.claim(member, fits[member.pk].months)
            fields.update(member=member, months=[_ym(m) for m in fits[member.pk].months])
            fields["match_note"] = _(
                "Several members fit %(names)s (%(how)s); only %(name)s of %(org)s owes exactly this amount."
            ) % {"names": names, "how": how, "name": member.name, "org": member.org.name}
        else:
            fields["match_note"] = _("Several members fit %(names)s (%(how)s): choose the member.") % {
                "names": names,
                "how": how,
            }
        return fields

    def claim(self, member: Member, months: Iterable[dt.date]) -> None:
        self.claimed.update((member.pk, m) for m in months)


def _related_statements_q(org: Organization, prefix: str = "statement__") -> Q:
    """Statements of ``org``, of the organisations above it and of those below it: a bank line booked
    by any of them is booked."""
    step = Organization.steplen
    above = [org.path[:i] for i in range(step, len(org.path) + 1, step)]
    return Q(**{f"{prefix}org_path__in": above}) | path_prefix_q(f"{prefix}org_path", org.path)


def _booked(
    org: Organization, keys: Iterable[str], exclude: int | None = None
) -> dict[str, DuesStatementLine]:
    """line_key → the line that booked it, in a related statement (a payment reversed since stays booked:
    its source key is spent, the money is recorded by hand if it was dues after all)."""
    rows = DuesStatementLine.objects.filter(
        _related_statements_q(org), line_key__in=list(keys), payment__isnull=False
    ).select_related("statement")
    if exclude is not None:
        rows = rows.exclude(statement_id=exclude)
    return {line.line_key: line for line in rows}


def _pending_elsewhere(org: Organization, keys: Iterable[str]) -> dict[str, DuesStatementLine]:
    rows = DuesStatementLine.objects.filter(
        statement__org=org, statement__status=DuesStatement.Status.PENDING, line_key__in=list(keys)
    ).select_related("statement")
    return {line.line_key: line for line in rows}


# ── services ──────────────────────────────────────────────────────────────────────────────────────


def _denied() -> PermissionDenied:
    return PermissionDenied(_("This is outside the part of the organisation tree you manage."))


def _read_upload(file: Any) -> tuple[bytes, str]:
    name = PurePath(getattr(file, "name", "") or "statement").name[:200]
    size = getattr(file, "size", None)
    if size is not None:
        _check_size(size)
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read()
    return (data if isinstance(data, bytes) else data.encode()), name


def _earlier_import_error(earlier: DuesStatement) -> ValidationError:
    when = timezone.localtime(earlier.uploaded_at).strftime("%Y-%m-%d %H:%M")
    who = (
        getattr(earlier.uploaded_by, "full_name", "") or getattr(earlier.uploaded_by, "username", "")
    ) or "—"
    return _file_error(
        _(
            "This file was already imported on %(when)s by %(who)s (“%(name)s”, %(status)s). The same "
            "statement is never booked twice: open the earlier import instead."
        )
        % {"when": when, "who": who, "name": earlier.filename, "status": earlier.get_status_display()},
        "already_imported",
    )


def _line_fields(line: RawLine, key: str) -> dict[str, Any]:
    return {
        "row": line.row,
        "paid_on": line.paid_on,
        "amount": line.amount,
        "payer": line.payer,
        "account_no": line.account_no,
        "reference": line.reference,
        "memo": line.memo,
        "line_key": key,
        "match": Match.UNMATCHED,
        "match_note": "",
        "candidates": [],
        "months": [],
        "decision": Decision.PENDING,
    }


def _booked_note(earlier: DuesStatementLine) -> str:
    confirmed = earlier.statement.confirmed_at
    return _("Already booked by “%(file)s”, row %(row)s (confirmed on %(date)s).") % {
        "file": earlier.statement.filename,
        "row": earlier.row,
        "date": timezone.localtime(confirmed).strftime("%Y-%m-%d") if confirmed else "—",
    }


def _match_lines(org: Organization, raw: list[RawLine], keys: list[str]) -> list[dict[str, Any]]:
    """The stored fields of every line: duplicates first, then the matcher in date order."""
    booked = _booked(org, keys)
    pending = _pending_elsewhere(org, keys)
    matcher = _Matcher.for_lines(org, [line for line in raw if line.bookable])
    order = sorted(range(len(raw)), key=lambda i: (raw[i].paid_on or dt.date.max, raw[i].row))
    results: dict[int, dict[str, Any]] = {}
    for i in order:
        line, key = raw[i], keys[i]
        fields = _line_fields(line, key)
        if not line.bookable:
            fields.update(match_note=line.note, decision=Decision.IGNORE)
        elif key in booked:
            earlier = booked[key]
            fields.update(
                match=Match.DUPLICATE,
                match_note=_booked_note(earlier),
                member_id=earlier.member_id,
                months=earlier.months,
                decision=Decision.IGNORE,
            )
        else:
            fields.update(matcher.match(line))
            if key in pending:
                other = pending[key].statement
                fields["match_note"] = (
                    _("Also in “%(file)s”, awaiting confirmation: confirm this line in one of them only.")
                    % {"file": other.filename}
                    + " "
                    + fields["match_note"]
                )
        fields["match_note"] = fields["match_note"][:200]
        results[i] = fields
    return [results[i] for i in range(len(raw))]


def _counts(lines: Iterable[Any]) -> dict[str, int]:
    counts = dict.fromkeys(Match.values, 0) | {"to_decide": 0}
    for line in lines:
        match = line["match"] if isinstance(line, dict) else line.match
        decision = line["decision"] if isinstance(line, dict) else line.decision
        counts[match] += 1
        counts["to_decide"] += decision == Decision.PENDING
    return counts


def statement_import(*, actor: Any, org: Organization, file: Any) -> DuesStatement:
    """Read, match and store a statement for ``org`` (nothing is booked). Raises ValidationError on
    ``file`` for an unreadable file, one without statement columns, or a file already imported for the
    organisation (naming the earlier import); nothing is stored then."""
    if not can(actor, "change", org):
        raise _denied()
    if org.status != OrgStatus.ACTIVE:
        raise ValidationError({"org": _("Choose an active organisation.")})
    data, filename = _read_upload(file)
    digest = hashlib.sha256(data).hexdigest()
    earlier = DuesStatement.objects.filter(org=org, sha256=digest).select_related("uploaded_by").first()
    if earlier is not None and earlier.status != DuesStatement.Status.DISCARDED:
        raise _earlier_import_error(earlier)
    parsed = read_statement(data)
    if not parsed.lines:
        raise _file_error(_("The statement has a header row but no transactions below it."), "empty")
    keys = line_keys(parsed.lines)
    statement = DuesStatement(org=org, org_path=org.path, filename=filename, sha256=digest, uploaded_by=actor)
    try:
        with transaction.atomic():
            if earlier is not None:
                # A discarded import of the same file gives way to this one (its lines booked nothing).
                earlier.file.delete(save=False)
                earlier.delete()
            try:
                with transaction.atomic():
                    statement.save()
            except IntegrityError:  # the same file, imported at this moment by someone else
                earlier = (
                    DuesStatement.objects.filter(org=org, sha256=digest).select_related("uploaded_by").first()
                )
                if earlier is None:
                    raise
                raise _earlier_import_error(earlier) from None
            extension = ".xlsx" if data.startswith(b"PK") else ".csv"
            statement.file.save(f"{digest[:16]}{extension}", ContentFile(data), save=False)
            statement.save(update_fields=["file"])
            lines = _match_lines(org, parsed.lines, keys)
            DuesStatementLine.objects.bulk_create(
                [DuesStatementLine(statement=statement, **fields) for fields in lines]
            )
            audit_log(
                actor=actor,
                action="dues.statement_imported",
                obj=statement,
                org=org,
                changes={"file": filename, "sha256": digest, "kind": parsed.kind, **_counts(lines)},
            )
    except BaseException:
        if statement.file:
            statement.file.delete(save=False)  # no row refers to it any more
        raise
    return statement


def _pending_statement(statement: DuesStatement) -> DuesStatement:
    """The statement, locked, if it still awaits confirmation."""
    locked = DuesStatement.objects.select_for_update().select_related("org").get(pk=statement.pk)
    if locked.status != DuesStatement.Status.PENDING:
        raise ValidationError(
            _("This statement is already %(status)s: its lines can no longer be changed.")
            % {"status": locked.get_status_display()}
        )
    return locked


def _check_booking(
    statement: DuesStatement, line: DuesStatementLine, member: Any, months: Iterable[Any]
) -> tuple[Member, list[dt.date]]:
    """The member and months a line may be booked to, or ValidationError saying what to choose."""
    org = statement.org
    if line.match == Match.DUPLICATE:
        raise ValidationError(_("This line was already booked: %(note)s") % {"note": line.match_note})
    if line.paid_on is None or line.amount is None or line.amount <= 0:
        raise ValidationError(
            _("Only an incoming payment with a date and an amount can be booked (row %(row)s).")
            % {"row": line.row}
        )
    if member is None:
        raise ValidationError({"member": _("Choose the member who paid.")})
    member_id = getattr(member, "pk", member)
    chosen = subtree_members(org).filter(pk=member_id).first()
    if chosen is None:
        raise ValidationError({"member": _("Choose a current member of %(org)s.") % {"org": org.name}})
    try:
        wanted = sorted({_parse_month(m) for m in months})
    except (TypeError, ValueError):
        raise ValidationError({"months": _("Give months as YYYY-MM, e.g. 2024-03.")}) from None
    bills = {b.month: b for b in open_bills(org, [chosen.pk]).get(chosen.pk, [])}
    unknown = [m for m in wanted if m not in bills]
    if unknown:
        raise ValidationError(
            {
                "months": _("%(name)s has no unpaid bill collected here for %(months)s.")
                % {"name": chosen.name, "months": ", ".join(_ym(m) for m in unknown)}
            }
        )
    later = [m for m in wanted if m > line.paid_on.replace(day=1)]
    if later:
        raise ValidationError(
            {
                "months": _("%(months)s is after the payment date %(date)s: choose months up to then.")
                % {"months": ", ".join(_ym(m) for m in later), "date": line.paid_on}
            }
        )
    limit = _max_back(line.paid_on, org)
    too_old = [m for m in wanted if _months_between(m, line.paid_on) > limit]
    if too_old:
        raise ValidationError(
            {
                "months": _(
                    "Back payment covers at most %(max)s months before the month of payment: %(months)s "
                    "cannot be paid on %(date)s."
                )
                % {"max": limit, "months": ", ".join(_ym(m) for m in too_old), "date": line.paid_on}
            }
        )
    taken = {
        (m, other.row)
        for other in statement.lines.filter(decision=Decision.BOOK, member_id=chosen.pk).exclude(pk=line.pk)
        for m in other.months
    }
    clash = sorted((m, row) for m, row in taken if m in {_ym(w) for w in wanted})
    if clash:
        raise ValidationError(
            {
                "months": _("%(month)s is already booked to row %(row)s of this statement.")
                % {"month": clash[0][0], "row": clash[0][1]}
            }
        )
    due = sum((bills[m].outstanding for m in wanted), ZERO)
    if due > line.amount:
        raise ValidationError(
            {
                "months": _("These months come to %(due)s yuan, more than the %(amount)s yuan received.")
                % {"due": due, "amount": line.amount}
            }
        )
    return chosen, wanted


def statement_line_set(
    *,
    actor: Any,
    line: DuesStatementLine,
    member: Any = None,
    months: Iterable[Any] | None = None,
    decision: str,
) -> DuesStatementLine:
    """The treasurer's decision on one line: ``book`` (to ``member`` for ``months``, by default what the
    line was matched to; what the amount leaves over is voluntary extra dues), ``ignore``, or back to
    ``pending``. Checked now, booked only by ``statement_confirm``."""
    if decision not in Decision.values:
        raise ValidationError({"decision": _("Choose book, ignore or pending.")})
    if not can(actor, "change", line.statement.org):
        raise _denied()
    with transaction.atomic():
        statement = _pending_statement(line.statement)
        line = DuesStatementLine.objects.select_for_update().get(pk=line.pk, statement=statement)
        changes: dict[str, Any] = {"row": line.row, "decision": decision}
        if decision == Decision.BOOK:
            member = member if member is not None else line.member_id
            if months is None:
                months = line.months if getattr(member, "pk", member) == line.member_id else None
            if months is None:  # another member chosen without months: their oldest months that fit
                other = subtree_members(statement.org).filter(pk=getattr(member, "pk", member)).first()
                months = suggest_months(line, other) if other is not None else []
            chosen, wanted = _check_booking(statement, line, member, months)
            line.member = chosen
            line.months = [_ym(m) for m in wanted]
            changes.update(member=chosen.pk, months=line.months)
        line.decision = decision
        line.save(update_fields=["member", "months", "decision"])
        audit_log(
            actor=actor, action="dues.statement_line_set", obj=statement, org=statement.org, changes=changes
        )
    return line


def suggest_months(line: DuesStatementLine, member: Member) -> list[str]:
    """The months the line would pay for ``member``: the oldest unpaid ones its amount covers, leaving
    out months other lines of the statement already book (what the matcher would have chosen)."""
    if line.paid_on is None or line.amount is None or line.amount <= 0:
        return []
    statement = line.statement
    claimed = {
        (member.pk, _parse_month(m))
        for other in statement.lines.filter(decision=Decision.BOOK, member_id=member.pk).exclude(pk=line.pk)
        for m in other.months
    }
    matcher = _Matcher(statement.org, [member], open_bills(statement.org, [member.pk]), claimed=claimed)
    raw = RawLine(row=line.row, paid_on=line.paid_on, amount=line.amount)
    return [_ym(m) for m in matcher.fit(member, raw).months]


class StatementLineRefused(ValidationError):
    """A line ``statement_confirm`` could not book: nothing was booked. Names the row and the reason,
    and carries the rule violation when a dues rule refused it."""

    def __init__(self, line: DuesStatementLine, reason: Exception) -> None:
        self.row = line.row
        self.violation = getattr(reason, "violation", None)
        if isinstance(reason, ValidationError):
            text = "；".join(reason.messages)
        else:
            text = str(reason) or _("You do not have permission to do this here.")
        if self.violation is not None:
            text = f"{text}（{self.violation.article}）"
        message = _(
            "Row %(row)s (%(payer)s, %(amount)s yuan, %(date)s) cannot be booked: %(reason)s Nothing was "
            "booked; correct or ignore this line and confirm again."
        ) % {
            "row": line.row,
            "payer": line.payer or "—",
            "amount": line.amount,
            "date": line.paid_on,
            "reason": text.rstrip("。.") + "。",
        }
        super().__init__(message, code="line_refused")


def is_proxy(line: DuesStatementLine, member: Member) -> bool:
    payer = _norm_name(line.payer)
    return bool(payer) and "*" not in payer and payer != _norm_name(member.name)


def _statement_method(statement: DuesStatement) -> str:
    """How the statement's payments were made: online for a payment platform's bill, bank transfer for
    a bank's statement (read from the stored file's headers)."""
    try:
        with statement.file.open("rb") as fh:
            return read_statement(fh.read()).method
    except (OSError, ValueError, ValidationError):
        return PaymentMethod.BANK_TRANSFER


def statement_confirm(*, actor: Any, statement: DuesStatement) -> DuesStatement:
    """Book every line decided ``book`` as a payment (``payments.payment_record``, source key
    ``stmt:<org>:<line_key>``), in one transaction: all or nothing. Refused while a line is undecided;
    a line a payment rule refuses raises ``StatementLineRefused`` naming the row. A line booked meanwhile
    by an overlapping statement becomes a duplicate and books nothing."""
    from dangjian.dues.payments import payment_record

    if not can(actor, "change", statement.org):
        raise _denied()
    with transaction.atomic():
        statement = _pending_statement(statement)
        org = statement.org
        lines = list(statement.lines.select_related("member").order_by("paid_on", "row"))
        undecided = [str(line.row) for line in lines if line.decision == Decision.PENDING]
        if undecided:
            raise ValidationError(
                _("Decide every line first (book or ignore): rows %(rows)s are still to confirm.")
                % {"rows": ", ".join(undecided[:20]) + ("…" if len(undecided) > 20 else "")},
                code="undecided",
            )
        to_book = [line for line in lines if line.decision == Decision.BOOK]
        booked = _booked(org, [line.line_key for line in to_book], exclude=statement.pk)
        method = _statement_method(statement) if to_book else PaymentMethod.BANK_TRANSFER
        count, total, duplicates = 0, ZERO, []
        for line in to_book:
            earlier = booked.get(line.line_key)
            if earlier is not None:
                _mark_duplicate(line, _booked_note(earlier))
                duplicates.append(line.row)
                continue
            months = [_parse_month(m) for m in line.months]
            try:
                payment = _book(actor, org, line, months, method, payment_record)
            except (ValidationError, PermissionDenied) as exc:
                raise StatementLineRefused(line, exc) from exc
            if getattr(payment, "replayed", False):
                _mark_duplicate(line, _("Already booked as payment %(id)s.") % {"id": payment.pk})
                duplicates.append(line.row)
                continue
            line.payment = payment
            line.save(update_fields=["payment"])
            count += 1
            total += payment.total
        statement.status = DuesStatement.Status.CONFIRMED
        statement.confirmed_by = actor if getattr(actor, "is_authenticated", False) else None
        statement.confirmed_at = timezone.now()
        statement.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        audit_log(
            actor=actor,
            action="dues.statement_confirmed",
            obj=statement,
            org=org,
            changes={
                "booked": count,
                "total": f"{total:.2f}",
                "ignored": sum(1 for line in lines if line.decision == Decision.IGNORE),
                "duplicates": duplicates,
                "method": method,
            },
        )
    return statement


def _mark_duplicate(line: DuesStatementLine, note: str) -> None:
    line.match = Match.DUPLICATE
    line.decision = Decision.IGNORE
    line.match_note = note[:200]
    line.save(update_fields=["match", "decision", "match_note"])


def _book(
    actor: Any, org: Organization, line: DuesStatementLine, months: list[dt.date], method: str, record: Any
) -> DuesPayment:
    if line.member is None or line.paid_on is None or line.amount is None:
        raise ValidationError(_("The line has no member, date or amount."))
    bills = DuesBill.objects.filter(member=line.member, month__in=months)
    due = sum((b.outstanding for b in bills), ZERO)
    if due > line.amount:
        raise ValidationError(
            _("its months now come to %(due)s yuan, more than the %(amount)s yuan received")
            % {"due": due, "amount": line.amount}
        )
    proxy = is_proxy(line, line.member)
    return record(
        actor=actor,
        member=line.member,
        months=months,
        method=method,
        paid_on=line.paid_on,
        reference=(line.reference or line.memo)[:100],
        extra_amount=line.amount - due,
        by_proxy=proxy,
        proxy_name=line.payer[:50] if proxy else "",
        amount=line.amount,
        source_key=f"stmt:{org.pk}:{line.line_key}",
    )


def statement_discard(*, actor: Any, statement: DuesStatement, reason: str = "") -> DuesStatement:
    """Drop a statement awaiting confirmation (a wrong file, a wrong organisation): nothing was booked,
    and the same file may be imported again."""
    if not can(actor, "change", statement.org):
        raise _denied()
    with transaction.atomic():
        statement = _pending_statement(statement)
        statement.status = DuesStatement.Status.DISCARDED
        statement.save(update_fields=["status"])
        audit_log(
            actor=actor,
            action="dues.statement_discarded",
            obj=statement,
            org=statement.org,
            changes={"reason": reason.strip()[:200]},
        )
    return statement


# ── reading for pages and the API ─────────────────────────────────────────────────────────────────


def statement_summary(
    statement: DuesStatement, lines: Iterable[DuesStatementLine] | None = None
) -> dict[str, Any]:
    """Counts by match, lines still to decide, what confirming books (and, once confirmed, booked)."""
    lines = list(statement.lines.all() if lines is None else lines)
    counts = _counts(lines)
    book = [line for line in lines if line.decision == Decision.BOOK and line.match != Match.DUPLICATE]
    booked = [line for line in lines if line.payment_id]
    return {
        **counts,
        "lines": len(lines),
        "to_book": len(book),
        "to_book_total": sum((line.amount or ZERO for line in book), ZERO),
        "ignored": sum(1 for line in lines if line.decision == Decision.IGNORE),
        "booked": len(booked),
        "booked_total": sum((line.amount or ZERO for line in booked), ZERO),
        "incoming_total": sum((line.amount for line in lines if line.amount and line.amount > 0), ZERO),
    }


# ── a sample statement ────────────────────────────────────────────────────────────────────────────

SAMPLE_HEADERS = [
    "交易日期",
    "交易流水号",
    "摘要",
    "收入金额",
    "支出金额",
    "账户余额",
    "对方户名",
    "对方账号",
    "附言",
]
_RELATIVE_NAMES = ("秀英", "桂兰", "建华", "玉梅", "志强")
_STRANGERS = ("李建国", "王淑芬", "赵德明", "周海燕")


def _sample_account(pk: int) -> str:
    digits = f"{pk * 7919 % 10**9:09d}{pk % 97:02d}"
    return f"62220200{digits}"[:19]


def sample_statement(org: Organization, month: dt.date, *, today: dt.date | None = None) -> bytes:
    """A realistic bank statement (xlsx) of ``month`` for ``org``: the open bills of the month's members
    (oldest months first, as the matcher books them) paid by most of them; one paid by a relative with
    “代…交党费” in the memo; one with voluntary extra dues (ambiguous); an unknown payer (unmatched); an
    outgoing bank fee (ignored). Deterministic: the same data gives the same file."""
    month = month.replace(day=1)
    today = today or timezone.localdate()
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    last_day = min(next_month - dt.timedelta(days=1), max(today, month))
    bills = (
        DuesBill.objects.filter(
            path_prefix_q("org_path", org.path), month=month, status__in=OPEN_BILL_STATUSES
        )
        .select_related("member")
        .order_by("member__name", "member_id")
    )
    payers = [b.member for b in bills if b.outstanding > 0][:200]
    names = {_norm_name(n) for n in subtree_members(org).values_list("name", flat=True)}
    pool = open_bills(org, [m.pk for m in payers])

    def day(i: int) -> dt.date:
        return min(month + dt.timedelta(days=2 + (i * 3) % 25), last_day)

    entries: list[dict[str, Any]] = []
    for i, member in enumerate(payers):
        due_bills = [
            b for b in pool.get(member.pk, []) if b.month <= month and _months_between(b.month, month) <= 6
        ][:3]
        amount = sum((b.outstanding for b in due_bills), ZERO)
        if not due_bills or amount <= 0:
            continue
        months_text = (
            f"{due_bills[0].month:%Y年%m月}"
            if len(due_bills) == 1
            else f"{due_bills[0].month:%Y年%m月}至{due_bills[-1].month:%m月}"
        )
        entry = {
            "date": day(i),
            "payer": member.name,
            "account": _sample_account(member.pk),
            "amount": amount,
            "memo": f"{member.name}{months_text}党费" if i % 2 else "交党费",
            "summary": "转账存入" if i % 3 else "网银转入",
        }
        if i % 7 == 3 and i < 22:  # a relative pays (代缴): a few lines
            relative = next(
                (member.name[0] + g for g in _RELATIVE_NAMES if _norm_name(member.name[0] + g) not in names),
                "家属",
            )
            entry.update(
                payer=relative, account=_sample_account(member.pk + 100000), memo=f"代{member.name}交党费"
            )
        elif i % 7 == 5 and i < 13:  # pays voluntary extra dues with the month (ambiguous): one or two
            entry.update(amount=amount + Decimal("50.00"), memo=f"{member.name}党费及自愿多交")
        entries.append(entry)
    stranger = next((n for n in _STRANGERS if n not in names), "某某")
    entries.append(
        {
            "date": day(len(payers) + 1),
            "payer": stranger,
            "account": "6217000010002345678",
            "amount": Decimal("100.00"),
            "memo": "转账",
            "summary": "转账存入",
        }
    )
    entries.append(
        {
            "date": day(len(payers) + 2),
            "payer": "",
            "account": "",
            "amount": Decimal("-2.00"),
            "memo": "跨行转账手续费",
            "summary": "手续费",
        }
    )
    entries.sort(key=lambda e: (e["date"], e["payer"]))

    wb = Workbook()
    ws = wb.active
    ws.title = "交易明细"
    ws.append(xl.safe_row(ws, [f"账户交易明细（{org.name}党费账户）"]))
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(xl.safe_row(ws, [f"账号：6222 0200 {org.pk:04d} 0001 　币种：人民币 　户名：{org.name}"]))
    ws.append(xl.safe_row(ws, [f"查询期间：{month:%Y-%m-%d} 至 {last_day:%Y-%m-%d}"]))
    ws.append([])
    ws.append(xl.header_cells(ws, SAMPLE_HEADERS, widths={"附言": 28, "对方账号": 22, "交易流水号": 20}))
    balance = Decimal("8620.35")
    credit_total = debit_total = ZERO
    for n, e in enumerate(entries, start=1):
        amount = e["amount"]
        balance += amount
        credit = amount if amount > 0 else None
        debit = -amount if amount < 0 else None
        credit_total += credit or ZERO
        debit_total += debit or ZERO
        ws.append(
            xl.safe_row(
                ws,
                [
                    e["date"],
                    f"{e['date']:%Y%m%d}{org.pk % 1000:03d}{n:05d}",
                    e["summary"],
                    float(credit) if credit is not None else None,
                    float(debit) if debit is not None else None,
                    float(balance),
                    e["payer"],
                    e["account"],
                    e["memo"],
                ],
            )
        )
        for col in ("D", "E", "F"):
            ws[f"{col}{ws.max_row}"].number_format = "#,##0.00"
    ws.append(xl.safe_row(ws, ["合计", "", "", float(credit_total), float(debit_total), None, "", "", ""]))
    for col in ("D", "E"):
        ws[f"{col}{ws.max_row}"].number_format = "#,##0.00"
    ws[f"A{ws.max_row}"].font = Font(bold=True)
    ws["A1"].alignment = Alignment(horizontal="left")
    ws.freeze_panes = "A6"
    return xl.workbook_bytes(wb)
