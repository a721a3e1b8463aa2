"""Known vulnerabilities in the installed dependencies, where an advisory source answers.

pip-audit asks PyPI's JSON API (then OSV) about each installed package. Where
neither answers — a registry mirror without that API, or no network beyond the
registries — every package comes back "could not be audited": that is reported
as skipped, not as clean, and CI goes on. Any vulnerability found fails CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def audit(service: str) -> dict | None:
    """pip-audit's JSON report from one advisory service; None when it could not run."""
    try:
        done = subprocess.run(
            [str(PIP_AUDIT), "-s", service, "-f", "json", "--progress-spinner", "off"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        return json.loads(done.stdout)
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return None


def main() -> int:
    for service in ("pypi", "osv"):
        report = audit(service)
        if report is None:
            continue
        deps = report.get("dependencies", [])
        looked_up = [d for d in deps if "skip_reason" not in d]
        if not looked_up:
            continue  # this source knows none of them: try the next one
        vulnerable = [d for d in looked_up if d.get("vulns")]
        for dep in vulnerable:
            ids = ", ".join(v["id"] for v in dep["vulns"])
            print(f"pip-audit: {dep['name']} {dep['version']}: {ids}")
        if vulnerable:
            return 1
        print(f"pip-audit ({service}): no known vulnerabilities in {len(looked_up)} packages")
        return 0
    print("pip-audit: skipped, no advisory source answered (PyPI JSON API, OSV)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
