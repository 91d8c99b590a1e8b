"""Fail when a pinned dependency (constraints.txt) has a known vulnerability that a release fixes.

pip-audit reports every known vulnerability and has no switch for "only those with a fix":
it runs with `--format json` and this script fails on the vulnerabilities that carry
`fix_versions` (bump the pin), and only shows those without a fix (nothing to bump to) and
the packages the vulnerability service could not look up.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints.txt"


def findings(report: dict) -> tuple[list[str], list[str], list[str]]:
    """Return the report's fixable vulnerabilities, its unfixed ones and the unaudited packages."""
    fixable, unfixed, unaudited = [], [], []
    for dependency in report["dependencies"]:
        if "skip_reason" in dependency:
            unaudited.append(dependency["name"])
        for vuln in dependency.get("vulns", []):
            line = f"{dependency['name']}=={dependency['version']}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line}, fixed in {', '.join(vuln['fix_versions'])}")
            else:
                unfixed.append(f"{line}, no fixed release yet")
    return fixable, unfixed, unaudited


def verdict(report: dict) -> int:
    """Print what the audit found; return 1 when a pin has a fixable vulnerability, else 0."""
    fixable, unfixed, unaudited = findings(report)
    for line in unfixed:
        print(f"pip-audit: known, not fixable yet: {line}")
    if unaudited:
        print(
            f"pip-audit: WARNING: {len(unaudited)} of {len(report['dependencies'])} pins could "
            f"not be looked up by the vulnerability service: {', '.join(unaudited[:10])}"
            + (" …" if len(unaudited) > 10 else "")
        )
    for line in fixable:
        print(f"pip-audit: VULNERABLE: {line}: bump the pin in constraints.txt", file=sys.stderr)
    if not fixable:
        audited = len(report["dependencies"]) - len(unaudited)
        print(f"pip-audit: no fixable vulnerability in the {audited} pins looked up")
    return 1 if fixable else 0


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "audit.json"
        # Every pin is exact: nothing to resolve, so no virtualenv to build.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--requirement",
                str(CONSTRAINTS),
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(output),
            ],
            check=False,
        )
        if not output.exists():
            print("pip-audit: it wrote no report (see its error above)", file=sys.stderr)
            return 2
        return verdict(json.loads(output.read_text()))


if __name__ == "__main__":
    sys.exit(main())
