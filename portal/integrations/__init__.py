"""Plugging Baton into the stack teams already have (docs/integrations.md).

In: `segment` (the Segment/RudderStack HTTP Tracking API → signals), `twilio` (SMS and WhatsApp
webhooks → inbound messages), `email_inbound` (Mailgun/SendGrid/Postmark inbound email through
django-anymail → inbound messages, threaded), `webhooks` (signed JSON from Zapier, Make, n8n,
HubSpot workflows → signals, mapped in admin; `models`, `services` and `admin` hold their
configuration).
Shared: `signing` (HMAC signatures, also for outbound webhooks), `contacts` (finding the
contact behind an address), `naming` (event names → signal types), `reply_tokens` (the
Reply-To address that threads an email reply). `urls` says where each listens.

Every path ends in the apps' own services (`journeys.ingestion.signal_ingest_batch`,
`handoffs.services.message_receive`): there is no second ingest path.
"""
