"""The gate as a pytest plugin: collect checks by criterion, judge, leave evidence.

Inert unless ``--env`` is given, so the suite's own tests (``make test``) run
under plain pytest. State lives on one ``Gate`` object stashed on the config,
as pytest's own junitxml keeps its state; nothing is global.

Under pytest-xdist the controller prepares the stand-in once, hands workers the
prepared environment through ``workerinput``, and alone writes the evidence
from the reports workers send back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Generator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from readiness import allure_evidence, evidence, history, hookspecs, landing
from readiness.checks import GATE_ERROR, GateError
from readiness.config import ConfigError, EnvConfig, load_env
from readiness.criteria import Catalog, CatalogError, Tier, load_catalog
from readiness.gate import Gate, build_report
from readiness.gatefile import GateReport, Scope
from readiness.html_report import HtmlSummary
from readiness.measurement import USER_PROPERTY, Measurement
from readiness.selection import select
from readiness.standin import StandinError
from readiness.verdict import Outcome
from readiness.waivers import WaiverFileError, WaiverSet, load_waivers

gate_key = pytest.StashKey["Gate"]()
_WORKER_KEY = "readiness"


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").replace(" ", ",").split(",") if v.strip()]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("readiness", "Dataface launch gate")
    group.addoption(
        "--env", dest="readiness_env", help="environment: a name in envs/ or a path to a YAML file"
    )
    group.addoption(
        "--surfaces", dest="readiness_surfaces", help="judge only these surfaces (comma list)"
    )
    group.addoption(
        "--criteria", dest="readiness_criteria", help="judge only these criterion ids (comma list)"
    )
    group.addoption(
        "--fault", dest="readiness_fault", help="inject this named fault into the local stand-in"
    )
    group.addoption(
        "--reports-dir",
        dest="readiness_reports",
        default="reports",
        help="where run directories go",
    )
    group.addoption(
        "--catalog", dest="readiness_catalog", default="criteria.yaml", help="criteria catalog"
    )
    group.addoption(
        "--waivers",
        dest="readiness_waivers",
        default=None,
        help="deferrals file (default waivers.yaml; a file named here must exist)",
    )
    group.addoption(
        "--rehearse",
        dest="readiness_rehearse",
        action="store_true",
        default=None,
        help="let checks that change the environment run (REHEARSE=1); the default for a "
        "stand-in env; refused for kind: production",
    )
    group.addoption(
        "--soak",
        dest="readiness_soak",
        action="store_true",
        default=False,
        help="run the soak (LOAD-03) at its nightly length (make soak); the default is the "
        "short soak make readiness runs",
    )
    group.addoption(
        "--run-id",
        dest="readiness_run_id",
        help="name of the run directory (default: time-env-random)",
    )
    group.addoption(
        "--today", dest="readiness_today", help="judge waiver expiry as of this date (YYYY-MM-DD)"
    )
    group.addoption(
        "--render-cache",
        dest="readiness_render_cache",
        default=os.environ.get("READINESS_RENDER_CACHE") or None,
        help="reuse packs renders whose inputs are unchanged, kept in this directory "
        "(READINESS_RENDER_CACHE; default off; see readiness/drivers/render_cache.py)",
    )
    group.addoption(
        "--blocking-tiers",
        dest="readiness_blocking",
        default="critical",
        help="tiers whose failures make NO-GO (comma list; default: critical)",
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def _scope(
    opt_surfaces: str | None, opt_criteria: str | None, catalog: Catalog
) -> tuple[Scope, list[str]]:
    errors: list[str] = []
    surfaces = _split(opt_surfaces or os.environ.get("SURFACES"))
    criteria = _split(opt_criteria or os.environ.get("CRITERIA"))
    for s in surfaces:
        if s not in catalog.surfaces:
            errors.append(f"unknown surface {s!r} (known: {', '.join(catalog.surfaces)})")
    for c in criteria:
        try:
            catalog.require(c)
        except KeyError as e:
            errors.append(str(e.args[0]))
    chosen = [s for s in surfaces if s in catalog.surfaces] or (
        [catalog.criteria[c].surface for c in criteria if c in catalog.criteria]
    )
    all_surfaces = list(catalog.surfaces)
    scope = Scope(
        surfaces=sorted(set(chosen), key=all_surfaces.index) if chosen else all_surfaces,
        criteria=criteria or None,
        partial=bool(surfaces or criteria),
    )
    return scope, errors


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Mark a check that stopped on the gate's own failure (GateError), so its
    criterion is ``error``, not a failure of the system judged."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(GateError):
        report.user_properties.append((GATE_ERROR, str(call.excinfo.value)))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    env_opt = config.getoption("readiness_env")
    if not env_opt:
        return
    root = config.rootpath
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        gate = _gate_from_worker(root, worker[_WORKER_KEY])
        config.stash[gate_key] = gate
        config.pluginmanager.register(_WorkerHooks(gate), "readiness-worker")
        # The checks run here, so Allure must write here: a worker gets the
        # controller's command line, not the options it set.
        _allure_into(config, gate.run_dir)
        return

    _stop_on_sigterm(config)
    try:
        catalog = load_catalog(root / config.getoption("readiness_catalog"))
    except CatalogError as e:
        raise pytest.UsageError(f"criteria catalog: {e}") from e
    scope, scope_errors = _scope(
        config.getoption("readiness_surfaces"), config.getoption("readiness_criteria"), catalog
    )
    env_name = Path(env_opt).stem if env_opt.endswith((".yaml", ".yml")) else env_opt
    run_id = config.getoption("readiness_run_id") or evidence.new_run_id(env_name)
    reports = root / config.getoption("readiness_reports")
    run_dir = evidence.prepare_run_dir(reports, run_id)
    gate = Gate(
        root=root,
        catalog=catalog,
        env_name=env_name,
        run_id=run_id,
        run_dir=run_dir,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        scope=scope,
        fault=config.getoption("readiness_fault"),
        usage_errors=list(scope_errors),
    )
    try:
        gate.blocking = frozenset(Tier(t) for t in _split(config.getoption("readiness_blocking")))
    except ValueError:
        gate.usage_errors.append(
            f"--blocking-tiers {config.getoption('readiness_blocking')!r}: "
            f"tiers are {', '.join(t.value for t in Tier)}"
        )
    config.stash[gate_key] = gate
    # Registered before any stand-in builder registers its own shutdown, so it
    # runs after them (cleanups run last-in, first-out): no service loses its
    # data directory while it is still running.
    if not os.environ.get("READINESS_KEEP_WORK"):
        config.add_cleanup(lambda: shutil.rmtree(gate.workroot, ignore_errors=True))

    given_today = config.getoption("readiness_today")
    try:
        today = date.fromisoformat(given_today or datetime.now(UTC).date().isoformat())
    except ValueError:
        gate.usage_errors.append(f"--today {given_today!r}: expected a date, YYYY-MM-DD")
        today = datetime.now(UTC).date()
    waivers_opt = config.getoption("readiness_waivers")
    try:
        gate.waivers = load_waivers(
            root / (waivers_opt or "waivers.yaml"),
            set(catalog.criteria),
            today,
            required=waivers_opt is not None,
        )
    except WaiverFileError as e:
        # A malformed deferral file stops the run (InSpec does the same): a
        # deferral that silently did not apply would be judged as a failure.
        gate.usage_errors.extend(f"waivers: {p}" for p in e.problems)

    if not gate.usage_errors:
        _load_environment(config, gate, env_opt)

    # Evidence paths are decided here, before junitxml, pytest-html and allure
    # read their options in their own pytest_configure.
    if not config.option.xmlpath:
        config.option.xmlpath = str(run_dir / "junit.xml")
    if getattr(config.option, "htmlpath", "missing") is None:
        config.option.htmlpath = str(run_dir / "report.html")
        config.option.self_contained_html = True
    _allure_into(config, run_dir)
    config.pluginmanager.register(_ControllerHooks(gate, config), "readiness-controller")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistBridge(gate), "readiness-xdist")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlSummary(gate), "readiness-html")


def _allure_into(config: pytest.Config, run_dir: Path) -> None:
    """allure-pytest reads its option in its own pytest_configure, after ours."""
    if getattr(config.option, "allure_report_dir", "missing") is None:
        config.option.allure_report_dir = str(run_dir / "allure-results")


def _stop_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (what `timeout`, CI cancels and process supervisors send) stops
    the run like Ctrl-C: pytest unwinds, every cleanup runs (no stand-in
    process is left), and the evidence says the run was interrupted."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, previous))


def _load_environment(config: pytest.Config, gate: Gate, env_opt: str) -> None:
    try:
        env = load_env(env_opt, gate.root)
    except ConfigError as e:
        gate.usage_errors.append(f"environment: {e}")
        return
    # Reviewers know an environment by its name:, not by the file it came from.
    gate.env_name = env.env.name
    asked = config.getoption("readiness_rehearse") or os.environ.get("REHEARSE", "") in (
        "1",
        "true",
        "yes",
    )
    if asked and env.env.kind == "production":
        gate.usage_errors.append(
            f"{env.source.name} is kind: production: --rehearse (REHEARSE=1) is refused; "
            "rehearsals deploy, move traffic, rotate secrets and send events, and never run "
            "against production"
        )
        return
    # A stand-in is the gate's own: rehearsing there changes nothing anyone uses.
    gate.rehearse = bool(asked) or env.env.standin
    if gate.fault and not env.env.standin:
        gate.usage_errors.append(
            f"--fault {gate.fault}: faults apply only to a stand-in environment"
        )
        return
    if env.env.standin:
        try:
            prepared = config.hook.pytest_readiness_standin(
                config=config,
                env=env,
                fault=gate.fault,
                workdir=gate.workroot / "standin",
                surfaces=list(gate.scope.surfaces),
            )
        except (StandinError, ConfigError) as e:
            gate.usage_errors.append(f"stand-in: {e}")
            return
        except KeyboardInterrupt as e:
            # Stopped while the stand-in was being built: judge nothing, but
            # still write evidence that says so (and let every cleanup run).
            gate.interrupted = True
            gate.usage_errors.append(f"interrupted ({e or 'SIGINT'}) while building the stand-in")
            return
        except Exception as e:  # a broken builder is reported, and cleanups still run
            gate.usage_errors.append(f"stand-in failed: {type(e).__name__}: {e}")
            return
        if prepared is None:
            gate.usage_errors.append(
                f"{env.source.name} sets standin: true but no stand-in plugin is loaded"
            )
            return
        env = prepared
    gate.env = env
    (gate.run_dir / "env.json").write_text(env.to_json())


def _gate_from_worker(root: Path, payload: str) -> Gate:
    body = json.loads(payload)
    gate = Gate(
        root=root,
        catalog=load_catalog(Path(body["catalog"])),
        env_name=body["env_name"],
        run_id=body["run_id"],
        run_dir=Path(body["run_dir"]),
        started_at=body["started_at"],
        scope=Scope.model_validate(body["scope"]),
        fault=body["fault"],
        rehearse=body.get("rehearse", False),
    )
    if body["env"]:
        gate.env = EnvConfig.from_json(body["env"])
    gate.waivers = WaiverSet.model_validate_json(body["waivers"])
    gate.usage_errors = list(body["usage_errors"])
    return gate


class _XdistBridge:
    """Hands each xdist worker the controller's prepared gate."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        found = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        for err in json.loads(found) if found else []:
            if err not in self.gate.usage_errors:
                self.gate.usage_errors.append(err)

    def pytest_configure_node(self, node: Any) -> None:
        g = self.gate
        node.workerinput[_WORKER_KEY] = json.dumps(
            {
                "catalog": str(g.root / node.config.getoption("readiness_catalog")),
                "env_name": g.env_name,
                "run_id": g.run_id,
                "run_dir": str(g.run_dir),
                "started_at": g.started_at,
                "scope": g.scope.model_dump(),
                "fault": g.fault,
                "rehearse": g.rehearse,
                "env": g.env.to_json() if g.env else None,
                "waivers": g.waivers.model_dump_json(),
                "usage_errors": g.usage_errors,
            }
        )


