"""Chaos cases as experiments: steady state before, during and after, rollbacks
that always run, and a journal judged on deviated and steady_state_met."""

from __future__ import annotations

import json

import pytest

from readiness.experiment import Action, Experiment, Journal, Probe, run


class System:
    """A toy system with a fault switch: healthy answers 200, faulted 503."""

    def __init__(self, recovers: bool = True) -> None:
        self.faulted = False
        self.recovers = recovers
        self.calls: list[str] = []

    def status(self) -> int:
        return 503 if self.faulted else 200

    def inject(self) -> None:
        self.calls.append("inject")
        self.faulted = True

    def restore(self) -> None:
        self.calls.append("restore")
        if self.recovers:
            self.faulted = False


def _case(system: System, **kw) -> Experiment:
    healthy = Probe("status", system.status, lambda s: s == 200, expects="200")
    return Experiment(
        title="toy outage",
        hypothesis=[healthy],
        method=[Action("inject", system.inject)],
        during=[Probe("defined error", system.status, lambda s: s == 503, expects="503")],
        rollbacks=[Action("restore", system.restore)],
        **kw,
    )


def test_a_case_that_holds_is_completed_not_deviated_and_has_no_problems():
    system = System()
    journal = run(_case(system))
    assert journal.status == "completed" and not journal.deviated
    assert journal.steady_states.before.steady_state_met
    assert journal.steady_states.during[0].steady_state_met
    assert journal.steady_states.after.steady_state_met
    assert system.calls == ["inject", "restore"] and journal.problems() == []
    # The journal is Chaos Toolkit-shaped JSON.
    body = json.loads(journal.model_dump_json())
    assert {
        "status",
        "deviated",
        "steady_states",
        "run",
        "rollbacks",
        "start",
        "end",
        "duration",
    } <= set(body)
    assert body["run"][0]["activity"] == {"type": "action", "name": "inject"}


def test_a_system_that_does_not_come_back_deviates_and_says_what_it_read():
    journal = run(_case(System(recovers=False)))
    assert journal.deviated and journal.status == "failed"
    assert journal.problems() == ["after the fault: status read 503, expected 200"]


def test_a_wrong_answer_during_the_fault_fails_and_still_rolls_back():
    system = System()
    case = _case(system)
    case.during = [Probe("answers fast", lambda: 30.0, lambda s: s < 5, expects="under 5 s")]
    journal = run(case)
    assert journal.status == "failed" and not journal.deviated
    assert journal.problems() == ["during the fault: answers fast read 30.0, expected under 5 s"]
    assert system.calls == ["inject", "restore"]


def test_an_unsteady_start_skips_the_method_but_runs_the_rollbacks():
    system = System()
    system.faulted = True
    journal = run(_case(system))
    assert journal.status == "failed" and journal.run == []
    assert journal.problems()[0] == "before the fault: status read 503, expected 200"
    assert system.calls == ["restore"]


def test_an_action_that_raises_aborts_and_rolls_back():
    system = System()

    def broken() -> None:
        raise RuntimeError("no permission to stop the database")

    case = _case(system)
    case.method = [Action("stop database", broken), Action("inject", system.inject)]
    journal = run(case)
    assert journal.status == "aborted" and system.calls == ["restore"]
    assert "method: stop database raised RuntimeError: no permission" in journal.problems()[0]


def test_an_interrupted_case_rolls_back_keeps_its_journal_and_propagates():
    system = System()
    kept: list[Journal] = []

    def interrupted() -> None:
        raise KeyboardInterrupt

    case = _case(system)
    case.method = [Action("inject", system.inject), Action("wait", interrupted)]
    with pytest.raises(KeyboardInterrupt):
        run(case, keep=kept.append)
    assert system.calls == ["inject", "restore"] and not system.faulted
    (journal,) = kept
    assert journal.status == "interrupted" and journal.rollbacks[0].status == "succeeded"
    assert "interrupted before the case finished" in journal.problems()[-1]


def test_a_rollback_that_raises_is_a_problem_even_when_the_rest_held():
    system = System()
    case = _case(system)

    def restore_then_fail() -> None:
        system.restore()
        raise OSError("could not remove the proxy rule")

    case.rollbacks = [Action("remove rule", restore_then_fail)]
    journal = run(case)
    assert journal.problems() == [
        "rollback: remove rule raised OSError: could not remove the proxy rule"
    ]
