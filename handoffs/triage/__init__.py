"""Triage of inbound messages: sentiment (VADER plus phrase lists ops edit) and questions
answered from the FAQ (a BM25 ranker), deciding whether automation carries on or a person takes
the baton (docs/triage.md).

Modules: `choices`, `text` (normalising and phrase matching, pure), `classify` (the label of one
message, pure), `faq` (the ranker and its in-process cache), `config` (the settings and phrases
ops edit, read from the database), `defaults` (the phrases and starter FAQ the data migration
and the demo load), `services` (what a decision does: pause, opt out, raise, reply).

This package imports nothing at import time: `handoffs.models` imports `choices` from it.
"""
