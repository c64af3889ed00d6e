"""Tone rules as pure functions: banned phrases, the disclosure, and promise detection."""

from __future__ import annotations

import pytest

from governance.tone import ToneRule, tone_check

BANNED = ToneRule("House style", "banned", phrases=("act now", "limited time", "100% guaranteed"))
DISCLOSE = ToneRule(
    "Say it is automated",
    "disclosure",
    phrases=("— Baton's booking assistant (automated)", "I'm the booking assistant"),
)
PROMISES = ToneRule("No promises", "promise", phrases=("guarantee",))
RULES = (BANNED, DISCLOSE, PROMISES)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The Pro plan is £49 per seat.", "price"),
        ("That comes to 1,200 USD a year.", "price"),
        ("It's $99.", "price"),
        ("I can give you 20% off if you sign this week.", "discount"),
        ("Use promo code SPRING for a discount.", "discount"),
        ("We'll waive the setup fee.", "discount"),
        ("You'll get two free months.", "discount"),
        ("Your account will be ready by Friday.", "date"),
        ("We can have it live by the end of the month.", "date"),
        ("We'll ship it on 3 March.", "date"),
        ("Expect an answer within 24 hours.", "date"),
        ("The API will support webhooks.", "feature"),
        ("SSO is on our roadmap.", "feature"),
        ("Salesforce sync is coming soon!", "feature"),
        ("We're building a mobile app.", "feature"),
    ],
)
def test_promises_of_each_kind_need_a_person(text: str, kind: str):
    report = tone_check(text=text, channel="email", rules=(PROMISES,))

    assert report.needs_approval and not report.blocked
    assert any(f.detail == f"{kind} promise" for f in report.findings), report.summary()


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for your message — here is the link to book a call: https://cal.example/ada",
        "Did the onboarding guide help? Reply yes or no.",
        "Our office is open Monday to Friday.",
        "I have passed your question to the team.",
        "Here are three customer stories you might like.",
    ],
)
def test_plain_routine_text_is_clean(text: str):
    report = tone_check(text=text, channel="email", rules=(BANNED, PROMISES))

    assert report.clean, report.summary()
    assert report.findings == ()


def test_a_banned_phrase_blocks_and_names_the_words_as_written():
    report = tone_check(text="ACT  NOW — offer ends soon", channel="sms", rules=RULES)

    assert report.blocked
    assert [(f.rule, f.excerpt) for f in report.findings if f.kind == "banned"] == [
        ("House style", "ACT  NOW")
    ]


def test_a_banned_phrase_matches_whole_words_only():
    report = tone_check(text="We react nowhere near fast enough", channel="sms", rules=(BANNED,))

    assert not report.blocked


def test_a_missing_disclosure_is_appended_not_refused():
    report = tone_check(text="Here is your booking link.", channel="email", rules=(DISCLOSE,))

    assert report.clean
    assert report.text.endswith("— Baton's booking assistant (automated)")
    assert [f.detail for f in report.findings] == ["disclosure added"]


def test_any_accepted_disclosure_wording_counts():
    text = "Hi, I'm the booking assistant. Here is your link."

    report = tone_check(text=text, channel="email", rules=(DISCLOSE,))

    assert report.text == text and report.findings == ()


def test_rules_apply_only_to_their_channels():
    sms_only = ToneRule("SMS: no links", "banned", phrases=("http",), channels=frozenset({"sms"}))

    assert tone_check(text="see http now", channel="sms", rules=(sms_only,)).blocked
    assert not tone_check(text="see http now", channel="email", rules=(sms_only,)).blocked


def test_ops_phrases_extend_the_promise_detectors_and_kinds_can_be_narrowed():
    prices_only = ToneRule("Prices", "promise", promise_kinds=frozenset({"price"}))

    assert tone_check(text="We guarantee it.", channel="chat", rules=(PROMISES,)).needs_approval
    assert not tone_check(text="SSO is coming soon", channel="chat", rules=(prices_only,)).findings
    assert tone_check(text="It is £10.", channel="chat", rules=(prices_only,)).needs_approval
