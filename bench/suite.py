"""The benchmark runner (issue 7): start the production stack on this machine, run every
`bench/scenario_*.py` against it, judge the figures and write bench/results/report.{json,md}.

    python bench/suite.py --size tiny --runs 1 --port 9500 --database baton_bench_tiny

PostgreSQL and Redis must already answer (bench/run starts them). DATABASE_URL names the server
(its database part is replaced by --database, which is dropped and made afresh); --redis-url
(default REDIS_URL) is the channel layer and Celery broker."""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MEMORY_BUDGET_MB = 300
MEMORY_AFTER = "ingest"  # issue 7: RSS "at the end of the ingest run"
# One interpreter for both (Django starts once): the schema, then the demo organisation.
MIGRATE_AND_SEED = [
    sys.executable, "manage.py", "shell", "-c",
    "from django.core.management import call_command as c;"
    "c('migrate', verbosity=0); c('seed_demo')",
]  # fmt: skip
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


# --- the stack ------------------------------------------------------------------------------------


def database_url(base: str, name: str) -> str:
    return urlunparse(urlparse(base)._replace(path=f"/{name}"))


def recreate_database(base: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url(base, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Stack:
    """uvicorn (README's worker count), a Celery worker and beat, each in its own process group
    so that stopping them never leaves a child behind."""

    def __init__(self, env: dict[str, str], port: int, workers: int, logs: Path) -> None:
        self.env, self.port, self.workers, self.logs = env, port, workers, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.tmp = tempfile.TemporaryDirectory(prefix="baton-bench-")

    def start(self) -> None:
        py = sys.executable
        # The leads' escalation emails (and any journey email) go to a real local SMTP server
        # that accepts and discards them, as a working mail relay would: without one, every
        # send is refused and retried, and those retries compete for the CPU being measured.
        sink = ["-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{self.env['EMAIL_PORT']}"]
        self._spawn("smtp", [py, "-m", "aiosmtpd", "-n", *sink])
        self._spawn(
            "web",
            [
                py,
                "-m",
                "portal.serve",  # README's production command: uvicorn, a socket per worker
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--lifespan",
                "on",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        )
        self._spawn("worker", [py, "-m", "celery", "-A", "portal", "worker", "-l", "warning"])
        self._spawn(
            "beat",
            [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "-l",
                "warning",
                "-s",
                str(Path(self.tmp.name) / "celerybeat-schedule"),
            ],
        )
        self._wait_healthy()

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}): see {self.logs}")
            with (
                suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2),
            ):
                return
            time.sleep(0.3)
        raise RuntimeError(f"the server did not answer /healthz within {timeout:g} s")

    def memory(self) -> list[dict[str, Any]]:
        """RSS of each uvicorn worker and each Celery process (worker, its pool children, beat)."""
        rows: list[dict[str, Any]] = []
        web = psutil.Process(self.procs["web"].pid)
        workers = [c for c in web.children() if not _is_helper(c)]
        for n, child in enumerate(sorted(workers, key=lambda p: p.pid), 1):
            rows.append({"name": f"web worker {n}", "rss_mb": _rss_mb(child)})
        worker = psutil.Process(self.procs["worker"].pid)
        rows.append({"name": "celery worker (main)", "rss_mb": _rss_mb(worker)})
        for n, child in enumerate(sorted(worker.children(), key=lambda p: p.pid), 1):
            rows.append({"name": f"celery worker child {n}", "rss_mb": _rss_mb(child)})
        rows.append(
            {"name": "celery beat", "rss_mb": _rss_mb(psutil.Process(self.procs["beat"].pid))}
        )
        return rows

    def stop(self) -> None:
        for proc in self.procs.values():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: stragglers of a clean exit too
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()
        self.tmp.cleanup()


def _is_helper(proc: psutil.Process) -> bool:
    """multiprocessing's resource tracker, not a server worker."""
    with suppress(psutil.Error):
        return any("resource_tracker" in part for part in proc.cmdline())
    return True


def _rss_mb(proc: psutil.Process) -> float:
    return round(proc.memory_info().rss / 2**20, 1)


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


# --- scenarios ------------------------------------------------------------------------------------


