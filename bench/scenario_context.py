"""Context view at scale (issue 7): the rep opens the handoff page and the contact's timeline for
a contact with 5,000 timeline events (`bench-context`: signals, messages, handoff and journey
events; seeded by bench/seed_scale.py).

    python bench/scenario_context.py --size tiny|full --url http://127.0.0.1:PORT

It seeds and serves its own database, `baton_bench_data_<size>` (bench/seed_scale.py), with
the production web server (uvicorn, 2 workers) on BENCH_SPARE_PORT (else the port of --url).

Over HTTP, logged in as the Sales rep `riley`, one keep-alive connection, in turn: the handoff
page (the newest page of the conversation), the contact page (summary, playbook, the newest 50
timeline items), its second timeline page as htmx asks for it, and the handoff page's "Load
older messages". Figure: p95 of each run, median over runs (budget < 150 ms)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_scale import Server, emit, ensure, latency_figure, login, scenario_args, time_gets


def main() -> None:
    args = scenario_args(__doc__.split("\n")[0])
    seeded = ensure(args.size)
    contact, handoff = seeded["contact_id"], seeded["handoff_id"]
    per_run = args.requests or (40 if args.size == "tiny" else 200)
    with Server(args.url) as url, httpx.Client(base_url=url, timeout=30) as client:
        login(client, "riley")
        page = client.get(f"/handoffs/{handoff}/").text
        older = re.search(r'hx-get="[^"]*\?before=(\d+)"', page)
        if older is None:
            raise RuntimeError("the handoff page offers no older messages")
        paths = [
            f"/handoffs/{handoff}/",
            f"/contacts/{contact}/",
            f"/contacts/{contact}/?page=2",
            f"/handoffs/{handoff}/?before={older[1]}",
        ]
        htmx = {"HX-Request": "true"}
        runs = []
        for _ in range(args.runs):
            plain = time_gets(client, [paths[i % 2] for i in range(per_run // 2)])
            client.headers.update({**htmx, "HX-Target": "timeline-more"})
            more = time_gets(client, [paths[2]] * (per_run // 4))
            client.headers["HX-Target"] = "thread-older"
            thread = time_gets(client, [paths[3]] * (per_run // 4))
            for name in ("HX-Request", "HX-Target"):
                client.headers.pop(name, None)
            runs.append(plain + more + thread)
    emit(
        "context",
        [latency_figure("p95", runs, 0.95, 150), latency_figure("p50", runs, 0.5, 150)],
        f"contact {contact} with 5,000 timeline events, its open Sales handoff {handoff}; "
        f"{per_run} GETs a run: handoff page and contact page (half), the timeline's page 2 "
        "(htmx, a quarter), older messages (htmx, a quarter); one connection as riley",
    )


if __name__ == "__main__":
    main()
