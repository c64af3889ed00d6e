"""Ingest load generator: N keep-alive connections over loopback, bounded in time.

    python bench/ingest.py --url http://127.0.0.1:8100 --key bk_… --mode single --seconds 30

Prints one JSON object: throughput (signals/s), acknowledgement latency percentiles, statuses.
About 2% of signals declare a budget ≥ 50,000, so the rules raise handoffs as in production."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from urllib.parse import urlparse


def signal(n: int, run: str) -> dict:
    budget = 75000 if random.random() < 0.02 else random.randint(100, 20000)
    return {
        "type": "form_submitted",
        "idempotency_key": f"{run}-{n}",
        "contact": {
            "external_id": f"bench-{n % 20000}",
            "name": f"Bench Contact {n % 20000}",
            "email": f"bench{n % 20000}@example.com",
        },
        "account": {"external_id": f"acct-{n % 2000}", "name": f"Account {n % 2000}"},
        "properties": {"budget": budget, "currency": "GBP", "form": "pricing"},
    }


async def worker(
    host: str,
    port: int,
    path: str,
    key: str,
    mode: str,
    batch: int,
    deadline: float,
    counter: list[int],
    run: str,
    out: dict,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = counter[0]
            size = batch if mode == "batch" else 1
            counter[0] += size
            items = [signal(start + i, run) for i in range(size)]
            body = json.dumps({"signals": items} if mode == "batch" else items[0]).encode()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            sent = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            elapsed = time.perf_counter() - sent
            status = int(status_line.split()[1])
            out["latencies"].append(elapsed)
            out["statuses"][status] = out["statuses"].get(status, 0) + 1
            if status == 202:
                out["signals"] += size
    finally:
        writer.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8100")
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", choices=["single", "batch"], default="single")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    url = urlparse(args.url)
    path = "/api/v1/signals/batch/" if args.mode == "batch" else "/api/v1/signals/"
    out: dict = {"latencies": [], "statuses": {}, "signals": 0}
    run = uuid.uuid4().hex[:8]
    began = time.perf_counter()
    deadline = began + args.seconds
    counter = [0]
    await asyncio.gather(
        *(
            worker(
                url.hostname or "127.0.0.1",
                url.port or 80,
                path,
                args.key,
                args.mode,
                args.batch_size,
                deadline,
                counter,
                run,
                out,
            )
            for _ in range(args.concurrency)
        )
    )
    wall = time.perf_counter() - began
    lat = out["latencies"]
    print(
        json.dumps(
            {
                "mode": args.mode,
                "concurrency": args.concurrency,
                "seconds": round(wall, 2),
                "requests": len(lat),
                "signals_accepted": out["signals"],
                "signals_per_s": round(out["signals"] / wall, 1),
                "ack_ms": {
                    "p50": round(pct(lat, 50) * 1000, 1),
                    "p95": round(pct(lat, 95) * 1000, 1),
                    "p99": round(pct(lat, 99) * 1000, 1),
                    "mean": round(statistics.fmean(lat) * 1000, 1) if lat else 0,
                },
                "statuses": out["statuses"],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
