"""A batch that appends many events pokes each team once, with the highest seq, after commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conftest import key_client, signal_body
from portal.models import Event
from portal.realtime import poke_on_commit, pokes_held, team_group


def _drain(channel: str) -> list[dict[str, Any]]:
    layer = get_channel_layer()

    async def receive_all() -> list[dict[str, Any]]:
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
            except TimeoutError:
                return received

    return async_to_sync(receive_all)()


def _listen(team_id: int) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(team_group(team_id), channel)
    return channel


@pytest.mark.django_db(transaction=True)
def test_a_batch_raising_many_handoffs_pokes_the_team_once_with_the_last_seq(
    org: Any, api_key: str
):
    team = org.rule.team
    channel = _listen(team.pk)
    batch = [signal_body(external_id=f"c-{n}", key=f"k-{n}") for n in range(5)]
    response = key_client(api_key).post("/api/v1/signals/batch/", {"signals": batch}, format="json")
    assert response.json()["accepted"] == 5
    pokes = _drain(channel)
    last = Event.objects.filter(team=team).order_by("-id").values_list("id", flat=True).first()
    assert Event.objects.filter(team=team).count() == 5
    assert [p["seq"] for p in pokes] == [last]


@pytest.mark.django_db(transaction=True)
def test_held_pokes_wait_for_the_outer_commit_and_die_with_a_rollback(org: Any):
    team = org.rule.team
    channel = _listen(team.pk)
    with transaction.atomic():
        with pokes_held():
            poke_on_commit(team_id=team.pk, seq=7)
            poke_on_commit(team_id=team.pk, seq=9)
        assert _drain(channel) == []  # not yet: the outer transaction has not committed
    assert [p["seq"] for p in _drain(channel)] == [9]

    with pytest.raises(RuntimeError), pokes_held():
        poke_on_commit(team_id=team.pk, seq=11)
        raise RuntimeError("rolled back")
    assert _drain(channel) == []