def discover(only: list[str] | None) -> list[str]:
    names = sorted(p.stem.removeprefix("scenario_") for p in BENCH.glob("scenario_*.py"))
    if only:
        unknown = sorted(set(only) - set(names) - {"memory"})
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; have {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def run_scenario(
    name: str, *, size: str, runs: int, url: str, env: dict[str, str], timeout: float, logs: Path
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(BENCH / f"scenario_{name}.py"),
        "--size",
        size,
        "--runs",
        str(runs),
        "--url",
        url,
    ]
    print(f"==> {name}", flush=True)
    began = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        stop_gently(proc)  # SIGTERM first: a scenario stops the servers it started itself
        stdout, stderr = proc.communicate()
        stderr += f"\n(timed out after {timeout:g} s)"
        code = -1
    except BaseException:
        stop_gently(proc)
        raise
    seconds = round(time.monotonic() - began, 1)
    (logs / f"scenario_{name}.log").write_text(f"$ {' '.join(cmd)}\n{stdout}\n--- stderr\n{stderr}")
    result = _parse(stdout.strip().splitlines()[-1] if stdout.strip() else "")
    if code != 0 or result is None:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        return {
            "scenario": name,
            "figures": [],
            "error": f"exit {code}: {tail}",
            "seconds": seconds,
        }
    result.setdefault("notes", "")
    result["seconds"] = seconds
    return result


def stop_gently(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exit_on_sigterm() -> None:
    """SIGTERM (a CI timeout, a kill) unwinds like Ctrl-C: every `finally` stops its processes."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def _parse(line: str) -> dict[str, Any] | None:
    try:
        result = json.loads(line)
    except ValueError:
        return None
    if not isinstance(result, dict) or not isinstance(result.get("figures"), list):
        return None
    return result


def memory_result(rows: list[dict[str, Any]], when: str) -> dict[str, Any]:
    return {
        "scenario": "memory",
        "figures": [
            {
                "name": f"{row['name']} RSS",
                "value": row["rss_mb"],
                "unit": "MB",
                "budget": MEMORY_BUDGET_MB,
                "op": "<",
                "runs": [row["rss_mb"]],
            }
            for row in rows
        ],
        "notes": f"measured once, {when}",
    }


def judge(result: dict[str, Any]) -> None:
    for fig in result["figures"]:
        fig.setdefault("budget", None)  # a figure without a budget is reported, not judged
        fig.setdefault("op", None)
        value, budget, op = fig.get("value"), fig["budget"], fig["op"]
        if budget is None or op is None or not isinstance(value, int | float):
            fig["pass"] = None
        elif op in OPS:
            fig["pass"] = OPS[op](value, budget)
        else:
            fig["pass"] = False
            fig["error"] = f"unknown op {op!r}"


# --- machine --------------------------------------------------------------------------------------


def clear_broker(redis_url: str) -> None:
    """Drop the Celery queue an earlier run left behind: its tasks name rows of the database
    just dropped (an escalation alert retries 15 times waiting for events that will never
    appear) and would run beside this run's measurements."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete("celery", "_kombu.binding.celery", "unacked", "unacked_index")
    finally:
        client.close()


def machine(db_url: str, redis_url: str) -> dict[str, Any]:
    import psycopg
    import redis

    cpu = platform.processor()
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    os_name = platform.platform()
    with suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.partition('=')[2].strip(chr(34))} ({platform.release()})"
    try:
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = str(row[0]) if row else "?"
    except psycopg.Error as exc:
        pg = f"? ({exc})"
    try:
        redis_version = redis.Redis.from_url(redis_url).info("server").get("redis_version", "?")
    except redis.RedisError as exc:
        redis_version = f"? ({exc})"
    commit = _git("rev-parse", "HEAD")
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": os_name,
        "python": platform.python_version(),
        "postgresql": pg,
        "redis": redis_version,
        "commit": commit,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


# --- report ---------------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Baton benchmark — size {report['size']}, median of {report['runs']} run(s)",
        "",
        f"{m['date']} · {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB · {m['os']} · "
        f"Python {m['python']} · PostgreSQL {m['postgresql']} · Redis {m['redis']} · "
        f"commit {m['commit']} · {report['stack']}",
        "",
        "| scenario | figure | value | budget | pass | spread (min–max) |",
        "|---|---|---|---|---|---|",
    ]
    for result in report["scenarios"]:
        if result.get("error"):
            lines.append(f"| {result['scenario']} | — | error | — | FAIL | — |")
            continue
        for fig in result["figures"]:
            unit = fig.get("unit", "")
            runs = [r for r in fig.get("runs", []) if isinstance(r, int | float)]
            spread = f"{_num(min(runs))}–{_num(max(runs))}" if runs else "—"
            budget = (
                f"{fig['op']} {_num(fig['budget'])} {unit}"
                if fig.get("budget") is not None
                else "—"
            )
            verdict = {True: "pass", False: "FAIL", None: "—"}[fig.get("pass")]
            lines.append(
                f"| {result['scenario']} | {fig['name']} | {_num(fig.get('value'))} {unit} | "
                f"{budget} | {verdict} | {spread} |"
            )
    lines += ["", "Notes:", ""]
    for result in report["scenarios"]:
        text = result.get("error") or result.get("notes") or ""
        took = f" ({result['seconds']} s)" if "seconds" in result else ""
        lines.append(f"- **{result['scenario']}**{took}: {' '.join(str(text).split())}")
    return "\n".join(lines) + "\n"


