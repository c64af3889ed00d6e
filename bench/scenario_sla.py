"""SLA sweep at scale (issue 7): among the seeded active handoffs (full: 1,000,000), make some due
and sweep them.

    python bench/scenario_sla.py --size tiny|full --url http://127.0.0.1:PORT

1. **One sweep**: 1,000 newly due (tiny: 50) → `handoffs_sla_sweep()` in this process (warm),
   timed; median of the runs (budget < 1 s).
2. **Backlog**: 50,000 due at once (tiny: 400), drained by two Celery worker processes this
   script starts on a private queue, fed `handoffs.tasks.sla_sweep` as beat would (one in flight
   per worker); the clock stops when every one is flagged, escalated where its policy says now,
   and on the event log (the same transaction as the flag). Budget < 60 s.
3. **1 vs 2 workers** (full size only): the same backlog of 10,000, drained by one worker
   process, then by two; figures `drain_1_worker`, `drain_2_workers`, and `speedup` (> 1 means
   two drain faster).

Rows the scenario flagged before are re-armed first (unflagged, due later), so runs repeat. The
leads' emails are queued to Celery's default queue and are not part of the drain. `--url` is
not used: the sweep is a worker's job, not a page. Its database is `baton_bench_data_<size>`
(bench/seed_scale.py), shared with the other data-scale scenarios."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_scale import ROOT, emit, ensure, scenario_args

BENCH_ROWS = "reason = 'Bench: raised by rule'"
SIZES = {
    "tiny": {"due": 50, "backlog": 400, "compare": 200},
    "full": {"due": 1_000, "backlog": 50_000, "compare": 10_000},
}


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def rearm() -> None:
    """Unflag what earlier runs flagged and push every bench due time back into the future."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM handoffs_handoffevent e USING handoffs_handoff h"
            f" WHERE e.handoff_id = h.id AND h.{BENCH_ROWS} AND (h.breached OR h.escalated)"
        )
        cursor.execute(
            "UPDATE handoffs_handoff SET breached = false, breached_at = NULL,"
            " breached_target = '', escalated = false, escalation_due_at = NULL,"
            " first_response_due_at = now() + interval '3 days',"
            " resolution_due_at = CASE WHEN first_responded_at IS NULL THEN NULL"
            "   ELSE now() + interval '3 days' END,"
            " sla_due_at = CASE WHEN sla_paused_at IS NULL THEN now() + interval '3 days' END"
            f" WHERE {BENCH_ROWS} AND (breached OR escalated OR sla_due_at <= now()"
            "   OR escalation_due_at IS NOT NULL)"
        )


def make_due(count: int) -> list[int]:
    """`count` running bench handoffs whose clock ran out a second ago: the newest, which are
    spread over Marketing, Success (open 24/7, so its urgent and high breaches escalate now)
    and Support."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE handoffs_handoff SET first_response_due_at = CASE WHEN first_responded_at"
            "   IS NULL THEN now() - interval '1 second' ELSE first_response_due_at END,"
            " resolution_due_at = CASE WHEN first_responded_at IS NULL THEN NULL"
            "   ELSE now() - interval '1 second' END,"
            " sla_due_at = now() - interval '1 second'"
            " WHERE id IN (SELECT id FROM handoffs_handoff WHERE"
            f"   {BENCH_ROWS} AND NOT breached AND status IN ('open', 'claimed')"
            "   AND sla_due_at > now() ORDER BY id DESC LIMIT %s) RETURNING id",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


def pending(ids: list[int]) -> int:
    """Of `ids`: not yet flagged, or flagged with an escalation due now and not yet done."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM handoffs_handoff WHERE id = ANY(%s) AND (NOT breached"
            " OR (NOT escalated AND escalation_due_at IS NOT NULL AND escalation_due_at <= now()))",
            [ids],
        )
        return cursor.fetchone()[0]


