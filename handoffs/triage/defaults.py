"""The starting data: phrase lists and thresholds (loaded by the data migration
`0008_triage_defaults`, then ops edit them in admin) and the starter FAQ (loaded by
`manage.py seed_demo`; `evaluate_triage` uses it when no FAQ entry is approved yet).

Phrases are patterns (handoffs/triage/patterns.py): whole words, any inflection, ignoring case,
punctuation, apostrophes and spacing ("dont" = "don't"), with `a|b` for a choice of words and
`*` for up to three words between. A whole-message phrase counts only when it is the entire
message, courtesy words aside ("STOP", "stop please"). Anger and positive phrases do not count
right after a negation ("not interested").
"""

from __future__ import annotations

from handoffs.triage import default_phrases

ANGRY_AT_MOST = -0.6
POSITIVE_AT_LEAST = 0.75
FAQ_MATCH_AT_LEAST = 0.45
HOLDING_REPLY = "Great question — let me check with one of our specialists and come back to you."
ASSISTANT_SIGNATURE = "— Baton assistant (automated message)"

# The phrase lists, as pattern families: handoffs/triage/default_phrases.py.
PHRASES = default_phrases.PHRASES

# (question, answer, keywords): the demo's knowledge base.
STARTER_FAQ: list[tuple[str, str, str]] = [
    (
        "What are your opening hours?",
        "Our team is available Monday to Friday, 9am to 6pm UK time, closed on bank holidays. "
        "Messages sent outside those hours are answered the next working morning.",
        "open opening hours times closed close weekend saturday sunday bank holiday available",
    ),
    (
        "How do I reset my password?",
        "Use “Forgot password?” on the sign-in page and we will email you a reset link, valid "
        "for an hour. If it does not arrive, check your spam folder.",
        "password reset forgot forgotten login log in sign in page locked out account access "
        "credentials",
    ),
    (
        "Do you offer a free trial?",
        "Yes — every plan comes with a 14-day free trial, no card needed. You can start it from "
        "the sign-up page.",
        "free trial try test evaluate demo days card sign up",
    ),
    (
        "Where can I see your prices?",
        "All our plans and prices are on our pricing page: baton.example/pricing. Prices are "
        "per seat per month, billed monthly or yearly.",
        "price prices pricing cost costs plans plan how much per seat month year billing fee "
        "starter pro difference compare",
    ),
    (
        "Where are you based?",
        "We are based in London, UK, and work with customers across Europe and North America.",
        "based located location office offices headquarters address country city where",
    ),
    (
        "How do I cancel or change my plan?",
        "An account admin can change or cancel the plan any time under Settings → Billing; "
        "changes apply from the next billing date.",
        "cancel cancelling subscription change plan downgrade upgrade switch billing settings",
    ),
    (
        "Can I export my data?",
        "Yes — an admin can export contacts, journeys and reports as CSV under Settings → Data "
        "export.",
        "export data download csv backup reports",
    ),
    (
        "Which payment methods do you accept?",
        "We accept all major credit and debit cards, and bank transfer on yearly plans.",
        "payment pay methods card cards credit debit bank transfer paypal amex american express "
        "visa mastercard apple google update details",
    ),
    (
        "How long does delivery take, and where do you deliver?",
        "Orders ship within 2 working days; UK delivery takes 1–3 working days and international "
        "delivery 5–10. We deliver to the UK, Ireland, the EU and the US.",
        "delivery deliver shipping ship dispatch post postage order orders arrive long take "
        "countries international abroad next day express",
    ),
    (
        "Can I change my delivery address?",
        "Yes, until the order is dispatched: change it under Orders → Delivery details, or reply "
        "with the new address and we will update it.",
        "change delivery address shipping address order moved",
    ),
    (
        "What is your returns policy?",
        "You can return anything within 30 days for a full refund; start a return from your "
        "order page and we will email a free returns label.",
        "return returns refund refunds policy exchange send back",
    ),
    (
        "Do you have a mobile app?",
        "Yes — our app is free on the App Store and Google Play; sign in with your usual account.",
        "app mobile phone iphone android ios download work tablet",
    ),
    (
        "How can I contact support?",
        "Reply here any time, email support@baton.example, or call 020 7946 0000 (Monday to "
        "Friday, 9am to 6pm UK time).",
        "contact support phone number call email help desk helpline reach",
    ),
    (
        "Where can I find your privacy policy?",
        "Our privacy policy is at baton.example/privacy, and our terms at baton.example/terms.",
        "privacy policy terms conditions cookies",
    ),
    (
        "How do I add another user to my account?",
        "An account admin can invite people under Settings → Team → Invite; each person gets "
        "their own sign-in.",
        "add user users invite colleague team member seat seats another person",
    ),
    (
        "How do I download my invoices?",
        "Invoices are under Settings → Billing → Invoices, each as a PDF to download.",
        "invoice invoices receipt receipts download billing history vat",
    ),
    (
        "How do I turn on two-factor authentication?",
        "Under Settings → Security → Two-factor authentication; scan the code with an "
        "authenticator app and enter the six-digit code to confirm.",
        "two factor authentication 2fa mfa security code authenticator turn enable",
    ),
    (
        "Is there a minimum contract length?",
        "No — monthly plans can be cancelled any time; yearly plans run for the year paid.",
        "minimum contract length term commitment tie notice period monthly yearly",
    ),
    (
        "Which languages do you support?",
        "The app and our assistant work in English, French, German and Spanish.",
        "language languages english french german spanish translation support",
    ),
]
