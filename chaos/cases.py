"""CHAOS-01..04 as experiments: steady state, fault, what must hold during
it, a rollback that always runs, and the steady state again after.

Each builder returns the experiment and a ``Figures`` its probes fill in
(times to detect and recover, events sent and recorded): the journal is the
judgement, the figures are the measurements the launch review reads.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from readiness.drivers.database_process import database_process
from readiness.drivers.http import is_loopback
from readiness.drivers.ledger import HttpLedger, wait_until
from readiness.drivers.stripe_webhooks import Delivery, StripeWebhookSender, event
from readiness.drivers.toxiproxy import Toxiproxy
from readiness.experiment import Action, Experiment, Probe
from readiness.settings.chaos import (
    AddedLatency,
    DatabaseOutage,
    ProcessCrash,
    Rig,
    WarehouseOutage,
)

from .probes import Answer, get, pid_of, poll, said


@dataclass
class Figures:
    """What a case measured; None until its probe ran."""

    values: dict[str, Any] = field(default_factory=dict)

    def set(self, **kv: Any) -> None:
        self.values.update(kv)


def _served(rig: Rig, within_s: float, timeout_s: float) -> tuple[Answer, float | None, int]:
    url = rig.serving_url + rig.board_path
    return poll(lambda: get(url, timeout_s), lambda a: a.served, within_s, 0.25)


def warehouse_outage(
    rig: Rig, cfg: WarehouseOutage, net: Toxiproxy, timeout_s: float
) -> tuple[Experiment, Figures]:
    """CHAOS-01: the warehouse goes away; boards answer a defined error fast,
    then serve again from the same process once it is back."""
    fig = Figures()
    pids: list[int | None] = []
    board = rig.serving_url + rig.board_path
    injected: list[float] = []

    def board_served() -> dict[str, Any]:
        answer, took, reads = _served(rig, cfg.recover_within_s if pids else timeout_s, timeout_s)
        if pids:  # the check after the rollback: time to recover
            fig.set(ttr_s=took)
        summary = (
            f"served after {took:.1f} s"
            if took is not None
            else f"the board still answered {said(answer)} after {reads} reads"
        )
        return {**answer.brief(), "served_after_s": took, "reads": reads, "summary": summary}

    def same_process() -> int | None:
        pids.append(pid_of(rig.process_url, timeout_s))
        return pids[-1]

    def inject() -> str:
        net.set_enabled(rig.warehouse_proxy, False)
        injected.append(time.monotonic())
        return f"proxy {rig.warehouse_proxy} disabled"

    def first_error() -> dict[str, Any]:
        answer, took, reads = poll(
            lambda: get(board, cfg.error_within_s),
            lambda a: a.defined_error,
            cfg.error_within_s,
            cfg.poll_s,
        )
        fig.set(ttd_s=took)
        summary = (
            f"a defined error after {took:.2f} s: {said(answer)}"
            if took is not None
            else f"no defined error within {cfg.error_within_s:g} s; last {said(answer)}"
        )
        return {**answer.brief(), "defined_error_after_s": took, "reads": reads, "summary": summary}

    def through_outage() -> dict[str, Any]:
        answers: list[Answer] = []
        while time.monotonic() - injected[0] < cfg.outage_s:
            answers.append(get(board, cfg.error_within_s))
            time.sleep(cfg.poll_s)
        slowest = max((a.seconds for a in answers), default=0.0)
        fig.set(slowest_error_s=slowest)
        undefined = [a for a in answers if not a.defined_error]
        worst = max(answers, key=lambda a: a.seconds) if answers else None
        summary = (
            f"{len(answers)} requests over {cfg.outage_s:g} s: {len(undefined)} not a defined error"
            + (f" (e.g. {said(undefined[0])})" if undefined else "")
            + (f"; slowest {said(worst)}" if worst else "")
        )
        return {
            "requests": len(answers),
            "defined_errors": len(answers) - len(undefined),
            "slowest_s": round(slowest, 3),
            "statuses": sorted({str(a.status) for a in answers}),
            "summary": summary,
        }

    steady = [
        Probe(
            "board served",
            board_served,
            lambda o: o["status"] == 200 and not o["error_codes"],
            "200 without an error card",
        ),
        Probe(
            "same serving process",
            same_process,
            lambda pid: pid is not None and pid == pids[0],
            "the pid before the outage (recovered without a restart)",
        ),
    ]
    return Experiment(
        title="CHAOS-01 warehouse outage",
        description=f"warehouse unreachable for {cfg.outage_s:g} s (proxy disabled: refused and reset)",
        hypothesis=steady,
        method=[Action("disable the warehouse proxy", inject)],
        during=[
            Probe(
                "board answers a defined error fast",
                first_error,
                lambda o: o["defined_error_after_s"] is not None,
                f"a 5xx naming the cause within {cfg.error_within_s:g} s",
            ),
            Probe(
                "every answer during the outage is fast and defined",
                through_outage,
                lambda o: (
                    o["requests"] > 0
                    and o["defined_errors"] == o["requests"]
                    and o["slowest_s"] <= cfg.error_within_s
                ),
                f"all defined errors, none slower than {cfg.error_within_s:g} s",
            ),
        ],
        rollbacks=[
            Action("heal the warehouse proxy", lambda: net.heal(rig.warehouse_proxy).enabled)
        ],
    ), fig


def database_outage(
    rig: Rig,
    cfg: DatabaseOutage,
    net: Toxiproxy,
    secret: str,
    run_tag: str,
    timeout_s: float,
    frozen: bool = False,
) -> tuple[Experiment, Figures]:
    """CHAOS-02: the control plane's database goes away while Stripe delivers;
    after it returns and Stripe's retries, each event is in the ledger once.

    Down (``frozen`` False): the proxy to it is disabled — connections refused,
    open ones reset. Frozen: its processes are stopped (SIGSTOP / docker pause)
    — connections stay open and queries hang, so a delivery can time out at
    the sender after the database took it: the re-delivery must not count twice.
    """
    fig = Figures()
    kind = "f" if frozen else "d"
    ids = [f"{cfg.event_prefix}_{run_tag}_{kind}{i:04d}" for i in range(cfg.events)]
    deliveries: list[Delivery] = []
    server = database_process(rig.database_process)
    hold_s = cfg.freeze_s if frozen else cfg.outage_s

    def inject() -> None:
        if frozen:
            server.freeze()
        else:
            net.set_enabled(rig.database_proxy, False)

    def restore() -> None:
        if frozen:
            server.thaw()
        else:
            net.set_enabled(rig.database_proxy, True)

    def undo() -> bool:
        if frozen:
            server.thaw()
        return net.heal(rig.database_proxy).enabled

    def healthy() -> int | None:
        answer, _took, _ = poll(
            lambda: get(rig.controlplane_health_url, timeout_s),
            lambda a: a.status == 200,
            30.0,
            0.25,
        )
        return answer.status

    def deliver_through_outage() -> dict[str, Any]:
        acked = threading.Event()
        # Set when the action ends early (an interruption): senders stop
        # re-delivering, so the rollback does not wait behind their retries.
        stop = threading.Event()
        attempt_s = cfg.freeze_attempt_timeout_s if frozen else cfg.attempt_timeout_s
        sender = StripeWebhookSender(
            rig.webhook_url, secret, attempt_s, max_connections=cfg.concurrency
        )

        def send(i: int) -> Delivery:
            """One event, re-delivered like Stripe on a 5xx or no answer (bounded)."""
            ev = event(
                ids[i],
                "charge.succeeded",
                {
                    "id": f"ch_{ids[i]}",
                    "object": "charge",
                    "amount": 1000 + i,
                    "currency": "usd",
                    "customer": "cus_chaos",
                },
            )
            first = time.monotonic()
            for attempt in range(1, cfg.retries + 2):
                d = sender.deliver(ev)
                if d.accepted or d.rejected_4xx or attempt > cfg.retries or stop.is_set():
                    break
                stop.wait(min(0.2 * attempt, 2.0))
            if d.accepted:
                acked.set()
            return replace(d, attempts=attempt, sent_at=first, ack_s=time.monotonic() - first)

        pool = ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="chaos-stripe")
        finished = False
        try:
            futures = []
            down_at = time.monotonic()
            for i in range(cfg.events):
                futures.append(pool.submit(send, i))
                if i == 0:
                    acked.wait(timeout_s)  # the first event lands before the outage
                    inject()
                    down_at = time.monotonic()
                time.sleep(cfg.interval_s)
            time.sleep(max(0.0, hold_s - (time.monotonic() - down_at)))
            restore()
            deliveries.extend(f.result() for f in futures)
            finished = True
        finally:
            stop.set()
            pool.shutdown(wait=finished, cancel_futures=True)
            sender.close()
        retried = [d for d in deliveries if d.attempts > 1]
        fig.set(
            sent=len(deliveries),
            acked=sum(d.accepted for d in deliveries),
            redelivered=len(retried),
        )
        return {
            "sent": len(deliveries),
            "acked": fig.values["acked"],
            "redelivered": len(retried),
            "max_attempts": max((d.attempts for d in deliveries), default=0),
            "slowest_ack_s": round(max((d.ack_s for d in deliveries), default=0.0), 3),
            "unacked": [d.describe() for d in deliveries if not d.accepted][:10],
        }

    def ledger_once() -> dict[str, Any]:
        ledger = HttpLedger(rig.ledger_url, rig.ledger_url, timeout_s)
        try:
            got, _ = wait_until(
                lambda: ledger.entries_for(ids), lambda g: set(ids) <= set(g), cfg.settle_s, 0.25
            )
        finally:
            ledger.close()
        lost = [i for i in ids if i not in got]
        dup = [i for i, n in got.items() if n > 1]
        unacked = [d.event_id for d in deliveries if not d.accepted]
        fig.set(recorded=len(got), lost=len(lost), duplicated=len(dup), unacked=len(unacked))
        summary = (
            f"{len(ids)} sent, {len(ids) - len(unacked)} acknowledged, {len(got)} recorded: "
            f"{len(lost)} lost, {len(dup)} recorded twice, {len(unacked)} never acknowledged"
            + (f" (first lost: {lost[0]})" if lost else "")
        )
        return {
            "summary": summary,
            "sent": len(ids),
            "recorded": len(got),
            "lost": lost[:10],
            "lost_count": len(lost),
            "duplicated": dup[:10],
            "duplicated_count": len(dup),
            "unacked_count": len(unacked),
        }

    how = "processes frozen (SIGSTOP / pause)" if frozen else "proxy disabled"
    return Experiment(
        title=f"CHAOS-02 control-plane database {'frozen' if frozen else 'down'} during webhook delivery",
        description=(
            f"{cfg.events} signed Stripe events; the database {how} for "
            f"{hold_s:g} s after the first is recorded; Stripe-like retries"
        ),
        hypothesis=[Probe("control plane healthy", healthy, lambda s: s == 200, "/healthz 200")],
        method=[Action("deliver events through a database outage", deliver_through_outage)],
        during=[
            Probe(
                "ledger holds every event exactly once",
                ledger_once,
                lambda o: (
                    o["lost_count"] == 0 and o["duplicated_count"] == 0 and o["unacked_count"] == 0
                ),
                "every event acknowledged and recorded once",
            )
        ],
        rollbacks=[Action("database back (thawed, proxy healed)", undo)],
    ), fig


def added_latency(
    rig: Rig, cfg: AddedLatency, net: Toxiproxy, timeout_s: float
) -> tuple[Experiment, Figures]:
    """CHAOS-03: the warehouse link gets slow; requests end within the
    platform's timeout (plus grace) and health reads as degraded, not down."""
    fig = Figures()
    bound = cfg.request_timeout_s + cfg.grace_s
    board = rig.serving_url + rig.board_path
    health = rig.serving_url + rig.health_path
    calls: list[int] = []

    def status() -> dict[str, Any]:
        h = get(health, cfg.health_timeout_s)
        b = get(board, bound + 10)
        if h.status != 200:
            state = "down"
        elif b.served and b.seconds <= cfg.degraded_after_s:
            state = "ok"
        else:
            state = "degraded"
        summary = f"{state}: health {said(h)}, board {said(b)}"
        return {"status": state, "health": h.brief(), "board": b.brief(), "summary": summary}

    def steady() -> dict[str, Any]:
        calls.append(1)
        within = cfg.recover_within_s if len(calls) > 1 else timeout_s
        started = time.monotonic()
        deadline = started + within
        while True:
            seen = status()
            if seen["status"] == "ok" or time.monotonic() >= deadline:
                if len(calls) > 1:
                    fig.set(ttr_s=time.monotonic() - started if seen["status"] == "ok" else None)
                return seen
            time.sleep(0.5)

    def bounded() -> dict[str, Any]:
        with ThreadPoolExecutor(cfg.requests) as pool:
            answers = list(pool.map(lambda _: get(board, bound + 30), range(cfg.requests)))
        slowest = max(a.seconds for a in answers)
        fig.set(slowest_request_s=slowest)
        worst = max(answers, key=lambda a: a.seconds)
        return {
            "summary": f"{len(answers)} board requests, slowest {said(worst)} (bound {bound:g} s)",
            "bound_s": bound,
            "slowest_s": round(slowest, 3),
            "answers": [a.brief() for a in answers],
        }

    def degraded() -> dict[str, Any]:
        seen = status()
        fig.set(health_during=seen["status"])
        return seen

    return Experiment(
        title="CHAOS-03 added network latency",
        description=f"{cfg.latency_ms} ms on every exchange with the warehouse",
        hypothesis=[
            Probe(
                "health ok",
                steady,
                lambda o: o["status"] == "ok",
                f"health 200 and the board within {cfg.degraded_after_s:g} s",
            )
        ],
        method=[
            Action(
                "add latency to the warehouse proxy",
                lambda: net.latency(rig.warehouse_proxy, cfg.latency_ms).name,
            )
        ],
        during=[
            Probe(
                "requests bounded by timeouts",
                bounded,
                lambda o: o["slowest_s"] <= bound,
                f"every board request ends within {bound:g} s",
            ),
            Probe(
                "health reflects degradation",
                degraded,
                lambda o: o["status"] == "degraded",
                "degraded: health answers, boards slow or timed out",
            ),
        ],
        rollbacks=[
            Action("heal the warehouse proxy", lambda: net.heal(rig.warehouse_proxy).enabled)
        ],
    ), fig


