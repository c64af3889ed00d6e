"""Seed the data-scale scenarios' database (issue 7) with set-based SQL.

    DATABASE_URL=postgres://…/any python bench/seed_scale.py --size tiny|full

Builds, on top of the demo organisation (`manage.py migrate` + `seed_demo` when missing):

| part      | tiny      | full        | what                                                      |
|-----------|-----------|-------------|-----------------------------------------------------------|
| people    | 1,000     | 200,000     | contacts (one account per 20) and their conversations     |
| handoffs  | 2,000     | 1,000,000   | active handoffs (open, claimed, waiting), SLA due later    |
|           | 400       | 20,000      | … of them in Sales, the inbox of the rep `riley`          |
| signals   | 20,000    | 10,000,000  | signals over the last year, outcome types among them      |
| messages  | 10,000    | 2,000,000   | touches and replies over the last 90 days                 |
| journeys  | 1,000     | 500,000     | ended enrollments with two stage stays each               |
| context   | 5,000     | 5,000       | one contact's timeline: signals, messages, handoff and    |
|           |           |             | journey events (`bench-context`, its handoff in Sales)    |
| rollups   |           |             | a full dashboard rollup rebuild                           |

Each part is inserted with `INSERT … SELECT generate_series(…)` and recorded in the table
`bench_seed`, so a second run (or another scenario) skips what exists; a database seeded at one
size refuses another (use another database). Every due time lies in the future, so beat's sweeps
leave the rows alone until a scenario makes some due.

It seeds `baton_bench_data_<size>` on the server of DATABASE_URL (created when missing), never
the database DATABASE_URL names: the data-scale scenarios serve that database themselves
(`Server`), so the stack's own database, which the ingest scenarios measure, stays empty of them.
`ensure(size)` is what the scenarios call; `info()` returns the ids they need.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent

SIZES: dict[str, dict[str, int]] = {
    "tiny": {
        "contacts": 1_000,
        "handoffs": 2_000,
        "sales_handoffs": 400,
        "signals": 20_000,
        "messages": 10_000,
        "enrollments": 1_000,
        "context_events": 5_000,
    },
    "full": {
        "contacts": 200_000,
        "handoffs": 1_000_000,
        "sales_handoffs": 20_000,
        "signals": 10_000_000,
        "messages": 2_000_000,
        "enrollments": 500_000,
        "context_events": 5_000,
    },
}
CHUNK = 1_000_000  # rows per statement for the big tables: progress, and bounded transactions
TRIGGERS = ("high_value", "sentiment", "complexity", "qualification", "stage")
SIGNAL_TYPES = (
    "page_view",
    "page_view",
    "page_view",
    "email_opened",
    "email_opened",
    "product_usage",
    "product_usage",
    "product_usage",
    "form_submitted",
    "nps_answered",
    "support_ticket",
    "budget_declared",
    "meeting_booked",
    "deal_won",
    "deal_lost",
    "renewal_due",
    "renewed",
    "page_view",
    "product_usage",
    "email_opened",
)


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("seed_scale needs DATABASE_URL=postgres://… (PostgreSQL)")
    return url


def use_own_database(size: str) -> str:
    """Point this process (and what it starts) at `baton_bench_data_<size>` on the same server
    as DATABASE_URL, creating it when missing. The data-scale scenarios keep their millions of
    rows and the demo organisation out of the stack's database, where they would change what
    the ingest scenarios measure, and a full-size seed (tens of minutes) is reused by the next
    suite run. Returns the URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url())
    name = f"baton_bench_data_{size}"
    if parts.path.lstrip("/") != name:
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as c:
            if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                log(f"creating database {name}")
                c.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(parts._replace(path=f"/{name}"))
    os.environ["DATABASE_URL"] = url
    return url


