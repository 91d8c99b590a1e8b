"""The notes the system writes on a claim's log, kept as a code and its parameters and put
into words when read, in the reader's language: a note written in words would stay in
the language of the moment it was written (a worker's, a seller's), whoever reads it."""

from decimal import Decimal

from claims.choices import SystemNote
from claims.templatetags.money import rub

# Parameters that are amounts of money, stored as text ("1234.50") and shown as `1 234,50 ₽`.
MONEY_PARAMS = {"payable", "amount"}


def system_note(code: str, **params) -> dict:
    """Return the log fields of the system's note `code` with its parameters."""
    stored = {name: str(value) for name, value in params.items()}
    return {"note_code": code, "note_params": stored}


def system_note_text(*, note_code: str = "", note_params: dict | None = None) -> str:
    """Return the system's note in the active language; "" for no note."""
    if not note_code:
        return ""
    shown = {
        name: rub(Decimal(value)) if name in MONEY_PARAMS else value
        for name, value in (note_params or {}).items()
    }
    return str(SystemNote(note_code).label) % shown


def transition_note(step) -> str:
    """Return a logged step's note as its reader reads it: the person's words as written,
    then what the system said of the step, in the reader's language."""
    system = system_note_text(note_code=step.note_code, note_params=step.note_params)
    return "\n".join(filter(None, [step.note, system]))
