"""The Russian catalogue is complete: every message has its translation, none left fuzzy."""

import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

PO = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"


def entries() -> list[str]:
    return PO.read_text(encoding="utf-8").split("\n\n")[1:]


def fields(entry: str) -> dict[str, str]:
    """Return the entry's msgid, msgid_plural and msgstr values, continuation lines joined."""
    values, current = {}, None
    for line in entry.splitlines():
        if match := re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line):
            current = match[1]
            values[current] = match[2]
        elif line.startswith('"') and current:
            values[current] += line[1:-1]
    return values


def test_every_message_has_a_russian_translation():
    untranslated = [
        values["msgid"]
        for values in map(fields, entries())
        if any(not text for key, text in values.items() if key.startswith("msgstr"))
    ]

    assert untranslated == []


def test_no_translation_is_left_fuzzy():
    assert [entry for entry in entries() if "#, fuzzy" in entry] == []


def test_the_compiled_catalogue_is_the_one_in_use():
    with translation.override("ru"):
        assert translation.gettext("Settlement act") == "Страховой акт"
        assert translation.gettext("Waiting for sign-off") == "Ждут утверждения"
