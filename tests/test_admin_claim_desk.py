"""The adjuster's claim page and queue in the admin: the senior's sign-off and send-back as
actions of their own, the shipment's timeline and the service-level clock on the claim page,
and a queue of open claims with the adjuster's own counted."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.models import Claim
from policies.calendar import add_working_days
from policies.choices import ShipmentEventKind
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
ACTIONS = ("approve", "sign_off", "send_back", "request_info", "reject", "assess")


def change_url(claim) -> str:
    return reverse("admin:claims_claim_change", args=[claim.pk])


def page_of(client, claim, language="en") -> str:
    return client.get(change_url(claim), HTTP_ACCEPT_LANGUAGE=language).content.decode()


def act(client, claim, name, **data):
    fields = {f"{name}-{key}": value for key, value in data.items()}
    return client.post(reverse("admin:claims_claim_act", args=[claim.pk, name]), fields)


def buttons(page: str) -> set[str]:
    return {name for name in ACTIONS if f'id="act-{name}"' in page}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def queue(client, **params) -> str:
    return client.get(
        reverse("admin:claims_claim_changelist"), params, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()


def rows(page: str) -> int:
    return page.count('name="_selected_action"')


@pytest.fixture
def waiting(client, adjuster):
    """A claim of 11 500,00 ₽ payable its adjuster (limit 5 000 ₽) asked a senior to sign off."""
    adjuster.authority_limit = D("5000.00")
    adjuster.save()
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)
    client.force_login(adjuster)
    act(client, claim, "approve", note="Акт ПВЗ подтверждает ущерб")
    claim.refresh_from_db()
    assert claim.awaiting_signoff
    return claim


# The sign-off


def test_the_adjuster_who_asked_is_told_the_claim_awaits_sign_off_and_has_no_approve(
    client, waiting
):
    page = page_of(client, waiting)

    assert buttons(page) == {"request_info", "reject", "assess"}
    assert 'id="approve-waiting"' in page
    assert "Awaits the sign-off of a senior adjuster." in page


def test_a_senior_whose_limit_covers_the_payable_gets_sign_off_and_send_back(
    client, waiting, senior
):
    client.force_login(senior)

    page = page_of(client, waiting)

    assert {"sign_off", "send_back"} <= buttons(page)
    assert "approve" not in buttons(page)
    assert 'id="approve-waiting"' not in page


def test_a_senior_whose_limit_does_not_cover_it_gets_neither_and_cannot_post(
    client, waiting, senior
):
    senior.authority_limit = D("10000.00")
    senior.save()
    client.force_login(senior)

    assert not {"sign_off", "send_back"} & buttons(page_of(client, waiting))
    assert act(client, waiting, "sign_off", note="").status_code == 403
    waiting.refresh_from_db()
    assert waiting.awaiting_signoff


def test_sign_off_and_send_back_appear_only_on_a_claim_awaiting_sign_off(client, senior):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    client.force_login(senior)

    assert buttons(page_of(client, claim)) & {"sign_off", "send_back"} == set()
    assert act(client, claim, "sign_off", note="").status_code == 403


def test_the_senior_signs_off_from_the_claim_page(client, waiting, senior):
    client.force_login(senior)

    response = act(client, waiting, "sign_off", note="")

    waiting.refresh_from_db()
    assert waiting.status == ClaimStatus.APPROVED
    assert any(waiting.number in m for m in messages_of(response))


def test_send_back_without_a_note_is_refused_on_the_page(client, waiting, senior):
    client.force_login(senior)

    response = act(client, waiting, "send_back", note="")

    waiting.refresh_from_db()
    assert waiting.awaiting_signoff
    assert messages_of(response)


def test_send_back_returns_the_claim_to_its_adjuster_with_the_note_in_the_log(
    client, waiting, adjuster, senior
):
    client.force_login(senior)

    response = act(client, waiting, "send_back", note="Сверьте акт ПВЗ с фото")

    waiting.refresh_from_db()
    assert (waiting.status, waiting.signoff_requested_by, waiting.assignee) == (
        ClaimStatus.UNDER_REVIEW,
        None,
        adjuster,
    )
    assert any(adjuster.email in m for m in messages_of(response))
    client.force_login(adjuster)
    page = page_of(client, waiting)
    assert "Сверьте акт ПВЗ с фото" in page
    assert "approve" in buttons(page)


# The claim page: the shipment's timeline, the due date and the service-level clock


def test_the_claim_page_shows_the_shipments_events_in_order_in_the_readers_language(
    client, adjuster
):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    shipped = timezone.now() - dt.timedelta(days=6)
    for kind, days, amount in (
        (ShipmentEventKind.DAMAGED, 3, D("4200.00")),
        (ShipmentEventKind.SHIPPED, 0, None),
        (ShipmentEventKind.DELIVERED, 2, None),
    ):
        factories.ShipmentEventFactory(
            shipment=claim.shipment,
            kind=kind,
            occurred_at=shipped + dt.timedelta(days=days),
            amount=amount,
        )
    client.force_login(adjuster)

    for language, names, amount in (
        ("en", ["Shipped", "Delivered", "Damaged"], "4,200.00\xa0₽"),
        ("ru", ["Отгружено", "Доставлено", "Повреждено"], "4\xa0200,00\xa0₽"),
    ):
        page = page_of(client, claim, language)
        timeline = page[page.index('id="timeline"') :]
        timeline = timeline[: timeline.index("</section>")]
        positions = [timeline.index(f'<span class="kind">{name}</span>') for name in names]
        assert positions == sorted(positions)
        assert amount in timeline
        assert 'class="insured"' in timeline
        assert "damaged" not in timeline


def test_the_claim_page_shows_the_decision_clock_with_its_pause(client, adjuster):
    started = timezone.localdate() - dt.timedelta(days=10)
    claim = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW, sla_started_on=started, sla_paused_days=2
    )
    claim.due_on = add_working_days(started, 16)
    claim.save()
    client.force_login(adjuster)

    page = page_of(client, claim)

    sla = page[page.index('id="sla"') :]
    assert "Service level: decision" in sla
    assert "of 14 working days used" in sla
    assert "Paused for 2 working days" in sla
    assert claim.due_on.strftime("%d.%m.%Y") in sla
    assert "Overdue" not in sla


def test_an_overdue_claim_says_so_plainly(client, adjuster):
    started = timezone.localdate() - dt.timedelta(days=40)
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, sla_started_on=started)
    client.force_login(adjuster)

    page = page_of(client, claim)
    russian = page_of(client, claim, "ru")

    due = add_working_days(started, 14).strftime("%d.%m.%Y")
    assert f"Overdue: the service level ran out on {due}." in page
    assert f"Просрочено: срок истёк {due}." in russian


def test_a_claim_waiting_on_the_seller_shows_its_clock_paused(client, adjuster):
    claim = factories.ClaimFactory(
        status=ClaimStatus.INFO_REQUESTED,
        sla_started_on=timezone.localdate() - dt.timedelta(days=14),
        info_requested_at=timezone.now() - dt.timedelta(days=7),
    )
    client.force_login(adjuster)

    page = page_of(client, claim)

    assert "The clock is paused: the claim waits for the seller's answer." in page


# The queue


def test_the_default_queue_lists_open_claims_and_all_lists_every_one(client, adjuster):
    open_ = [
        factories.ClaimFactory(status=status)
        for status in (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED)
    ]
    done = [
        factories.ClaimFactory(status=status)
        for status in (
            ClaimStatus.CLOSED,
            ClaimStatus.PAID,
            ClaimStatus.REJECTED,
            ClaimStatus.WITHDRAWN,
        )
    ]
    client.force_login(adjuster)

    default = queue(client)
    everything = queue(client, status__exact="all")
    paid = queue(client, status__exact="paid")

    assert all(c.number in default for c in open_)
    assert not any(c.number in default for c in done)
    assert all(c.number in everything for c in open_ + done)
    assert done[1].number in paid and open_[0].number not in paid
    assert 'href="?status__exact=all"' in default


def test_the_status_filter_counts_each_status_when_the_counts_are_asked_for(client, adjuster):
    for status in (ClaimStatus.UNDER_REVIEW, ClaimStatus.UNDER_REVIEW, ClaimStatus.PAID):
        factories.ClaimFactory(status=status)
    client.force_login(adjuster)

    plain = queue(client)
    counted = queue(client, _facets="True")

    assert "Under review (2)" not in plain
    for label in ("Open (2)", "Under review (2)", "Paid (1)", "All (3)"):
        assert label in counted


def test_a_search_looks_through_closed_claims_too(client, adjuster):
    closed = factories.ClaimFactory(status=ClaimStatus.CLOSED)
    client.force_login(adjuster)

    assert closed.number in queue(client, q=closed.number)


def test_assigned_to_me_counts_my_open_claims(client, adjuster):
    for status in (ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED, ClaimStatus.PAID):
        factories.ClaimFactory(status=status, assignee=adjuster)
    factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    client.force_login(adjuster)

    page = queue(client)
    mine = queue(client, assigned="me")

    assert "Assigned to me (2 open)" in page
    assert rows(mine) == 2


def test_the_index_counts_my_open_claims(client, adjuster):
    for status in (ClaimStatus.UNDER_REVIEW, ClaimStatus.INFO_REQUESTED, ClaimStatus.CLOSED):
        factories.ClaimFactory(status=status, assignee=adjuster)
    client.force_login(adjuster)

    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '?assigned=me">Assigned to me</a></th><td>2</td>' in page


def test_the_queue_takes_the_same_queries_for_ten_claims_or_fifty(client, adjuster):
    policy = factories.PolicyFactory()
    client.force_login(adjuster)
    counts = []
    for batch in (10, 40):
        for shipment in factories.ShipmentFactory.create_batch(batch, policy=policy):
            factories.ClaimFactory(shipment=shipment, assignee=adjuster)
        with CaptureQueriesContext(connection) as captured:
            page = queue(client)
        counts.append(len(captured.captured_queries))
        assert rows(page) == Claim.objects.count()

    assert counts[0] == counts[1] <= 12
