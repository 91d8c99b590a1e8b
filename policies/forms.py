"""Form fields of the seller pages and the admin, held to the shared input rules
(policies/validators.py) as the API's fields are."""

from django import forms

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
    """An amount typed with the digits 0-9 (in the page's format, `1 500,00`); never a
    signed zero."""

    def to_python(self, value):
        validate_ascii_digits(value)
        return unsigned_zero(super().to_python(value))


class DateField(forms.DateField):
    """A date typed with the digits 0-9, from EARLIEST_DATE to LATEST_DATE."""

    default_validators = [validate_date_in_range]

    def to_python(self, value):
        validate_ascii_digits(value)
        return super().to_python(value)