def log(text: str) -> None:
    print(f"[seed_scale {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def manage(*args: str) -> None:
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only")}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _migration_files() -> set[str]:
    """Our apps' migration names: a reused database missing any of them is migrated first."""
    paths = [*ROOT.glob("*/migrations/0*.py"), *ROOT.glob("*/*/migrations/0*.py")]
    return {p.stem for p in paths}


def _ids(cur: psycopg.Cursor[Any]) -> dict[str, Any]:
    cur.execute("SELECT slug, id FROM portal_team")
    teams = dict(cur.fetchall())
    cur.execute("SELECT username, id FROM auth_user")
    users = dict(cur.fetchall())
    cur.execute(
        'SELECT j.id, array_agg(s.id ORDER BY s."order", s.id),'
        " (SELECT max(v.id) FROM journeys_journeyversion v WHERE v.journey_id = j.id)"
        " FROM journeys_journey j JOIN journeys_stage s ON s.journey_id = j.id"
        " GROUP BY j.id HAVING count(*) >= 2 ORDER BY j.id"
    )
    journeys = [(j, stages[:2], version) for j, stages, version in cur.fetchall()]
    return {"teams": teams, "users": users, "journeys": journeys}


# ---- the parts ------------------------------------------------------------------------------
# Each takes the cursor, the size's figures and the demo's ids, and returns the rows it wrote.

BENCH_CONTACTS = (
    "SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM journeys_contact"
    " WHERE external_id LIKE 'bench-c-%%'"
)


def part_people(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    accounts = max(1, n["contacts"] // 20)
    cur.execute(
        "INSERT INTO journeys_account (external_id, name, created_at, updated_at)"
        " SELECT 'bench-a-' || g, 'Bench account ' || g, now(), now()"
        " FROM generate_series(1, %s::bigint) g",
        [accounts],
    )
    cur.execute(
        "INSERT INTO journeys_contact (external_id, name, email, phone, timezone,"
        " opted_out_channels, last_inbound_channel, created_at, updated_at, account_id, persona,"
        " erasure_note)"
        " SELECT 'bench-c-' || g, 'Bench contact ' || g, 'bench' || g || '@example.com',"
        " '+4477' || lpad(g::text, 8, '0'), 'Europe/London', '[]'::jsonb, 'email',"
        " now() - interval '1 year', now(), a.id, '', ''"
        " FROM generate_series(1, %s::bigint) g"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM journeys_account"
        "       WHERE external_id LIKE 'bench-a-%%') a ON a.rn = g %% %s",
        [n["contacts"], accounts],
    )
    cur.execute(
        "INSERT INTO handoffs_conversation (channel, created_at, updated_at, contact_id)"
        f" SELECT 'email', now(), now(), c.id FROM ({BENCH_CONTACTS}) c"
    )
    return accounts + 2 * n["contacts"]


def part_handoffs(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    """Five active handoffs per contact (one per trigger, as the partial unique index allows).
    The first `sales_handoffs` are Sales'; claimed ones there belong to riley or sam."""
    t, u = ids["teams"], ids["users"]
    others = [t["marketing"], t["success"], t["support"]]
    cur.execute(
        "CREATE TEMP TABLE bench_contacts AS "
        + BENCH_CONTACTS.replace("%%", "%")
        + "; CREATE INDEX ON bench_contacts (rn); ANALYZE bench_contacts"
    )
    total = 0
    for start in range(1, n["handoffs"] + 1, CHUNK):
        stop = min(n["handoffs"], start + CHUNK - 1)
        cur.execute(
            """
            INSERT INTO handoffs_handoff (trigger, reason, evidence, priority, status,
              offered_to_role, created_at, updated_at, claimed_at, first_response_due_at,
              first_responded_at, resolution, breached, escalated, assignee_id, contact_id,
              team_id, breached_target, resolution_due_at, sla_due_at, sla_paused_at,
              sla_paused_seconds, sla_started_at)
            SELECT (%(triggers)s::text[])[1 + (g - 1) %% 5], 'Bench: raised by rule', '[]',
              (ARRAY['low','normal','high','urgent'])[1 + g %% 4],
              CASE WHEN g %% 20 < 14 THEN 'open' WHEN g %% 20 < 19 THEN 'claimed'
                   ELSE 'waiting_on_contact' END,
              '', x.created, x.created,
              CASE WHEN g %% 20 >= 14 THEN x.created + interval '5 minutes' END,
              CASE WHEN g %% 20 < 14 THEN x.due ELSE x.created + interval '1 hour' END,
              CASE WHEN g %% 20 >= 14 THEN x.created + interval '10 minutes' END,
              '', false, false,
              CASE WHEN g %% 20 < 14 THEN NULL WHEN g <= %(sales)s THEN
                   (CASE WHEN g %% 2 = 0 THEN %(riley)s ELSE %(sam)s END) ELSE %(casey)s END,
              c.id,
              CASE WHEN g <= %(sales)s THEN %(sales_team)s
                   ELSE (%(others)s::bigint[])[1 + g %% 3] END,
              '',
              CASE WHEN g %% 20 >= 14 THEN x.due END,
              CASE WHEN g %% 20 < 19 THEN x.due END,
              CASE WHEN g %% 20 = 19 THEN now() - interval '1 hour' END,
              0, x.created
            FROM generate_series(%(start)s::bigint, %(stop)s::bigint) g
            JOIN bench_contacts c ON c.rn = (g - 1) / 5
            CROSS JOIN LATERAL (SELECT
              now() - make_interval(secs => (g::bigint * 7919) %% (90 * 86400)) AS created,
              now() + make_interval(secs => 3600 + (g::bigint * 104729) %% (30 * 86400)) AS due
            ) x
            """,
            {
                "triggers": list(TRIGGERS),
                "sales": n["sales_handoffs"],
                "riley": u["riley"],
                "sam": u["sam"],
                "casey": u["casey"],
                "sales_team": t["sales"],
                "others": others,
                "start": start,
                "stop": stop,
            },
        )
        total += cur.rowcount
        log(f"handoffs: {stop:,} / {n['handoffs']:,}")
    return total


def part_signals(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS bench_contacts AS " + BENCH_CONTACTS.replace("%%", "%")
    )
    cur.execute("CREATE INDEX IF NOT EXISTS bench_contacts_rn ON bench_contacts (rn)")
    cur.execute("ANALYZE bench_contacts")
    total = 0
    for start in range(1, n["signals"] + 1, CHUNK):
        stop = min(n["signals"], start + CHUNK - 1)
        cur.execute(
            """
            INSERT INTO journeys_signal (body_hash, type, occurred_at, received_at, properties,
              evaluated_at, contact_id)
            SELECT md5(g::text), (%(types)s::text[])[1 + g %% 20], x.at,
              x.at + interval '1 second', jsonb_build_object('page', '/pricing', 'n', g),
              x.at + interval '1 second', c.id
            FROM generate_series(%(start)s::bigint, %(stop)s::bigint) g
            JOIN bench_contacts c ON c.rn = g %% %(contacts)s
            CROSS JOIN LATERAL (SELECT
              now() - make_interval(secs => 60 + (g::bigint * 7919) %% (365 * 86400)) AS at) x
            """,
            {
                "types": list(SIGNAL_TYPES),
                "contacts": n["contacts"],
                "start": start,
                "stop": stop,
            },
        )
        total += cur.rowcount
        log(f"signals: {stop:,} / {n['signals']:,}")
        cur.connection.commit()
    return total


def part_messages(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    cur.execute(
        "CREATE TEMP TABLE bench_convs AS SELECT c.id, row_number() OVER (ORDER BY c.id) - 1 AS rn"
        " FROM handoffs_conversation c JOIN journeys_contact p ON p.id = c.contact_id"
        " WHERE p.external_id LIKE 'bench-c-%'; CREATE INDEX ON bench_convs (rn);"
        " ANALYZE bench_convs"
    )
    total = 0
    for start in range(1, n["messages"] + 1, CHUNK):
        stop = min(n["messages"], start + CHUNK - 1)
        cur.execute(
            """
            INSERT INTO handoffs_message (direction, channel, body, automated, created_at,
              conversation_id, step, subject, triage, triage_phrase)
            SELECT CASE WHEN g %% 3 = 0 THEN 'in' ELSE 'out' END, 'email',
              'Bench message ' || g, g %% 3 = 1,
              now() - make_interval(secs => 60 + (g::bigint * 7919) %% (90 * 86400)),
              c.id, '', '', '', ''
            FROM generate_series(%(start)s::bigint, %(stop)s::bigint) g
            JOIN bench_convs c ON c.rn = g %% %(contacts)s
            """,
            {"contacts": n["contacts"], "start": start, "stop": stop},
        )
        total += cur.rowcount
        log(f"messages: {stop:,} / {n['messages']:,}")
    return total


def part_journeys(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    """Ended enrollments (completed or dropped), each with two stage stays, so time-in-stage and
    drop-off have history; nothing live, so the journey sweep has nothing to do."""
    journeys = ids["journeys"][:2]
    if not journeys:
        raise RuntimeError("the demo has no journey with two stages")
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS bench_contacts AS " + BENCH_CONTACTS.replace("%%", "%")
    )
    cur.execute("CREATE INDEX IF NOT EXISTS bench_contacts_rn ON bench_contacts (rn)")
    cur.execute("ANALYZE bench_contacts")
    cur.execute("SELECT coalesce(max(id), 0) FROM journeys_enrollment")
    (before,) = cur.fetchone()
    cur.execute(
        """
        INSERT INTO journeys_enrollment (status, stage_entered_at, created_at, updated_at,
          contact_id, journey_id, stage_id, state, waiting_for, version_id, step)
        SELECT CASE WHEN g %% 5 = 0 THEN 'dropped' ELSE 'completed' END,
          x.at + interval '2 days', x.at, x.at + interval '3 days', c.id,
          (%(journeys)s::bigint[])[1 + g %% %(nj)s], (%(second)s::bigint[])[1 + g %% %(nj)s],
          '{}', '', (%(versions)s::bigint[])[1 + g %% %(nj)s], ''
        FROM generate_series(1, %(n)s::bigint) g
        JOIN bench_contacts c ON c.rn = g %% %(contacts)s
        CROSS JOIN LATERAL (SELECT
          now() - make_interval(secs => 4 * 86400 + (g::bigint * 7919) %% (90 * 86400)) AS at) x
        """,
        {
            "journeys": [j for j, _, _ in journeys],
            "second": [s[1] for _, s, _ in journeys],
            "versions": [v for _, _, v in journeys],
            "nj": len(journeys),
            "n": n["enrollments"],
            "contacts": n["contacts"],
        },
    )
    enrolled = cur.rowcount
    firsts = {j: s[0] for j, s, _ in journeys}
    cur.execute(
        """
        INSERT INTO journeys_stagevisit (entered_at, left_at, outcome, enrollment_id, journey_id,
          stage_id)
        SELECT e.created_at, e.created_at + make_interval(secs => 3600 + (e.id * 7919) %% 172800),
          'advanced', e.id, e.journey_id, (%(firsts)s::jsonb ->> e.journey_id::text)::bigint
        FROM journeys_enrollment e WHERE e.id > %(before)s
        UNION ALL
        SELECT e.created_at + make_interval(secs => 3600 + (e.id * 7919) %% 172800),
          e.updated_at, e.status, e.id, e.journey_id, e.stage_id
        FROM journeys_enrollment e WHERE e.id > %(before)s
        """,
        {"firsts": json.dumps({str(k): v for k, v in firsts.items()}), "before": before},
    )
    return enrolled + cur.rowcount


def part_context(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    """One contact with `context_events` timeline events: 30% signals, 30% messages, 20% handoff
    events (over its one active Sales handoff and nine resolved ones) and 20% journey events."""
    t, u = ids["teams"], ids["users"]
    total = n["context_events"]
    n_signals, n_messages, n_hevents = total * 3 // 10, total * 3 // 10, total // 5
    n_jevents = total - n_signals - n_messages - n_hevents
    cur.execute(
        "INSERT INTO journeys_contact (external_id, name, email, phone, timezone,"
        " opted_out_channels, last_inbound_channel, created_at, updated_at, persona,"
        " erasure_note) VALUES ('bench-context', 'Connie Context', 'connie@example.com',"
        " '+447700911000', 'Europe/London', '[]', 'email', now() - interval '2 years', now(),"
        " '', '') RETURNING id"
    )
    (contact,) = cur.fetchone()
    cur.execute(
        "INSERT INTO handoffs_conversation (channel, created_at, updated_at, contact_id)"
        " VALUES ('email', now(), now(), %s) RETURNING id",
        [contact],
    )
    (conversation,) = cur.fetchone()
    cur.execute(
        """
        INSERT INTO handoffs_handoff (trigger, reason, evidence, priority, status,
          offered_to_role, created_at, updated_at, claimed_at, first_response_due_at,
          first_responded_at, resolved_at, resolution, resume_automation, breached, escalated,
          assignee_id, contact_id, team_id, breached_target, sla_due_at, sla_paused_seconds,
          sla_started_at)
        SELECT 'sentiment', 'Bench: angry reply', '[]', 'high',
          CASE WHEN g = 10 THEN 'open' ELSE 'resolved' END, '', x.at, x.at,
          CASE WHEN g < 10 THEN x.at + interval '5 minutes' END, x.at + interval '1 hour',
          CASE WHEN g < 10 THEN x.at + interval '10 minutes' END,
          CASE WHEN g < 10 THEN x.at + interval '1 day' END,
          CASE WHEN g < 10 THEN 'Sorted' ELSE '' END, CASE WHEN g < 10 THEN true END,
          false, false, CASE WHEN g < 10 THEN %(riley)s END, %(contact)s, %(sales)s, '',
          CASE WHEN g = 10 THEN now() + interval '7 days' END, 0, x.at
        FROM generate_series(1, 10) g
        CROSS JOIN LATERAL (SELECT now() - make_interval(days => (10 - g) * 60 + 1) AS at) x
        RETURNING id, status
        """,
        {"riley": u["riley"], "contact": contact, "sales": t["sales"]},
    )
    handoffs = cur.fetchall()
    active = next(h for h, status in handoffs if status == "open")
    cur.execute(
        """
        INSERT INTO handoffs_handoffevent (kind, data, at, actor_id, handoff_id)
        SELECT (ARRAY['evidence_added','contact_replied','claimed','released'])[1 + g %% 4],
          jsonb_build_object('detail', 'bench event ' || g),
          now() - make_interval(secs => 60 + g * 3571), NULL,
          (%(handoffs)s::bigint[])[1 + g %% 10]
        FROM generate_series(1, %(n)s::bigint) g
        """,
        {"handoffs": [h for h, _ in handoffs], "n": n_hevents},
    )
    cur.execute(
        """
        INSERT INTO journeys_signal (body_hash, type, occurred_at, received_at, properties,
          evaluated_at, contact_id)
        SELECT md5('ctx' || g), (%(types)s::text[])[1 + g %% 20], x.at, x.at,
          '{"page": "/pricing"}', x.at, %(contact)s
        FROM generate_series(1, %(n)s::bigint) g
        CROSS JOIN LATERAL (SELECT now() - make_interval(secs => 30 + g * 4567) AS at) x
        """,
        {"types": list(SIGNAL_TYPES), "contact": contact, "n": n_signals},
    )
    cur.execute(
        """
        INSERT INTO handoffs_message (direction, channel, body, automated, created_at,
          conversation_id, handoff_id, author_id, step, subject, triage, triage_phrase)
        SELECT CASE WHEN g %% 2 = 0 THEN 'in' ELSE 'out' END, 'email',
          'Message ' || g || ': thanks, could you tell me more about the renewal terms?',
          g %% 4 = 1, now() - make_interval(secs => 45 + g * 4513), %(conv)s,
          CASE WHEN g <= 20 THEN %(active)s END,
          CASE WHEN g %% 4 = 3 THEN %(riley)s END, '', '', '', ''
        FROM generate_series(1, %(n)s::bigint) g
        """,
        {"conv": conversation, "active": active, "riley": u["riley"], "n": n_messages},
    )
    journey, stages, version = ids["journeys"][0]
    cur.execute(
        "INSERT INTO journeys_enrollment (status, stage_entered_at, created_at, updated_at,"
        " contact_id, journey_id, stage_id, state, waiting_for, version_id, step)"
        " VALUES ('completed', now() - interval '400 days', now() - interval '700 days', now(),"
        " %s, %s, %s, '{}', '', %s, '') RETURNING id",
        [contact, journey, stages[1], version],
    )
    (enrollment,) = cur.fetchone()
    cur.execute(
        """
        INSERT INTO journeys_enrollmentevent (kind, detail, at, enrollment_id, step)
        SELECT (ARRAY['waiting','event','stage','paused'])[1 + g %% 4], 'bench step ' || g,
          now() - make_interval(secs => 50 + g * 5011), %(enrollment)s, 'step-' || (g %% 5)
        FROM generate_series(1, %(n)s::bigint) g
        """,
        {"enrollment": enrollment, "n": n_jevents},
    )
    cur.execute(
        "UPDATE bench_seed SET info = %s WHERE part = 'context'",
        [json.dumps({"contact_id": contact, "handoff_id": active})],
    )
    return total + 13


def part_rollups(cur: psycopg.Cursor[Any], n: dict[str, int], ids: dict[str, Any]) -> int:
    cur.connection.commit()
    manage(
        "shell",
        "-c",
        "from governance.dashboard.refresh import rollups_refresh; rollups_refresh(full=True)",
    )
    return 0


PARTS = {
    "people": part_people,
    "handoffs": part_handoffs,
    "signals": part_signals,
    "messages": part_messages,
    "journeys": part_journeys,
    "context": part_context,
    "rollups": part_rollups,
}


def ensure(size: str) -> dict[str, Any]:
    """Seed what is missing for `size` in its own database (`use_own_database`); return
    `info()`. Idempotent; seconds at tiny size once migrated."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    url = use_own_database(size)
    with psycopg.connect(url, autocommit=True) as conn:
        applied: set[str] = set()
        if conn.execute("SELECT to_regclass('django_migrations')").fetchone()[0]:
            applied = {n for (n,) in conn.execute("SELECT name FROM django_migrations")}
        if _migration_files() - applied:  # new, or reused after the code gained migrations
            log("migrating")
            manage("migrate", "-v0")
        if not conn.execute("SELECT 1 FROM portal_team WHERE slug = 'sales'").fetchone():
            log("seeding the demo organisation")
            manage("seed_demo")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_seed (part text PRIMARY KEY, size text NOT NULL,"
            " rows bigint, seconds double precision, done_at timestamptz, info jsonb)"
        )
        other = conn.execute("SELECT size FROM bench_seed WHERE size <> %s", [size]).fetchone()
        if other:
            sys.exit(f"this database is seeded at size {other[0]!r}; use another for {size!r}")
        done = {p for (p,) in conn.execute("SELECT part FROM bench_seed WHERE done_at IS NOT NULL")}
    for part, build in PARTS.items():
        if part in done:
            continue
        started = time.monotonic()
        log(f"{part} ({size})")
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM bench_seed WHERE part = %s", [part])
            cur.execute("INSERT INTO bench_seed (part, size) VALUES (%s, %s)", [part, size])
            rows = build(cur, SIZES[size], _ids(cur))
            took = time.monotonic() - started
            cur.execute(
                "UPDATE bench_seed SET rows = %s, seconds = %s, done_at = now() WHERE part = %s",
                [rows, took, part],
            )
        log(f"{part}: {rows:,} rows in {took:.1f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        if done != set(PARTS):
            conn.execute("ANALYZE")
    return info()


def info() -> dict[str, Any]:
    """What the scenarios need: sizes, the rep, the context contact and its handoff."""
    with psycopg.connect(database_url()) as conn:
        rows = conn.execute("SELECT part, size, rows, seconds, info FROM bench_seed").fetchall()
    out: dict[str, Any] = {"parts": {p: {"rows": r, "seconds": s} for p, _, r, s, _ in rows}}
    for _part, size, _, _, extra in rows:
        out["size"] = size
        if extra:
            out.update(extra)
    return out


# ---- shared by the data-scale scenarios -----------------------------------------------------


def scenario_args(description: str) -> argparse.Namespace:
    """The scenario contract (bench/README.md): --size, --runs, --url; DATABASE_URL/REDIS_URL in
    env. The data-scale scenarios serve their own database (`use_own_database`, `Server`)."""
    import signal

    # A runner stopping the scenario with SIGTERM still gets its servers and workers stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--url", default="http://127.0.0.1:9600")
    parser.add_argument("--runs", type=int, default=3, help="runs; the figure is their median")
    parser.add_argument("--requests", type=int, default=0, help="requests a run (0: by size)")
    return parser.parse_args()


class Server:
    """The production web server (`uvicorn --workers 2`, portal.settings) on the scenario's own
    database, on BENCH_SPARE_PORT (or the port of --url when run alone); stopped, with its
    process group, on exit."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        self.port = int(os.environ.get("BENCH_SPARE_PORT") or urlsplit(url).port or 9600)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        import httpx

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portal.serve",  # README's production command: uvicorn, a socket per worker
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "2",
                "--lifespan",
                "on",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"the web server on port {self.port} did not start")

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def login(client: Any, username: str = "riley") -> None:
    """Log in through the real form, as a browser does (CSRF cookie, then POST)."""
    import re

    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError(f"no login form at {client.base_url}/accounts/login/")
    password = os.environ.get("BATON_DEMO_PASSWORD", "baton-demo")
    answer = client.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": token[1], "username": username, "password": password},
        headers={"Referer": f"{client.base_url}/accounts/login/"},
    )
    if "sessionid" not in client.cookies:
        raise RuntimeError(f"login as {username} failed ({answer.status_code})")


def percentile(values: list[float], q: float) -> float:
    """Nearest rank, as the rest of the suite reports."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def time_gets(client: Any, paths: list[str], *, expect: int = 200, warmup: int = 5) -> list[float]:
    """GET each path in turn on one keep-alive connection; milliseconds per request (full
    body read). Any other status than `expect` stops the run: a fast error is no figure."""
    for path in paths[:warmup]:
        client.get(path)
    took = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        took.append((time.perf_counter() - started) * 1000)
        if answer.status_code != expect:
            raise RuntimeError(f"GET {path} answered {answer.status_code}")
    return took


def latency_figure(name: str, runs: list[list[float]], q: float, budget: float) -> dict[str, Any]:
    """The median over runs of each run's q-quantile, with every run's value for the spread."""
    import statistics

    values = [round(percentile(r, q), 1) for r in runs]
    return {
        "name": name,
        "value": round(statistics.median(values), 1),
        "unit": "ms",
        "budget": budget,
        "op": "<",
        "runs": values,
    }


def emit(scenario: str, figures: list[dict[str, Any]], notes: str) -> None:
    """The contract's last stdout line."""
    print(json.dumps({"scenario": scenario, "figures": figures, "notes": notes}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    args = parser.parse_args()
    print(json.dumps(ensure(args.size)))


if __name__ == "__main__":
    main()
