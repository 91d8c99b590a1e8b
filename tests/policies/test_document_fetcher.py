"""The documents' URL fetcher in the production profile: the templates name the hashed
copies collectstatic made, which only STATIC_ROOT holds."""

import pytest
from django.core.exceptions import SuspiciousFileOperation

from policies import documents
from policies.documents import BASE_URL, ProjectStaticFetcher


@pytest.fixture
def collected(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    (settings.STATIC_ROOT / "documents").mkdir(parents=True)
    (settings.STATIC_ROOT / "documents" / "logo.11f273460c79.svg").write_bytes(b"<svg/>")
    (tmp_path / "secret.txt").write_text("not a static file")
    return settings.STATIC_ROOT


def test_a_collected_hashed_static_file_is_served_to_the_renderer(collected):
    response = ProjectStaticFetcher().fetch(BASE_URL + "static/documents/logo.11f273460c79.svg")

    assert response.read() == b"<svg/>"
    assert response.content_type == "image/svg+xml"


def test_nothing_outside_the_collected_files_is_served(collected):
    # The finders refuse the climb first; what they let through, the collected files do.
    with pytest.raises((SuspiciousFileOperation, ValueError)):
        ProjectStaticFetcher().fetch(BASE_URL + "static/../secret.txt")
    assert documents._collected("../secret.txt") is None
