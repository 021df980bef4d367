"""DOM-03: TLS 1.0 and 1.1 refused, TLS 1.2 or better accepted.

Each version is offered alone, by a client that can really speak it (proved
in memory first): a refusal is then the server's, never the client's own
security level talking (FACTS.md, "Probing TLS versions correctly").
"""

from __future__ import annotations

import pytest

from readiness.checks import fail_on, record
from readiness.drivers.tls import Outcome, TLSProbeError, legacy_client_ready, probe_version

from .conftest import label

LEGACY = ["TLSv1", "TLSv1.1"]


@pytest.fixture(scope="module")
def client_ready() -> None:
    cannot = legacy_client_ready(LEGACY)
    if cannot:
        pytest.skip(
            f"this machine's OpenSSL cannot negotiate {', '.join(cannot)} even at SECLEVEL=0: "
            "a server refusal could not be told from the client's"
        )


@pytest.mark.criterion("DOM-03")
def test_legacy_protocols_refused_modern_accepted(
    client_ready, reachable, domains, timeout_s, evidence_dir
):
    problems, detail = [], {}
    for t in domains.targets:
        host, port = t.https_address()
        seen = {}
        for version in [*LEGACY, "TLSv1.2", "TLSv1.3"]:
            try:
                probe = probe_version(host, port, t.name, version, timeout_s)
            except TLSProbeError as e:
                pytest.fail(f"DOM-03 {label(t)} {version}: {e}", pytrace=False)
            seen[version] = {"outcome": probe.outcome.value, "detail": probe.detail}
            if version in LEGACY and probe.outcome is Outcome.ACCEPTED:
                problems.append(
                    f"DOM-03 {label(t)} accepts {version} ({probe.detail}); 1.0 and 1.1 must be refused"
                )
        modern = [v for v in ("TLSv1.2", "TLSv1.3") if seen[v]["outcome"] == Outcome.ACCEPTED]
        if not modern:
            problems.append(
                f"DOM-03 {label(t)} refuses both TLS 1.2 and 1.3 ({seen['TLSv1.2']['detail']})"
            )
        detail[t.name] = seen
    record(evidence_dir, "domains/DOM-03-protocols", detail)
    fail_on(problems, "protocol findings")
