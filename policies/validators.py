from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from policies.errors import PolicyErrorCode

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(value: str) -> bool:
    """Return whether `value` is a Russian taxpayer number (ИНН) with valid check digits.

    10 digits for an organisation, 12 for an individual entrepreneur; the
    weights are those of the Federal Tax Service's published algorithm.
    """
    if not isinstance(value, str) or not value.isdigit() or len(value) not in (10, 12):
        return False
    digits = [int(c) for c in value]
    if len(value) == 10:
        return _check_digit(digits, _INN10_WEIGHTS) == digits[9]
    return (
        _check_digit(digits, _INN12_WEIGHTS_1) == digits[10]
        and _check_digit(digits, _INN12_WEIGHTS_2) == digits[11]
    )


def validate_inn(value: str) -> None:
    if not is_valid_inn(value):
        raise ValidationError(
            _("Enter a valid tax id (ИНН): 10 or 12 digits with correct check digits."),
            code=PolicyErrorCode.INVALID_TAX_ID,
        )
