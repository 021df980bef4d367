"""Root conftest: loads the gate plugin and the local stand-in plugin.

Both stay inert unless a run passes ``--env`` (``make readiness``), so the
suite's own tests (``make test``) run under plain pytest.
"""

pytest_plugins = ["readiness.plugin", "fixtures.standin.plugin"]
