"""The vocabulary of the domain: states, covers, perils and how they relate."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Language(models.TextChoices):
    RU = "ru", "Русский"
    EN = "en", "English"


class Cover(models.TextChoices):
    RETURN_LOGISTICS = "return_logistics", _("Return logistics")
    CARGO = "cargo", _("Cargo")


class Peril(models.TextChoices):
    NON_BUYOUT = "non_buyout", _("Non-buyout")
    REFUSAL = "refusal", _("Refusal")
    RETURN = "return", _("Return")
    DAMAGE = "damage", _("Damage")
    LOSS = "loss", _("Loss")


class PremiumBasis(models.TextChoices):
    RATE_ON_DECLARED_VALUE = (
        "rate_on_declared_value",
        _("Rate on declared value shipped"),
    )
    FEE_PER_SHIPMENT = "fee_per_shipment", _("Fee per shipment")
    RATE_ON_LOGISTICS_COST = "rate_on_logistics_cost", _("Rate on logistics cost")


class PolicyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class PolicyStep(models.TextChoices):
    """The steps of a policy's log (`PolicyTransition.transition`), by transition name."""

    ACTIVATE = "activate", pgettext_lazy("policy step", "Activated")
    SUSPEND = "suspend", pgettext_lazy("policy step", "Suspended")
    RESUME = "resume", pgettext_lazy("policy step", "Resumed")
    CANCEL = "cancel", pgettext_lazy("policy step", "Cancelled")
    EXPIRE = "expire", pgettext_lazy("policy step", "Expired")


def choice_label(choices: type[models.TextChoices], code: str) -> str:
    """Return the reader's label of a stored `code`; a code the choices no longer know (or
    never knew: an old row) as it is stored, rather than a page that fails."""
    return str(choices(code).label) if code in choices.values else code


class ActorKind(models.TextChoices):
    USER = "user", _("User")
    INTEGRATION = "integration", _("Integration")
    SYSTEM = "system", _("System")


class Fulfilment(models.TextChoices):
    MARKETPLACE = "marketplace", _("From the marketplace's warehouse")
    SELLER = "seller", _("From the seller's own stock")


class ShipmentEventKind(models.TextChoices):
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    BOUGHT_OUT = "bought_out", _("Bought out")
    NON_BUYOUT = "non_buyout", _("Not bought out")
    REFUSED = "refused", _("Refused")
    RETURNED = "returned", _("Returned")
    LOST = "lost", _("Lost")
    DAMAGED = "damaged", _("Damaged")


PERILS_BY_COVER = {
    Cover.RETURN_LOGISTICS: (Peril.NON_BUYOUT, Peril.REFUSAL, Peril.RETURN),
    Cover.CARGO: (Peril.DAMAGE, Peril.LOSS),
}


COVER_BY_PERIL = {peril: cover for cover, perils in PERILS_BY_COVER.items() for peril in perils}


PERIL_BY_EVENT_KIND = {
    ShipmentEventKind.NON_BUYOUT: Peril.NON_BUYOUT,
    ShipmentEventKind.REFUSED: Peril.REFUSAL,
    ShipmentEventKind.RETURNED: Peril.RETURN,
    ShipmentEventKind.DAMAGED: Peril.DAMAGE,
    ShipmentEventKind.LOST: Peril.LOSS,
}


EVENT_KIND_BY_PERIL = {peril: kind for kind, peril in PERIL_BY_EVENT_KIND.items()}


class DocumentKind(models.TextChoices):
    POLICY_CERTIFICATE = "policy_certificate", _("Policy certificate")
    CLAIM_ACKNOWLEDGEMENT = "claim_acknowledgement", _("Claim acknowledgement")
    SETTLEMENT_ACT = "settlement_act", _("Settlement act")
    REJECTION_LETTER = "rejection_letter", _("Rejection letter")
    RECONCILIATION_REPORT = "reconciliation_report", _("Reconciliation report")
    PREMIUM_BORDEREAU = "premium_bordereau", _("Premium bordereau")
    CLAIMS_BORDEREAU = "claims_bordereau", _("Claims bordereau")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    DISPATCHED = "dispatched", _("Sent to a worker")
    DONE = "done", _("Done")
    DEAD = "dead", _("Given up")
