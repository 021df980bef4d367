"""A check that stops on the gate's own failure: its criterion must be `error`."""

import pytest

from readiness.checks import GateError


@pytest.mark.criterion("PACK-04")
def test_scratch_copy_cannot_be_built():
    raise GateError("edge rehearsal on postgres: role reader lacks CREATEDB")
