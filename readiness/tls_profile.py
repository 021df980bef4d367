"""Mozilla's server-side TLS profiles, and what a scan offers outside one.

The profile is Mozilla's own data as sslyze ships it (``5.7.json``), so the
gate and ``sslyze --mozilla_config`` judge the same lists. DOM-03 judges
protocol versions, cipher suites and key-exchange curves; the certificate
parts of a profile are DOM-01/02/06's, with the gate's own thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sslyze.mozilla_tls_profile.tls_config_checker import (
    MozillaTlsConfiguration,
    TlsConfigurationEnum,
)

from readiness.drivers.tls_scan import TlsScan

ProfileName = Literal["intermediate", "modern"]


@dataclass(frozen=True)
class TlsProfile:
    name: str
    versions: frozenset[str]
    suites: frozenset[str]  # TLS 1.2 and below, IANA names
    tls13_suites: frozenset[str]
    curves: frozenset[str]  # SECG names, as sslyze reports curves
    openssl_suites: tuple[str, ...]  # the same suites in OpenSSL's names, to configure a server

    @property
    def lowest(self) -> str:
        return min(self.versions)

    @property
    def label(self) -> str:
        return f"Mozilla {self.name}"


def mozilla(name: ProfileName) -> TlsProfile:
    config = MozillaTlsConfiguration.get(TlsConfigurationEnum(name))
    return TlsProfile(
        name=name,
        versions=frozenset(config.tls_versions),
        suites=frozenset(config.ciphers.iana),
        tls13_suites=frozenset(config.ciphersuites),
        curves=frozenset(config.tls_curves),
        openssl_suites=tuple(sorted(config.ciphers.openssl)),
    )


def profile_problems(scan: TlsScan, profile: TlsProfile, who: str) -> list[str]:
    """One line per kind of offence, each naming what is offered: versions
    outside the profile first (the graver finding), then suites per version,
    so a front whose only fault is its cipher list leads with their names."""
    problems = []
    beyond = [v for v in scan.versions if v not in profile.versions]
    if beyond:
        problems.append(
            f"DOM-03 {who} accepts {', '.join(beyond)}; {profile.label} allows only "
            f"{', '.join(sorted(profile.versions))}"
        )
    for version, suites in scan.accepted.items():
        allowed = profile.tls13_suites if version == "TLSv1.3" else profile.suites
        extra = [s for s in suites if s not in allowed]
        if extra and version in profile.versions:  # a version outside is named above
            problems.append(
                f"DOM-03 {who} {version} offers suites outside {profile.label}: {', '.join(extra)}"
            )
    if not any(v in profile.versions for v in scan.versions):
        problems.append(
            f"DOM-03 {who} accepts none of {', '.join(sorted(profile.versions))} "
            f"(offered: {', '.join(scan.versions) or 'nothing'})"
        )
    curves = [c for c in scan.curves if c not in profile.curves]
    if curves:
        problems.append(
            f"DOM-03 {who} accepts curves outside {profile.label}: {', '.join(curves)} "
            f"(allowed: {', '.join(sorted(profile.curves))})"
        )
    return problems
