"""Conditions: the all/any/not trees of path/op/value leaves, validated on save, evaluated and
explained for every signal.

The operators and their wording live here; the paths a leaf may name come from `paths`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from typing import Any

from journeys.rules.paths import (
    MAX_STRING,
    SIGNAL_PATHS,
    PathRules,
    _compact,
    _path_error,
    _type_name,
    format_value,
    path_get,
)

OPERATORS: dict[str, str] = {
    "==": "equals (numbers compare as numbers, text is case-sensitive)",
    "!=": "does not equal (also true when the value is missing)",
    ">": "greater than a number",
    ">=": "greater than or equal to a number",
    "<": "less than a number",
    "<=": "less than or equal to a number",
    "in": "is one of a list of values",
    "not_in": "is not one of a list of values (also true when the value is missing)",
    "contains": "text contains a substring, or a list contains an item",
    "icontains": "like contains, ignoring upper/lower case",
    "starts_with": "text starts with",
    "ends_with": "text ends with",
    "exists": "value true: the value is present; value false: it is missing",
}


MAX_DEPTH = 16
MAX_NODES = 200
MAX_LIST_ITEMS = 500


_STRING_OPS = ("contains", "icontains", "starts_with", "ends_with")
# op -> (evidence wording when it held, wording when a `not` made it fail)
_WORDING = {
    "==": ("=", "≠"),
    "!=": ("≠", "="),
    ">": (">", "is not >"),
    ">=": ("≥", "is not ≥"),
    "<": ("<", "is not <"),
    "<=": ("≤", "is not ≤"),
    "in": ("is one of", "is not one of"),
    "not_in": ("is not one of", "is one of"),
    "contains": ("contains", "does not contain"),
    "icontains": ("contains (any case)", "does not contain (any case)"),
    "starts_with": ("starts with", "does not start with"),
    "ends_with": ("ends with", "does not end with"),
}
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
# The document key where callers put exchange rates for currency-aware leaves (not a path a
# rule can name: paths are validated against PathRules).
RATES_KEY = "_rates"
# Fixed patterns (never built from input): plain decimals, or decimals with thousands commas.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", re.ASCII)


def _is_number(value: object) -> bool:
    """True for finite int/float; bools are excluded so `true` never passes for 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _to_number(value: object) -> int | float | None:
    """Tolerant numeric reading: 50000, "50,000" and " 50000.00 " are numbers; "£50k" is not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str) or len(value) > 100:
        return None
    text = value.strip()
    if _GROUPED_NUMBER.fullmatch(text):
        text = text.replace(",", "")
    elif not _PLAIN_NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _scalar_error(value: object, where: str) -> str | None:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return f"{where}: text is too long ({len(value)} characters; max {MAX_STRING})"
        return None
    if value is None or isinstance(value, bool) or _is_number(value):
        return None
    return f"{where}: must be text, a number, true/false or null, got {_type_name(value)}"


def _value_error(op: str, value: object, where: str) -> str | None:
    """Check the leaf's value has the type its operator needs."""
    if op in _COMPARE:
        if _is_number(value):
            return None
        shown = f"text {value[:50]!r}" if isinstance(value, str) else _type_name(value)
        return f"{where}: {op!r} needs a number (no quotes), got {shown}"
    if op == "exists":
        return None if isinstance(value, bool) else f"{where}: 'exists' needs true or false"
    if op in _STRING_OPS:
        if not isinstance(value, str) or not value:
            return f"{where}: {op!r} needs non-empty text, got {_type_name(value)}"
        return _scalar_error(value, where)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return f"{where}: {op!r} needs a non-empty list, got {_type_name(value)}"
        if len(value) > MAX_LIST_ITEMS:
            return f"{where}: list is too long ({len(value)} items; max {MAX_LIST_ITEMS})"
        errors = (_scalar_error(item, f"{where}[{i}]") for i, item in enumerate(value))
        return next((error for error in errors if error), None)
    return _scalar_error(value, where)


def condition_errors(tree: object, *, paths: PathRules = SIGNAL_PATHS) -> list[str]:
    """Every problem with a condition tree, each prefixed with where it is; [] when valid.

    Never raises, whatever it is given, because it validates raw admin/API input. `paths` says
    which document the condition will see (signals by default; journeys use JOURNEY_PATHS).
    """
    errors: list[str] = []
    try:
        _check_node(tree, "", 1, errors, [0], paths)
    except RecursionError:
        errors.append(f"condition: nested too deeply (max depth {MAX_DEPTH})")
    return errors


