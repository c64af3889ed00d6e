"""Starting and running a replay (docs/replay.md). The run row is the only thing a replay
writes: its progress while it runs, both columns when done, or why it failed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.changes import ProposedChange
from governance.replay.choices import RunStatus
from governance.replay.engine import Window, replay, replay_size
from governance.replay.models import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, ReplayRun
from governance.replay.ruleset import ChangeError, describe, ruleset_live, ruleset_with
from governance.replay.selectors import (
    DraftsUnavailable,
    draft_by_id,
    draft_changes,
    draft_get_for,
    start_scope,
)
from portal.errors import InvalidInput

log = logging.getLogger("baton.governance")

PROGRESS_EVERY_SECONDS = 0.5


def days_parse(raw: Any) -> int:
    """N days from a form: a whole number from 1 to 90; anything else is a clear refusal."""
    if raw in (None, ""):
        return DEFAULT_DAYS
    try:
        days = int(str(raw).strip())
    except ValueError:
        days = 0
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput(
            f"Replay from {MIN_DAYS} to {MAX_DAYS} days.",
            {"days": [f"A whole number of days from {MIN_DAYS} to {MAX_DAYS}."]},
        )
    return days


def team_scope_parse(raw: Any) -> int | None:
    """'' or 'all' → every team; otherwise a team id."""
    if raw in (None, "", "all"):
        return None
    try:
        return int(str(raw))
    except ValueError as exc:
        raise InvalidInput("Choose a team.", {"team": ["Choose a team."]}) from exc


@transaction.atomic
def replay_start(*, user: Any, draft_id: int, days: int, team_id: int | None) -> ReplayRun:
    """Check the person may replay the draft over the scope, that the draft can be applied,
    and create the run; it starts after commit (tasks.replay_dispatch). Raises Http404 for a
    draft they may not see, InvalidInput for a scope or draft that cannot be replayed."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput("Replay from 1 to 90 days.", {"days": ["From 1 to 90 days."]})
    try:
        draft = draft_get_for(user=user, draft_id=draft_id)  # 404 when not theirs
        changes = draft_changes(draft=draft)
    except DraftsUnavailable as exc:
        raise InvalidInput(str(exc), {"draft": [str(exc)]}) from exc
    scope = start_scope(user=user)
    if not scope.allows(team_id):
        what = "every team" if team_id is None else "that team"
        raise InvalidInput(
            f"You may not replay rules over {what}.", {"team": ["Choose one of your teams."]}
        )
    if draft.team_id is not None and team_id not in (None, draft.team_id):
        raise InvalidInput(
            f"This draft changes {draft.team}'s rules: replay it over {draft.team}.",
            {"team": [f"Choose {draft.team}."]},
        )
    if not changes:
        raise InvalidInput(
            "This draft changes nothing yet: add a change, then replay it.",
            {"draft": ["No changes to replay."]},
        )
    live = ruleset_live()
    try:
        ruleset_with(changes)
    except ChangeError as exc:
        raise InvalidInput(f"The draft cannot be replayed: {exc}.", {"draft": [str(exc)]}) from exc
    now = timezone.now()
    run = ReplayRun.objects.create(
        created_by=user,
        draft_id=draft.pk,
        draft_title=str(getattr(draft, "title", "") or f"Draft #{draft.pk}")[:200],
        changes=[describe(c, live) for c in changes],
        team_id=team_id,
        days=days,
        window_start=now - timedelta(days=days),
        window_end=now,
    )
    from governance.replay.tasks import replay_dispatch  # tasks import the services

    replay_dispatch(run_id=run.pk)
    return run


def replay_execute(*, run_id: int, changes: list[ProposedChange] | None = None) -> ReplayRun | None:
    """Run a pending replay: the live rules, then the draft's, over the same window through
    the same engine. Exactly one caller runs it (compare-and-swap on the status); a failure is
    recorded on the run with its reason, never raised into the worker. `changes` replaces the
    draft's (tests and programs replaying a ProposedChange list)."""
    now = timezone.now()
    won = ReplayRun.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if won != 1:
        return None  # another worker has it, or it already ran
    run = ReplayRun.objects.get(pk=run_id)
    try:
        if changes is None:
            changes = _changes_of(run)
        draft = ruleset_with(changes)
        live = ruleset_live()
        window = Window(
            start=run.window_start,
            end=run.window_end,
            team_ids=frozenset({run.team_id}) if run.team_id is not None else None,
        )
        size = replay_size(window=window)
        meter = _Progress(run_id, size * 2)
        results = {
            "live": replay(ruleset=live, window=window, progress=meter.offset(0)),
            "draft": replay(ruleset=draft, window=window, progress=meter.offset(size)),
        }
    except ChangeError as exc:
        return _fail(run_id, f"The draft cannot be replayed: {exc}.")
    except Exception as exc:  # a replay must end with a reason on the page, not a stuck bar
        log.exception("replay %s failed", run_id)
        return _fail(run_id, f"The replay stopped: {type(exc).__name__}: {exc}"[:2000])
    ReplayRun.objects.filter(pk=run_id).update(
        status=RunStatus.DONE,
        result=results,
        done=meter.total,
        total=meter.total,
        finished_at=timezone.now(),
    )
    return ReplayRun.objects.get(pk=run_id)


def _changes_of(run: ReplayRun) -> list[ProposedChange]:
    if run.draft_id is None:
        return []
    draft = draft_by_id(run.draft_id)
    if draft is None:
        raise ChangeError("the draft was deleted before the replay started")
    return draft_changes(draft=draft)


def _fail(run_id: int, error: str) -> ReplayRun:
    ReplayRun.objects.filter(pk=run_id).update(
        status=RunStatus.FAILED, error=error, finished_at=timezone.now()
    )
    return ReplayRun.objects.get(pk=run_id)


class _Progress:
    """Writes done/total to the run row, at most twice a second (each its own short write)."""

    def __init__(self, run_id: int, total: int) -> None:
        self.run_id, self.total, self._last = run_id, total, 0.0
        ReplayRun.objects.filter(pk=run_id).update(done=0, total=total, heartbeat_at=timezone.now())

    def offset(self, base: int) -> Any:
        def report(done: int, _total: int) -> None:
            import time

            moment = time.monotonic()
            if moment - self._last >= PROGRESS_EVERY_SECONDS:
                self._last = moment
                ReplayRun.objects.filter(pk=self.run_id).update(
                    done=min(self.total, base + done), heartbeat_at=timezone.now()
                )

        return report
