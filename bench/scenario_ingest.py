"""Ingest: single signals (`POST /api/v1/signals/`) sustained, and batches of 1000
(`/api/v1/signals/batch/`), from N keep-alive connections over loopback, bounded in time.

About 2% of signals declare a budget ≥ 50,000, so the demo's "High value" rule raises handoffs
(events logged and pushed, journeys enroll contacts): the real path, not an empty endpoint.
Throughput counts accepted (202) signals only; every other answer is counted in the notes."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from common import (
    Args,
    Http,
    api_key,
    django_setup,
    emit,
    figure,
    log,
    parse_args,
    pct,
    run_tag,
    signal,
)

SINGLE = {"full": 300.0, "tiny": 2.0}  # seconds per run (issue 7: 5 minutes)
BATCH = {"full": 60.0, "tiny": 1.0}
BATCH_SIZE = {"full": 1000, "tiny": 100}
WARMUP = {"full": 10.0, "tiny": 0.5}  # seconds before each measurement, not counted
CONNECTIONS = {"full": (32, 4), "tiny": (4, 2)}  # (single, batch) keep-alive connections


async def ingest_load(
    *,
    host: str,
    port: int,
    key: str,
    mode: str,
    seconds: float,
    connections: int,
    batch: int,
    warmup: float = 0.0,
) -> dict[str, Any]:
    """Drive ingest for `seconds`; returns signals/s, acknowledgement latencies and statuses."""
    path = "/api/v1/signals/batch/" if mode == "batch" else "/api/v1/signals/"
    size = batch if mode == "batch" else 1
    tag = run_tag()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted = [0]
    counter = [0]
    warm = time.perf_counter() + warmup
    ready = asyncio.Barrier(connections)
    began = deadline = 0.0

    async def client() -> None:
        nonlocal began, deadline
        async with Http(host, port, {"Authorization": f"Bearer {key}"}) as http:
            # Warm-up, not counted: every connection open and answered at least once (workers
            # imported, pools filled), then all start measuring together.
            while True:
                start, counter[0] = counter[0], counter[0] + 1
                await http.request("POST", "/api/v1/signals/", signal(start, tag))
                if time.perf_counter() >= warm:
                    break
            await ready.wait()
            if not began:  # the first task through the barrier starts the clock for all
                began = time.perf_counter()
                deadline = began + seconds
            while time.perf_counter() < deadline:
                start, counter[0] = counter[0], counter[0] + size
                items = [signal(start + i, tag) for i in range(size)]
                sent = time.perf_counter()
                status, _ = await http.request(
                    "POST", path, {"signals": items} if mode == "batch" else items[0]
                )
                latencies.append(time.perf_counter() - sent)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    accepted[0] += size

    await asyncio.gather(*(client() for _ in range(connections)))
    wall = time.perf_counter() - began  # from the first measured request to the last answer
    return {
        "signals_per_s": accepted[0] / wall,
        "p50": pct(latencies, 50) * 1000,
        "p95": pct(latencies, 95) * 1000,
        "p99": pct(latencies, 99) * 1000,
        "requests": len(latencies),
        "statuses": statuses,
    }


def seconds_for(table: dict[str, float], size: str) -> float:
    """BENCH_INGEST_SECONDS shortens (or lengthens) the single-signal runs for a quick look."""
    override = os.environ.get("BENCH_INGEST_SECONDS")
    return float(override) if override and table is SINGLE else table[size]


async def measure(args: Args, key: str, *, budgets: bool) -> tuple[list[dict[str, Any]], str]:
    """Both ingest modes, `args.runs` times each; figures judged against issue 7 when `budgets`."""
    single: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    for run in range(args.runs):
        result = await ingest_load(
            host=args.host,
            port=args.port,
            key=key,
            mode="single",
            seconds=seconds_for(SINGLE, args.size),
            connections=CONNECTIONS[args.size][0],
            batch=1,
            warmup=WARMUP[args.size],
        )
        log(f"run {run + 1} single: {result}")
        single.append(result)
        result = await ingest_load(
            host=args.host,
            port=args.port,
            key=key,
            mode="batch",
            seconds=seconds_for(BATCH, args.size),
            connections=CONNECTIONS[args.size][1],
            batch=BATCH_SIZE[args.size],
            warmup=WARMUP[args.size],
        )
        log(f"run {run + 1} batch: {result}")
        batch.append(result)

    def judged(budget: float, op: str) -> dict[str, Any]:
        return {"budget": budget, "op": op} if budgets else {}

    figures = [
        figure(
            "single: signals/s sustained",
            [r["signals_per_s"] for r in single],
            "signals/s",
            **judged(600, ">="),
        ),
        figure("single: ack p50", [r["p50"] for r in single], "ms"),
        figure("single: ack p95", [r["p95"] for r in single], "ms"),
        figure("single: ack p99", [r["p99"] for r in single], "ms", **judged(100, "<")),
        figure(
            "batch: signals/s",
            [r["signals_per_s"] for r in batch],
            "signals/s",
            **judged(10000, ">="),
        ),
        figure("batch: ack p99 per request", [r["p99"] for r in batch], "ms"),
    ]
    notes = (
        f"single: {CONNECTIONS[args.size][0]} connections × {seconds_for(SINGLE, args.size):g} s; "
        f"batch: {CONNECTIONS[args.size][1]} connections × {BATCH_SIZE[args.size]} signals × "
        f"{seconds_for(BATCH, args.size):g} s; ~2% raise handoffs. Answers: "
        f"single {_statuses(single)}, batch {_statuses(batch)}"
    )
    return figures, notes


def _statuses(results: list[dict[str, Any]]) -> str:
    total: dict[int, int] = {}
    for result in results:
        for status, count in result["statuses"].items():
            total[status] = total.get(status, 0) + count
    return ", ".join(f"{count}×{status}" for status, count in sorted(total.items())) or "none"


def main() -> None:
    args = parse_args(__doc__ or "")
    django_setup()
    key = api_key(f"bench ingest {run_tag()}")
    figures, notes = asyncio.run(measure(args, key, budgets=True))
    emit("ingest", figures, notes)


if __name__ == "__main__":
    main()
