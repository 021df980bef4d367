"""The chaos cases' pieces that need no rig: what counts as a defined error,
bounded polling, the kill guard, and the supervisor that restarts a process."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from chaos.cases import kill_serving
from chaos.probes import Answer, poll
from fixtures.chaos.supervisor import Supervisor
from fixtures.cloudrun.runtime import free_port


def test_a_defined_error_names_its_cause_or_comes_from_the_platform():
    assert Answer(500, 0.2, ("ERR-WAREHOUSE-CONNECTION",)).defined_error
    assert Answer(503, 4.0).defined_error and Answer(504, 4.0).defined_error
    assert not Answer(500, 0.2).defined_error  # a bare 500 says nothing
    assert not Answer(None, 5.0, error="ReadTimeout").defined_error  # a hang
    assert not Answer(200, 0.3, ("ERR-X",)).served and Answer(200, 0.3).served


def test_poll_stops_at_the_deadline_and_says_when_it_was_done():
    seen = iter([Answer(500, 0), Answer(500, 0), Answer(200, 0)])
    answer, took, reads = poll(lambda: next(seen), lambda a: a.served, 5, 0.01)
    assert answer.served and took is not None and reads == 3
    started = time.monotonic()
    _, took, reads = poll(lambda: Answer(500, 0), lambda a: a.served, 0.3, 0.05)
    assert took is None and 0.3 <= time.monotonic() - started < 2 and reads >= 2


def test_the_gate_kills_only_a_loopback_process_that_names_itself():
    with pytest.raises(RuntimeError, match="not on this machine"):
        kill_serving("http://10.1.2.3:8080", 1)
    with pytest.raises(RuntimeError, match="named no process"):
        kill_serving(f"http://127.0.0.1:{free_port()}", 1)


def test_supervisor_restarts_a_killed_process_and_stop_leaves_none(tmp_path: Path):
    pids: list[int] = []
    sup = Supervisor(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        dict(os.environ),
        tmp_path,
        tmp_path / "log",
        restart_delay_s=0.1,
        on_start=pids.append,
    ).start()
    try:
        first = sup.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert sup.wait_started(lambda: sup.pid not in (None, first), 10)
        assert sup.restarts == 1 and len(pids) == 2
        assert "restarting" in (tmp_path / "log").read_text()
    finally:
        sup.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
