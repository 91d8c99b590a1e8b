"""Every URL of the project keeps seller A's objects from everybody else.

The walk takes every pattern `get_resolver()` knows (seller pages, downloads, the API, the
admin with each model's own URLs), fills its parameters with seller A's objects and asks for
it, GET and POST, as seller B (same marketplace), an anonymous visitor, a staff user with no
permission and another marketplace's API key. A URL that names an object must be refused:
404, 403, 401, 405 for the wrong method, or a redirect to a sign-in page (staff are sent to
the admin). A URL that names none may answer, but never with anything of seller A's.

A pattern added later is walked without a new test; one whose parameters this file does
not know how to fill fails it.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django.utils.regex_helper import normalize
from rest_framework.test import APIClient

from claims.choices import ReportFormat, ReportOutcome, ReportSource
from claims.models import Claim, ReportImport, ReportLine
from policies.models import OutboxMessage
from tests import factories

pytestmark = pytest.mark.django_db

# Open to anybody by design, or harmful to walk; each with the reason.
EXCLUDED = {
    "accounts/login/": "the seller sign-in form",
    "admin/login/": "the staff sign-in form",
    "accounts/logout/": "signs out whoever asks (and would end the walk's session)",
    "admin/logout/": "signs out whoever asks (and would end the walk's session)",
    "accounts/password_reset/": "asks for a reset link by e-mail, rate-limited",
    "accounts/password_reset/done/": "says the link was sent",
    "accounts/reset/<uidb64>/<token>/": "the reset link itself: its token is the credential",
    "accounts/reset/done/": "says the password was reset",
    "i18n/setlang/": "the language switch",
    "api/schema/": "the API's public OpenAPI schema",
    "api/docs/": "the API's public interactive docs",
}

# simple_history's per-version page is a regex with unnamed groups.
POSITIONAL = {"_simple_history": ("object_id", "history_id")}

REFUSED = {401, 403, 404, 405}


@dataclass(frozen=True)
class Route:
    route: str  # as written, e.g. "admin/claims/claim/<path:object_id>/change/"
    pattern: URLPattern
    parts: tuple  # the route's patterns, from the root
    model: type[models.Model] | None  # the model of a ModelAdmin's URLs

    def __str__(self):
        return self.route


def _admin_model(resolver: URLResolver) -> type[models.Model] | None:
    """Return the model whose ModelAdmin made `resolver`'s patterns, if one did."""
    for pattern in resolver.url_patterns:
        model_admin = getattr(getattr(pattern, "callback", None), "model_admin", None)
        if model_admin is not None:
            return model_admin.model
    return None


def routes(resolver=None, parts=(), model=None) -> Iterator[Route]:
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, (*parts, pattern), _admin_model(pattern) or model)
        else:
            chain = (*parts, pattern)
            yield Route("".join(str(p.pattern) for p in chain), pattern, chain, model)


ROUTES = list(routes())


def _row_of(model: type[models.Model]) -> models.Model:
    """Return a row of `model`: the first stored, else one made of plain values."""
    row = model._default_manager.order_by("pk").first()
    if row is not None:
        return row
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.has_default() or field.blank:
            continue
        if field.choices:
            values[field.name] = field.choices[0][0]
        elif isinstance(field, models.GenericIPAddressField):
            values[field.name] = "127.0.0.1"
        elif isinstance(field, models.CharField | models.TextField):
            values[field.name] = "x"
        elif isinstance(field, models.DateTimeField):
            values[field.name] = timezone.now()
        elif isinstance(field, models.DateField):
            values[field.name] = timezone.localdate()
        elif isinstance(field, models.IntegerField | models.DecimalField):
            values[field.name] = 1
        else:
            pytest.fail(f"no row of {model._meta.label} to walk its admin with: make one in world")
    return model._default_manager.create(**values)


