"""The embedded timer (portal/embedded.py) runs every beat entry in-process in the demo: each
must resolve to its task by name and run without error, as a worker would."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings

from portal import embedded

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_every_beat_entry_runs_in_the_embedded_timer(
    entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = settings.CELERY_BEAT_SCHEDULE[entry]["task"]
    assert embedded._task(name).name == name
    with caplog.at_level(logging.ERROR, logger="baton.embedded"):
        embedded._run(name)
    assert [r.getMessage() for r in caplog.records if r.name == "baton.embedded"] == []
