"""Two reps, two browsers, one real server: a high-value signal appears in both live inboxes, one
rep claims it and the other sees that live, the reply goes out signed and shows as sent; and two
reps clicking Claim at the same moment get exactly one winner.

Real Chromium (Playwright) against uvicorn serving portal.asgi with production settings, Redis
as the channel layer and pytest's PostgreSQL test database. Run last (conftest sorts `e2e`
items to the end: Playwright's sync API leaves an event loop running, STACK-NOTES)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import PASSWORD, Org, signal_body
from handoffs.models import Handoff, Message
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

LIVE_MS = 15_000  # a live update must arrive within this (generous for a 2-core CI box)


class Rep:
    """One person in their own browser context (own cookies), with a console watch."""

    def __init__(self, browser: Any, server: e2e.LiveServer, username: str) -> None:
        self.username = username
        self.server = server
        self.context = browser.new_context(viewport={"width": 1360, "height": 900})
        self.context.set_default_timeout(LIVE_MS)
        self.page = self.context.new_page()
        self.watch = e2e.ConsoleWatch(username)
        self.watch.attach(self.page, server.url)

    def log_in(self) -> None:
        page = self.page
        response = page.goto(f"{self.server.url}/inbox/")
        assert "/accounts/login/" in page.url  # anonymous: sent to the login form
        # The console check below means something only if the page is under a strict CSP.
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self' 'nonce-" in csp, csp
        page.fill("#id_username", self.username)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{self.server.url}/inbox/")

    def wait_live(self) -> None:
        self.page.wait_for_selector("#live-status.on", timeout=LIVE_MS)

    def row(self, text: str) -> Any:
        return self.page.locator("#inbox-rows .row", has_text=text)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def reps(org: Org, browser: Any, server: e2e.LiveServer) -> Iterator[dict[str, Rep]]:
    e2e.set_server_password([org.users["riley"], org.users["sam"]], PASSWORD)
    people = {name: Rep(browser, server, name) for name in ("riley", "sam")}
    try:
        yield people
    finally:
        for rep in people.values():
            rep.close()


def send_signal(server: e2e.LiveServer, api_key: str, *, name: str = "", **kwargs: Any) -> None:
    """POST to the live server's API as an integration does (conftest's body, API.md's shape)."""
    body = signal_body(**kwargs)
    if name:
        body["contact"]["name"] = name
    status, answer = e2e.post_json(f"{server.url}/api/v1/signals/", body, api_key=api_key)
    assert status == 202, answer
    assert answer["duplicate"] is False


def assert_clean_consoles(reps: dict[str, Rep]) -> None:
    watches = [rep.watch for rep in reps.values()]
    assert e2e.csp_violations(watches) == []
    assert [p for w in watches for p in w.problems()] == []


