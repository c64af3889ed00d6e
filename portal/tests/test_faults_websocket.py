"""Fault 4 of issue 8: websocket clients cut at random during a burst, on the real stack —
uvicorn with two worker processes (one of them killed with SIGKILL mid-burst), a Celery worker,
PostgreSQL and Redis. Each client reconnects from the last event it saw (`since`); at the end
every program client's stream equals the event log (0 missed, 0 duplicated) and every browser
inbox client's rows equal what the inbox page shows.

Clients cut their own connection (the TCP transport aborted, or reading stopped and then the
connection aborted), stay away for a random while, and reconnect with `since`.
CI: ~8 clients, cuts of 0.2–3 s, a burst of a few hundred events. BATON_SOAK=1: 25 clients,
cuts of 1–60 s, a bigger burst."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.cookiejar
import itertools
import json
import os
import random
import re
import signal
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from conftest import PASSWORD, signal_body
from handoffs.models import Handoff
from handoffs.tests.e2e_support import set_server_password
from handoffs.tests.fault_support import (
    FaultStack,
    child_pids,
    fault_stack,
    soak_or,
)
from portal.models import Event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROGRAM_CLIENTS = soak_or(6, 20)
INBOX_CLIENTS = soak_or(2, 5)
SIGNALS = soak_or(150, 2000)  # each raises a handoff (one event)…
CLAIM_EVERY = 3  # …and every third is claimed through the API (another event)
SENDERS = 4
UP_SECONDS = soak_or((0.3, 2.0), (2.0, 20.0))  # connected between cuts
CUT_SECONDS = soak_or((0.2, 3.0), (1.0, 60.0))  # away after a cut
CONVERGE_SECONDS = soak_or(120, 300)
ROW = re.compile(r'<div class="row[^"]*"\s+id="handoff-row-(\d+)"')
STATUS = re.compile(r'class="status status-[a-z]+">([^<]*)<')
LIVE_SEQ = re.compile(r'id="live-seq" data-seq="(\d+)"')
ALL_OPEN = re.compile(r'All open <span class="count">(\d+)</span>')
NEXT_PAGE = re.compile(r'<a href="([^"]+)" rel="next">')


# ---- HTTP as a program and as a person -----------------------------------------------------


class Http:
    """urllib with a cookie jar: a logged-in person, or a program with a bearer key."""

    def __init__(self, base: str, *, key: str | None = None) -> None:
        self.base = base
        self.key = key
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next((c.value or "" for c in self.jar if c.name == name), "")

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """One request, retried with the same body when the server process answering it dies
        (the SIGKILL of a uvicorn worker): signals carry an idempotency key and a claim that
        already happened answers 409, so a retry never acts twice."""
        if self.key:
            headers = {**headers, "Authorization": f"Bearer {self.key}"}
        if method == "POST" and self.cookie("csrftoken"):
            headers = {**headers, "X-CSRFToken": self.cookie("csrftoken")}
        last: Exception | None = None
        for _ in range(20):
            request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1)
                self.base + path, data=body, method=method, headers=headers
            )
            try:
                with self.opener.open(request, timeout=30) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()
            except (OSError, http.client.HTTPException) as exc:  # reset, refused, cut short
                last = exc
        raise AssertionError(f"{method} {path} failed 20 times: {last!r}")

    def login(self, username: str) -> None:
        status, page = self.request("GET", "/accounts/login/", headers={})
        assert status == 200, page[:500]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token[1]}
        status, page = self.request(
            "POST",
            "/accounts/login/",
            body=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 200 and self.cookie("sessionid"), (status, page[:500])


# ---- the clients -------------------------------------------------------------------------


@dataclass
class Client:
    """One socket that is cut and reconnects with `since` until it has reached `target`."""

    name: str
    host: str
    rng: random.Random
    since: int
    connects: int = 0
    cuts: int = 0
    server_cuts: int = 0
    frames: int = 0

    def url(self) -> str:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def handle(self, frame: str) -> None:
        raise NotImplementedError

    async def run(self, burst: Burst) -> None:
        while not (burst.quiet.is_set() and self.since >= burst.target):
            try:
                async with connect(
                    self.url(), additional_headers=self.headers(), open_timeout=20, max_size=None
                ) as ws:
                    self.connects += 1
                    await self._session(ws, burst)
            except (OSError, TimeoutError, WebSocketException):
                self.server_cuts += 1  # the server went away under us (or refused for a moment)
                await asyncio.sleep(0.2)

    async def _session(self, ws: ClientConnection, burst: Burst) -> None:
        loop = asyncio.get_running_loop()
        cut_at = loop.time() + self.rng.uniform(*UP_SECONDS)
        while not (burst.quiet.is_set() and self.since >= burst.target):
            if not burst.quiet.is_set() and loop.time() >= cut_at:
                await self._cut(ws)
                return
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=0.25)
            except TimeoutError:
                continue
            self.frames += 1
            self.handle(frame if isinstance(frame, str) else frame.decode())

    async def _cut(self, ws: ClientConnection) -> None:
        """Drop the connection without a closing handshake, now or after not reading for a
        while (the server's writes pile up in the socket buffers, then the TCP side goes)."""
        self.cuts += 1
        away = self.rng.uniform(*CUT_SECONDS)
        transport = ws.transport
        if self.rng.random() < 0.5:
            transport.pause_reading()
            await asyncio.sleep(away)
            transport.abort()
        else:
            transport.abort()
            await asyncio.sleep(away)


@dataclass
class ProgramClient(Client):
    """`/ws/v1/events/?since=` with an API key: what it saw, seq by seq."""

    key: str = ""
    seen: list[tuple[int, str, Any]] = field(default_factory=list)

    def url(self) -> str:
        return f"ws://{self.host}/ws/v1/events/?since={self.since}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def handle(self, frame: str) -> None:
        message = json.loads(frame)
        assert "seq" in message and message.get("type") != "reset", message
        self.seen.append((message["seq"], message["type"], message["handoff"]))
        self.since = max(self.since, message["seq"])


@dataclass
class InboxClient(Client):
    """`/ws/ui/?page=inbox` on a person's session: the inbox rows as htmx would leave them."""

    session: str = ""
    rows: dict[int, str] = field(default_factory=dict)  # handoff id → its status cell
    inserted: Counter[int] = field(default_factory=Counter)  # rows added on top, per handoff
    all_open: int | None = None

    def url(self) -> str:
        return f"ws://{self.host}/ws/ui/?view=all&page=inbox&since={self.since}"

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"sessionid={self.session}", "Origin": f"http://{self.host}"}

    def handle(self, frame: str) -> None:
        starts = [m.start() for m in ROW.finditer(frame)] + [len(frame)]
        for begin, end in itertools.pairwise(starts):
            chunk = frame[begin:end]
            handoff_id = int(ROW.match(chunk)[1])  # type: ignore[index]
            status = _status(chunk)
            if frame[:begin].rstrip().endswith('hx-swap-oob="afterbegin">'):
                # A new row on top; htmx would show a second copy if one were there already.
                self.inserted[handoff_id] += 1
                self.rows[handoff_id] = status
            elif handoff_id in self.rows:  # out-of-band: replaces the row if the page has it
                self.rows[handoff_id] = status
        if count := ALL_OPEN.search(frame):
            self.all_open = int(count[1])
        if seq := LIVE_SEQ.search(frame):
            self.since = max(self.since, int(seq[1]))


