"""The admin's claim queue as it must work on a million claims: searches that each go
through an index, and no count of the whole queue on every page."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from tests import factories

pytestmark = pytest.mark.django_db


def queue(client, **params):
    return client.get(reverse("admin:claims_claim_changelist"), params).content.decode()


def test_search_finds_a_claim_by_shipment_id_and_by_part_of_the_sellers_name(client, adjuster):
    claim = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW, shipment__policy__seller__legal_name="ООО «Ромашка»"
    )
    other = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    client.force_login(adjuster)

    for term in (claim.shipment.external_id, "Ромашк", f"  {claim.number} "):
        page = queue(client, q=term)
        assert claim.number in page
        assert other.number not in page


def test_a_search_that_matches_nothing_lists_nothing(client, adjuster):
    factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    client.force_login(adjuster)

    assert "CL-TEST" not in queue(client, q="no-such-claim")


def queue_counts(queries) -> list[str]:
    """Return the counts of claims the page made, but the adjuster's own open claims counted
    beside "Assigned to me": those go through the index of assigned claims."""
    return [
        q["sql"]
        for q in queries
        if "COUNT(*)" in q["sql"] and "claims_claim" in q["sql"] and "assignee_id" not in q["sql"]
    ]


def test_a_filtered_queue_is_counted_once_not_beside_the_whole_queue(client, adjuster):
    factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    client.force_login(adjuster)

    with CaptureQueriesContext(connection) as queries:
        queue(client, status=ClaimStatus.UNDER_REVIEW)

    counts = queue_counts(queries)
    assert len(counts) == 1
    assert "status" in counts[0]


@pytest.mark.postgres
def test_a_large_queue_shows_the_planners_estimate_instead_of_counting(
    client, adjuster, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("the estimate is PostgreSQL's planner's")
    monkeypatch.setattr("claims.admin.ESTIMATED_ABOVE", 0)
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    client.force_login(adjuster)

    with CaptureQueriesContext(connection) as queries:
        page = queue(client)

    assert claim.number in page
    assert not queue_counts(queries)


def test_claims_due_within_days_are_listed_soonest_first(client, adjuster):
    today = timezone.localdate()
    later = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW, due_on=today + dt.timedelta(days=3)
    )
    sooner = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW, due_on=today + dt.timedelta(days=1)
    )
    client.force_login(adjuster)

    page = queue(client, sla="due_soon")

    assert page.index(sooner.number) < page.index(later.number)