def get_gate(config: pytest.Config) -> Gate | None:
    return config.stash.get(gate_key, None)


class _WorkerHooks:
    """On an xdist worker: select and label items; the controller judges."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        select(self.gate, config, items)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        session.config.workeroutput[_WORKER_KEY] = json.dumps(self.gate.usage_errors)  # type: ignore[attr-defined]


class _ControllerHooks:
    """Records outcomes and writes the evidence."""

    def __init__(self, gate: Gate, config: pytest.Config) -> None:
        self.gate = gate
        self.config = config

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        select(self.gate, config, items)

    def pytest_report_header(self) -> list[str]:
        """Say what is being judged, and every settings problem, before any test runs."""
        g = self.gate
        scope = (
            ", ".join(g.scope.criteria or g.scope.surfaces) if g.scope.partial else "all surfaces"
        )
        tiers = ",".join(sorted(t.value for t in g.blocking))
        lines = [
            f"launch gate: env {g.env_name}, scope {scope}, blocking tiers {tiers}"
            + (f", fault {g.fault}" if g.fault else ""),
            f"evidence: {g.run_dir}",
        ]
        lines += [f"gate error: {e}" for e in g.usage_errors + g.soft_errors]
        if g.env is not None:
            lines += [
                f"settings problem ({s}): {p}" for s, ps in g.env.problems.items() for p in ps
            ]
        return lines

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Reduce the three phases of each test to one outcome (worst wins)."""
        gate = self.gate
        ids = [v for k, v in report.user_properties if k == "criterion"]
        if not ids:
            return
        if report.when == "call":
            gate.measurements += [
                Measurement.model_validate(v)
                for k, v in report.user_properties
                if k == USER_PROPERTY
            ]
        gate_error = any(k == GATE_ERROR for k, _ in report.user_properties)
        if report.when == "call":
            kind = "failed" if report.failed else "skipped" if report.skipped else "passed"
            if report.failed and gate_error:
                kind = "error"
        elif report.failed:
            kind = "error"
        elif report.skipped:
            kind = "skipped"
        else:
            return
        before = gate.outcomes.get(report.nodeid)
        if before is None or _RANK[kind] > _RANK[before.outcome]:
            message = "" if kind == "passed" else _first_line(report)
            findings: list[str] = []
            if kind in ("failed", "error"):
                # fail_on's whole text: every problem it listed, not just the first line.
                crash = getattr(report.longrepr, "reprcrash", None)
                findings = Outcome.problems_in(
                    crash.message if crash is not None else str(report.longrepr or "")
                )
            if gate_error:
                text = next(str(v) for k, v in report.user_properties if k == GATE_ERROR)
                message = f"gate error: {text.strip().splitlines()[0] if text.strip() else text}"
                findings = [message]
            gate.outcomes[report.nodeid] = Outcome(
                nodeid=report.nodeid,
                outcome=kind,
                message=message,
                duration_s=report.duration,
                findings=findings,
            )
        gate.criteria_of[report.nodeid] = ids

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        gate = self.gate
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            gate.interrupted = True
        gate.report = build_report(gate)
        evidence.write_gate(gate.run_dir, gate.report)
        allure_evidence.write_config(gate.root, gate.catalog, gate.run_dir, gate.report)
        session.exitstatus = gate.report.exit_code

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        r = self.gate.report
        if r is None:
            return
        tr = terminalreporter
        headline = "INTERRUPTED" if r.interrupted else r.verdict.value
        tr.section(f"launch gate: {headline}", sep="=", bold=True)
        for err in r.errors:
            tr.write_line(f"gate error: {err}", red=True)
        for c in r.criteria:
            if not c.in_scope or c.status == "pass":
                continue
            tr.write_line(
                f"{c.status.value:<13} {c.id:<9} {c.tier.value:<11} {c.owner:<22} {c.message[:150]}"
            )
        tr.write_line("counts: " + ", ".join(f"{k} {v}" for k, v in r.summary.items()))
        tr.write_line(f"evidence: {self.gate.run_dir} (gate.md, gate.json, report.html, junit.xml)")
        tr.write_line(f"verdict: {headline} (exit {r.exit_code})")

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        gate = self.gate
        timeout = gate.env.env.timeouts.command_s if gate.env else 300.0
        line = evidence.build_allure_html(gate.root, gate.run_dir, timeout)
        (gate.run_dir / "allure.txt").write_text(line + "\n")
        if gate.report is None:  # stopped before the session started
            gate.interrupted = True
            gate.report = build_report(gate)
            evidence.write_gate(gate.run_dir, gate.report)
        lines = [line]
        if not gate.interrupted:
            # gate.json is final and the manifest not yet written: what the
            # history and the landing page add is sealed with the rest.
            lines += _history_and_landing(gate, gate.report)
        evidence.write_manifest(gate.run_dir)
        text = "\n".join(lines)
        if gate.interrupted:
            # reports/latest names the newest *finished* run; this one is not.
            print(f"\n{text}\ninterrupted: evidence in {gate.run_dir}; reports/latest unchanged")
            return
        evidence.point_latest(gate.run_dir.parent, gate.run_dir)
        print(f"\n{text}\nreports/latest -> {gate.run_dir.name}")


