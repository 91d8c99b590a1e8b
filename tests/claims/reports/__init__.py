"""Tests of the report readers, and the few builders their files share.

The builders write report files the way the marketplaces do: JSON with money as numbers
(never through float) or strings, XLSX through openpyxl, CSV with semicolons and decimal
commas.
"""

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "reports"


def fixture_json(name: str) -> object:
    """Return a fixture parsed with fractions as Decimal, as the readers parse reports."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"), parse_float=Decimal)


def json_bytes(value: object) -> bytes:
    """Return JSON text for `value`, writing each Decimal as the number it is."""
    return _json(value).encode()


def _json(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        raise TypeError("money in tests is Decimal")
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def xlsx_bytes(rows: list[list[object]], *, title_rows: int = 0) -> bytes:
    """Return an XLSX workbook of one sheet holding `rows` (the first is the header)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Детализация")
    for number in range(title_rows):
        sheet.append([f"Отчёт, строка заголовка {number + 1}"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def cut_sheet(content: bytes) -> bytes:
    """Return a workbook whose sheets' XML ends halfway, in the middle of a row: the
    header streams fine, the break shows only further on."""
    whole = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in whole.namelist():
            data = whole.read(name)
            archive.writestr(name, data[: len(data) // 2] if "worksheets/" in name else data)
    return buffer.getvalue()


def csv_bytes(rows: list[list[object]], *, encoding: str = "utf-8-sig") -> bytes:
    """Return the rows as the portal's CSV: semicolons, decimal commas, dd.mm.yyyy dates."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return buffer.getvalue().encode(encoding)


def _csv_cell(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        # Grouped with no-break spaces, as Excel writes them in a Russian locale.
        return format(cell, ",.2f").replace(",", "\u00a0").replace(".", ",")
    if isinstance(cell, dt.date):
        return cell.strftime("%d.%m.%Y")
    return str(cell)
