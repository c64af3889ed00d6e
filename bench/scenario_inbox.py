"""Inbox page at scale (issue 7): the Sales rep `riley` opens the inbox while the database holds
the seeded active handoffs (full: 1,000,000, 20,000 of them in Sales, visible to the rep).

    python bench/scenario_inbox.py --size tiny|full --url http://127.0.0.1:PORT

It seeds and serves its own database, `baton_bench_data_<size>` (bench/seed_scale.py), with
the production web server (uvicorn, 2 workers) on BENCH_SPARE_PORT (else the port of --url).

Over HTTP, logged in through the login form, one keep-alive connection: the first page, the
"Mine" and "Unassigned" tabs, a trigger filter and the second page, in turn. Figure: p95 of
each run, median over runs (budget < 100 ms). The query count stays the same whatever the rows
(pinned by handoffs/tests/test_inbox_scale.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_scale import Server, emit, ensure, latency_figure, login, scenario_args, time_gets

PATHS = [
    "/inbox/",
    "/inbox/?view=mine",
    "/inbox/?view=unassigned",
    "/inbox/?trigger=sentiment",
    "/inbox/?page=2",
]


def main() -> None:
    args = scenario_args(__doc__.split("\n")[0])
    seeded = ensure(args.size)
    per_run = args.requests or (50 if args.size == "tiny" else 200)
    paths = [PATHS[i % len(PATHS)] for i in range(per_run)]
    runs = []
    with Server(args.url) as url, httpx.Client(base_url=url, timeout=30) as client:
        login(client, "riley")
        for _ in range(args.runs):
            runs.append(time_gets(client, paths))
    handoffs = seeded["parts"].get("handoffs", {}).get("rows", 0)
    emit(
        "inbox",
        [latency_figure("p95", runs, 0.95, 100), latency_figure("p50", runs, 0.5, 100)],
        f"{handoffs:,} active handoffs seeded, the Sales rep sees "
        f"{'20,000' if args.size == 'full' else '400'}; {per_run} GETs a run over "
        f"{', '.join(PATHS)}; one connection, logged in as riley",
    )


if __name__ == "__main__":
    main()