def one_sweep(count: int) -> float:
    from handoffs.services.breaches import handoffs_sla_sweep

    handoffs_sla_sweep()  # warm: imports, connections, the broker
    ids = make_due(count)
    started = time.perf_counter()
    result = handoffs_sla_sweep()
    took = time.perf_counter() - started
    if result.breached != len(ids) or pending(ids):
        raise RuntimeError(f"the sweep flagged {result.breached} of {len(ids)}")
    return took


class Workers:
    """`n` Celery worker processes (solo pool) on a private queue; stopped on exit."""

    def __init__(self, n: int) -> None:
        self.queue = f"bench-sla-{os.getpid()}"
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--pool",
                    "solo",
                    "-Q",
                    self.queue,
                    "-n",
                    f"bench-sla-{i}-{os.getpid()}@%h",
                    "-l",
                    "warning",
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(n)
        ]

    def __enter__(self) -> Workers:
        from portal.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answers = app.control.ping(timeout=1) or []
            mine = [a for a in answers if any(f"-{os.getpid()}@" in k for k in a)]
            if len(mine) >= len(self.procs):
                return self
        self.__exit__()
        raise RuntimeError("the Celery workers did not start")

    def __exit__(self, *exc: Any) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def drain(count: int, workers: int, limit: float = 600) -> float:
    """Seconds for `workers` processes to drain a backlog of `count`, fed sweeps as beat would,
    only faster: whenever fewer than `workers` sweeps wait in the queue, one more is sent."""
    from handoffs.tasks import sla_sweep
    from portal.celery import app

    with Workers(workers) as pool, app.connection_for_write() as conn:
        channel = conn.default_channel
        ids = make_due(count)
        started = time.perf_counter()
        while pending(ids):
            if time.perf_counter() - started > limit:
                raise RuntimeError(f"{pending(ids)} of {count} still due after {limit} s")
            waiting = channel.client.llen(pool.queue)  # the Redis transport's queue
            for _ in range(workers - waiting):
                sla_sweep.apply_async(queue=pool.queue)
            time.sleep(0.05)
        took = time.perf_counter() - started
        channel.client.delete(pool.queue)
        return took


def main() -> None:
    args = scenario_args(__doc__.split("\n")[0])
    seeded = ensure(args.size)
    django_setup()
    n = SIZES[args.size]
    rearm()
    sweeps = [one_sweep(n["due"]) * 1000 for _ in range(args.runs)]
    backlog = drain(n["backlog"], workers=2)
    rearm()
    figures: list[dict[str, Any]] = [
        {
            "name": "sweep",
            "value": round(statistics.median(sweeps), 1),
            "unit": "ms",
            "budget": 1000,
            "op": "<",
            "runs": [round(s, 1) for s in sweeps],
        },
        {
            "name": "backlog_drain",
            "value": round(backlog, 2),
            "unit": "s",
            "budget": 60,
            "op": "<",
            "runs": [round(backlog, 2)],
        },
    ]
    compared = ""
    if args.size == "full":  # three pools of workers to start: not for the smoke test
        one = drain(n["compare"], workers=1)
        two = drain(n["compare"], workers=2)
        rearm()
        figures += [
            {
                "name": "drain_1_worker",
                "value": round(one, 2),
                "unit": "s",
                "runs": [round(one, 2)],
            },
            {
                "name": "drain_2_workers",
                "value": round(two, 2),
                "unit": "s",
                "runs": [round(two, 2)],
            },
            {
                "name": "speedup",
                "value": round(one / two, 2),
                "unit": "x",
                "budget": 1,
                "op": ">",
                "runs": [round(one / two, 2)],
            },
        ]
        compared = f"; 1 vs 2 workers on {n['compare']:,} due each"
    handoffs = seeded["parts"].get("handoffs", {}).get("rows", 0)
    emit(
        "sla",
        figures,
        f"{handoffs:,} active handoffs; sweep: {n['due']:,} newly due, in process; backlog: "
        f"{n['backlog']:,} due, 2 Celery worker processes (solo pool) fed sla_sweep{compared}. "
        "Leads' emails not included (default queue).",
    )


if __name__ == "__main__":
    main()
