"""The system's notes on a claim's log are kept as codes and read in the reader's language."""

import pytest
from django.utils import translation

from claims.choices import ClaimStatus, SystemNote
from claims.lifecycle import claim_close
from claims.models import ClaimTransition
from claims.notes import system_note, transition_note
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_system_note_written_in_one_language_reads_in_the_other():
    # given: a payment logged while Russian was active
    with translation.override("ru"):
        step = factories.ClaimTransitionFactory(
            transition="pay", **system_note(SystemNote.PAID, amount="8813.60", reference="PAY-1")
        )

    # when / then: each reader reads it in their own language, the money formatted
    with translation.override("en"):
        assert transition_note(step) == "Paid 8,813.60\xa0₽, reference PAY-1."
    with translation.override("ru"):
        assert transition_note(step) == "Выплачено 8\xa0813,60\xa0₽, платёж PAY-1."


def test_a_persons_note_is_shown_as_written_before_the_systems():
    step = factories.ClaimTransitionFactory(
        transition="approve",
        note="Checked the photos.",
        **system_note(SystemNote.NO_AGGREGATE_ROOM),
    )

    with translation.override("ru"):
        assert transition_note(step) == (
            "Checked the photos.\nДля этого заявления агрегатный лимит полиса исчерпан."
        )


def test_closing_an_unanswered_info_request_logs_why_as_a_code():
    # given
    claim = factories.ClaimFactory(status=ClaimStatus.INFO_REQUESTED)

    # when
    claim_close(claim_id=claim.pk)

    # then
    step = ClaimTransition.objects.get(claim=claim, transition="close")
    assert (step.note, step.note_code, step.note_params) == (
        "",
        SystemNote.CLOSED_NO_REPLY,
        {"days": "30"},
    )
    with translation.override("en"):
        assert transition_note(step) == (
            "Closed: the information asked for did not come within 30 days."
        )
