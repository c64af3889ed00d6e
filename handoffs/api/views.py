from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handoffs import services
from handoffs.api.serializers import (
    HandoffSerializer,
    MessageAcceptedSerializer,
    MessageInSerializer,
    MessageSerializer,
    ReassignInSerializer,
    ReplyInSerializer,
    ResolveInSerializer,
)
from handoffs.choices import HandoffStatus, Priority, Trigger
from handoffs.models import Handoff
from handoffs.selectors import (
    FilterError,
    handoff_get_for,
    handoff_get_for_work,
    handoff_list,
    parse_filters,
)
from portal.api_access import require_integration, require_person
from portal.api_pagination import Pagination, page_of, page_parameters
from portal.api_schema import error_responses
from portal.errors import Forbidden, InvalidInput
from portal.selectors import user_can_manage, user_can_work

ACTION_ERRORS = error_responses(404, 409)  # an action on one handoff
BODY_ACTION_ERRORS = error_responses(404, 409, 415)  # …that takes a JSON body

LIST_PARAMS = [
    OpenApiParameter(
        "status",
        {"type": "array", "items": {"enum": [*HandoffStatus.values, "active"]}},
        explode=False,
        description="open, claimed, waiting_on_contact, resolved, or active; comma-separated",
    ),
    OpenApiParameter("team", str, description="team slug"),
    OpenApiParameter("trigger", {"enum": Trigger.values}),
    OpenApiParameter("priority", {"enum": Priority.values}),
    OpenApiParameter("assignee", str, description="me, none, or a username"),
    OpenApiParameter(
        "contact",
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                {"type": "string", "maxLength": 0},
            ]
        },
        description="a contact id; empty: no filter",
    ),
    OpenApiParameter("breached", bool),
    *page_parameters(),
]


class MessageInboundView(APIView):
    @extend_schema(
        request=MessageInSerializer,
        responses={202: MessageAcceptedSerializer, **error_responses(409, 415)},
        summary="A contact wrote to us",
    )
    def post(self, request: Request) -> Response:
        require_integration(request)
        data = MessageInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        received = services.message_receive(
            message=services.InboundMessage(
                contact=dict(values["contact"]),
                account=dict(values["account"]) if values.get("account") else None,
                channel=values["channel"],
                body=values["body"],
                external_id=values.get("external_id"),
            )
        )
        return Response(
            {"id": str(received.id), "duplicate": received.duplicate},
            status=status.HTTP_202_ACCEPTED,
        )


class HandoffListView(APIView):
    @extend_schema(
        operation_id="api_v1_handoffs_list",
        parameters=LIST_PARAMS,
        responses={200: page_of("HandoffPage", HandoffSerializer()), **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        try:
            filters = parse_filters(request.query_params)
        except FilterError as exc:
            raise InvalidInput("Invalid filters.", exc.errors) from None
        paginator = Pagination()
        page = paginator.paginate_queryset(
            handoff_list(principal=request.user, filters=filters), request, view=self
        )
        return paginator.get_paginated_response(HandoffSerializer(page, many=True).data)


class HandoffDetailView(APIView):
    @extend_schema(responses={200: HandoffSerializer, **error_responses(404)})
    def get(self, request: Request, handoff_id: int) -> Response:
        handoff = handoff_get_for(principal=request.user, handoff_id=handoff_id)
        return Response(HandoffSerializer(handoff).data)


def _workable(request: Request, handoff_id: int) -> tuple[object, Handoff]:
    user = require_person(request)
    handoff, may_work = handoff_get_for_work(user=user, handoff_id=handoff_id)
    if not may_work:
        raise Forbidden("Your role may read this team's handoffs but not work them.")
    return user, handoff


class HandoffClaimView(APIView):
    @extend_schema(request=None, responses={200: HandoffSerializer, **ACTION_ERRORS})
    def post(self, request: Request, handoff_id: int) -> Response:
        user, seen = _workable(request, handoff_id)
        handoff = services.handoff_claim(handoff_id=handoff_id, user=user, seen=seen)
        return Response(HandoffSerializer(handoff).data)


class HandoffReleaseView(APIView):
    @extend_schema(request=None, responses={200: HandoffSerializer, **ACTION_ERRORS})
    def post(self, request: Request, handoff_id: int) -> Response:
        user, handoff = _workable(request, handoff_id)
        may_override = user_can_manage(user=user, team_id=handoff.team_id)
        if handoff.assignee_id != user.pk and not may_override:
            raise Forbidden("Only the owner or a team lead may release this handoff.")
        handoff = services.handoff_release(
            handoff_id=handoff_id, user=user, may_override=may_override
        )
        return Response(HandoffSerializer(handoff).data)


class HandoffReassignView(APIView):
    @extend_schema(
        request=ReassignInSerializer, responses={200: HandoffSerializer, **BODY_ACTION_ERRORS}
    )
    def post(self, request: Request, handoff_id: int) -> Response:
        user, handoff = _workable(request, handoff_id)
        if not user_can_manage(user=user, team_id=handoff.team_id):
            raise Forbidden("Only a team lead or director may reassign handoffs.")
        data = ReassignInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = (
            get_user_model()
            .objects.filter(username=data.validated_data["assignee"], is_active=True)
            .first()
        )
        if target is None or not user_can_work(user=target, team_id=handoff.team_id):
            raise InvalidInput(
                "Invalid input.", {"assignee": ["Not someone who works this team's handoffs."]}
            )
        handoff = services.handoff_reassign(handoff_id=handoff_id, user=user, assignee=target)
        return Response(HandoffSerializer(handoff).data)


class HandoffReplyView(APIView):
    @extend_schema(
        request=ReplyInSerializer, responses={201: MessageSerializer, **BODY_ACTION_ERRORS}
    )
    def post(self, request: Request, handoff_id: int) -> Response:
        user, _ = _workable(request, handoff_id)
        data = ReplyInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.handoff_reply(
            handoff_id=handoff_id, user=user, body=data.validated_data["body"]
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class HandoffResolveView(APIView):
    @extend_schema(
        request=ResolveInSerializer, responses={200: HandoffSerializer, **BODY_ACTION_ERRORS}
    )
    def post(self, request: Request, handoff_id: int) -> Response:
        user, handoff = _workable(request, handoff_id)
        may_override = user_can_manage(user=user, team_id=handoff.team_id)
        if handoff.assignee_id not in (None, user.pk) and not may_override:
            raise Forbidden("Only the owner or a team lead may resolve this handoff.")
        data = ResolveInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        handoff = services.handoff_resolve(
            handoff_id=handoff_id,
            user=user,
            resolution=data.validated_data.get("resolution", ""),
            resume_automation=data.validated_data["resume_automation"],
            may_override=may_override,
        )
        return Response(HandoffSerializer(handoff).data)
