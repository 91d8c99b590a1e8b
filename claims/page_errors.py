"""How the HTML pages, the seller's and the admin's alike, tell a person that a rule refused.

The API says it with a code; a page says it in words: the error's message as an error
message on the page, and its field messages on the form's fields when the form is shown
again.
"""

from django import forms
from django.contrib import messages
from django.http import HttpRequest

from policies.errors import DomainError


def show_domain_error(
    request: HttpRequest,
    exc: DomainError,
    *,
    form: forms.Form | None = None,
    field: str | None = None,
) -> None:
    """Show why a rule refused: the message on the page, each field message on its field.

    A field message for a field the form lacks goes on the form as a whole. `field` names
    the form field an error without field messages is about (an upload's file), so the form
    shows the message beside it too.
    """
    if form is not None:
        for name, errors in exc.fields.items():
            form.add_error(name if name in form.fields else None, errors)
        if not exc.fields and field is not None:
            form.add_error(field, exc.message)
    messages.error(request, exc.message)
