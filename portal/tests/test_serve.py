"""`python -m portal.serve` (README's production command): uvicorn whose workers each listen on
a socket of their own, so connections opened together are spread over the workers instead of
all being accepted by whichever worker woke first."""

from __future__ import annotations

import socket
import time
from typing import Any

import psutil
import pytest

from handoffs.tests.live_support import live

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CONNECTIONS = 24


def _open_together(port: int) -> list[socket.socket]:
    """`CONNECTIONS` keep-alive connections, opened back to back, each answered once."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    for sock in socks:
        sock.settimeout(30)
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return socks


def _workers(server_pid: int) -> list[psutil.Process]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    return [
        p for p in psutil.Process(server_pid).children() if "spawn_main" in " ".join(p.cmdline())
    ]


def _listening(worker: psutil.Process, port: int) -> list[Any]:
    return [
        c
        for c in worker.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    ]


def _all_listening(server_pid: int, port: int) -> None:
    """/healthz answers once one worker is up; the test wants both."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = _workers(server_pid)
        if len(workers) == 2 and all(_listening(w, port) for w in workers):
            return
        time.sleep(0.2)
    pytest.fail("the workers did not both listen within 60 s")


def _held_by_each_worker(server_pid: int, port: int) -> list[int]:
    workers = _workers(server_pid)
    return [
        sum(
            1
            for c in worker.net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
        )
        for worker in workers
    ]


def test_connections_opened_together_are_spread_over_the_workers() -> None:
    with live() as (server, _):
        _all_listening(server.process.pid, server.port)
        socks = _open_together(server.port)
        try:
            held = _held_by_each_worker(server.process.pid, server.port)
        finally:
            for sock in socks:
                sock.close()
    assert len(held) == 2 and sum(held) == CONNECTIONS
    # By address hash: all 24 on one worker has odds of 2 in 2^24.
    assert min(held) > 0, f"one worker took every connection: {held}"


def test_every_worker_listens_on_its_own_socket() -> None:
    with live() as (server, _):
        _all_listening(server.process.pid, server.port)
        parent = psutil.Process(server.process.pid)
        own = [len(_listening(worker, server.port)) for worker in _workers(parent.pid)]
        shared = _listening(parent, server.port)
    assert own == [1, 1]
    assert shared == []  # the parent's socket was closed: no queue shared by both workers