def kill_serving(process_url: str, timeout_s: float) -> int:
    """SIGKILL the process a loopback `dct serve` names as itself."""
    if not is_loopback(process_url):
        raise RuntimeError(
            f"{process_url} is not on this machine: the gate kills only local processes"
        )
    pid = pid_of(process_url, timeout_s)
    if pid is None or pid <= 1 or pid == os.getpid():
        raise RuntimeError(f"{process_url}/health named no process to kill (pid {pid})")
    os.kill(pid, signal.SIGKILL)
    return pid


def process_crash(rig: Rig, cfg: ProcessCrash, timeout_s: float) -> tuple[Experiment, Figures]:
    """CHAOS-04: the serving process is killed; the health probe notices
    within the limit and serving resumes from a new process."""
    fig = Figures()
    killed: dict[str, float] = {}  # the pid killed and when (monotonic)
    health = rig.serving_url + rig.health_path

    def serving() -> dict[str, Any]:
        answer, took, _ = _served(rig, cfg.recover_within_s, timeout_s)
        summary = f"served after {took:.1f} s" if took is not None else f"last {said(answer)}"
        return {**answer.brief(), "served_after_s": took, "summary": summary}

    def kill() -> int:
        pid = kill_serving(rig.process_url, timeout_s)
        killed.update(pid=pid, at=time.monotonic())
        return pid

    def detected() -> dict[str, Any]:
        since = killed.get("at", time.monotonic())
        answer, _took, reads = poll(
            lambda: get(health, cfg.probe_interval_s * 4),
            lambda a: a.status != 200,
            cfg.detect_within_s,
            cfg.probe_interval_s,
        )
        ttd = time.monotonic() - since if answer.status != 200 else None
        fig.set(ttd_s=ttd)
        summary = (
            f"health said {said(answer)} {ttd:.2f} s after the kill"
            if ttd is not None
            else f"health still {said(answer)} after {reads} probes over {cfg.detect_within_s:g} s"
        )
        return {**answer.brief(), "detected_after_s": ttd, "probes": reads, "summary": summary}

    def resumed() -> dict[str, Any]:
        since = killed.get("at", time.monotonic())
        answer, _took, _ = _served(rig, cfg.recover_within_s, timeout_s)
        ttr = time.monotonic() - since if answer.served else None
        pid = pid_of(rig.process_url, timeout_s)
        fig.set(ttr_s=ttr)
        was = killed.get("pid")
        summary = (
            f"served by pid {pid} (killed: {was:.0f}) {ttr:.1f} s after the kill"
            if ttr is not None and was is not None
            else f"not serving within {cfg.recover_within_s:g} s: last {said(answer)}"
        )
        return {
            **answer.brief(),
            "recovered_after_s": ttr,
            "pid": pid,
            "killed_pid": int(was) if was is not None else None,
            "summary": summary,
        }

    def running() -> bool:
        _a, took, _ = poll(
            lambda: get(rig.process_url + rig.health_path, timeout_s),
            lambda a: a.status == 200,
            cfg.recover_within_s,
            0.25,
        )
        return took is not None

    return Experiment(
        title="CHAOS-04 serving process crash",
        description="SIGKILL to the serving process; the platform restarts it",
        hypothesis=[
            Probe(
                "board served", serving, lambda o: o["status"] == 200, "200 without an error card"
            )
        ],
        method=[Action("SIGKILL the serving process", kill)],
        during=[
            Probe(
                "health probe detects the crash",
                detected,
                lambda o: o["detected_after_s"] is not None,
                f"health not 200 within {cfg.detect_within_s:g} s",
            ),
            Probe(
                "serving again after the restart",
                resumed,
                lambda o: o["recovered_after_s"] is not None and o["pid"] != o["killed_pid"],
                f"a new process serving within {cfg.recover_within_s:g} s",
            ),
        ],
        rollbacks=[Action("serving process running", running)],
    ), fig


def fresh_rig(rig: Rig, net: Toxiproxy, within_s: float, timeout_s: float) -> list[str]:
    """Put the rig back to a known-good state before a case, so one case's
    damage (a case that failed to recover) never fails the next: every proxy
    healed, and the serving process restarted if the board does not serve.
    What it had to do, for the journal; RuntimeError when it cannot."""
    done: list[str] = []
    database_process(rig.database_process).thaw()  # resuming a running server changes nothing
    for name in (rig.warehouse_proxy, rig.database_proxy):
        proxy = net.proxy(name)
        if proxy.toxics or not proxy.enabled:
            net.heal(name)
            done.append(f"healed proxy {name}")
    answer, took, _ = _served(rig, min(10.0, within_s), timeout_s)
    if took is None:
        pid = kill_serving(rig.process_url, timeout_s)
        done.append(
            f"restarted the serving process (pid {pid}): the board answered {answer.brief()}"
        )
        answer, took, _ = _served(rig, within_s, timeout_s)
        if took is None:
            raise RuntimeError(f"the rig's board does not serve after a restart: {answer.brief()}")
    return done