def _check_node(
    node: object, loc: str, depth: int, errors: list[str], count: list[int], paths: PathRules
) -> None:
    """Validate one node; `loc` is its location ("" for the root, shown as `condition`)."""
    where = loc or "condition"
    count[0] += 1
    if count[0] > MAX_NODES:
        if count[0] == MAX_NODES + 1:
            errors.append(f"condition: too many nodes (max {MAX_NODES})")
        return
    if depth > MAX_DEPTH:
        errors.append(f"{where}: nested too deeply (max depth {MAX_DEPTH})")
        return
    if not isinstance(node, Mapping):
        kind = _type_name(node)
        errors.append(f"{where}: must be an object (all/any/not or path/op/value), got {kind}")
        return
    kind = next((key for key in ("all", "any", "not") if key in node), None)
    expected = (kind,) if kind else ("path", "op", "value")
    allowed = expected if kind else (*expected, "currency")
    missing = [repr(key) for key in expected if key not in node]
    extra = next((repr(key)[:50] for key in node if key not in allowed), None)
    if missing or extra:
        problem = f"missing {', '.join(missing)}" if missing else f"unexpected key {extra}"
        errors.append(f"{where}: {problem} (use all/any/not or path/op/value)")
    elif kind == "not":
        _check_node(node["not"], f"{loc}.not".lstrip("."), depth + 1, errors, count, paths)
    elif kind:
        children = node[kind]
        if not isinstance(children, list):
            kind_name = _type_name(children)
            errors.append(f"{where}.{kind}: must be a list of conditions, got {kind_name}")
            return
        if kind == "any" and not children:
            errors.append(f"{where}.any: must contain at least one condition")
        for index, child in enumerate(children):
            if count[0] > MAX_NODES:
                return
            child_loc = f"{loc}.{kind}[{index}]".lstrip(".")
            _check_node(child, child_loc, depth + 1, errors, count, paths)
    else:
        if path_problem := _path_error(node["path"], paths):
            errors.append(f"{where}.path: {path_problem}")
        op = node["op"]
        if not isinstance(op, str) or op not in OPERATORS:
            shown = repr(op)[:50] if isinstance(op, str) else _type_name(op)
            known = ", ".join(OPERATORS)
            errors.append(f"{where}.op: unknown operator {shown} (known: {known})")
        elif value_problem := _value_error(op, node["value"], f"{where}.value"):
            errors.append(value_problem)
        elif "currency" in node and (problem := _currency_error(node, op)):
            errors.append(f"{where}.currency: {problem}")


def _currency_error(leaf: Mapping[str, Any], op: str) -> str | None:
    currency = leaf["currency"]
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        return f"must be a three-letter currency code such as GBP, got {_compact(currency)}"
    if op not in (*_COMPARE, "==", "!=") or not _is_number(leaf["value"]):
        return "only numeric comparisons (<, <=, >, >=, ==, !=) can convert currencies"
    return None


def condition_uses_currency(tree: object) -> bool:
    """Whether a (valid) tree converts money, so callers load exchange rates only then."""
    if not isinstance(tree, Mapping):
        return False
    if "currency" in tree:
        return True
    children = tree.get("all") or tree.get("any") or ([tree["not"]] if "not" in tree else [])
    return any(condition_uses_currency(child) for child in children)


def currency_path(amount_path: str) -> str:
    """Where an amount's currency is read: the `currency` beside it (properties.budget →
    properties.currency)."""
    parent, _, _ = amount_path.rpartition(".")
    return f"{parent}.currency" if parent else "currency"


def _converted(leaf: Mapping[str, Any], amount: float, doc: Mapping[str, Any]) -> float | None:
    """The amount in the leaf's currency, through the rates table the caller put in the
    document (`RATES_KEY`: currency → value of one unit in the base currency). An amount with
    no currency beside it is taken to be in the leaf's currency; an unknown currency → None."""
    target = leaf["currency"]
    found, source = path_get(doc, currency_path(leaf["path"]))
    source = source.strip().upper() if found and isinstance(source, str) else target
    if source == target:
        return amount
    rates = doc.get(RATES_KEY)
    if not isinstance(rates, Mapping) or source not in rates or target not in rates:
        return None
    return amount * rates[source] / rates[target]


