"""Judging a Google Cloud load balancer's SSL policy (DOM-03).

A global external Application Load Balancer negotiates TLS with clients as
the SSL policy on its target HTTPS proxy says: a profile (the set of cipher
suites) and a minimum TLS version. What is asked of it:

- profile MODERN or RESTRICTED. COMPATIBLE, Google's default when no policy
  is attached, adds the 3DES suite (TLS_RSA_WITH_3DES_EDE_CBC_SHA, Sweet32).
  FIPS_202205 is accepted too: it enables only the four ECDHE AES-GCM suites,
  a subset of RESTRICTED's, and Google refuses it with a minimum below TLS 1.2.
  CUSTOM is judged by the suites it enables: any CBC, 3DES or RC4 suite is a
  problem, since whoever writes a custom list chose every suite on it.
- minTlsVersion TLS_1_2 or TLS_1_3, set on the policy itself, even for
  RESTRICTED (whose suites already need TLS 1.2): the setting is what stays
  true when the profile changes.

MODERN still enables the ECDHE and RSA CBC suites (Google's profile table).
The policy check accepts it (its minimum version is what DOM-03 asks of a
policy); the scan of what is served (Mozilla's profile,
readiness.tls_profile) is what names those suites, so RESTRICTED is what
passes both.
"""

from __future__ import annotations

from readiness.drivers.dns import SslPolicy

GOOD_PROFILES = ("MODERN", "RESTRICTED", "FIPS_202205")
GOOD_MIN_TLS = ("TLS_1_2", "TLS_1_3")
WEAK_MARKS = ("_CBC_", "3DES", "RC4")
NEEDS_PROFILE = "needs MODERN or RESTRICTED"


def weak_suites(features: list[str]) -> list[str]:
    """The CBC, 3DES and RC4 suites among ``features``, in their order."""
    return [f for f in features if any(mark in f.upper() for mark in WEAK_MARKS)]


def ssl_policy_problems(policy: SslPolicy) -> list[str]:
    """What is wrong with ``policy`` for DOM-03, one line each naming the
    policy; empty when it passes."""
    where = f"SSL policy {policy.name}"
    out: list[str] = []
    profile = policy.profile
    if profile == "COMPATIBLE":
        out.append(f"{where}: profile COMPATIBLE allows CBC and 3DES suites ({NEEDS_PROFILE})")
    elif profile == "CUSTOM":
        # enabledFeatures is Compute's own reading; customFeatures what was asked for.
        weak = weak_suites(policy.enabled_features or policy.custom_features)
        if weak:
            out.append(
                f"{where}: profile CUSTOM enables CBC/3DES/RC4 suites {', '.join(weak)} "
                "(needs AEAD suites only, as RESTRICTED)"
            )
    elif profile not in GOOD_PROFILES:
        out.append(
            f"{where}: profile {profile or '(none)'} is not one the gate knows ({NEEDS_PROFILE})"
        )
    if policy.min_tls_version not in GOOD_MIN_TLS:
        out.append(
            f"{where}: minTlsVersion {policy.min_tls_version or '(none)'} (needs TLS_1_2 or better)"
        )
    return out
