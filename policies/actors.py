from dataclasses import dataclass

from policies.models import ActorKind, Marketplace, User


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a signed-in user, a marketplace integration or the system."""

    kind: ActorKind
    user: User | None = None
    marketplace: Marketplace | None = None

    @classmethod
    def for_user(cls, user: User) -> "Actor":
        return cls(kind=ActorKind.USER, user=user)

    @classmethod
    def for_marketplace(cls, marketplace: Marketplace) -> "Actor":
        return cls(kind=ActorKind.INTEGRATION, marketplace=marketplace)

    @classmethod
    def system(cls) -> "Actor":
        return cls(kind=ActorKind.SYSTEM)

    def log_fields(self) -> dict:
        """Return the actor columns of a transition log row."""
        return {
            "actor_kind": self.kind,
            "actor_user_id": self.user.pk if self.user else None,
            "actor_marketplace_id": self.marketplace.pk if self.marketplace else None,
        }
