"""Reading FAQ files (TSV and xlsx): pure, no database.

Columns (first row, any order; names in English or Chinese):

=========  ==========  =====================================================
column     also        meaning
=========  ==========  =====================================================
id         编号         the entry's id in the file; unique within the file
docid      主题         topic: the questions about one policy or item share it
question   问题         the question (2–500 characters)
answer     答案         the answer (1–10,000 characters)
item_code  事项编码     optional: 基本编码 of the base item it belongs to
=========  ==========  =====================================================

Every row is checked and every error reported with its row number (the
header is row 1) before anything is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

REQUIRED = ("id", "docid", "question", "answer")
ALIASES = {
    "id": "id",
    "编号": "id",
    "docid": "docid",
    "topic": "docid",
    "主题": "docid",
    "question": "question",
    "问题": "question",
    "answer": "answer",
    "答案": "answer",
    "item_code": "item_code",
    "事项编码": "item_code",
    "基本编码": "item_code",
}
LABELS = {
    "id": "编号",
    "docid": "主题",
    "question": "问题",
    "answer": "答案",
    "item_code": "事项编码",
}
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str

    def text(self) -> str:
        where = f"第 {self.row} 行" + (
            f"「{LABELS.get(self.column, self.column)}」" if self.column else ""
        )
        return f"{where}：{self.message}"


@dataclass(slots=True)
class ParsedFile:
    rows: list[dict[str, str]] = field(default_factory=list)  # with "row": line number
    read: int = 0  # non-empty data rows
    errors: list[RowError] = field(default_factory=list)


def _table_from_tsv(content: bytes) -> tuple[list[list[str]], list[RowError]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return [], [RowError(1, "", "文件编码无法识别，请另存为 UTF-8 编码的 TSV 文件")]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    return [list(r) for r in reader], []


def _table_from_xlsx(content: bytes) -> tuple[list[list[str]], list[RowError]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        return [], [RowError(1, "", "无法读取该 Excel 文件，请确认是 .xlsx 格式")]
    try:
        ws = wb.worksheets[0]
        table = []
        for values in ws.iter_rows(values_only=True):
            table.append(["" if v is None else str(v) for v in values])
        return table, []
    except Exception:  # openpyxl parses rows lazily: a malformed sheet fails while reading
        return [], [RowError(1, "", "无法读取该 Excel 文件，请确认是 .xlsx 格式")]
    finally:
        wb.close()


def parse(filename: str, content: bytes) -> ParsedFile:
    """Read and check every row of a TSV or xlsx file."""
    out = ParsedFile()
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        table, errors = _table_from_xlsx(content)
    elif name.endswith((".tsv", ".txt", ".csv")) or not name:
        table, errors = _table_from_tsv(content)
    else:
        out.errors.append(RowError(1, "", "只支持 .tsv 或 .xlsx 文件"))
        return out
    out.errors.extend(errors)
    if errors:
        return out
    if not table or not any(c.strip() for c in table[0]):
        out.errors.append(RowError(1, "", "文件为空，第一行应为列名：id、docid、question、answer"))
        return out
    header = [ALIASES.get(c.strip().lower().lstrip("\ufeff"), "") for c in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        out.errors.append(
            RowError(1, "", "缺少列：" + "、".join(f"{c}（{LABELS[c]}）" for c in missing))
        )
        return out
    col = {name: header.index(name) for name in set(header) if name}
    seen: dict[str, int] = {}
    if len(table) - 1 > MAX_ROWS:
        out.errors.append(RowError(1, "", f"一次最多导入 {MAX_ROWS} 行，请分批导入"))
        return out
    for n, values in enumerate(table[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        out.read += 1
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            out.errors.append(
                RowError(
                    n,
                    "",
                    f"列数多于表头（{len(values)} 列，应为 {len(header)} 列），可能是内容里有制表符",
                )
            )
            continue

        def get(name: str, _values: list[str] = values) -> str:
            i = col.get(name)
            return _values[i].strip() if i is not None and i < len(_values) else ""

        row = {k: get(k) for k in (*REQUIRED, "item_code")}
        bad = False
        for k, v in row.items():
            if "\x00" in v:  # PostgreSQL refuses it in text; no question holds one
                out.errors.append(RowError(n, k, "含有无效字符（空字符）"))
                row[k] = v.replace("\x00", "")
                bad = True
        if not row["id"]:
            out.errors.append(RowError(n, "id", "不能为空"))
            bad = True
        elif len(row["id"]) > 64:
            out.errors.append(RowError(n, "id", "不能超过 64 个字符"))
            bad = True
        elif row["id"] in seen:
            out.errors.append(RowError(n, "id", f"与第 {seen[row['id']]} 行重复"))
            bad = True
        else:
            seen[row["id"]] = n
        if not row["docid"]:
            out.errors.append(RowError(n, "docid", "不能为空"))
            bad = True
        elif len(row["docid"]) > 64:
            out.errors.append(RowError(n, "docid", "不能超过 64 个字符"))
            bad = True
        if len(row["question"]) < 2:
            out.errors.append(RowError(n, "question", "不能为空，至少 2 个字"))
            bad = True
        elif len(row["question"]) > 500:
            out.errors.append(RowError(n, "question", "不能超过 500 个字"))
            bad = True
        if not row["answer"]:
            out.errors.append(RowError(n, "answer", "不能为空"))
            bad = True
        elif len(row["answer"]) > 10_000:
            out.errors.append(RowError(n, "answer", "不能超过 10000 个字"))
            bad = True
        if len(row["item_code"]) > 40:
            out.errors.append(RowError(n, "item_code", "不能超过 40 个字符"))
            bad = True
        if not bad:
            out.rows.append({"row": str(n), **row})
    return out