def _history_and_landing(gate: Gate, report: GateReport) -> list[str]:
    """Record the run, re-render gate.md with what changed since the last
    comparable run, write index.html; returns lines for the terminal. A history
    that cannot be read is said, never a stopped run."""
    reports = gate.run_dir.parent
    changes: history.Changes | None = None
    trend: list[history.TrendPoint] = []
    note: str | None = None
    lines: list[str] = []
    try:
        history.record(reports, report)
        changes = history.changes(reports, report)
        # A full run's trend is of full runs: a partial run's counts are not alike.
        trend = history.trend(reports, report.env, include_partial=report.scope.partial)
    except history.HistoryError as e:
        note = f"run history not updated: {e}"
        lines.append(note)
    evidence.write_gate(gate.run_dir, report, changes)
    try:
        page = landing.write(gate.run_dir, report, changes, trend, note)
        lines.append(f"landing page: {page}")
    except Exception as e:  # a convenience page must not stop the manifest
        lines.append(f"landing page not written: {type(e).__name__}: {e}")
    return lines


def _first_line(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    for prefix in ("Failed: ", "AssertionError: "):
        text = text.removeprefix(prefix)
    return text.strip().splitlines()[0] if text.strip() else ""


_RANK = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}


@pytest.fixture(scope="session")
def gate(request: pytest.FixtureRequest) -> Gate:
    """The running gate; checks only run under ``--env``."""
    found = get_gate(request.config)
    if found is None:
        pytest.fail("readiness checks run only under the gate: pass --env (make readiness ENV=...)")
    return found


