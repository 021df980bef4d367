"""A check bound to an id the catalog does not have: the gate must refuse it."""

import pytest


@pytest.mark.criterion("PACK-99")
def test_bound_to_nothing():
    assert True