@pytest.mark.django_db(transaction=True)
def test_a_high_value_signal_reaches_both_reps_live_and_the_claimed_reply_goes_out(
    server: e2e.LiveServer, reps: dict[str, Rep], org: Org, api_key: str
) -> None:
    started = time.monotonic()
    riley, sam = reps["riley"], reps["sam"]
    with server.log_on_failure(riley.watch, sam.watch):
        for rep in (riley, sam):
            rep.log_in()
            rep.wait_live()
        assert riley.page.locator("#inbox-rows .row").count() == 0

        # The API.md example signal: budget 50,000 → urgent Sales handoff, offered to Director.
        send_signal(server, api_key, budget=50000, key="form-8841")

        for rep in (riley, sam):
            rep.row("Ada Lovelace").wait_for(timeout=LIVE_MS)  # no reload: it arrived live
        handoff = Handoff.objects.get(contact__external_id="c-1001")
        assert riley.page.url == f"{server.url}/inbox/"
        sams_row = sam.row("Ada Lovelace")
        assert "Offered to you" in sams_row.inner_text()
        assert "Offered to you" not in riley.row("Ada Lovelace").inner_text()
        assert sams_row.locator(".badge.prio-urgent").count() == 1
        sam.page.locator("#toasts .toast", has_text="Ada Lovelace").wait_for(timeout=LIVE_MS)
        e2e.screenshot(sam.page, "e2e-1-sam-inbox-offered")
        e2e.screenshot(riley.page, "e2e-1-riley-inbox-new")

        riley.row("Ada Lovelace").locator("[data-claim]").click()

        riley.row("Ada Lovelace").get_by_text("Claimed by you", exact=True).wait_for()
        sam.row("Ada Lovelace").get_by_text("Claimed by Riley Reed", exact=True).wait_for()
        assert sam.row("Ada Lovelace").locator("[data-claim]").count() == 0
        assert "Offered to you" not in sam.row("Ada Lovelace").inner_text()
        handoff.refresh_from_db()
        assert handoff.assignee_id == org.users["riley"].pk
        e2e.screenshot(riley.page, "e2e-2-riley-inbox-claimed")
        e2e.screenshot(sam.page, "e2e-2-sam-inbox-claimed-by-riley")

        # Riley opens the handoff and replies.
        riley.row("Ada Lovelace").get_by_role("link", name="Open").click()
        riley.page.wait_for_url(f"{server.url}/handoffs/{handoff.pk}/")
        riley.wait_live()
        riley.page.get_by_text("Your first reply is signed “— Riley Reed, Sales team”.").wait_for()
        riley.page.fill("#reply-body", "Hi Ada, thanks for the details. When suits you for a call?")
        frames_before = len(riley.watch.frames)
        riley.page.get_by_role("button", name="Send reply").click()

        message = riley.page.locator("#conversation .msg-out").last
        message.get_by_text("— Riley Reed, Sales team").wait_for()
        assert "When suits you for a call?" in message.inner_text()
        message.locator(".delivery", has_text="Sent").wait_for(timeout=LIVE_MS)
        assert message.locator(".delivery").inner_text() == "Sent via email"
        mail = "".join(p.read_text() for p in e2e.MAIL_DIR.glob("*.log"))
        assert "When suits you for a call?" in mail and "Riley Reed via Baton" in mail
        # The live push of the conversation can land before the reply's own answer clears
        # the box: wait for it rather than read it once.
        from playwright.sync_api import expect

        expect(riley.page.locator("#reply-body")).to_have_value("", timeout=LIVE_MS)
        # The delivery also reaches the page over the live socket (outbox poke / reply event),
        # not only in the answer to the POST (eager delivery happens before that answer).
        deadline = time.monotonic() + LIVE_MS / 1000
        while time.monotonic() < deadline and not any(
            "delivery-sent" in f for f in riley.watch.frames[frames_before:]
        ):
            riley.page.wait_for_timeout(100)
        assert any("delivery-sent" in f for f in riley.watch.frames[frames_before:])
        stored = Message.objects.get(handoff=handoff)
        assert stored.body.endswith("\n\n— Riley Reed, Sales team")
        assert stored.outbox.status == "sent"
        e2e.screenshot(riley.page, "e2e-3-riley-handoff-replied")

        # Sam, still on the inbox, sees the reply land on the row (answered, waiting).
        sam.row("Ada Lovelace").get_by_text("waiting on contact").wait_for(timeout=LIVE_MS)
        e2e.screenshot(sam.page, "e2e-4-sam-inbox-after-reply")

        assert_clean_consoles(reps)
    print(f"\ne2e scenario took {time.monotonic() - started:.1f} s")


@pytest.mark.django_db(transaction=True)
def test_two_reps_clicking_claim_at_the_same_moment_get_exactly_one_winner(
    server: e2e.LiveServer, reps: dict[str, Rep], org: Org, api_key: str
) -> None:
    riley, sam = reps["riley"], reps["sam"]
    names = {"riley": "Riley Reed", "sam": "Sam Shah"}
    with server.log_on_failure(riley.watch, sam.watch):
        for rep in (riley, sam):
            rep.log_in()
            rep.wait_live()
        send_signal(
            server, api_key, name="Grace Hopper", external_id="c-2002", budget=90000, key="f-2"
        )
        for rep in (riley, sam):
            rep.row("Grace Hopper").wait_for(timeout=LIVE_MS)
        handoff = Handoff.objects.get(contact__external_id="c-2002")
        row_id = f"#handoff-row-{handoff.pk}"

        # Both clicks fire at the same wall-clock instant (one machine, one clock).
        at = int(time.time() * 1000) + 400
        click_at = (
            "([selector, at]) => { const b = document.querySelector(selector + ' [data-claim]');"
            " setTimeout(() => b.click(), Math.max(0, at - Date.now())); }"
        )
        for rep in (riley, sam):
            rep.page.evaluate(click_at, [row_id, at])

        handoff_row = {name: rep.page.locator(row_id).first for name, rep in reps.items()}
        deadline = time.monotonic() + LIVE_MS / 1000
        while time.monotonic() < deadline:
            handoff.refresh_from_db()
            if handoff.assignee_id is not None and all(
                "Claimed by" in row.inner_text() for row in handoff_row.values()
            ):
                break
            riley.page.wait_for_timeout(200)
        handoff.refresh_from_db()
        winner = next(n for n in reps if org.users[n].pk == handoff.assignee_id)
        loser = "sam" if winner == "riley" else "riley"

        handoff_row[winner].get_by_text("Claimed by you", exact=True).wait_for()
        handoff_row[loser].get_by_text(f"Claimed by {names[winner]}", exact=True).wait_for()
        assert "Claimed by you" not in handoff_row[loser].inner_text()
        assert handoff_row[loser].locator("[data-claim]").count() == 0
        # Both browsers really sent their claim, and the loser's answer says who won. (The row
        # may show that notice only for a moment: the live update for the winner's claim can
        # land after the answer and redraw the row without it. Either way the loser sees who.)
        assert len(riley.watch.claim_posts) == 1
        assert len(sam.watch.claim_posts) == 1
        answers = {name: reps[name].watch.claim_answers for name in reps}
        assert [a.status for a in answers[loser]] == [200]
        assert f"Already claimed by {names[winner]}" in answers[loser][0].text()
        assert "Claimed by you" in answers[winner][0].text()
        e2e.screenshot(reps[loser].page, f"e2e-5-race-{loser}-lost")
        e2e.screenshot(reps[winner].page, f"e2e-5-race-{winner}-won")
        assert Handoff.objects.filter(pk=handoff.pk, status="claimed").count() == 1
        assert_clean_consoles(reps)