def _status(row_html: str) -> str:
    found = STATUS.search(row_html)
    return " ".join(found[1].split()) if found else ""


def inbox_page_rows(person: Http) -> tuple[dict[int, str], int, int]:
    """Every row of the inbox (all pages), its "All open" count and the seq it was read at."""
    rows: dict[int, str] = {}
    path: str | None = "/inbox/?view=all"
    all_open = since = -1
    while path:
        status, body = person.request("GET", path, headers={})
        assert status == 200, body[:500]
        page = body.decode()
        if all_open < 0:
            all_open = int(ALL_OPEN.search(page)[1])  # type: ignore[index]
            since = int(LIVE_SEQ.search(page)[1])  # type: ignore[index]
        listing = page[page.index('id="inbox-rows"') :]
        starts = [m.start() for m in ROW.finditer(listing)] + [len(listing)]
        for begin, end in itertools.pairwise(starts):
            rows[int(ROW.match(listing[begin:end])[1])] = _status(listing[begin:end])  # type: ignore[index]
        found = NEXT_PAGE.search(page)
        path = "/inbox/" + found[1].replace("&amp;", "&") if found else None
    return rows, all_open, since


# ---- the burst ---------------------------------------------------------------------------


@dataclass
class Burst:
    quiet: asyncio.Event = field(default_factory=asyncio.Event)
    target: int = 0  # the log's head once the burst is over
    sent: int = 0
    server_kills: int = 0
    killed_worker_held: int = 0  # connections the killed server worker held


def _head() -> int:
    try:
        return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    finally:
        connection.close()  # called on a worker thread: give its connection back


