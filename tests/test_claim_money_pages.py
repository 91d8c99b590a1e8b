"""The one line of a claim's money on the seller's pages, in Russian and English: the claim
page, the claims list, and a rejected claim that shows no payable and one appeal date."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from claims.assessment import appeal_by
from claims.choices import ClaimStatus, LimitApplied, SystemNote
from claims.jobs import claims_close_due
from claims.lifecycle import claim_reject
from claims.models import Claim, ClaimTransition
from claims.notes import system_note
from claims.outputs.documents import rejection_letter_make
from policies.choices import ActorKind
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
RU = {
    "labels": [
        "Убыток",
        "Маркетплейс выплатил",
        "Страховщик выплатил",
        "На вас",
        "Осталось вернуть",
    ],
    "net": "выплачено 7\xa0500,00\xa0₽, из них 6\xa0000,00\xa0₽ подлежит возврату",
    "paid_note": "Выплачено 7\xa0500,00\xa0₽, платёж PAY-LINE-1.",
    "marketplace": "10\xa0000,00\xa0₽",
    "insurer": "1\xa0500,00\xa0₽",
    "deductible": "Франшиза: 500,00\xa0₽",
}
EN = {
    "labels": ["Loss", "Marketplace paid", "Insurer paid", "You bore", "Still owed back"],
    "net": "paid 7,500.00\xa0₽, less 6,000.00\xa0₽ to be paid back",
    "paid_note": "Paid 7,500.00\xa0₽, reference PAY-LINE-1.",
    "marketplace": "10,000.00\xa0₽",
    "insurer": "1,500.00\xa0₽",
    "deductible": "Deductible: 500.00\xa0₽",
}


def in_language(client, language: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def paid_with_recovery(seller_user) -> Claim:
    """Loss 12 000; the marketplace paid 4 000, the insurer 7 500; then the marketplace paid a
    further 6 000, which the seller owes back: payable now 1 500."""
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller_user.seller,
        status=ClaimStatus.PAID,
        compensation_amount=D("10000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("1500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"), reference="PAY-LINE-1")
    factories.RecoveryFactory(claim=claim, amount=D("6000.00"))
    # The note as the payment writes it: a code and its figures, put into words when read.
    ClaimTransition.objects.create(
        claim=claim,
        transition="pay",
        source_state=ClaimStatus.APPROVED,
        target_state=ClaimStatus.PAID,
        at=timezone.now(),
        actor_kind=ActorKind.SYSTEM,
        **system_note(SystemNote.PAID, amount="7500.00", reference="PAY-LINE-1"),
    )
    return claim


def rejected(seller_user, adjuster) -> Claim:
    """A claim whose calculation left 39 142 payable, then rejected."""
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller_user.seller,
        status=ClaimStatus.UNDER_REVIEW,
        assignee=adjuster,
        claimed_amount=D("39642.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("39142.00"),
    )
    return claim_reject(
        claim_id=claim.pk, adjuster=adjuster, code="insufficient_evidence", reason="Нет акта ПВЗ."
    )


@pytest.mark.parametrize(("language", "words"), [("ru", RU), ("en", EN)])
def test_the_claim_page_shows_the_line_net_of_the_recovery_in_the_readers_language(
    signed_in, seller_user, language, words
):
    claim = paid_with_recovery(seller_user)

    page = (
        in_language(signed_in, language)
        .get(reverse("seller:claim", args=[claim.number]))
        .content.decode()
    )

    for label in words["labels"]:
        assert f"<dt>{label}</dt>" in page
    assert words["marketplace"] in page
    assert words["insurer"] in page
    assert words["net"] in page
    assert words["deductible"] in page
    assert words["paid_note"] in page
    assert "7500.00" not in page


def test_the_claim_page_names_each_limit_that_cut_the_payable(signed_in, seller_user):
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller_user.seller,
        status=ClaimStatus.APPROVED,
        claimed_amount=D("80000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("30000.00"),
        limit_applied=LimitApplied.AGGREGATE,
    )

    page = signed_in.get(reverse("seller:claim", args=[claim.number])).content.decode()

    assert "Лимит на случай уменьшил выплату на 29\xa0500,00\xa0₽" in page
    assert "Агрегатный лимит уменьшил выплату на 20\xa0000,00\xa0₽" in page
    assert "Страховщик выплатит" in page
    assert "30\xa0000,00\xa0₽" in page


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("ru", "Выплаты нет: заявление отклонено."),
        ("en", "Nothing is payable: the claim was rejected."),
    ],
    ids=["ru", "en"],
)
def test_a_rejected_claim_shows_no_payable_and_says_why(
    signed_in, seller_user, adjuster, language, reason
):
    claim = rejected(seller_user, adjuster)

    page = (
        in_language(signed_in, language)
        .get(reverse("seller:claim", args=[claim.number]))
        .content.decode()
    )

    assert reason in page
    assert "39\xa0142,00" not in page and "39,142.00" not in page
    assert "К выплате" not in page and "to pay" not in page


def test_a_rejected_claim_gives_the_appeal_date_of_its_letter(signed_in, seller_user, adjuster):
    claim = rejected(seller_user, adjuster)
    rejection = claim.transitions.get(transition="reject")
    letter = rejection_letter_make(claim_id=claim.pk, transition_id=rejection.pk)
    with letter.file.open("rb") as pdf:
        letter_text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    last_day = f"{appeal_by(decided_on=timezone.localdate()):%d.%m.%Y}"

    page = signed_in.get(reverse("seller:claim", args=[claim.number])).content.decode()

    assert f"до {last_day}" in letter_text
    assert f"Обжаловать решение можно до {last_day} включительно" in page
    assert "Срок обжалования" not in page


def test_the_appeal_date_is_the_last_day_before_the_claim_closes(seller_user, adjuster):
    claim = rejected(seller_user, adjuster)
    last_day = appeal_by(decided_on=timezone.localdate())

    assert claims_close_due(today=last_day) == 0
    assert claims_close_due(today=last_day + dt.timedelta(days=1)) == 1
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.CLOSED


def test_a_claim_closed_after_its_rejection_shows_no_payable_and_that_the_appeal_ended(
    signed_in, seller_user, adjuster
):
    claim = rejected(seller_user, adjuster)
    decided = timezone.now() - dt.timedelta(days=31)
    claim.transitions.update(at=decided)
    Claim.objects.filter(pk=claim.pk).update(decided_at=decided, status_changed_at=decided)
    assert claims_close_due(today=timezone.localdate()) == 1

    page = signed_in.get(reverse("seller:claim", args=[claim.number])).content.decode()

    last_day = appeal_by(decided_on=timezone.localdate(decided))
    assert "Выплаты нет: заявление отклонено." in page
    assert f"Срок обжалования закончился {last_day:%d.%m.%Y}." in page
    assert "Закрыто: срок обжалования истёк." in page
    assert "39\xa0142,00" not in page


@pytest.mark.parametrize(("language", "words"), [("ru", RU), ("en", EN)])
def test_the_claims_list_shows_the_line_as_columns(
    signed_in, seller_user, adjuster, language, words
):
    paid_with_recovery(seller_user)
    rejected(seller_user, adjuster)

    page = in_language(signed_in, language).get(reverse("seller:claims")).content.decode()

    for label in words["labels"]:
        assert f'<th scope="col" class="num">{label}</th>' in page
    assert words["insurer"] in page
    assert words["marketplace"] in page
    assert "39\xa0142,00" not in page and "39,142.00" not in page
