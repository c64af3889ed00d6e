"""Currency-aware rules: a threshold written in GBP catches a budget sent in USD or EUR, through
the exchange rates ops keep in admin; an unknown currency never matches silently as money."""

from typing import Any

import pytest

from handoffs.models import Handoff
from journeys.models import ExchangeRate, HandoffRule
from journeys.rules import (
    RATES_KEY,
    condition_errors,
    condition_explain,
    condition_matches,
    condition_uses_currency,
)

RATES = {"GBP": 1.0, "USD": 0.8, "EUR": 0.85}
OVER_50K_GBP = {"path": "properties.budget", "op": ">=", "value": 50000, "currency": "GBP"}


def doc(budget: Any, currency: str | None = None) -> dict[str, Any]:
    properties = {"budget": budget} | ({"currency": currency} if currency else {})
    return {"properties": properties, RATES_KEY: RATES}


@pytest.mark.parametrize(
    ("budget", "currency", "matches"),
    [
        (50000, "GBP", True),
        (49999, "GBP", False),
        (62500, "USD", True),  # 62,500 × 0.8 = 50,000 GBP
        (62499, "USD", False),
        (60000, "EUR", True),  # 51,000 GBP
        ("60,000", "eur", True),  # tolerant amount and code
        (50000, None, True),  # no currency beside it: taken to be in the rule's currency
        (10**9, "JPY", False),  # no rate for JPY: not money we can compare
        ("lots", "GBP", False),
    ],
)
def test_a_gbp_threshold_converts_what_arrives(budget, currency, matches):
    assert condition_matches(OVER_50K_GBP, doc(budget, currency)) is matches


def test_the_evidence_shows_the_conversion():
    assert condition_explain(OVER_50K_GBP, doc(70000, "USD")) == [
        "properties.budget = 70,000 USD (≈ 56,000 GBP) ≥ 50,000 GBP"
    ]
    assert condition_explain(OVER_50K_GBP, doc(60000, "GBP")) == [
        "properties.budget = 60,000 GBP ≥ 50,000 GBP"
    ]


def test_not_equal_holds_when_the_amount_cannot_be_converted():
    leaf = {"path": "properties.budget", "op": "!=", "value": 0, "currency": "GBP"}
    assert condition_matches(leaf, doc(5, "JPY")) is True


@pytest.mark.parametrize(
    ("leaf", "error"),
    [
        (
            {**OVER_50K_GBP, "currency": "pounds"},
            "condition.currency: must be a three-letter currency code such as GBP, got pounds",
        ),
        (
            {"path": "properties.plan", "op": "in", "value": ["pro"], "currency": "GBP"},
            "condition.currency: only numeric comparisons (<, <=, >, >=, ==, !=) can convert "
            "currencies",
        ),
        (
            {**OVER_50K_GBP, "curency": "GBP"},
            "condition: unexpected key 'curency' (use all/any/not or path/op/value)",
        ),
    ],
)
def test_a_bad_currency_leaf_is_refused_saying_where(leaf, error):
    assert condition_errors(leaf) == [error]


def test_rates_are_loaded_only_for_conditions_that_convert_money():
    assert condition_uses_currency({"all": [{"not": OVER_50K_GBP}]})
    assert not condition_uses_currency({"path": "type", "op": "==", "value": "x"})


@pytest.mark.django_db
def test_a_usd_budget_raises_the_gbp_high_value_handoff(org: Any, send_signal: Any):
    HandoffRule.objects.filter(pk=org.rule.pk).update(condition=OVER_50K_GBP)
    ExchangeRate.objects.create(currency="USD", rate="0.8")

    big = {"budget": 70000, "currency": "USD"}
    small = {"budget": 60000, "currency": "USD"}
    assert send_signal(properties=big, key="usd-big").status_code == 202
    assert send_signal(external_id="c-2", properties=small, key="usd-small").status_code == 202

    handoff = Handoff.objects.get()
    assert handoff.contact.external_id == "c-1001"
    assert "properties.budget = 70,000 USD (≈ 56,000 GBP) ≥ 50,000 GBP" in str(handoff.evidence)


@pytest.mark.django_db
def test_ops_keep_rates_in_admin(client: Any, org: Any):
    client.force_login(org.users["olive"])
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()

    bad = client.post("/admin/journeys/exchangerate/add/", {"currency": "usd", "rate": "0"})
    good = client.post("/admin/journeys/exchangerate/add/", {"currency": "USD", "rate": "0.79"})

    assert bad.status_code == 200 and "three-letter code in capitals" in bad.content.decode()
    assert good.status_code == 302
    assert str(ExchangeRate.objects.get()) == "1 USD = 0.79 GBP"