def _oldest_unclaimed() -> int | None:
    try:
        return (
            Handoff.objects.filter(assignee=None, status="open")
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
    finally:
        connection.close()


async def _send_signals(burst: Burst, ingest: Http, rep: Http, server_pid: int, port: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(SIGNALS):
        queue.put_nowait(i)

    async def sender() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = signal_body(external_id=f"ws-{i}", key=f"ws-burst-{i}")
            status, answer = await asyncio.to_thread(
                ingest.request,
                "POST",
                "/api/v1/signals/",
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert status == 202, answer[:500]
            burst.sent += 1
            if burst.sent == SIGNALS // 3:
                for _ in range(100):  # a moment when it holds someone's connection
                    if held := _kill_one_server_worker(server_pid, port):
                        break
                    await asyncio.sleep(0.05)
                burst.killed_worker_held, burst.server_kills = held, 1
            if i % CLAIM_EVERY == 0 and (handoff_id := await asyncio.to_thread(_oldest_unclaimed)):
                status, answer = await asyncio.to_thread(
                    rep.request, "POST", f"/api/v1/handoffs/{handoff_id}/claim/", headers={}
                )
                assert status in (200, 409), answer[:500]

    await asyncio.gather(*(sender() for _ in range(SENDERS)))


def _kill_one_server_worker(server_pid: int, port: int) -> int:
    """SIGKILL the uvicorn worker process holding the most connections (client sockets and
    requests), if any: they drop mid-stream, and the supervisor starts another. How many it
    held (0: nothing killed)."""
    established = _established_inodes(port)

    def held(pid: int) -> int:
        fds = Path(f"/proc/{pid}/fd")
        links = []
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                links.append(os.readlink(fd))
        return sum(1 for link in links if link in established)

    workers = [
        pid
        for pid in child_pids(server_pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert workers, "no uvicorn worker process to kill"
    busiest = max(workers, key=held)
    count = held(busiest)
    if count:
        os.kill(busiest, signal.SIGKILL)
    return count


def _established_inodes(port: int) -> set[str]:
    """`socket:[inode]` of every established TCP connection to local `port` (/proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
            inodes.add(f"socket:[{fields[9]}]")
    return inodes


async def _run(
    clients: list[Client], ingest: Http, rep: Http, server_pid: int
) -> tuple[Burst, int]:
    burst = Burst()
    tasks = [asyncio.create_task(c.run(burst)) for c in clients]
    try:
        await asyncio.sleep(1)  # everyone connected (and cut) once before the burst
        await _send_signals(burst, ingest, rep, server_pid, int(ingest.base.rsplit(":", 1)[1]))
        # Quiet: the log's head stops moving. Clients stop cutting and catch up to it.
        head = -1
        while (now := await asyncio.to_thread(_head)) != head:
            head = now
            await asyncio.sleep(2)
        burst.target = head
        burst.quiet.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=CONVERGE_SECONDS)
    finally:
        for task in tasks:
            task.cancel()
    return burst, head


def test_clients_cut_during_a_burst_converge_on_the_database(
    org: Any, api_key: str, reader_key: str
) -> None:
    sam, riley = org.users["sam"], org.users["riley"]  # Sales' director watches; a rep claims
    set_server_password([sam, riley], PASSWORD)
    start = _head()
    rng = random.Random(8)
    with fault_stack("websocket") as stack:
        stack.worker()
        server, host = stack.server(workers=2)
        base = f"http://{host}"
        ingest, rep = Http(base, key=api_key), Http(base)
        rep.login("riley")
        watchers = [Http(base) for _ in range(INBOX_CLIENTS)]
        for person in watchers:
            person.login("sam")
        _, _, inbox_since = inbox_page_rows(watchers[0])
        programs = [
            ProgramClient(f"program-{i}", host, random.Random(rng.random()), start, key=reader_key)
            for i in range(PROGRAM_CLIENTS)
        ]
        inboxes = [
            InboxClient(
                f"inbox-{i}",
                host,
                random.Random(rng.random()),
                inbox_since,
                session=person.cookie("sessionid"),
            )
            for i, person in enumerate(watchers)
        ]
        burst, head = asyncio.run(_run([*programs, *inboxes], ingest, rep, server.pid))
        _check(stack, programs, inboxes, watchers[0], burst, start, head)


def _check(
    stack: FaultStack,
    programs: list[ProgramClient],
    inboxes: list[InboxClient],
    watcher: Http,
    burst: Burst,
    start: int,
    head: int,
) -> None:
    log = [(e.id, e.type, e.payload) for e in Event.objects.filter(id__gt=start).order_by("id")]
    assert Handoff.objects.count() == SIGNALS
    assert log and log[-1][0] == head
    report = []
    for client in programs:
        seqs = [s for s, _, _ in client.seen]
        missed = sorted({s for s, _, _ in log} - set(seqs))
        duplicated = len(seqs) - len(set(seqs))
        report.append((client.name, client.connects, client.cuts, len(seqs), missed, duplicated))
        assert (missed, duplicated) == ([], 0), report[-1]
        assert client.seen == log, f"{client.name} saw other events, or out of order"
    rows, all_open, _ = inbox_page_rows(watcher)
    assert len(rows) == SIGNALS
    for client in inboxes:
        twice = sorted(h for h, n in client.inserted.items() if n > 1)
        report.append((client.name, client.connects, client.cuts, len(client.rows), twice))
        assert twice == [], report[-1]
        assert client.rows == rows, f"{client.name}'s rows differ from the inbox page"
        assert client.all_open == all_open
    assert burst.server_kills == 1 and burst.killed_worker_held > 0
    claimed = Handoff.objects.filter(assignee__isnull=False).count()
    cuts = sum(c.cuts for c in [*programs, *inboxes])
    server_cuts = sum(c.server_cuts for c in [*programs, *inboxes])
    print(
        f"websocket faults: {len(programs)} program + {len(inboxes)} inbox clients, "
        f"{cuts} client cuts, {burst.server_kills} server worker killed holding "
        f"{burst.killed_worker_held} connections "
        f"({server_cuts} failed connects/drops), {len(log)} events "
        f"({SIGNALS} raised, {claimed} claimed), 0 missed, 0 duplicated"
    )
    for line in report:
        print(line)
