"""Telling a report from its content, and refusing what is none."""

import io
import zipfile

import pytest
from django.utils import translation

from claims.choices import ReportFormat
from claims.reports.detect import ReportFileError, detect_format
from claims.reports.read import read_report
from policies.errors import DomainError, ErrorCode
from tests.claims.reports import csv_bytes, cut_sheet, json_bytes, xlsx_bytes


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in the language they are written in."""
    with translation.override("en"):
        yield


PORTAL_HEADER = [
    "№",
    "Тип документа",
    "Обоснование для оплаты",
    "Дата продажи",
    "К перечислению Продавцу за реализованный Товар",
    "Услуги по доставке товара покупателю",
    "Виды логистики, штрафов и доплат",
    "Srid",
]
PORTAL_ROW = [1, "Продажа", "Логистика", "02.03.2026", "0", "50", "От клиента при отмене", "x"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (json_bytes([{"rrd_id": 1, "supplier_oper_name": "Продажа"}]), ReportFormat.WB_V5),
        (json_bytes([{"rrdId": 1, "sellerOperName": "Продажа"}]), ReportFormat.WB_FINANCE),
        (json_bytes({"result": {"operations": []}}), ReportFormat.OZON_TRANSACTIONS),
        (json_bytes({"operations": []}), ReportFormat.OZON_TRANSACTIONS),
        (json_bytes([{"operation_id": 1}]), ReportFormat.OZON_TRANSACTIONS),
        (b"\xef\xbb\xbf" + json_bytes([{"rrd_id": 1}]), ReportFormat.WB_V5),  # with a BOM
        (xlsx_bytes([PORTAL_HEADER, PORTAL_ROW]), ReportFormat.WB_XLSX),
        (csv_bytes([PORTAL_HEADER, PORTAL_ROW]), ReportFormat.WB_CSV),
    ],
)
def test_the_format_is_told_from_the_content_whatever_the_name(content, expected):
    assert detect_format(content=content) is expected
    assert read_report(content=content, filename="report.xlsx").format is expected
    assert read_report(content=content, filename="report.json").format is expected


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "The file is empty."),
        (b" \r\n\t", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The file is neither JSON, XLSX nor CSV."),
        (b'[{"rrd_id": 1', "The file is not valid JSON."),
        (b'{"data": [1, 2]}', "The JSON object has no list of operations"),
        (b"[1, 2, 3]", "The JSON list holds no report rows."),
        (b"[]", "The JSON list holds no report rows."),
        (
            json_bytes([{"id": 1, "sum": "5.00"}]),
            "none of the fields rrd_id, rrdId or operation_id",
        ),
        (_zip(), "The file is a zip archive but not a readable XLSX."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "save it as XLSX"),
        (xlsx_bytes([["Дата", "Сумма"], ["02.03.2026", 5]]), "No report headers were found"),
        ("Просто текст;без заголовков\n".encode(), "No report headers were found in the CSV"),
        # A 2 KB file that would overflow the decoder's recursion.
        (b"[" * 2000, "nests deeper than 32 levels"),
    ],
)
def test_anything_else_is_refused_naming_the_expected_formats(content, problem):
    with pytest.raises(ReportFileError) as refused:
        read_report(content=content, filename="upload")

    error = refused.value
    assert isinstance(error, DomainError)
    assert error.code == ErrorCode.INVALID_FILE
    assert problem in error.message
    assert "Ozon transaction list" in error.message
    assert "Wildberries weekly detail report (XLSX)" in error.message
    assert error.extra["expected"] == [
        "wb_v5",
        "wb_finance",
        "wb_xlsx",
        "wb_csv",
        "ozon_transactions",
    ]


def test_a_refusal_for_a_header_row_without_headers_names_those_looked_for():
    with pytest.raises(ReportFileError) as refused:
        read_report(content=xlsx_bytes([["Дата", "Сумма"], ["02.03.2026", 5]]))

    assert "«Обоснование для оплаты»" in refused.value.message
    assert refused.value.missing == []


def test_a_header_row_with_some_headers_is_refused_naming_the_ones_it_lacks():
    header = PORTAL_HEADER[:3]  # №, Тип документа, Обоснование для оплаты

    with pytest.raises(ReportFileError) as refused:
        read_report(content=csv_bytes([header, PORTAL_ROW[:3]]))

    assert refused.value.missing == [
        "Виды логистики, штрафов и доплат",
        "Srid",
        "Услуги по доставке товара покупателю",
        "К перечислению Продавцу за реализованный Товар",
        "Дата продажи",
    ]


def test_the_report_sheet_need_not_be_the_first():
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Сводка"
    book.active.append(["Итого к оплате", 100])
    sheet = book.create_sheet("Детализация")
    sheet.append(PORTAL_HEADER)
    sheet.append(PORTAL_ROW)
    buffer = io.BytesIO()
    book.save(buffer)

    report = read_report(content=buffer.getvalue())

    assert (report.format, report.count) == (ReportFormat.WB_XLSX, 1)


def test_blank_lines_are_not_rows():
    content = csv_bytes([PORTAL_HEADER, PORTAL_ROW, [""] * 8, PORTAL_ROW])

    report = read_report(content=content)

    assert report.count == 2
    assert [row.line for row in report.rows()] == [2, 4]


def test_a_sheet_that_breaks_partway_is_refused_when_its_rows_are_counted():
    rows = [PORTAL_HEADER] + [[n, *PORTAL_ROW[1:7], f"{n}.0.0"] for n in range(1, 2000)]

    report = read_report(content=cut_sheet(xlsx_bytes(rows)))
    with pytest.raises(ReportFileError) as refused:
        # What an upload asks before storing the file.
        assert report.count

    assert "The XLSX file cannot be read." in refused.value.message


def test_a_table_placed_away_from_the_corner_keeps_its_spreadsheet_lines():
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for offset, cells in ((3, PORTAL_HEADER), (5, PORTAL_ROW), (8, PORTAL_ROW)):
        for column, value in enumerate(cells, start=3):
            sheet.cell(row=offset, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)

    report = read_report(content=buffer.getvalue())

    assert report.count == 2
    assert [(row.line, row.kind) for row in report.rows()] == [
        (5, "reverse_fee"),
        (8, "reverse_fee"),
    ]
