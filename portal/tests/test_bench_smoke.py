"""Issue 7's benchmark suite at its tiny size, once, so it never rots: the whole of `bench/suite.py`
(the production stack on its own database, every bench/scenario_*.py) must write a complete
report — every scenario present, every figure a number. Budgets are NOT asserted: timings on a
shared CI machine say nothing; the lead runs the full size on a quiet one."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
MACHINE_KEYS = {"cpu", "cores", "ram_gb", "os", "python", "postgresql", "redis", "commit", "date"}


def _free_pair() -> int:
    """Two adjacent free ports (the stack's and the SQLite scenario's) in 9500–9599."""
    for port in range(9510, 9598, 2):
        try:
            for candidate in (port, port + 1):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    pytest.fail("no two adjacent free ports in 9510–9598")


def _run_suite(out: Path) -> subprocess.CompletedProcess[str]:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres"):
        pytest.skip("the benchmark smoke test needs PostgreSQL (DATABASE_URL)")
    if not redis_url:
        pytest.skip("the benchmark smoke test needs Redis (REDIS_URL)")
    own_db = f"{urlparse(database_url).path.lstrip('/') or 'baton'}_bench"
    cmd = [
        sys.executable, "bench/suite.py", "--size", "tiny", "--runs", "1",
        "--port", str(_free_pair()), "--database", own_db, "--redis-url", redis_url,
        "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = proc.communicate(timeout=600)  # a guard against a hang, not a timing check
    except subprocess.TimeoutExpired:
        proc.terminate()  # the suite unwinds and stops its servers
        output, _ = proc.communicate(timeout=60)
        pytest.fail(f"the tiny suite did not finish:\n{output[-4000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, output, "")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.integration
def test_tiny_suite_writes_a_complete_report(tmp_path: Path) -> None:
    expected = {p.stem.removeprefix("scenario_") for p in (ROOT / "bench").glob("scenario_*.py")}
    done = _run_suite(tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    report = json.loads((tmp_path / "report.json").read_text())

    got = {s["scenario"]: s for s in report["scenarios"]}
    assert set(got) == expected | {"memory"}, done.stdout[-4000:]
    for name, result in got.items():
        assert not result.get("error"), f"{name}: {result.get('error')}"
        assert result["figures"], f"{name} reported no figures"
        for fig in result["figures"]:
            where = f"{name} / {fig.get('name')}"
            assert fig["name"] and fig["unit"], where
            assert _is_number(fig["value"]), where
            assert len(fig["runs"]) == 1 and all(_is_number(v) for v in fig["runs"]), where
            if fig["budget"] is None:
                assert fig["op"] is None and fig["pass"] is None, where
            else:
                assert fig["op"] in ("<", "<=", ">", ">="), where
                assert isinstance(fig["pass"], bool), where
    # memory: every uvicorn worker (README: --workers 2) and the Celery processes
    memory = [f["name"] for f in got["memory"]["figures"]]
    assert sum(n.startswith("web worker") for n in memory) == 2, memory
    assert any(n.startswith("celery worker") for n in memory), memory
    assert set(report["machine"]) >= MACHINE_KEYS, report["machine"]
    assert all(report["machine"][k] not in ("", None) for k in MACHINE_KEYS), report["machine"]

    table = (tmp_path / "report.md").read_text()
    assert "| scenario | figure | value | budget | pass | spread (min–max) |" in table
    for name in got:
        assert f"| {name} |" in table


def _suite() -> Any:
    spec = importlib.util.spec_from_file_location("bench_suite", ROOT / "bench" / "suite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figures_are_judged_against_their_budgets_and_errors_fail() -> None:
    suite = _suite()
    result = suite._parse(
        json.dumps(
            {
                "scenario": "x",
                "figures": [
                    {
                        "name": "a",
                        "value": 100,
                        "unit": "ms",
                        "budget": 100,
                        "op": "<",
                        "runs": [100],
                    },
                    {
                        "name": "b",
                        "value": 99.9,
                        "unit": "ms",
                        "budget": 100,
                        "op": "<",
                        "runs": [99.9],
                    },
                    {
                        "name": "c",
                        "value": 600,
                        "unit": "/s",
                        "budget": 600,
                        "op": ">=",
                        "runs": [600],
                    },
                    {
                        "name": "d",
                        "value": 5,
                        "unit": "/s",  # no budget, no op: reported, not judged
                        "runs": [4, 5, 9],
                    },
                    {"name": "f", "value": 2, "unit": "x", "budget": 2, "op": ">", "runs": [2]},
                    {"name": "e", "value": 1, "unit": "/s", "budget": 2, "op": "!=", "runs": [1]},
                ],
            }
        )
    )
    suite.judge(result)
    assert [f["pass"] for f in result["figures"]] == [False, True, True, None, False, False]
    assert result["figures"][3]["budget"] is None and result["figures"][3]["op"] is None
    assert suite._parse("not json") is None
    assert suite._parse('{"scenario": "x"}') is None  # no figures: not a result

    machine = dict.fromkeys(MACHINE_KEYS, "?")
    broken = {"scenario": "y", "figures": [], "error": "exit 1: boom"}
    table = suite.markdown(
        {"size": "tiny", "runs": 3, "stack": "s", "machine": machine, "scenarios": [result, broken]}
    )
    assert "| x | d | 5 /s | — | — | 4–9 |" in table
    assert "| x | a | 100 ms | < 100 ms | FAIL | 100–100 |" in table
    assert "| y | — | error | — | FAIL | — |" in table
    assert "exit 1: boom" in table
