"""Replay before publishing: run a draft rule set and the live one over the last N days of stored
signals and messages, side by side, sending and changing nothing (docs/governance.md)."""
