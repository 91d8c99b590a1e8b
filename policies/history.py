"""Who a history row names: the signed-in person behind a change, never an integration."""

from django.contrib.auth.base_user import AbstractBaseUser
from simple_history.models import HistoricalRecords


def _person(request, **_kwargs) -> AbstractBaseUser | None:
    # On the API a marketplace's key stands where request.user is: it is no person, and the
    # integration's changes are its own, logged by the API under the key.
    user = getattr(request, "user", None)
    return user if isinstance(user, AbstractBaseUser) else None


def audit_history(**kwargs) -> HistoricalRecords:
    """The history of a model's changes: before, after, when and the person who made them."""
    return HistoricalRecords(get_user=_person, **kwargs)