RECONNECT_JS = (
    "() => document.querySelector('[ws-connect]')['htmx-internal-data']"
    ".webSocket.publicInterface.reconnect()"
)


@pytest.mark.django_db(transaction=True)
def test_an_idle_inbox_keeps_its_live_connection(
    server: e2e.LiveServer, reps: dict[str, Rep]
) -> None:
    riley = reps["riley"]
    riley.log_in()
    riley.wait_live()

    riley.page.wait_for_timeout(9_000)  # idle: nobody raises anything

    assert riley.watch.sockets_closed == 0, riley.watch.socket_log
    assert riley.watch.sockets_opened == 1
    assert "redis.exceptions.TimeoutError" not in server.log(tail=100_000)


@pytest.mark.django_db(transaction=True)
def test_a_reconnecting_inbox_does_not_duplicate_rows(
    server: e2e.LiveServer, reps: dict[str, Rep], api_key: str
) -> None:
    riley = reps["riley"]
    riley.log_in()
    riley.wait_live()
    send_signal(server, api_key, budget=50000, key="form-8841")
    riley.row("Ada Lovelace").wait_for(timeout=LIVE_MS)
    handoff = Handoff.objects.get(contact__external_id="c-1001")
    opened, frames = riley.watch.sockets_opened, riley.watch.frames_received

    riley.page.evaluate(RECONNECT_JS)  # what the ws extension does after a dropped connection

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        riley.watch.sockets_opened > opened and riley.watch.frames_received > frames
    ):
        riley.page.wait_for_timeout(100)
    assert riley.watch.sockets_opened > opened, "the test could not make the page reconnect"
    e2e.screenshot(riley.page, "e2e-6-riley-inbox-after-reconnect")
    assert riley.page.locator(f"#handoff-row-{handoff.pk}").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_inbox_tab_counts_follow_live_rows(
    server: e2e.LiveServer, reps: dict[str, Rep], api_key: str
) -> None:
    from playwright.sync_api import expect

    riley = reps["riley"]
    riley.log_in()
    riley.wait_live()
    send_signal(server, api_key, budget=50000, key="form-8841")
    riley.row("Ada Lovelace").wait_for(timeout=LIVE_MS)

    tabs = riley.page.locator("nav.tabs[aria-label=Filter]")
    expect(tabs.get_by_role("link", name="All open")).to_contain_text("1", timeout=5_000)
    expect(tabs.get_by_role("link", name="Unassigned")).to_contain_text("1", timeout=5_000)


@pytest.mark.django_db(transaction=True)
def test_a_rep_can_work_the_inbox_from_the_keyboard(
    server: e2e.LiveServer, reps: dict[str, Rep], org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    riley = reps["riley"]
    riley.log_in()
    riley.wait_live()
    send_signal(server, api_key, budget=50000, key="form-8841")
    row = riley.row("Ada Lovelace")
    row.wait_for(timeout=LIVE_MS)
    handoff = Handoff.objects.get(contact__external_id="c-1001")
    page = riley.page

    page.keyboard.press("j")
    expect(row).to_be_focused()
    page.keyboard.press("c")  # claim the focused row
    expect(row).to_contain_text("Claimed by you", timeout=LIVE_MS)
    expect(row).to_be_focused()  # the live update did not lose the rep's place
    page.keyboard.press("Enter")

    page.wait_for_url(f"**/handoffs/{handoff.pk}/", timeout=LIVE_MS)
    assert Handoff.objects.get(pk=handoff.pk).assignee_id == org.users["riley"].pk