@pytest.fixture(scope="session")
def env(gate: Gate) -> EnvConfig:
    """The environment being judged (after the stand-in filled in its targets)."""
    if gate.env is None:
        pytest.fail("no environment loaded; see the gate errors above")
    return gate.env


@pytest.fixture(scope="session")
def timeout_s(env: EnvConfig) -> float:
    """The env's bound for one HTTP request, shared by every surface's drivers."""
    return env.env.timeouts.http_s


def surface_config(env: EnvConfig, name: str) -> Any:
    """A surface's typed section, or a failure naming the key that is wrong."""
    try:
        return env.surface(name)
    except ConfigError as e:
        pytest.fail(f"configuration: {e}", pytrace=False)


@pytest.fixture(scope="session")
def workdir(gate: Gate) -> Path:
    """Scratch space shared by this run's workers (never part of the evidence)."""
    path = gate.workroot / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def evidence_dir(gate: Gate) -> Path:
    """Where checks leave files a reviewer reads (hashed into manifest.json)."""
    path = gate.run_dir / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def controlplane_lock(gate: Gate, env: EnvConfig) -> FileLock:
    """One check at a time may slow the control plane's database on purpose
    (OPS-08's billing latency rehearsal); the checks that use the plane hold
    this while they run, so none is judged on a database made slow for another."""
    return FileLock(
        str(gate.workroot / "controlplane.lock"), timeout=env.env.timeouts.command_s * 4
    )


CONTROLPLANE_SURFACES = frozenset({"billing", "fivetran", "provisioning"})


@pytest.fixture(autouse=True)
def _controlplane_to_itself(request: pytest.FixtureRequest) -> Generator[None]:
    """Checks of the surfaces the control plane serves run under controlplane_lock."""
    mark = request.node.get_closest_marker("criterion")
    found = get_gate(request.config)
    criterion = (
        found.catalog.criteria.get(str(mark.args[0])) if found and mark and mark.args else None
    )
    if criterion is None or criterion.surface not in CONTROLPLANE_SURFACES:
        yield
        return
    with request.getfixturevalue("controlplane_lock"):
        yield


@pytest.fixture(scope="session")
def serving_lock(gate: Gate, env: EnvConfig) -> FileLock:
    """One check at a time drives the serving tier, across xdist workers: a
    load profile and a rollout rehearsal (or a health probe's p95) would
    otherwise measure each other. Reentrant within a worker."""
    return FileLock(str(gate.workroot / "serving.lock"), timeout=env.env.timeouts.command_s * 4)
