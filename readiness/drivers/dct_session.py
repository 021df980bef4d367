"""A long-lived `dct` process: the real CLI entry point, started once.

Most of a `dct` invocation is interpreter and import start-up (about 5 s of
6-8 s here); the work itself takes 1-2 s. A gate run makes eight or more calls
(validate and render, across warehouse variants), so each pytest worker keeps
one `dct` process and sends it command lines. Each call still goes through
dct's own click application, argument parsing and project loading, with the
call's environment and working directory; only the process is reused.

Run as ``python -m readiness.drivers.dct_session --reply-fd N``: one JSON
request per stdin line (``args``, ``cwd``, ``env``), one JSON reply per line
on fd N (``rc``, ``stdout``, ``stderr``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class SessionError(Exception):
    """The dct session died or did not answer in time."""


def _serve(reply_fd: int) -> None:
    from dbt_charts.cli.main import app

    base_env = dict(os.environ)
    with os.fdopen(reply_fd, "w", buffering=1) as replies:
        for line in sys.stdin:
            req = json.loads(line)
            os.environ.clear()
            os.environ.update({**base_env, **req.get("env", {})})
            os.chdir(req["cwd"])
            out, err = io.StringIO(), io.StringIO()
            rc: int = 0
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    # Outside standalone mode click returns the code of an Exit
                    # (`raise typer.Exit(1)`) rather than raising it.
                    code = app(req["args"], standalone_mode=False)
                    rc = code if isinstance(code, int) and not isinstance(code, bool) else 0
                except SystemExit as e:
                    rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                except Exception as e:  # a crash in dct is a finding, reported like the CLI would
                    rc = 1
                    err.write(f"{type(e).__name__}: {e}\n")
            replies.write(
                json.dumps({"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}) + "\n"
            )


class DctSession:
    """Client side: start lazily, one request at a time, bounded by a timeout."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._reply: Any = None

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "readiness.drivers.dct_session", "--reply-fd", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        os.close(write_fd)
        self._reply = os.fdopen(read_fd, "r")

    def run(
        self, args: list[str], cwd: Path, env: dict[str, str], timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps({"args": args, "cwd": str(cwd), "env": env}) + "\n")
            self._proc.stdin.flush()
        except OSError as e:  # the process died between the check and the write
            self.close()
            raise SessionError(f"dct session exited before `dct {' '.join(args[:2])}`: {e}") from e
        deadline = time.monotonic() + timeout_s
        ready, _, _ = select.select([self._reply], [], [], max(0.0, deadline - time.monotonic()))
        line = self._reply.readline() if ready else ""
        if not line:
            self.close()
            why = "did not answer" if not ready else "exited"
            raise SessionError(
                f"dct session {why} within {timeout_s:.0f} s for `dct {' '.join(args[:2])}`"
            )
        body = json.loads(line)
        return subprocess.CompletedProcess(
            ["dct", *args], body["rc"], body["stdout"], body["stderr"]
        )

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                if self._proc.stdin:
                    self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._reply is not None:
            self._reply.close()
            self._reply = None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reply-fd", type=int, required=True)
    _serve(parser.parse_args().reply_fd)
