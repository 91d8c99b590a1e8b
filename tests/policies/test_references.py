"""The references people read out over the phone: claims, policies, bordereaux."""

import re
from collections import Counter

from django.utils import timezone

from policies.services import REFERENCE_ALPHABET, new_reference


def test_a_reference_names_its_kind_and_day_and_ends_in_eight_unambiguous_characters():
    reference = new_reference("CL")

    prefix, day, tail = reference.split("-")
    assert (prefix, day) == ("CL", f"{timezone.localdate():%y%m%d}")
    assert re.fullmatch(f"[{REFERENCE_ALPHABET}]{{8}}", tail)
    assert not set("ILOU") & set(tail)


def test_every_character_of_the_alphabet_is_drawn_about_as_often():
    drawn = Counter("".join(new_reference("CL")[-8:] for _ in range(4000)))

    # 32,000 draws: 1,000 of each expected; a biased draw (one byte in 256 mapped to
    # 32 letters unevenly) would leave some far below.
    assert set(drawn) == set(REFERENCE_ALPHABET)
    assert min(drawn.values()) > 850 and max(drawn.values()) < 1150
