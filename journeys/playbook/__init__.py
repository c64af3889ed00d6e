"""The rep's playbook: what to do next, what to send, and reply drafts, for one contact.

Ops keep three kinds of rows in admin (`models.py`): next-step rules, a content library and reply
templates, each tagged by Loop stage and handoff trigger (content also by persona) and optionally
owned by a team. `selectors.playbook_for` matches them against where the contact is now — the
Loop stage of its live journeys, the trigger of its open handoff, its persona and its latest
question — and explains every recommendation. Nothing here sends anything: drafts are text for
the rep's composer. See docs/journeys.md, "The rep's playbook".
"""
