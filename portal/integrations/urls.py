"""Where the integrations listen (docs/integrations.md). The Segment paths sit at the site root
because the SDKs append `/v1/...` to the host they are given."""

from django.urls import path, re_path

from portal.integrations import chat, email_inbound, twilio
from portal.integrations.segment_api import segment_view
from portal.integrations.webhooks import WebhookView

SEGMENT_ENDPOINTS = {
    "batch": None,
    "b": None,
    "track": "track",
    "t": "track",
    "identify": "identify",
    "i": "identify",
    "page": "page",
    "p": "page",
    "screen": "screen",
    "s": "screen",
    "group": "group",
    "g": "group",
    "alias": "alias",
    "a": "alias",
}

urlpatterns = [
    *(
        re_path(rf"^v1/{name}/?$", segment_view(kind, short=len(name) == 1), name=f"segment-{name}")
        for name, kind in SEGMENT_ENDPOINTS.items()
    ),
    path("api/v1/hooks/<slug:slug>/", WebhookView.as_view(), name="api-webhook"),
    # The chat widget (chat.py): sessions for integrations, the page for contacts.
    path("api/v1/chat/sessions/", chat.ChatSessionView.as_view(), name="api-chat-session"),
    path("chat/<str:token>/", chat.chat_page, name="chat"),
    path("chat/<str:token>/messages/", chat.chat_messages, name="chat-messages"),
    path("chat/<str:token>/send/", chat.chat_send, name="chat-send"),
    path("api/v1/integrations/twilio/", twilio.twilio_messages, name="twilio-messages"),
    # Mailgun posts raw MIME to a URL containing "mime", parsed fields otherwise.
    re_path(
        r"^api/v1/integrations/email/mailgun(_mime)?/$",
        email_inbound.mailgun_inbound,
        name="email-mailgun",
    ),
    path(
        "api/v1/integrations/email/sendgrid/",
        email_inbound.sendgrid_inbound,
        name="email-sendgrid",
    ),
    path(
        "api/v1/integrations/email/postmark/",
        email_inbound.postmark_inbound,
        name="email-postmark",
    ),
]
