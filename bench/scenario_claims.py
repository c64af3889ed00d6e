"""Claim storm: 10 reps race to claim each of N open handoffs over HTTP
(`POST /api/v1/handoffs/{id}/claim/`, session cookie + CSRF header, as the inbox's button does).
Per handoff the 10 requests are written at once on 10 keep-alive connections; handoffs go one
after another. Afterwards the database is checked: a handoff with more than one claim event, more
than one 200, or an owner other than the one 200's claimer is a double claim."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
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
    team_with_people,
)

SIZES = {"full": {"handoffs": 500, "claimers": 10}, "tiny": {"handoffs": 10, "claimers": 10}}


def raise_handoffs(args: Args, key: str, team: Any, count: int) -> list[int]:
    """Open handoffs in `team`'s pool, raised the product's way (a batch of signals)."""
    from handoffs.models import Handoff

    tag = run_tag()
    signals = [
        {
            "type": "bench_claim",
            "idempotency_key": f"claim-{tag}-{n}",
            "contact": {"external_id": f"claim-{tag}-{n}", "name": f"Claim {tag} {n}"},
        }
        for n in range(count)
    ]

    async def post() -> None:
        async with Http(args.host, args.port, {"Authorization": f"Bearer {key}"}) as http:
            for start in range(0, count, 1000):
                status, body = await http.request(
                    "POST", "/api/v1/signals/batch/", {"signals": signals[start : start + 1000]}
                )
                if status != 202:
                    raise RuntimeError(f"batch ingest answered {status}: {body[:300]!r}")

    asyncio.run(post())
    ids = list(
        Handoff.objects.filter(team=team, contact__external_id__startswith=f"claim-{tag}-")
        .order_by("id")
        .values_list("id", flat=True)
    )
    if len(ids) != count:
        raise RuntimeError(f"expected {count} handoffs, the rule raised {len(ids)}")
    close_db()
    return ids


async def storm(args: Args, cookies: list[str], ids: list[int]) -> dict[str, Any]:
    latencies: list[float] = []
    winners: dict[int, list[int]] = {}
    statuses: Counter[int] = Counter()
    clients = []
    for cookie in cookies:
        token = secrets.token_hex(16)  # 32 characters: a valid CSRF secret, cookie = header
        clients.append(
            Http(
                args.host,
                args.port,
                {"Cookie": f"{cookie}; csrftoken={token}", "X-CSRFToken": token},
            )
        )
    for client in clients:
        await client.__aenter__()

    async def claim(who: int, handoff_id: int) -> None:
        sent = time.perf_counter()
        status, _ = await clients[who].request("POST", f"/api/v1/handoffs/{handoff_id}/claim/", {})
        latencies.append(time.perf_counter() - sent)
        statuses[status] += 1
        if status == 200:
            winners.setdefault(handoff_id, []).append(who)

    try:
        for handoff_id in ids:
            await asyncio.gather(*(claim(who, handoff_id) for who in range(len(clients))))
    finally:
        for client in clients:
            await client.__aexit__()
    return {
        "p50": pct(latencies, 50) * 1000,
        "p99": pct(latencies, 99) * 1000,
        "winners": winners,
        "statuses": dict(statuses),
    }


def double_claims(
    ids: list[int], winners: dict[int, list[int]], users: list[Any]
) -> tuple[int, int]:
    """(double claims, handoffs nobody won), from the answers and the database together."""
    from django.db.models import Count, Q

    from handoffs.choices import HandoffEventKind
    from handoffs.models import Handoff

    rows = Handoff.objects.filter(id__in=ids).annotate(
        claims=Count("events", filter=Q(events__kind=HandoffEventKind.CLAIMED))
    )
    doubles = unwon = 0
    for handoff in rows:
        won = winners.get(handoff.id, [])
        if not won:
            unwon += 1
        if (
            handoff.claims > 1
            or len(won) > 1
            or (len(won) == 1 and handoff.assignee_id != users[won[0]].pk)
        ):
            doubles += 1
    close_db()
    return doubles, unwon


def main() -> None:
    args = parse_args(__doc__ or "")
    size = SIZES[args.size]
    django_setup()
    tag = run_tag()
    team, users = team_with_people(f"bench-claims-{tag}", size["claimers"])
    rule = always_rule(team=team, signal_type="bench_claim", name=f"Bench claim storm {tag}")
    cookies = [session_cookie(user) for user in users]
    key = api_key(f"bench claims {tag}")
    close_db()
    results = []
    try:
        for run in range(args.runs):
            ids = raise_handoffs(args, key, team, size["handoffs"])
            result = asyncio.run(storm(args, cookies, ids))
            result["doubles"], result["unwon"] = double_claims(ids, result["winners"], users)
            log(
                f"run {run + 1}: p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, "
                f"doubles {result['doubles']}, unwon {result['unwon']}, {result['statuses']}"
            )
            results.append(result)
    finally:
        # A contact has one active handoff, raised by the first matching rule: a rule left on
        # would take the next run's signals (in a database the bench reuses) into this team.
        type(rule).objects.filter(pk=rule.pk).update(enabled=False)
        close_db()
    emit(
        "claims",
        [
            figure("double claims", [r["doubles"] for r in results], "handoffs", 1, "<"),
            figure("claim p50", [r["p50"] for r in results], "ms"),
            figure("claim p99", [r["p99"] for r in results], "ms", 100, "<"),
        ],
        f"{size['claimers']} claimers × {size['handoffs']} handoffs per run; budget is 0 double "
        f"claims; handoffs nobody won: {[r['unwon'] for r in results]}; answers (last run) "
        f"{results[-1]['statuses']}",
    )


if __name__ == "__main__":
    main()
