from __future__ import annotations

from typing import Any

from rest_framework import serializers

from handoffs.choices import Channel, SlaTarget
from handoffs.models import Handoff, Message
from handoffs.payloads import handoff_as_dict, person
from journeys.api.serializers import AccountInSerializer, ContactInSerializer
from portal.api_fields import StrictSerializer, TextField
from portal.timefmt import iso


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


class ContactRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField()


class SlaClockSerializer(serializers.Serializer):
    target = serializers.ChoiceField(SlaTarget.choices)
    due_at = serializers.DateTimeField()


class HandoffSerializer(serializers.Serializer):
    """API.md's H. The shape comes from handoffs/payloads.py, shared with the event stream."""

    id = serializers.IntegerField()
    team = serializers.CharField()
    trigger = serializers.CharField()
    reason = serializers.CharField()
    priority = serializers.CharField()
    status = serializers.CharField()
    assignee = PersonSerializer(allow_null=True)
    offered_to_role = serializers.CharField(allow_null=True)
    contact = ContactRefSerializer()
    evidence = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    claimed_at = serializers.DateTimeField(allow_null=True)
    first_response_due_at = serializers.DateTimeField()
    first_responded_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()
    resume_automation = serializers.BooleanField(allow_null=True)
    breached = serializers.BooleanField()
    escalated = serializers.BooleanField()
    # The SLA clock (docs/sla.md), added in v1 without changing the fields above.
    sla_started_at = serializers.DateTimeField(allow_null=True)
    next_response_due_at = serializers.DateTimeField(allow_null=True)
    resolution_due_at = serializers.DateTimeField(allow_null=True)
    sla_clock = SlaClockSerializer(allow_null=True)
    sla_paused_since = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)
    breached_target = serializers.ChoiceField(SlaTarget.choices, allow_null=True)

    def to_representation(self, instance: Handoff) -> dict[str, Any]:
        return handoff_as_dict(instance)


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    handoff = serializers.IntegerField(allow_null=True)
    direction = serializers.CharField()
    channel = serializers.CharField()
    body = serializers.CharField()
    automated = serializers.BooleanField()
    author = PersonSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    delivery = serializers.CharField(allow_null=True)

    def to_representation(self, instance: Message) -> dict[str, Any]:
        outbox = getattr(instance, "outbox", None)
        return {
            "id": instance.pk,
            "handoff": instance.handoff_id,
            "direction": instance.direction,
            "channel": instance.channel,
            "body": instance.body,
            "automated": instance.automated,
            "author": person(instance.author),
            "created_at": iso(instance.created_at),
            "delivery": outbox.status if outbox else None,
        }


class ReplyInSerializer(StrictSerializer):
    body = TextField(max_length=5000, trim_whitespace=True)


class ResolveInSerializer(StrictSerializer):
    resolution = TextField(max_length=2000, required=False, allow_blank=True)
    resume_automation = serializers.BooleanField(required=False, default=False)


class ReassignInSerializer(StrictSerializer):
    assignee = TextField(max_length=150, help_text="The username to give it to.")


class MessageInSerializer(StrictSerializer):
    contact = ContactInSerializer()
    account = AccountInSerializer(required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    body = TextField(max_length=5000)
    external_id = TextField(max_length=200, required=False, allow_null=True)


class MessageAcceptedSerializer(serializers.Serializer):
    id = serializers.CharField()
    duplicate = serializers.BooleanField()
