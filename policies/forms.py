"""Form fields of the seller pages and the admin, held to the shared input rules
(policies/validators.py) as the API's fields are."""

from django import forms
from django.utils.formats import get_format

from policies.money_input import amount_from_text
from policies.validators import (
    unsigned_zero,
    validate_ascii_digits,
    validate_date_in_range,
    validate_line,
    validate_text,
)


class LineField(forms.CharField):
    """One line of text: an id, a name, a reference."""

    default_validators = [validate_line]


class TextField(forms.CharField):
    """Free text, in a textarea."""

    widget = forms.Textarea(attrs={"rows": 4})
    default_validators = [validate_text]


class DecimalField(forms.DecimalField):
    """An amount typed as people type money (`12 500,00`, `12500.00`; the rule is
    policies/money_input.py's), with the digits 0-9; never a signed zero.

    A text input with a decimal keypad on phones: a number input would refuse a grouped
    amount in the browser and send nothing.
    """

    widget = forms.TextInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, str):
            return unsigned_zero(super().to_python(value))
        return unsigned_zero(
            amount_from_text(
                value,
                places=self.decimal_places,
                comma_groups=get_format("THOUSAND_SEPARATOR") == ",",
                negative=self.min_value is None or self.min_value < 0,
            )
        )

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "inputmode": "decimal"}


class DateField(forms.DateField):
    """A date typed with the digits 0-9, from EARLIEST_DATE to LATEST_DATE."""

    default_validators = [validate_date_in_range]

    def to_python(self, value):
        validate_ascii_digits(value)
        return super().to_python(value)
