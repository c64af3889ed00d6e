"""Signal → handoff visible to reps: N reps hold the inbox's live socket (`/ws/ui/?page=inbox`,
logged in with a session cookie, as the browser does) while background ingest runs at a steady
rate; probe signals raise a handoff in the reps' team, and each probe's latency per rep is from
the moment its POST is sent to the moment the fragment carrying that handoff arrives on that
rep's socket. A probe that never reaches a rep within the wait counts as the wait (never
dropped)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from common import (
    Args,
    Http,
    always_rule,
    api_key,
    close_db,
    django_setup,
    emit,
    figure,
    log,
    parse_args,
    pct,
    run_tag,
    session_cookie,
    signal,
    team_with_people,
)
from websockets.asyncio.client import connect

SIZES = {
    # reps, background signals/s, probes per run, probes/s
    "full": {"reps": 25, "background": 100, "probes": 300, "probe_rate": 5.0},
    "tiny": {"reps": 3, "background": 10, "probes": 5, "probe_rate": 5.0},
}
BACKGROUND_CONNECTIONS = 16  # each paced; enough that a slow answer does not lower the rate
WAIT = 10.0  # seconds a rep may take to see a probe before it counts as this long


async def background(host: str, port: int, key: str, rate: float, stop: asyncio.Event) -> int:
    """Ingest at `rate` signals/s (the realistic mix) until `stop`; returns how many were sent."""
    tag, sent = run_tag(), [0]
    interval = BACKGROUND_CONNECTIONS / rate

    async def client(offset: int) -> None:
        async with Http(host, port, {"Authorization": f"Bearer {key}"}) as http:
            due = time.perf_counter() + offset * interval / BACKGROUND_CONNECTIONS
            while not stop.is_set():
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                due += interval
                n, sent[0] = sent[0], sent[0] + 1
                await http.request("POST", "/api/v1/signals/", signal(n, tag))

    await asyncio.gather(*(client(i) for i in range(BACKGROUND_CONNECTIONS)))
    return sent[0]


async def one_run(args: Args, key: str, cookies: list[str], size: dict[str, Any]) -> dict[str, Any]:
    tag = run_tag()
    pattern = re.compile(rf"Probe {tag} (\d+)\b")
    sent: dict[int, float] = {}
    acks: list[float] = []
    seen: dict[tuple[int, int], float] = {}
    ws_url = f"ws://{args.host}:{args.port}/ws/ui/?page=inbox"
    origin = f"http://{args.host}:{args.port}"
    sockets = [
        await connect(ws_url, additional_headers={"Cookie": c}, origin=origin, open_timeout=30)
        for c in cookies
    ]

    async def listen(rep: int, ws: Any) -> None:
        async for message in ws:
            now = time.perf_counter()
            text = message if isinstance(message, str) else message.decode()
            for match in pattern.finditer(text):
                seen.setdefault((rep, int(match.group(1))), now)

    listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]
    stop = asyncio.Event()
    load = asyncio.create_task(background(args.host, args.port, key, size["background"], stop))
    began = time.perf_counter()
    statuses: dict[int, int] = {}
    await asyncio.sleep(1.0)  # background ingest under way before the first probe
    async with Http(args.host, args.port, {"Authorization": f"Bearer {key}"}) as http:
        for n in range(size["probes"]):
            due = began + 1.0 + n / size["probe_rate"]
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            body = {
                "type": "bench_probe",
                "idempotency_key": f"probe-{tag}-{n}",
                "contact": {"external_id": f"probe-{tag}-{n}", "name": f"Probe {tag} {n}"},
            }
            sent[n] = time.perf_counter()  # the POST's send time
            status, _ = await http.request("POST", "/api/v1/signals/", body)
            acks.append(time.perf_counter() - sent[n])
            statuses[status] = statuses.get(status, 0) + 1
    expected = {(rep, n) for rep in range(len(sockets)) for n in sent}
    deadline = time.perf_counter() + WAIT
    while time.perf_counter() < deadline and not expected <= seen.keys():
        await asyncio.sleep(0.05)
    stop.set()
    background_sent = await load
    wall = time.perf_counter() - began
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    latencies = [(seen[k] - sent[k[1]]) if k in seen else WAIT for k in expected]
    missed = len(expected - seen.keys())
    return {
        "p50": pct(latencies, 50) * 1000,
        "p99": pct(latencies, 99) * 1000,
        "missed": missed,
        "ack_p50": pct(acks, 50) * 1000,
        "deliveries": len(expected),
        "background_rate": background_sent / wall,
        "statuses": statuses,
    }


def main() -> None:
    args = parse_args(__doc__ or "")
    size = SIZES[args.size]
    django_setup()
    tag = run_tag()
    team, reps = team_with_people(f"bench-live-{tag}", size["reps"])
    always_rule(team=team, signal_type="bench_probe", name=f"Bench live probe {tag}")
    cookies = [session_cookie(rep) for rep in reps]
    key = api_key(f"bench live {tag}")
    close_db()

    async def measure() -> list[dict[str, Any]]:
        results = []
        for run in range(args.runs):
            result = await one_run(args, key, cookies, size)
            log(f"run {run + 1}: {result}")
            results.append(result)
        return results

    results = asyncio.run(measure())
    missed = sum(r["missed"] for r in results)
    deliveries = sum(r["deliveries"] for r in results)
    rates = ", ".join(f"{r['background_rate']:.0f}" for r in results)
    acks = ", ".join(f"{r['ack_p50']:.0f}" for r in results)
    emit(
        "live",
        [
            figure("handoff on a rep's socket p50", [r["p50"] for r in results], "ms", 50, "<"),
            figure("handoff on a rep's socket p99", [r["p99"] for r in results], "ms", 200, "<"),
        ],
        f"{size['reps']} reps on /ws/ui/?page=inbox, {size['probes']} probes per run at "
        f"{size['probe_rate']:g}/s, background ingest target {size['background']}/s "
        f"(achieved {rates}/s); probe POST answered in {acks} ms (p50); {missed} of "
        f"{deliveries} deliveries missed the {WAIT:g} s wait "
        f"(counted as {WAIT:g} s); probe answers {results[-1]['statuses']}",
    )


if __name__ == "__main__":
    main()