def _num(value: Any) -> str:
    if not isinstance(value, int | float):
        return "?"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn --workers (README: 2)")
    parser.add_argument("--database", default="")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    exit_on_sigterm()

    base = os.environ.get("DATABASE_URL", "postgres://baton:baton@127.0.0.1:5432/baton")
    name = args.database or f"baton_bench_{args.size}"
    if not name.startswith("baton_"):
        parser.error("--database must start with baton_ (it is dropped and made afresh)")
    only = [n.strip() for n in args.only.split(",") if n.strip()] or None
    scenarios = discover(only)
    db_url = database_url(base, name)
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "baton-bench-only-" + "x" * 40,
        "DEBUG": "false",
        # Throughput and races are measured here, not the abuse limits (docs/reliability.md).
        "BATON_RATE_LIMIT_KEY_PER_MINUTE": "0",
        "BATON_RATE_LIMIT_USER_API_PER_MINUTE": "0",
        "BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE": "0",
        "BENCH_SPARE_PORT": str(args.port + 1),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(args.port + 2),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("BATON_SQLITE_PATH", None)
    timeout = 3 * 3600 if args.size == "full" else 120

    began = time.monotonic()
    print(f"==> database {name}: migrate and seed the demo organisation", flush=True)
    recreate_database(base, name)
    clear_broker(args.redis_url)
    host = machine(db_url, args.redis_url)  # before the stack takes its connections
    with (logs / "seed.log").open("wb") as seed_log:
        subprocess.run(
            MIGRATE_AND_SEED, cwd=ROOT, env=env, check=True, stdout=seed_log, stderr=seed_log
        )
    results: list[dict[str, Any]] = []
    stack = Stack(env, args.port, args.workers, logs)
    print(
        f"==> uvicorn --workers {args.workers} on :{args.port}, Celery worker and beat", flush=True
    )
    with running(stack):
        print(f"    stack up after {time.monotonic() - began:.0f} s", flush=True)
        for scenario in scenarios:
            result = run_scenario(
                scenario,
                size=args.size,
                runs=args.runs,
                url=f"http://127.0.0.1:{args.port}",
                env=env,
                timeout=timeout,
                logs=logs,
            )
            results.append(result)
            print(f"    {scenario}: {result['seconds']} s", flush=True)
            if scenario == MEMORY_AFTER:
                results.append(memory_result(stack.memory(), f"right after {MEMORY_AFTER}"))
        if MEMORY_AFTER not in scenarios and (only is None or "memory" in only):
            results.append(memory_result(stack.memory(), f"at the end ({MEMORY_AFTER} not run)"))
    for result in results:
        judge(result)
    report = {
        "size": args.size,
        "runs": args.runs,
        "stack": f"uvicorn --workers {args.workers}, Celery worker + beat, PostgreSQL + Redis",
        "machine": host,
        "scenarios": results,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.out / "report.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
