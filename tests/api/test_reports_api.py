"""`POST /api/v1/reports/`: a seller's finance report pushed by the marketplace, imported at
once, answered with its outcomes; a replay answers the stored import."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from rest_framework.test import APIClient

from claims.models import Claim, ReportImport
from tests import factories

pytestmark = pytest.mark.django_db

OUTCOMES = {
    "claim_opened",
    "claim_updated",
    "compensation_recorded",
    "netted",
    "duplicate",
    "ignored",
    "error",
}


def v5_rows(shipment) -> list[dict]:
    day = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    return [
        {
            "rrd_id": 9001,
            "srid": "7711.0.0",
            "doc_type_name": "Продажа",
            "supplier_oper_name": "Продажа",
            "quantity": 1,
            "delivery_amount": 0,
            "return_amount": 0,
            "delivery_rub": 0,
            "ppvz_for_pay": 1120.50,
            "rr_dt": day,
        },
        {
            "rrd_id": 9004,
            "srid": shipment.external_id,
            "doc_type_name": "Продажа",
            "supplier_oper_name": "Логистика",
            "bonus_type_name": "От клиента при отмене",
            "quantity": 0,
            "delivery_amount": 0,
            "return_amount": 1,
            "delivery_rub": 50.00,
            "ppvz_for_pay": 0,
            "rr_dt": day,
        },
    ]


def push(api, insured, external_id="week-48", rows=None):
    return api.post(
        "/api/v1/reports/",
        {
            "external_id": external_id,
            "seller": insured.seller.external_id,
            "report": rows if rows is not None else v5_rows(insured),
        },
        format="json",
    )


def test_a_pushed_report_is_imported_and_answered_with_its_outcomes(
    api, insured, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = push(api, insured)

    assert response.status_code == 201, response.content
    body = response.json()
    claim = Claim.objects.get()
    assert body["format"] == "wb_v5" and body["rows"] == 2
    assert set(body["outcomes"]) == OUTCOMES
    assert body["outcomes"]["claim_opened"] == 1 and body["outcomes"]["ignored"] == 1
    assert body["claims"] == [claim.number]
    assert claim.claimed_amount == Decimal("50.00")
    rows = api.get(body["rows_url"]).json()
    assert [(r["key"], r["outcome"], r["claim"]) for r in rows["results"]] == [
        ("9001", "ignored", None),
        ("9004", "claim_opened", claim.number),
    ]
    assert rows["results"][0]["reason"] == "not_covered"
    assert rows["next"] is None


def test_a_replay_answers_the_stored_import_and_changes_nothing(
    api, insured, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = push(api, insured).json()
        again = push(api, insured)

    assert again.status_code == 200
    assert again.json() == first
    assert ReportImport.objects.count() == 1 and Claim.objects.count() == 1


def test_the_same_id_with_another_report_is_a_conflict(api, insured):
    push(api, insured)

    response = push(api, insured, rows=v5_rows(insured)[:1])

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "report" in response.json()["fields"]


def test_an_unknown_seller_is_a_field_error(api, insured):
    response = api.post(
        "/api/v1/reports/",
        {"external_id": "w", "seller": "nobody", "report": v5_rows(insured)},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"seller": ["Unknown seller."]}


def test_a_report_of_no_known_format_names_what_was_expected(api, insured):
    response = push(api, insured, rows=[{"hello": "world"}])

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_file"
    assert "Ozon" in body["message"] and "Wildberries" in body["message"]
    assert not ReportImport.objects.exists()


def test_another_marketplaces_key_cannot_read_the_rows(api, insured):
    body = push(api, insured).json()
    other = factories.MarketplaceApiKeyFactory()

    response = APIClient(HTTP_AUTHORIZATION=f"Api-Key {other.raw_key}").get(body["rows_url"])

    assert response.status_code == 404


def test_the_command_imports_a_file_and_prints_the_answer(
    insured, tmp_path, capsys, django_capture_on_commit_callbacks
):
    path = tmp_path / "week.json"
    path.write_text(json.dumps(v5_rows(insured), ensure_ascii=False), encoding="utf-8")

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "import_report",
            str(path),
            marketplace=insured.marketplace.code,
            seller=insured.seller.external_id,
            json=True,
        )

    answer = json.loads(capsys.readouterr().out)
    assert answer["format"] == "wb_v5"
    assert answer["outcomes"]["claim_opened"] == 1
    assert answer["claims"] == [Claim.objects.get().number]


def test_the_command_prints_the_result_pages_figures_in_its_words_and_money(
    insured, tmp_path, capsys, django_capture_on_commit_callbacks
):
    path = tmp_path / "week.json"
    path.write_text(json.dumps(v5_rows(insured), ensure_ascii=False), encoding="utf-8")

    with django_capture_on_commit_callbacks(execute=True), translation.override("ru"):
        call_command(
            "import_report",
            str(path),
            marketplace=insured.marketplace.code,
            seller=insured.seller.external_id,
        )

    printed = {
        label.strip(): value.strip()
        for label, value in (line.split("  ", 1) for line in capsys.readouterr().out.splitlines())
    }
    assert printed["Формат"] == "Wildberries: отчёт о реализации (API статистики v5)"
    assert printed["Открыто заявление"] == "1"
    assert printed["Найдено застрахованных сборов"] == "1, на сумму 50,00\xa0₽"