def _equals(actual: Any, expected: Any) -> bool:
    """== semantics: numbers numerically (tolerantly), everything else exactly and by type."""
    if _is_number(expected):
        number = _to_number(actual)
        return number is not None and number == expected
    if isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    return expected is None and actual is None


def _leaf_matches(leaf: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    found, actual = path_get(doc, leaf["path"])
    op, expected = leaf["op"], leaf["value"]
    missing = not found or actual is None
    if op == "exists":
        return expected is not missing
    if missing:
        # A missing value "is not" anything, except that it is null.
        return {"==": expected is None, "!=": expected is not None, "not_in": True}.get(op, False)
    if "currency" in leaf:
        number = _to_number(actual)
        number = _converted(leaf, number, doc) if number is not None else None
        if number is None:
            return op == "!="
        return (
            (number == expected) is (op == "==")
            if op in ("==", "!=")
            else _COMPARE[op](number, expected)
        )
    if op in ("==", "!="):
        return _equals(actual, expected) is (op == "==")
    if op in _COMPARE:
        number = _to_number(actual)
        return number is not None and _COMPARE[op](number, expected)
    if op in ("in", "not_in"):
        return any(_equals(actual, item) for item in expected) is (op == "in")
    if op == "icontains":
        needle = expected.casefold()
        if isinstance(actual, str):
            return needle in actual.casefold()
        return isinstance(actual, list) and any(
            isinstance(item, str) and item.casefold() == needle for item in actual
        )
    if op == "contains":
        if isinstance(actual, str):
            return expected in actual
        return isinstance(actual, list) and any(_equals(item, expected) for item in actual)
    if not isinstance(actual, str):
        return False
    return actual.startswith(expected) if op == "starts_with" else actual.endswith(expected)


def condition_matches(tree: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    """Evaluate a *valid* tree (see condition_errors) against a signal document."""
    if "all" in tree:
        return all(condition_matches(child, doc) for child in tree["all"])
    if "any" in tree:
        return any(condition_matches(child, doc) for child in tree["any"])
    if "not" in tree:
        return not condition_matches(tree["not"], doc)
    return _leaf_matches(tree, doc)


def condition_explain(tree: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    """Evidence for why a tree matched, shown on the handoff so people trust it; [] if no match."""
    if not condition_matches(tree, doc):
        return []
    return _explain(tree, doc, negated=False)


def _explain(node: Mapping[str, Any], doc: Mapping[str, Any], negated: bool) -> list[str]:
    """Explain a node known to evaluate to `not negated` (negated=True: it evaluated False)."""
    if "not" in node:
        return _explain(node["not"], doc, not negated)
    if "all" in node or "any" in node:
        children = node.get("all", node.get("any"))
        # all held / any failed: every child agrees; otherwise only the decisive children do.
        every = ("all" in node) is not negated
        chosen = [
            child for child in children if every or condition_matches(child, doc) is not negated
        ]
        return [line for child in chosen for line in _explain(child, doc, negated)]
    path, op, expected = node["path"], node["op"], node["value"]
    found, actual = path_get(doc, path)
    missing = not found or actual is None
    if op == "exists" or missing:
        return [f"{path} is missing" if missing else f"{path} is present ({_compact(actual)})"]
    if "currency" in node:
        return [_explain_money(node, actual, doc, negated)]
    if op == ("!=" if negated else "=="):
        return [f"{path} = {_compact(actual)}"]
    symbol = _WORDING[op][negated]
    return [f"{path} = {_compact(actual)} {symbol} {format_value(expected)}"]


def _explain_money(
    node: Mapping[str, Any], actual: Any, doc: Mapping[str, Any], negated: bool
) -> str:
    """ "properties.budget = 60,000 USD (≈ 47,400 GBP) ≥ 50,000 GBP"."""
    target = node["currency"]
    found, source = path_get(doc, currency_path(node["path"]))
    source = source.strip().upper() if found and isinstance(source, str) else target
    number = _to_number(actual)
    converted = _converted(node, number, doc) if number is not None else None
    shown = f"{node['path']} = {format_value(actual)} {source}"
    if converted is None:
        return f"{shown} (no exchange rate for {source})"
    if source != target:
        shown += f" (≈ {format_value(round(converted))} {target})"
    return f"{shown} {_WORDING[node['op']][negated]} {format_value(node['value'])} {target}"
