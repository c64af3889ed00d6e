"""Shared helpers for the replay tests (no tests here): a window around what the test did, the
two columns for a list of proposed changes, and a stand-in draft source until rule drafts land
(governance.versions provides the real one; the replay reads drafts only through it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from governance.changes import ProposedChange
from governance.replay import selectors
from governance.replay.engine import Window, replay
from governance.replay.ruleset import ruleset_live, ruleset_with


def window(*, start: datetime, end: datetime | None = None, team: Any = None) -> Window:
    return Window(
        start=start,
        end=end or timezone.now() + timedelta(seconds=1),
        team_ids=frozenset({team.pk}) if team is not None else None,
    )


def columns(changes: list[ProposedChange], win: Window) -> tuple[dict[str, Any], dict[str, Any]]:
    """(live, draft): both from the same engine over the same window."""
    return replay(ruleset=ruleset_live(), window=win), replay(
        ruleset=ruleset_with(changes), window=win
    )


@dataclass
class Draft:
    pk: int
    title: str
    team: Any = None
    changes: list[ProposedChange] = field(default_factory=list)

    @property
    def team_id(self) -> int | None:
        return self.team.pk if self.team is not None else None


class StandInDrafts:
    """A DraftSource holding drafts in memory (the replay's only way to reach drafts)."""

    def __init__(self) -> None:
        self.drafts: dict[int, Draft] = {}

    def add(self, title: str, team: Any, changes: list[ProposedChange]) -> Draft:
        draft = Draft(pk=len(self.drafts) + 1, title=title, team=team, changes=changes)
        self.drafts[draft.pk] = draft
        return draft

    def get(self, pk: int) -> Draft | None:
        return self.drafts.get(pk)

    def open_for(self, *, team_ids: list[int], org_wide: bool, limit: int) -> list[Draft]:
        found = [
            d
            for d in self.drafts.values()
            if (d.team_id in team_ids) or (d.team_id is None and org_wide)
        ]
        return sorted(found, key=lambda d: -d.pk)[:limit]

    def changes(self, draft: Draft) -> list[ProposedChange]:
        return list(draft.changes)


def use_stand_in(monkeypatch: Any) -> StandInDrafts:
    source = StandInDrafts()
    monkeypatch.setattr(selectors, "drafts", source)
    return source