class World:
    """Seller A's objects, and the people and keys who must not reach them."""

    def __init__(self):
        self.claim = factories.ClaimFactory(description="Seller A's claim")
        self.shipment, self.policy = self.claim.shipment, self.claim.policy
        self.seller = self.claim.seller
        self.seller_user = factories.SellerUserFactory(seller=self.seller)
        self.evidence = factories.EvidenceFactory(claim=self.claim, original_name="a-photo.pdf")
        self.document = factories.DocumentFactory(owner=self.claim)
        factories.ClaimTransitionFactory(claim=self.claim)
        factories.ClaimMessageFactory(claim=self.claim)
        factories.ShipmentEventFactory(shipment=self.shipment)
        factories.PolicyTransitionFactory(policy=self.policy)
        factories.WebhookAttemptFactory(delivery__claim=self.claim)
        factories.MarketplaceApiKeyFactory(marketplace=self.claim.marketplace)
        factories.PayoutFactory(claim__shipment__policy=self.policy)
        factories.RecoveryFactory(claim__shipment__policy=self.policy)
        factories.DiscrepancyFactory(compensation__shipment=self.shipment)
        OutboxMessage.objects.create(task="claims.tasks.claims_triage_task")
        self.report = ReportImport.objects.create(
            marketplace=self.claim.marketplace,
            seller=self.seller,
            format=ReportFormat.WB_V5,
            source=ReportSource.UPLOAD,
            filename="a-week.json",
            sha256="0" * 64,
        )
        ReportLine.objects.create(
            report=self.report,
            marketplace=self.claim.marketplace,
            line=1,
            key="rrd-a-1",
            kind="sale",
            outcome=ReportOutcome.IGNORED,
            amount=Decimal("1.00"),
        )
        # Seller B sells on the same marketplace and has a claim of its own to list.
        other = factories.ClaimFactory(shipment__policy__seller__marketplace=self.claim.marketplace)
        self.seller_b = factories.SellerUserFactory(seller=other.seller)
        self.staff = factories.UserFactory(is_staff=True)
        self.other_key = factories.MarketplaceApiKeyFactory()
        factories.ClaimFactory(shipment__policy__seller__marketplace=self.other_key.marketplace)

    def markers(self) -> list[str]:
        """Strings only seller A's data would put on a page."""
        return [
            self.claim.number,
            self.shipment.external_id,
            self.shipment.order_id,
            self.policy.number,
            self.seller.tax_id,
            self.seller.legal_name,
            self.evidence.original_name,
            self.report.filename,
        ]

    def admin_object(self, model: type[models.Model]) -> models.Model:
        known = {
            Claim: self.claim,
            type(self.seller): self.seller,
            type(self.shipment): self.shipment,
            type(self.policy): self.policy,
            type(self.seller_user): self.seller_user,
            ReportImport: self.report,
        }
        return known.get(model) or _row_of(model)

    def parameter(self, route: Route, name: str, before: str) -> str:
        """Return the value of parameter `name`, which follows the path `before` in `route`."""
        segment = before.rstrip("/").rsplit("/", 1)[-1]
        model = route.model or Claim  # the admin's view-on-site URL names a claim
        if name in ("object_id", "id"):
            return str(self.admin_object(model).pk)
        if name == "history_id":
            return str(self.admin_object(model).history.first().history_id)
        pk_of = {
            "shipments": self.shipment,
            "evidence": self.evidence,
            "reports": self.report,
            "documents": self.document,
        }
        if name == "pk" and segment in pk_of:
            return str(pk_of[segment].pk)
        named = {
            "number": self.claim.number,
            "evidence_id": self.evidence.pk,
            "app_label": Claim._meta.app_label,
            "content_type_id": ContentType.objects.get_for_model(Claim).pk,
            "name": "assign" if segment == "act" else None,  # an adjuster's claim action
            # The admin's catch-all: a claim's page but for the slash it adds.
            "url": f"claims/claim/{self.claim.pk}/change",
        }
        if named.get(name) is None:
            pytest.fail(
                f"{route}: nothing to fill parameter {name!r} (after {before!r}) with; "
                "teach World.parameter which of seller A's objects it names"
            )
        return str(named[name])

    def url(self, route: Route) -> tuple[str, bool]:
        """Return the route's URL for seller A's objects, and whether it names any."""
        template, names = "", []
        for part in route.parts:
            text, params = normalize(part.pattern.regex.pattern)[0]
            template += text
            names += params
        values = {}
        for name in names:
            real = name
            if name.startswith("_"):  # normalize() calls the n-th unnamed group "_n"
                suffix = next((s for s in POSITIONAL if (route.pattern.name or "").endswith(s)), "")
                if not suffix:
                    pytest.fail(f"{route}: an unnamed group; name it or add it to POSITIONAL")
                real = POSITIONAL[suffix][int(name[1:])]
            before = template[: template.index(f"%({name})s")] % values
            values[name] = self.parameter(route, real, before)
        url = "/" + template % values
        if resolve(url).func is not route.pattern.callback:
            pytest.fail(f"{route}: {url} reaches another view; the walk built it wrong")
        return url, bool(names)


def clients(world: World) -> dict[str, Client]:
    anonymous = Client()
    seller_b = Client()
    seller_b.force_login(world.seller_b)
    staff = Client()
    staff.force_login(world.staff)
    other_key = APIClient(HTTP_AUTHORIZATION=f"Api-Key {world.other_key.raw_key}")
    return {"seller B": seller_b, "anonymous": anonymous, "staff": staff, "key": other_key}


def ask(client, method: str, url: str, *, who: str):
    """Return the response to `url` and whether it refused; a redirect is followed unless it
    sends to a sign-in page (or, for staff, to the admin, where they see nothing)."""
    ends = {resolve_url(settings.LOGIN_URL), reverse("admin:login")}
    if who == "staff":
        ends.add(reverse("admin:index"))
    response = getattr(client, method)(url)
    for _hop in range(5):
        if response.status_code in REFUSED:
            return response, True
        if response.status_code not in (301, 302, 303, 307, 308):
            return response, False
        location = urlsplit(response["Location"]).path
        if location in ends:
            return response, True
        response = client.get(location)
    return response, False


@pytest.mark.parametrize("who", ["seller B", "anonymous", "staff", "key"])
def test_no_url_gives_seller_as_objects_to_anybody_else(who):
    world = World()
    client = clients(world)[who]
    markers = world.markers()
    walked, problems = set(), []
    for route in ROUTES:
        if route.route in EXCLUDED:
            walked.add(route.route)
            continue
        url, names_objects = world.url(route)
        for method in ("get", "post"):
            try:
                response, refused = ask(client, method, url, who=who)
            except Exception as exc:  # every failure is reported at once
                problems.append(f"{method.upper()} {url} ({route}): raised {exc!r}")
                continue
            if refused:
                continue
            # Reading a streamed file to its end closes it, as a WSGI server would.
            content = (
                b"".join(response.streaming_content) if response.streaming else response.content
            )
            body = content.decode(errors="replace")
            shown = [marker for marker in markers if marker in body]
            if names_objects or shown or response.status_code >= 500:
                problems.append(
                    f"{method.upper()} {url} ({route}): {response.status_code}"
                    + (f", shows {shown}" if shown else "")
                )
    stale = set(EXCLUDED) - walked
    assert not stale, f"excluded routes that no longer exist: {sorted(stale)}"
    assert not problems, f"{who} reaches seller A's objects:\n" + "\n".join(problems)
