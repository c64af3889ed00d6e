"""The chat widget: a small page a contact chats on, embeddable as an iframe on any site
(docs/integrations.md, "Chat widget").

- A site's server asks for a session (`POST /api/v1/chat/sessions/` with its API key, naming the
  contact) and gets a signed token, the widget URL and the iframe snippet. The token is the
  contact's capability: signed with SECRET_KEY (a made-up one matches nothing), valid for
  BATON_CHAT_TOKEN_DAYS.
- What the contact writes goes through `message_receive` on the `chat` channel — stored once per
  client message id, triaged (the FAQ bot answers, or a holding reply and a handoff), threaded
  into the contact's conversation — exactly like any other inbound message.
- Replies (the bot's, then a person's from the inbox, in the same conversation) leave through the
  outbox on the `chat` channel; `handoffs.channels.ChatBackend` delivers them to the widget, which
  shows every sent chat message.
- Live by htmx polling (every BATON_CHAT_POLL_SECONDS): the page asks "anything after version
  V?" and gets 204 or the thread. Chosen over a websocket because it works through any proxy
  and in any iframe, needs no second authentication path, and a lost request only delays a
  message by one poll.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handoffs.choices import Channel, Direction, OutboxStatus
from handoffs.models import Message
from handoffs.services import InboundMessage, message_receive
from journeys.api.serializers import ContactInSerializer
from journeys.models import Contact
from journeys.services import contact_upsert
from portal.api_access import require_integration
from portal.api_fields import StrictSerializer
from portal.api_schema import error_responses
from portal.errors import Conflict
from portal.integrations.notifications import public_url

SALT = "baton.chat.v1"
MAX_BODY = 2000
THREAD_LIMIT = 200


def chat_token(contact: Contact) -> str:
    return signing.dumps({"c": contact.pk}, salt=SALT, compress=True)


def contact_for_token(token: str) -> Contact | None:
    """The contact a token was made for; None for a made-up, tampered or expired token."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.BATON_CHAT_TOKEN_DAYS * 86400)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    contact_id = data.get("c") if isinstance(data, dict) else None
    if not isinstance(contact_id, int):
        return None
    return Contact.objects.filter(pk=contact_id).first()


def chat_url(contact: Contact) -> str:
    return public_url() + reverse("chat", args=[chat_token(contact)])


def embed_snippet(url: str) -> str:
    return (
        f'<iframe src="{url}" title="Chat with us" width="380" height="560" '
        'style="border:1px solid #d0d5dd;border-radius:12px" loading="lazy"></iframe>'
    )


# --- reads ---


@dataclass(frozen=True)
class Thread:
    messages: list[Message]
    version: str


def chat_thread(contact: Contact) -> Thread:
    """The chat as the contact sees it: what they wrote on chat, and every chat reply that has
    been delivered (the bot's and people's), oldest first. The version changes whenever a
    message is added, so a poll can answer "nothing new" without rendering."""
    newest = list(
        Message.objects.filter(conversation__contact=contact, channel=Channel.CHAT)
        .filter(Q(direction=Direction.IN) | Q(outbox__status=OutboxStatus.SENT))
        .select_related("author")
        .order_by("-created_at", "-id")[:THREAD_LIMIT]
    )
    newest.reverse()
    version = f"{len(newest)}.{newest[-1].pk}" if newest else "0"
    return Thread(messages=newest, version=version)


# --- the page ---

CHAT_CSP = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.NONCE],
    "frame-ancestors": settings.BATON_CHAT_FRAME_ANCESTORS,
}


def _page(view: Any) -> Any:
    """Embeddable: framing allowed by BATON_CHAT_FRAME_ANCESTORS (X-Frame-Options off, the CSP
    says who may frame it); the page's own styles carry the nonce."""
    return xframe_options_exempt(csp_override(CHAT_CSP)(view))


def _context(token: str, contact: Contact, **extra: Any) -> dict[str, Any]:
    thread = chat_thread(contact)
    return {
        "token": token,
        "contact": contact,
        "thread": thread,
        "client_id": uuid.uuid4().hex,
        "poll_seconds": settings.BATON_CHAT_POLL_SECONDS,
        "max_body": MAX_BODY,
        **extra,
    }


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "integrations/chat_gone.html", status=404)


@_page
@require_GET
def chat_page(request: HttpRequest, token: str) -> HttpResponse:
    contact = contact_for_token(token)
    if contact is None:
        return _not_found(request)
    return render(request, "integrations/chat.html", _context(token, contact))


@_page
@require_GET
def chat_messages(request: HttpRequest, token: str) -> HttpResponse:
    """The poll: 204 while nothing changed since version `v`, else the thread."""
    contact = contact_for_token(token)
    if contact is None:
        return HttpResponse(status=404)
    context = _context(token, contact)
    if request.GET.get("v") == context["thread"].version:
        return HttpResponse(status=204)
    return render(request, "integrations/chat.html#thread", context)


@_page
@csrf_exempt  # framed on another site, where no CSRF cookie reaches us: the token authorises
@require_POST
def chat_send(request: HttpRequest, token: str) -> HttpResponse:
    contact = contact_for_token(token)
    if contact is None:
        return HttpResponse(status=404) if request.htmx else _not_found(request)
    body = (request.POST.get("body") or "").strip()
    client_id = (request.POST.get("client_id") or "").strip()
    error = ""
    if not body:
        error = "Write a message first."
    elif len(body) > MAX_BODY:
        error = f"That is over {MAX_BODY} characters; shorten it a little."
    elif "\x00" in body or not client_id.isalnum() or len(client_id) > 64:
        error = "That message could not be read; try again."
    else:
        try:
            message_receive(
                message=InboundMessage(
                    contact={"external_id": contact.external_id},
                    account=None,
                    channel=Channel.CHAT,
                    body=body,
                    # The page's id for this message: a double click or a retried post is
                    # stored once.
                    external_id=f"chat:{contact.pk}:{client_id}",
                )
            )
        except Conflict:
            error = "That message was already sent."
    if not request.htmx:
        return HttpResponseRedirect(reverse("chat", args=[token]))
    context = _context(token, contact, error=error, draft=body if error else "")
    return render(request, "integrations/chat.html#conversation", context)


# --- the API that makes sessions ---


class ChatSessionInSerializer(StrictSerializer):
    contact = ContactInSerializer()


class ChatSessionSerializer(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.URLField()
    embed = serializers.CharField()
    expires_in_days = serializers.IntegerField()


class ChatSessionView(APIView):
    """`POST /api/v1/chat/sessions/`: an integration (its API key) opens a chat for a contact,
    created or updated from the fields given, and gets the widget's URL and iframe snippet."""

    @extend_schema(
        request=ChatSessionInSerializer,
        responses={201: ChatSessionSerializer, **error_responses(415)},
        summary="Open a chat widget session for a contact",
    )
    def post(self, request: Request) -> Response:
        require_integration(request)
        data = ChatSessionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data["contact"])
        contact = contact_upsert(external_id=fields["external_id"], fields=fields)
        url = chat_url(contact)
        return Response(
            {
                "token": url.rstrip("/").rsplit("/", 1)[-1],
                "url": url,
                "embed": embed_snippet(url),
                "expires_in_days": settings.BATON_CHAT_TOKEN_DAYS,
            },
            status=status.HTTP_201_CREATED,
        )
