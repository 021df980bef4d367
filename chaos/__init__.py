"""The chaos cases (CHAOS-01..04), written once as experiments (``cases.py``);
the rig they run on is built by the stand-in (fixtures/chaos)."""
