"""The same ingest on the embedded defaults — SQLite, the in-process channel layer, eager tasks and
the in-process timer, one uvicorn process — so users know where it stops serving. No budgets:
reported, not judged. Starts its own server on BENCH_SPARE_PORT with a fresh SQLite file (the
demo organisation loaded, as on the production stack), and stops it, whatever happens."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

from common import ROOT, emit, log, parse_args
from scenario_ingest import measure

# One interpreter for both (Django starts once): the schema, then the demo organisation, whose
# last line of output is its integration key.
MIGRATE_AND_SEED = [
    sys.executable, "manage.py", "shell", "-c",
    "from django.core.management import call_command as c;"
    "c('migrate', verbosity=0); c('seed_demo')",
]  # fmt: skip


def main() -> None:
    args = parse_args(__doc__ or "")
    # SIGTERM (the runner's timeout) unwinds through `finally`, which stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    port = int(os.environ.get("BENCH_SPARE_PORT", args.port + 1))
    with tempfile.TemporaryDirectory(prefix="baton-bench-sqlite-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["BATON_SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
        began = time.monotonic()
        seeded = subprocess.run(
            MIGRATE_AND_SEED, cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        key = seeded.stdout.strip().splitlines()[-1]  # seed_demo prints the key last
        with (Path(tmp) / "server.log").open("wb") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "portal.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--lifespan",
                    "on",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_healthy(port, server)
                log(f"SQLite migrated, seeded and serving after {time.monotonic() - began:.1f} s")
                local = replace(args, url=f"http://127.0.0.1:{port}", port=port)
                figures, notes = asyncio.run(measure(local, key, budgets=False))
            finally:
                with suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
        log((Path(tmp) / "server.log").read_text()[-2000:])
    emit("sqlite", figures, "embedded defaults, one uvicorn process; " + notes)


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the SQLite server exited ({server.returncode})")
        with (
            suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2),
        ):
            return
        time.sleep(0.3)
    raise RuntimeError(f"the SQLite server did not answer within {timeout:g} s")


if __name__ == "__main__":
    main()
