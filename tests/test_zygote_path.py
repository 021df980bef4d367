"""The container zygote starts under a work directory longer than AF_UNIX's
107-byte socket path limit (a checkout or pytest tmp dir deep enough once
broke the distributed load run), and leaves no socket file behind."""

from __future__ import annotations

from fixtures.cloudrun.runtime import stand_in_env
from fixtures.cloudrun.zygote import Zygote


def test_the_zygote_starts_under_a_deep_work_directory(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(str(deep / "zygote.sock")) > 107
    z = Zygote(deep, stand_in_env())
    try:
        z._wait()
        assert z.proc.poll() is None
    finally:
        z.close()
    assert z.proc.wait(timeout=10) is not None
    assert not (deep / "zygote.sock").exists()
