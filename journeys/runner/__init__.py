"""The journey step machine: given a definition, a state and an event, say what happens next.

`advance` is pure (no Django, no ORM, no clock of its own): the service layer locks the
enrollment, calls it, and applies the returned `Outcome` (outbox messages, handoffs, field
updates, stage changes, the next due time) in one transaction. Keeping the decisions here makes
every journey behaviour testable as a table of (state, event) → actions, and lets a replay run
the same code. The contract is docs/journeys.md, "The runner".

Two promises shape the code:

- It never raises. A broken definition or an impossible state becomes a `raise_handoff` to a
  person ("a broken automation goes to a human, never silence"), not an exception in a worker.
- An event that does not apply (a reply during a plain timed wait, anything while paused for a
  human) changes nothing: same state, no actions, same due time. The state therefore carries its
  own `due_at` (ISO 8601) and `status` next to the documented step/answers/asked/retried keys,
  because the runner cannot otherwise know when the current wait was due.

The package: `definition` (what the runner reads and returns), `steps` (running steps)
and `events` (`advance`, and which event applies to the current state).
"""

from journeys.runner.definition import (
    DEFAULT_RETRY_PROMPT,
    DISCLOSURE,
    END_OUTCOMES,
    MAX_WAIT_MINUTES,
    STEP_BUDGET,
    Action,
    ActionKind,
    Outcome,
    Status,
    waits_heard,
)
from journeys.runner.events import advance

__all__ = [
    "DEFAULT_RETRY_PROMPT",
    "DISCLOSURE",
    "END_OUTCOMES",
    "MAX_WAIT_MINUTES",
    "STEP_BUDGET",
    "Action",
    "ActionKind",
    "Outcome",
    "Status",
    "advance",
    "waits_heard",
]
