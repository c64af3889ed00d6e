"""Governance dashboard at scale (issue 7): the leaders' page over the seeded raw tables (full:
10,000,000 signals, 1,000,000 handoffs, 2,000,000 messages, 1,000,000 stage stays).

    python bench/scenario_dashboard.py --size tiny|full --url http://127.0.0.1:PORT

It seeds and serves its own database, `baton_bench_data_<size>` (bench/seed_scale.py), with
the production web server (uvicorn, 2 workers) on BENCH_SPARE_PORT (else the port of --url).

1. **Page**: over HTTP as the leader `lee` (every team), one keep-alive connection, in turn:
   the default 30 days, 7 and 90 days, one team, the htmx body swap. p95 of each run, median
   over runs (budget < 200 ms).
2. **Freshness**: between runs a minute's worth of activity lands (1,000 signals, 500
   handoffs answered, 50 of them raised days ago, 1,000 messages, 200 stage stays), then the
   incremental rollup refresh (`rollups_refresh`, what beat runs every 30 s) is timed in this
   process. Figures: `refresh`
   (budget < 15 s: well inside the 30 s period) and `staleness`, the worst age of the page's
   data: the 30 s period plus the longest refresh (budget < 60 s)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_scale import ROOT, Server, emit, ensure, latency_figure, login, scenario_args, time_gets

PATHS = [
    "/governance/",
    "/governance/?period=7d",
    "/governance/?period=90d",
    "/governance/?team=sales",
]
PERIOD_SECONDS = 30  # CELERY_BEAT_SCHEDULE["dashboard-rollups"]


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def activity() -> None:
    """A minute of a busy organisation's changes, written as the services would leave them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO journeys_signal (body_hash, type, occurred_at, received_at, properties,"
            " evaluated_at, contact_id)"
            " SELECT md5(random()::text), (ARRAY['form_submitted','meeting_booked','deal_won',"
            "   'renewed','page_view'])[1 + g % 5], now(), now(), '{}', now(), c.id"
            " FROM generate_series(1, 1000) g"
            " CROSS JOIN (SELECT max(id) AS id FROM journeys_contact) c"
        )
        # 450 first replies to handoffs raised in the last day, 50 late ones to older handoffs
        # (each rebuilds the day that handoff was raised).
        for recent, count in ((True, 450), (False, 50)):
            cursor.execute(
                "UPDATE handoffs_handoff SET first_responded_at = now(), updated_at = now(),"
                " status = 'claimed', claimed_at = coalesce(claimed_at, now())"
                " WHERE id IN (SELECT id FROM handoffs_handoff WHERE status = 'open'"
                "   AND first_responded_at IS NULL AND reason = 'Bench: raised by rule'"
                f"   AND created_at {'>=' if recent else '<'} now() - interval '1 day'"
                "   ORDER BY id DESC LIMIT %s)",
                [count],
            )
        cursor.execute(
            "INSERT INTO handoffs_message (direction, channel, body, automated, created_at,"
            " conversation_id, step, subject, triage, triage_phrase)"
            " SELECT 'out', 'email', 'Fresh touch', true, now(), c.id, '', '', '', ''"
            " FROM (SELECT id FROM handoffs_conversation ORDER BY id DESC LIMIT 1000) c"
        )
        cursor.execute(
            "UPDATE journeys_stagevisit SET left_at = now() WHERE id IN (SELECT id FROM"
            " journeys_stagevisit WHERE left_at IS NOT NULL ORDER BY id DESC LIMIT 200)"
        )


def refresh() -> float:
    from governance.dashboard.refresh import rollups_refresh

    activity()
    started = time.perf_counter()
    result = rollups_refresh()
    if result.skipped:
        raise RuntimeError("another refresh held the lock (a beat running beside the bench?)")
    return time.perf_counter() - started


def main() -> None:
    args = scenario_args(__doc__.split("\n")[0])
    seeded = ensure(args.size)
    django_setup()
    from governance.dashboard.refresh import rollups_refresh

    rollups_refresh()  # catch up with whatever the seed or earlier runs left
    per_run = args.requests or (40 if args.size == "tiny" else 200)
    paths = [PATHS[i % len(PATHS)] for i in range(per_run)]
    runs, refreshes = [], []
    with Server(args.url) as url, httpx.Client(base_url=url, timeout=60) as client:
        login(client, "lee")
        for _ in range(args.runs):
            refreshes.append(refresh())
            plain = time_gets(client, paths)
            client.headers.update({"HX-Request": "true", "HX-Target": "dash-body"})
            swaps = time_gets(client, paths[: per_run // 4])
            for name in ("HX-Request", "HX-Target"):
                client.headers.pop(name, None)
            runs.append(plain + swaps)
    parts = seeded["parts"]
    worst = max(refreshes)
    emit(
        "dashboard",
        [
            latency_figure("p95", runs, 0.95, 200),
            latency_figure("p50", runs, 0.5, 200),
            {
                "name": "refresh",
                "value": round(statistics.median(refreshes), 2),
                "unit": "s",
                "budget": 15,
                "op": "<",
                "runs": [round(r, 2) for r in refreshes],
            },
            {
                "name": "staleness",
                "value": round(PERIOD_SECONDS + worst, 1),
                "unit": "s",
                "budget": 60,
                "op": "<",
                "runs": [round(PERIOD_SECONDS + r, 1) for r in refreshes],
            },
        ],
        f"{parts.get('signals', {}).get('rows', 0):,} signals, "
        f"{parts.get('handoffs', {}).get('rows', 0):,} handoffs, "
        f"{parts.get('messages', {}).get('rows', 0):,} messages, "
        f"{parts.get('journeys', {}).get('rows', 0):,} enrollments + stays; {per_run} GETs a "
        f"run over {', '.join(PATHS)} plus htmx swaps, as lee (leader, every team); refresh "
        "after 1,000 signals, 500 answers, 1,000 messages, 200 stays",
    )


if __name__ == "__main__":
    main()
