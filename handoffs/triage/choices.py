from django.db import models


class TriageLabel(models.TextChoices):
    """What triage made of an inbound message (stored on the message)."""

    ROUTINE = "routine", "Routine"
    POSITIVE = "positive", "Positive intent"
    ANGRY = "angry", "Angry"
    CONFUSED = "confused", "Confused"
    OPT_OUT = "opt_out", "Opt-out"
    FAQ = "faq", "Question answered from the FAQ"
    QUESTION = "question", "Question for a specialist"
    ERROR = "error", "Triage failed"


# Labels that take the baton from automation at once (a sentiment handoff).
SENTIMENT_LABELS = frozenset({TriageLabel.ANGRY, TriageLabel.CONFUSED, TriageLabel.OPT_OUT})


class PhraseKind(models.TextChoices):
    OPT_OUT = "opt_out", "Opt-out"
    ANGRY = "angry", "Anger"
    CONFUSED = "confused", "Confusion"
    POSITIVE = "positive", "Positive intent"
    SPECIALIST = "specialist", "Specialist topic (always a person)"


class FaqStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate (waiting for review)"
    APPROVED = "approved", "Approved (the bot answers with it)"
    REJECTED = "rejected", "Rejected"
