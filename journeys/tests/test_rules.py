"""Tests for the handoff-rule condition language and reason templates (pure Python, no DB)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.rules import (
    JOURNEY_PATHS,
    JOURNEY_PATHS_HELP,
    KNOWN_PATHS_HELP,
    OPERATORS,
    SIGNAL_PATHS,
    condition_errors,
    condition_explain,
    condition_matches,
    format_value,
    path_get,
    template_errors,
    template_render,
)

KNOWN = ", ".join(OPERATORS)


def make_doc(**properties: Any) -> dict[str, Any]:
    """A realistic signal document with the given properties."""
    return {
        "type": "form_submitted",
        "occurred_at": "2026-11-21T10:00:00+00:00",
        "properties": properties,
        "contact": {
            "external_id": "c-1",
            "email": "ada@example.com",
            "phone": None,
            "name": "Ada Lovelace",
            "timezone": "Europe/London",
        },
        "account": {"external_id": "a-1", "name": "Analytical Engines Ltd"},
    }


def leaf(path: str, op: str, value: Any) -> dict[str, Any]:
    return {"path": path, "op": op, "value": value}


DOC = make_doc(
    budget=60000,
    budget_text="50,000",
    padded=" 50000.00 ",
    pounds="£50,000",
    word="abc",
    flag=True,
    one=1,
    nothing=None,
    plan="pro",
    note="URGENT: please call back",
    tags=["vip", "Renewal"],
    scores=[1, 2, 3],
    items=[{"sku": "A-1"}, {"sku": "B-2"}],
    nested={"deeper": {"value": 7}},
    days_to_renewal="45",
)

MATCH_CASES = [
    # ==
    pytest.param(leaf("type", "==", "form_submitted"), True, id="type equals its own value"),
    pytest.param(leaf("type", "==", "Form_Submitted"), False, id="text equality is case sensitive"),
    pytest.param(leaf("properties.budget_text", "==", 50000), True, id="number equals digit text"),
    pytest.param(leaf("properties.budget", "==", 60000.0), True, id="int equals the same float"),
    pytest.param(leaf("properties.budget", "==", "60000"), False, id="text never equals a number"),
    pytest.param(leaf("properties.missing", "==", "x"), False, id="missing value equals nothing"),
    pytest.param(leaf("properties.missing", "==", None), True, id="equals null matches missing"),
    pytest.param(leaf("properties.nothing", "==", None), True, id="equals null matches null"),
    pytest.param(leaf("properties.plan", "==", None), False, id="present value is not null"),
    pytest.param(leaf("properties.one", "==", True), False, id="the number 1 is not true"),
    pytest.param(leaf("properties.flag", "==", 1), False, id="true is not the number 1"),
    pytest.param(leaf("properties.flag", "==", True), True, id="true equals true"),
    # !=
    pytest.param(leaf("properties.plan", "!=", "free"), True, id="pro is not free"),
    pytest.param(leaf("properties.plan", "!=", "pro"), False, id="pro is not unequal to pro"),
    pytest.param(leaf("properties.missing", "!=", "pro"), True, id="missing value is not pro"),
    pytest.param(leaf("properties.missing", "!=", None), False, id="missing value is null"),
    pytest.param(leaf("properties.budget_text", "!=", 50000), False, id="not-equal is numeric"),
    # > >= < <=
    pytest.param(leaf("properties.budget", ">", 50000), True, id="60000 is above 50000"),
    pytest.param(leaf("properties.budget", ">", 60000), False, id="60000 is not above itself"),
    pytest.param(leaf("properties.missing", ">", 0), False, id="missing value is not above 0"),
    pytest.param(leaf("properties.budget", ">=", 60000), True, id="60000 is at least itself"),
    pytest.param(leaf("properties.budget_text", ">=", 50000), True, id="comma text is a number"),
    pytest.param(leaf("properties.padded", ">=", 50000), True, id="padded decimal is a number"),
    pytest.param(leaf("properties.pounds", ">=", 0), False, id="currency symbol is not a number"),
    pytest.param(leaf("properties.word", ">=", 0), False, id="a word is not a number"),
    pytest.param(leaf("properties.flag", ">=", 0), False, id="a boolean is not a number"),
    pytest.param(leaf("properties.nothing", ">=", 0), False, id="null is not a number"),
    pytest.param(leaf("properties.tags", ">=", 0), False, id="a list is not a number"),
    pytest.param(leaf("properties.budget", ">=", 60000.01), False, id="60000 is below 60000.01"),
    pytest.param(leaf("properties.budget", "<", 60001), True, id="60000 is below 60001"),
    pytest.param(leaf("properties.budget", "<", 60000), False, id="60000 is not below itself"),
    pytest.param(leaf("properties.missing", "<", 10), False, id="missing value is not below 10"),
    pytest.param(leaf("properties.days_to_renewal", "<=", 90), True, id="45 days is within 90"),
    pytest.param(leaf("properties.days_to_renewal", "<=", 44), False, id="45 days exceeds 44"),
    pytest.param(leaf("properties.missing", "<=", 90), False, id="missing days are not within 90"),
    # in / not_in
    pytest.param(leaf("properties.plan", "in", ["pro", "enterprise"]), True, id="pro is listed"),
    pytest.param(leaf("properties.plan", "in", ["free", "team"]), False, id="pro is not listed"),
    pytest.param(leaf("properties.missing", "in", ["x", None]), False, id="missing is in nothing"),
    pytest.param(leaf("properties.budget_text", "in", [1, 50000]), True, id="in compares numbers"),
    pytest.param(leaf("properties.plan", "not_in", ["free"]), True, id="pro is outside free"),
    pytest.param(leaf("properties.plan", "not_in", ["pro"]), False, id="pro is not outside pro"),
    pytest.param(leaf("properties.missing", "not_in", ["pro"]), True, id="missing is not listed"),
    # contains / icontains
    pytest.param(leaf("properties.note", "contains", "please"), True, id="note contains please"),
    pytest.param(leaf("properties.note", "contains", "urgent"), False, id="contains is case exact"),
    pytest.param(leaf("properties.tags", "contains", "vip"), True, id="tag list contains vip"),
    pytest.param(leaf("properties.tags", "contains", "VIP"), False, id="list contains is exact"),
    pytest.param(
        leaf("properties.budget", "contains", "6"), False, id="numbers have no substrings"
    ),
    pytest.param(leaf("properties.missing", "contains", "x"), False, id="missing contains nothing"),
    pytest.param(leaf("properties.note", "icontains", "urgent"), True, id="icontains ignores case"),
    pytest.param(leaf("properties.tags", "icontains", "renewal"), True, id="icontains in a list"),
    pytest.param(leaf("properties.note", "icontains", "refund"), False, id="note lacks refund"),
    pytest.param(leaf("properties.missing", "icontains", "x"), False, id="missing has no text"),
    # starts_with / ends_with
    pytest.param(leaf("contact.email", "starts_with", "ada@"), True, id="email starts with ada"),
    pytest.param(leaf("contact.email", "starts_with", "bob@"), False, id="email is not bob's"),
    pytest.param(leaf("properties.budget", "starts_with", "6"), False, id="number is not text"),
    pytest.param(leaf("properties.missing", "starts_with", "a"), False, id="missing starts no way"),
    pytest.param(leaf("contact.email", "ends_with", "@example.com"), True, id="email domain ends"),
    pytest.param(leaf("contact.email", "ends_with", "@example.org"), False, id="other domain"),
    pytest.param(leaf("contact.phone", "ends_with", "1"), False, id="null phone ends with nothing"),
    # exists
    pytest.param(leaf("contact.email", "exists", True), True, id="email exists"),
    pytest.param(leaf("contact.email", "exists", False), False, id="email is not absent"),
    pytest.param(leaf("properties.missing", "exists", True), False, id="missing does not exist"),
    pytest.param(leaf("properties.missing", "exists", False), True, id="missing is absent"),
    pytest.param(leaf("contact.phone", "exists", False), True, id="null counts as absent"),
    # paths
    pytest.param(leaf("properties.items.1.sku", "==", "B-2"), True, id="numeric segment indexes"),
    pytest.param(leaf("properties.items.2.sku", "exists", True), False, id="index out of range"),
    pytest.param(leaf("properties.nested.deeper.value", ">", 6), True, id="nested keys are walked"),
    pytest.param(leaf("properties.plan.x", "exists", True), False, id="text has no sub keys"),
    pytest.param(leaf("account.name", "icontains", "engines"), True, id="account name is matched"),
    # nesting
    pytest.param({"all": []}, True, id="an empty all is always true"),
    pytest.param(
        {"all": [leaf("type", "==", "form_submitted"), leaf("properties.budget", ">", 1)]},
        True,
        id="all holds when every child holds",
    ),
    pytest.param(
        {"all": [leaf("type", "==", "form_submitted"), leaf("properties.budget", ">", 1e9)]},
        False,
        id="all fails when one child fails",
    ),
    pytest.param(
        {"any": [leaf("properties.plan", "==", "free"), leaf("properties.budget", ">", 1)]},
        True,
        id="any holds when one child holds",
    ),
    pytest.param(
        {"any": [leaf("properties.plan", "==", "free"), leaf("properties.budget", ">", 1e9)]},
        False,
        id="any fails when no child holds",
    ),
    pytest.param({"not": leaf("properties.plan", "==", "pro")}, False, id="not flips true"),
    pytest.param({"not": leaf("properties.plan", "==", "free")}, True, id="not flips false"),
    pytest.param({"not": {"not": leaf("type", "==", "x")}}, False, id="double not cancels out"),
    pytest.param(
        {
            "all": [
                leaf("properties.budget", ">=", 50000),
                {"not": leaf("contact.email", "ends_with", "@example.org")},
                {"any": [leaf("properties.plan", "in", ["pro"]), {"all": []}]},
            ]
        },
        True,
        id="nested all any and not combine",
    ),
]


@pytest.mark.parametrize(("tree", "expected"), MATCH_CASES)
def test_condition_matches(tree: dict[str, Any], expected: bool) -> None:
    assert condition_errors(tree) == []
    assert condition_matches(tree, DOC) is expected


def test_missing_contact_and_account_are_just_missing() -> None:
    doc = {"type": "t", "properties": {}, "contact": None}
    assert condition_matches(leaf("contact.email", "exists", False), doc) is True
    assert condition_matches(leaf("account.name", "!=", "x"), doc) is True
    assert condition_matches(leaf("account.name", "==", "x"), doc) is False


EXAMPLE = {
    "all": [
        leaf("properties.budget", ">=", 50000),
        {"not": leaf("contact.email", "ends_with", "@example.org")},
    ]
}

EXPLAIN_CASES = [
    pytest.param(
        EXAMPLE,
        make_doc(budget=50000),
        [
            "properties.budget = 50,000 ≥ 50,000",
            "contact.email = ada@example.com does not end with @example.org",
        ],
        id="all explains every child including the negated one",
    ),
    pytest.param(EXAMPLE, make_doc(budget=49999), [], id="no match means no evidence"),
    pytest.param(
        {"any": [leaf("properties.plan", "==", "free"), leaf("properties.plan", "in", ["pro"])]},
        make_doc(plan="pro"),
        ["properties.plan = pro is one of pro"],
        id="any explains only the children that held",
    ),
    pytest.param(
        {"not": {"any": [leaf("properties.a", ">", 5), leaf("properties.b", "contains", "x")]}},
        make_doc(a="3", b="yyy"),
        ["properties.a = 3 is not > 5", "properties.b = yyy does not contain x"],
        id="a negated any explains every failed child",
    ),
    pytest.param(
        {"not": {"all": [leaf("properties.a", "<=", 5), leaf("properties.b", "==", 1)]}},
        make_doc(a=3, b=2),
        ["properties.b = 2 ≠ 1"],
        id="a negated all explains only the child that failed",
    ),
    pytest.param(
        leaf("properties.x", "!=", "y"),
        make_doc(),
        ["properties.x is missing"],
        id="a missing value is called missing",
    ),
    pytest.param(
        leaf("contact.email", "exists", True),
        make_doc(),
        ["contact.email is present (ada@example.com)"],
        id="exists shows the present value",
    ),
    pytest.param(
        leaf("type", "==", "form_submitted"),
        make_doc(),
        ["type = form_submitted"],
        id="equality shows just the value",
    ),
    pytest.param(
        {"not": leaf("properties.plan", "!=", "pro")},
        make_doc(plan="pro"),
        ["properties.plan = pro"],
        id="not unequal reads as equal",
    ),
    pytest.param(
        leaf("properties.total", "<", 2000),
        make_doc(total=1234.567),
        ["properties.total = 1,234.57 < 2,000"],
        id="numbers are formatted in evidence",
    ),
    pytest.param({"all": []}, make_doc(), [], id="an empty all matches without evidence"),
]


@pytest.mark.parametrize(("tree", "doc", "expected"), EXPLAIN_CASES)
def test_condition_explain(tree: dict[str, Any], doc: dict[str, Any], expected: list[str]) -> None:
    assert condition_explain(tree, doc) == expected


def nest(depth: int) -> dict[str, Any]:
    """A valid tree exactly `depth` nodes deep (a chain of `not`s around a leaf)."""
    tree: dict[str, Any] = leaf("type", "exists", True)
    for _ in range(depth - 1):
        tree = {"not": tree}
    return tree


VALID_BOUNDARIES = [
    pytest.param(nest(16), id="depth 16 is allowed"),
    pytest.param({"all": [leaf("type", "exists", True)] * 199}, id="200 nodes are allowed"),
    pytest.param(leaf("properties.p", "in", list(range(500))), id="500 list items are allowed"),
    pytest.param(leaf("properties.p", "==", "x" * 1000), id="1000 characters are allowed"),
    pytest.param(leaf("properties.odd key!.0", "==", 1), id="property keys are free form"),
    pytest.param(leaf("properties.p", "==", None), id="null is a valid scalar"),
]


@pytest.mark.parametrize("tree", VALID_BOUNDARIES)
def test_valid_conditions_have_no_errors(tree: object) -> None:
    assert condition_errors(tree) == []


ERROR_CASES = [
    pytest.param(None, "condition: must be an object", id="null is not a condition"),
    pytest.param("budget > 5", "condition: must be an object", id="text is not a condition"),
    pytest.param([leaf("type", "exists", True)], "got list", id="a bare list is not a condition"),
    pytest.param({}, "condition: missing 'path', 'op', 'value'", id="an empty object is rejected"),
    pytest.param(
        {"path": "type", "op": "=="}, "condition: missing 'value'", id="a leaf needs a value"
    ),
    pytest.param(
        {"all": [leaf("type", "exists", True), {**leaf("type", "==", "x"), "note": 1}]},
        "all[1]: unexpected key 'note'",
        id="a leaf with an extra key is rejected",
    ),
    pytest.param(
        {"all": [], "any": [leaf("type", "exists", True)]},
        "condition: unexpected key 'any'",
        id="a node cannot be both all and any",
    ),
    pytest.param({"all": {"x": 1}}, "condition.all: must be a list", id="all needs a list"),
    pytest.param({"any": []}, "condition.any: must contain at least one", id="any cannot be empty"),
    pytest.param({"not": [leaf("type", "exists", True)]}, "not: must be an object", id="not list"),
    pytest.param(
        {"all": [leaf("type", "exists", True), leaf("contact.age", ">", 3)]},
        f"all[1].path: unknown path 'contact.age' (known: {KNOWN_PATHS_HELP})",
        id="an unknown contact field is named with the known paths",
    ),
    pytest.param(
        leaf("properties", "exists", True),
        "condition.path: unknown path 'properties'",
        id="properties needs a key",
    ),
    pytest.param(
        leaf("properties..x", "exists", True),
        "condition.path: path 'properties..x' has an empty segment",
        id="an empty path segment is rejected",
    ),
    pytest.param(
        leaf("account.email", "exists", True),
        "condition.path: unknown path 'account.email'",
        id="accounts have no email",
    ),
    pytest.param(leaf("contact", "exists", True), "unknown path 'contact'", id="bare contact"),
    pytest.param(leaf(7, "exists", True), "path must be text", id="path is a number"),
    pytest.param(leaf("p" * 1001, "exists", True), "path is too long", id="path is too long"),
    pytest.param(
        {"all": [{"any": [{}, {}, leaf("properties.budget", "gt", 5)]}]},
        f"all[0].any[2].op: unknown operator 'gt' (known: {KNOWN})",
        id="an unknown operator is named with the known ones",
    ),
    pytest.param(leaf("type", None, 1), "condition.op: unknown operator null", id="op is null"),
    pytest.param(
        {"all": [{"any": [{}, {}, leaf("properties.budget", ">=", "50000")]}]},
        "all[0].any[2].value: '>=' needs a number (no quotes), got text '50000'",
        id="a quoted number is rejected for a comparison",
    ),
    pytest.param(leaf("properties.b", "<", True), "'<' needs a number", id="a bool is no number"),
    pytest.param(leaf("properties.b", ">", float("nan")), "'>' needs a number", id="nan is no"),
    pytest.param(leaf("properties.p", "in", []), "'in' needs a non-empty list", id="empty in"),
    pytest.param(leaf("properties.p", "not_in", "pro"), "needs a non-empty list", id="in text"),
    pytest.param(
        leaf("properties.p", "in", ["a", ["b"]]),
        "condition.value[1]: must be text, a number, true/false or null, got list",
        id="a nested list inside in is rejected",
    ),
    pytest.param(leaf("properties.p", "in", list(range(501))), "list is too long", id="501 items"),
    pytest.param(
        leaf("properties.p", "exists", "yes"),
        "condition.value: 'exists' needs true or false",
        id="exists needs a boolean",
    ),
    pytest.param(
        leaf("properties.p", "contains", 5),
        "condition.value: 'contains' needs non-empty text, got number",
        id="contains needs text",
    ),
    pytest.param(leaf("properties.p", "starts_with", ""), "needs non-empty text", id="empty text"),
    pytest.param(leaf("properties.p", "==", {"a": 1}), "got object", id="equals an object"),
    pytest.param(leaf("properties.p", "!=", "x" * 1001), "text is too long", id="1001 chars"),
    pytest.param(nest(17), "nested too deeply (max depth 16)", id="depth 17 is too deep"),
    pytest.param(nest(5000), "nested too deeply", id="very deep nesting does not crash"),
    pytest.param(
        {"all": [leaf("type", "exists", True)] * 200},
        "condition: too many nodes (max 200)",
        id="201 nodes are too many",
    ),
    pytest.param(
        {"any": [{"any": [leaf("type", "exists", True)] * 10**5}] * 10**5},
        "too many nodes",
        id="a huge tree is rejected quickly",
    ),
]


@pytest.mark.parametrize(("tree", "expected"), ERROR_CASES)
def test_condition_errors_name_the_location(tree: object, expected: str) -> None:
    errors = condition_errors(tree)
    assert any(expected in error for error in errors), errors


def test_every_error_is_reported_with_its_own_location() -> None:
    tree = {"all": [leaf("contact.age", ">", "5"), {"not": leaf("type", "nope", 1)}]}
    errors = condition_errors(tree)
    assert [error.split(":")[0] for error in errors] == [
        "all[0].path",
        "all[0].value",
        "all[1].not.op",
    ]


RENDER_CASES = [
    pytest.param(
        "Budget {properties.budget} from {contact.name}",
        make_doc(budget=50000),
        "Budget 50,000 from Ada Lovelace",
        id="numbers get thousands separators",
    ),
    pytest.param("Total {properties.t}", make_doc(t=1234.567), "Total 1,234.57", id="two decimals"),
    pytest.param("Budget {properties.b}", make_doc(), "Budget —", id="missing values show a dash"),
    pytest.param("Phone {contact.phone}", make_doc(), "Phone —", id="null values show a dash"),
    pytest.param("VIP: {properties.vip}", make_doc(vip=True), "VIP: yes", id="booleans read yes"),
    pytest.param("Tags: {properties.t}", make_doc(t=["a", 2000]), "Tags: a, 2,000", id="lists"),
    pytest.param("{{literal}} {type}", make_doc(), "{literal} form_submitted", id="double braces"),
    pytest.param("SKU {properties.i.0.sku}", make_doc(i=[{"sku": "A"}]), "SKU A", id="list index"),
    pytest.param("No placeholders", make_doc(), "No placeholders", id="plain text is kept"),
    pytest.param("{account.name}", {"account": None}, "—", id="a null account renders a dash"),
]


@pytest.mark.parametrize(("template", "doc", "expected"), RENDER_CASES)
def test_template_render(template: str, doc: dict[str, Any], expected: str) -> None:
    assert template_errors(template) == []
    assert template_render(template, doc) == expected


TEMPLATE_ERROR_CASES = [
    pytest.param("{properties.b:>10}", "format spec or conversion", id="a format spec"),
    pytest.param("{properties.b!r}", "format spec or conversion", id="a conversion"),
    pytest.param("Hi {}", "template (position 3): empty placeholder", id="an empty placeholder"),
    pytest.param("Hi {type", "template (position 3): unclosed '{'", id="an unclosed brace"),
    pytest.param("Hi } there", "template (position 3): unmatched '}'", id="a stray closing brace"),
    pytest.param("{contact.age}", "unknown path 'contact.age'", id="an unknown path"),
    pytest.param("{properties}", "unknown path 'properties'", id="properties without a key"),
    pytest.param(None, "template: must be text, got null", id="null is not a template"),
    pytest.param("x" * 501, "template: too long (501 characters; max 500)", id="501 characters"),
]


@pytest.mark.parametrize(("template", "expected"), TEMPLATE_ERROR_CASES)
def test_template_errors(template: object, expected: str) -> None:
    errors = template_errors(template)
    assert any(expected in error for error in errors), errors


def test_invalid_template_renders_bad_parts_verbatim() -> None:
    assert template_render("{contact.age} / {type:>3} / {type}", make_doc()) == (
        "{contact.age} / {type:>3} / form_submitted"
    )


# ---- journey paths: templates and branch conditions see the journey document ---------------

JOURNEY_DOC = {
    "contact": {"name": "Ada Lovelace", "first_name": "Ada", "email": "ada@example.com"},
    "account": {"name": "Analytical Engines Ltd"},
    "answers": {"visa": True, "experience_years": 2},
    "properties": {"source": "indeed"},
    "journey": {"name": "Recruitment"},
}

PATH_SET_CASES = [
    # (path, valid for signals, valid for journeys)
    pytest.param("answers.visa", False, True, id="answers are journey only"),
    pytest.param("answers.a.0", False, True, id="answers are free form like properties"),
    pytest.param("contact.first_name", False, True, id="first_name is journey only"),
    pytest.param("journey.name", False, True, id="the journey name is journey only"),
    pytest.param("type", True, False, id="the signal type is signal only"),
    pytest.param("occurred_at", True, False, id="occurred_at is signal only"),
    pytest.param("properties.budget", True, True, id="properties are in both"),
    pytest.param("contact.email", True, True, id="contact fields are in both"),
    pytest.param("account.external_id", True, True, id="account fields are in both"),
    pytest.param("answers", False, False, id="answers without a key is refused"),
    pytest.param("answers..visa", False, False, id="an empty answers segment is refused"),
    pytest.param("journey.slug", False, False, id="only the journey name is offered"),
    pytest.param("contact.age", False, False, id="unknown contact fields are refused in both"),
]


@pytest.mark.parametrize(("path", "for_signals", "for_journeys"), PATH_SET_CASES)
def test_each_path_set_allows_its_own_document(
    path: str, for_signals: bool, for_journeys: bool
) -> None:
    condition = leaf(path, "exists", True)
    assert (condition_errors(condition) == []) is for_signals
    assert (condition_errors(condition, paths=SIGNAL_PATHS) == []) is for_signals
    assert (condition_errors(condition, paths=JOURNEY_PATHS) == []) is for_journeys
    assert (template_errors(f"{{{path}}}") == []) is for_signals
    assert (template_errors(f"{{{path}}}", paths=JOURNEY_PATHS) == []) is for_journeys


def test_an_unknown_journey_path_lists_the_journey_paths() -> None:
    assert condition_errors(leaf("answers.visa", "==", True)) == [
        f"condition.path: unknown path 'answers.visa' (known: {KNOWN_PATHS_HELP})"
    ]
    assert condition_errors({"not": leaf("deal.size", ">", 5)}, paths=JOURNEY_PATHS) == [
        f"not.path: unknown path 'deal.size' (known: {JOURNEY_PATHS_HELP})"
    ]
    assert template_errors("Hi {type}", paths=JOURNEY_PATHS) == [
        f"template (position 3): unknown path 'type' (known: {JOURNEY_PATHS_HELP})"
    ]


def test_journey_help_names_every_journey_root() -> None:
    for name in ("first_name", "answers.*", "properties.*", "journey.name", "account."):
        assert name in JOURNEY_PATHS_HELP


def test_journey_templates_render_answers_and_evaluation_reads_any_path() -> None:
    template = "{contact.first_name}: visa {answers.visa}, {answers.experience_years} years"
    assert template_render(template, JOURNEY_DOC, paths=JOURNEY_PATHS) == "Ada: visa yes, 2 years"
    # With the signal path set the journey-only placeholders are not placeholders at all.
    assert template_render("{answers.visa}", JOURNEY_DOC) == "{answers.visa}"
    assert condition_matches(leaf("answers.experience_years", ">=", 2), JOURNEY_DOC)


FORMAT_CASES = [
    pytest.param(50000, "50,000", id="an int gets separators"),
    pytest.param(-1234, "-1,234", id="a negative int gets separators"),
    pytest.param(50000.5, "50,000.5", id="a float keeps needed decimals"),
    pytest.param(1234.567, "1,234.57", id="a float is rounded to two places"),
    pytest.param(50000.0, "50,000", id="a whole float drops its decimals"),
    pytest.param(-0.001, "0", id="a tiny negative float is zero"),
    pytest.param(True, "yes", id="true reads yes"),
    pytest.param(False, "no", id="false reads no"),
    pytest.param(None, "—", id="null is a dash"),
    pytest.param("50000", "50000", id="text is unchanged"),
    pytest.param(["a", 1000, None], "a, 1,000, —", id="lists are joined"),
    pytest.param({"a": 1}, '{"a": 1}', id="objects are compact json"),
]


@pytest.mark.parametrize(("value", "expected"), FORMAT_CASES)
def test_format_value(value: Any, expected: str) -> None:
    assert format_value(value) == expected


PATH_CASES = [
    pytest.param("type", (True, "form_submitted"), id="a top level key is found"),
    pytest.param("properties.items.0.sku", (True, "A-1"), id="a list index is followed"),
    pytest.param("properties.items.9.sku", (False, None), id="an index past the end is missing"),
    pytest.param("properties.items.-1", (False, None), id="a negative index is missing"),
    pytest.param("properties.nothing", (True, None), id="an explicit null is found as null"),
    pytest.param("properties.plan.0", (False, None), id="text is not indexed"),
    pytest.param("contact.age", (False, None), id="an absent key is missing"),
]


@pytest.mark.parametrize(("path", "expected"), PATH_CASES)
def test_path_get(path: str, expected: tuple[bool, Any]) -> None:
    assert path_get(DOC, path) == expected


def test_operators_all_have_descriptions() -> None:
    assert set(OPERATORS) == {
        "==",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "in",
        "not_in",
        "contains",
        "icontains",
        "starts_with",
        "ends_with",
        "exists",
    }
    assert all(description.strip() for description in OPERATORS.values())


# ---- property tests -------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS | st.floats(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
NODE_KEYS = st.sampled_from(["all", "any", "not", "path", "op", "value"]) | st.text(max_size=6)
NODE_VALUES = st.sampled_from([*OPERATORS, "type", "properties.budget", "contact.email"])
CONDITION_JUNK = st.recursive(
    SCALARS | NODE_VALUES,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(NODE_KEYS, children, max_size=4)
    ),
    max_leaves=40,
)
PATHS = st.sampled_from(
    [
        "type",
        "occurred_at",
        "properties.budget",
        "properties.tags",
        "properties.items.0",
        "properties.a.b",
        "contact.email",
        "contact.name",
        "account.name",
    ]
)
NUMBERS = st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
LEAVES = st.one_of(
    st.builds(leaf, PATHS, st.sampled_from(["==", "!="]), SCALARS),
    st.builds(leaf, PATHS, st.sampled_from([">", ">=", "<", "<="]), NUMBERS),
    st.builds(leaf, PATHS, st.sampled_from(["in", "not_in"]), st.lists(SCALARS, min_size=1)),
    st.builds(
        leaf,
        PATHS,
        st.sampled_from(["contains", "icontains", "starts_with", "ends_with"]),
        st.text(min_size=1, max_size=5),
    ),
    st.builds(leaf, PATHS, st.just("exists"), st.booleans()),
)


def trees(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Valid trees at most `depth` levels deep (and so well under the node limit)."""
    if depth == 1:
        return LEAVES
    child = trees(depth - 1)
    return st.one_of(
        LEAVES,
        st.lists(child, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(child, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        child.map(lambda x: {"not": x}),
    )


TREES = trees(5)
PROPERTY_KEYS = st.sampled_from(["budget", "tags", "items", "a"]) | st.text(max_size=5)
DOCS = st.fixed_dictionaries(
    {},
    optional={
        "type": JSON,
        "occurred_at": JSON,
        "properties": st.dictionaries(PROPERTY_KEYS, JSON, max_size=5) | JSON,
        "contact": st.dictionaries(st.sampled_from(["email", "name"]), JSON) | JSON,
        "account": st.dictionaries(st.just("name"), JSON) | JSON,
    },
)


@given(CONDITION_JUNK)
@settings(max_examples=300)
def test_condition_errors_never_raises(tree: object) -> None:
    errors = condition_errors(tree)
    assert isinstance(errors, list)
    assert all(isinstance(error, str) and error for error in errors)


@given(TREES)
def test_generated_trees_are_valid(tree: dict[str, Any]) -> None:
    assert condition_errors(tree) == []


@given(TREES, DOCS)
@settings(max_examples=300)
def test_condition_matches_and_explain_never_raise(tree: dict[str, Any], doc: Any) -> None:
    matched = condition_matches(tree, doc)
    assert isinstance(matched, bool)
    evidence = condition_explain(tree, doc)
    if not matched:
        assert evidence == []
    if matched and "path" in tree:
        assert len(evidence) == 1
        assert evidence[0].startswith(tree["path"])


@given(TREES, DOCS)
def test_not_is_the_exact_negation_of_its_child(tree: dict[str, Any], doc: Any) -> None:
    assert condition_matches({"not": tree}, doc) is (not condition_matches(tree, doc))


@given(PATHS, SCALARS, DOCS)
def test_not_equal_is_the_negation_of_equal(path: str, value: Any, doc: Any) -> None:
    equal = condition_matches(leaf(path, "==", value), doc)
    assert condition_matches(leaf(path, "!=", value), doc) is (not equal)


@given(PATHS, st.lists(SCALARS, min_size=1, max_size=5), DOCS)
def test_not_in_is_the_negation_of_in(path: str, values: list[Any], doc: Any) -> None:
    inside = condition_matches(leaf(path, "in", values), doc)
    assert condition_matches(leaf(path, "not_in", values), doc) is (not inside)


@given(st.text(max_size=60) | JSON, DOCS)
def test_templates_never_raise(template: Any, doc: Any) -> None:
    errors = template_errors(template)
    assert isinstance(errors, list)
    if isinstance(template, str):
        assert isinstance(template_render(template, doc), str)
