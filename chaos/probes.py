"""What the chaos cases read: a board, a health route, a process's pid.

Every read is one bounded HTTP request; every wait polls with a deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

ERROR_CODE = re.compile(r"ERR-[A-Z][A-Z0-9-]+")


@dataclass(frozen=True)
class Answer:
    """One request: status (None: no answer), seconds, and what it said."""

    status: int | None
    seconds: float
    error_codes: tuple[str, ...] = ()
    error: str = ""

    @property
    def served(self) -> bool:
        """A normal page: 200 and no error card."""
        return self.status == 200 and not self.error_codes

    @property
    def defined_error(self) -> bool:
        """An answer that says what is wrong: a 5xx, from the service (naming
        an error code) or from the platform (503/504)."""
        return self.status is not None and (
            (self.status >= 500 and bool(self.error_codes)) or self.status in (502, 503, 504)
        )

    def brief(self) -> dict[str, object]:
        return {
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "error_codes": list(self.error_codes),
            **({"error": self.error} if self.error else {}),
        }


def get(url: str, timeout_s: float) -> Answer:
    started = time.monotonic()
    try:
        r = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as e:
        return Answer(None, time.monotonic() - started, error=f"{type(e).__name__}: {e}"[:200])
    codes = tuple(sorted(set(ERROR_CODE.findall(r.text))))[:5]
    return Answer(r.status_code, time.monotonic() - started, codes)


def pid_of(process_url: str, timeout_s: float) -> int | None:
    """The pid a `dct serve` names on its /health (None: no answer)."""
    try:
        body = httpx.get(f"{process_url}/health", timeout=timeout_s).json()
    except (httpx.HTTPError, ValueError):
        return None
    pid = body.get("pid") if isinstance(body, dict) else None
    return pid if isinstance(pid, int) else None


def poll(
    read: Callable[[], Answer], done: Callable[[Answer], bool], within_s: float, every_s: float
) -> tuple[Answer, float | None, int]:
    """Read until ``done`` or the deadline: the last answer, seconds until done
    (None: never), and how many reads it took."""
    started = time.monotonic()
    reads = 0
    while True:
        answer = read()
        reads += 1
        elapsed = time.monotonic() - started
        if done(answer):
            return answer, elapsed, reads
        if elapsed >= within_s:
            return answer, None, reads
        time.sleep(min(every_s, max(0.0, within_s - elapsed)))


def said(a: Answer) -> str:
    """One answer in words: ``HTTP 500 (ERR-WAREHOUSE-CONNECTION) in 0.31 s``."""
    if a.status is None:
        return f"no answer in {a.seconds:.1f} s ({a.error.split(':')[0]})"
    codes = f" ({', '.join(a.error_codes)})" if a.error_codes else ""
    return f"HTTP {a.status}{codes} in {a.seconds:.2f} s"
