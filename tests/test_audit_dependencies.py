"""CI's dependency audit fails on a pinned vulnerability that a release fixes, and only then."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "audit_dependencies.py"


@pytest.fixture(scope="module")
def audit():
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(*dependencies: dict) -> dict:
    """Return a report shaped as `pip-audit --format json` writes it."""
    return {"dependencies": list(dependencies), "fixes": []}


def vuln(vuln_id: str, *fix_versions: str) -> dict:
    return {"id": vuln_id, "fix_versions": list(fix_versions), "aliases": [], "description": ""}


def test_a_vulnerability_with_a_fixed_release_fails_the_audit(audit, capsys):
    found = report(
        {"name": "django", "version": "5.2.0", "vulns": [vuln("PYSEC-2025-1", "5.2.1")]},
        {"name": "celery", "version": "5.7.0", "vulns": []},
    )

    assert audit.verdict(found) == 1
    assert "django==5.2.0: PYSEC-2025-1, fixed in 5.2.1" in capsys.readouterr().err


def test_a_vulnerability_without_a_fix_is_shown_and_passes(audit, capsys):
    found = report({"name": "pillow", "version": "13.0.0", "vulns": [vuln("GHSA-xxxx")]})

    assert audit.verdict(found) == 0
    assert "pillow==13.0.0: GHSA-xxxx, no fixed release yet" in capsys.readouterr().out


def test_packages_the_service_cannot_look_up_are_named_and_pass(audit, capsys):
    found = report(
        {"name": "celery", "version": "5.7.0", "vulns": []},
        {"name": "private-pkg", "skip_reason": "Dependency not found on PyPI"},
    )

    assert audit.verdict(found) == 0
    assert "1 of 2 pins could not be looked up" in capsys.readouterr().out
