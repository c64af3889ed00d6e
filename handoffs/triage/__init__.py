"""Triage of inbound messages: sentiment (VADER plus phrase lists ops edit) and questions
answered from the FAQ (a BM25 ranker), deciding whether automation carries on or a person takes
the baton (docs/triage.md).

Modules: `choices`, `text` (the one normaliser: words, questions, reference numbers; pure),
`patterns` (the phrase pattern language and the typo mender, pure), `classify` (the label of
one message, pure), `plan` (what a decision leads to, pure), `faq` (the ranker), `config` (the
settings, phrases and FAQ read from the database, cached per state; `triage_read`),
`defaults` + `default_phrases` (the phrase families and starter FAQ the data migration and the
demo load), `services` (carrying a plan out: pause, opt out, raise, reply), `trial` (admin's
"Try a message", which carries nothing out), `evaluation` (scoring against labelled sets).

This package imports nothing at import time: `handoffs.models` imports `choices` from it.
"""
