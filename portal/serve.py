"""The production web server: uvicorn, with a listening socket of its own for each worker.

    python -m portal.serve portal.asgi:application --host 0.0.0.0 --port 8000 --workers 2

Takes exactly uvicorn's command line. `uvicorn --workers N` binds one socket in its parent and
every worker waits on that one accept queue: whichever event loop wakes first accepts every
connection waiting, so ten reps' browsers connecting together all land on one worker while the
other idles (the claim storm measured one process at 100 % of a core and the other at 0 %, and
the batch ingest the same; docs/performance.md). Here, on Linux, each worker binds its own
`SO_REUSEPORT` socket on the same address and the kernel spreads new connections over them by
their address hash. uvicorn's supervisor is unchanged (health checks, restarts, signals); only
the process it starts for a worker is ours. Elsewhere, and for `--uds` / `--fd`, it is plain
uvicorn.
"""

from __future__ import annotations

import importlib
import socket
import sys
from typing import Any

from uvicorn.config import Config
from uvicorn.supervisors import multiprocess

# The module: `uvicorn.main` as an attribute is the command (uvicorn/__init__.py re-exports it).
uvicorn_main = importlib.import_module("uvicorn.main")

REUSE_PORT = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listen_reusing_port(config: Config) -> socket.socket:
    """A socket bound to the server's address that other workers' sockets may share."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    return sock


class ReusePortWorker(multiprocess.Process):
    """uvicorn's worker process, listening on a socket it binds itself (in the child)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        super().target(sockets or [listen_reusing_port(self.config)])


class ReusePortSupervisor(multiprocess.Multiprocess):
    """uvicorn's supervisor; its workers bind their own sockets. The parent's socket has done
    its job (the address was free: a clear error at start rather than workers failing to bind)
    and is closed before any worker binds."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        if config.uds or config.fd is not None:
            super().__init__(config, sockets)
            return
        for sock in sockets:
            sock.close()
        super().__init__(config, sockets=[])


def main(argv: list[str] | None = None) -> Any:
    if REUSE_PORT:
        # The supervisor builds its workers from this module's global at each (re)start.
        multiprocess.Process = ReusePortWorker  # type: ignore[misc]
        uvicorn_main.Multiprocess = ReusePortSupervisor  # type: ignore[attr-defined]
    return uvicorn_main.main(argv)


if __name__ == "__main__":
    main()
