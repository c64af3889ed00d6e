"""Reason and message templates: text with {path} placeholders, validated on save and filled
from a document.

Placeholders name the same paths as conditions (see `paths`); `{{`/`}}` are literal braces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeys.rules.paths import (
    SIGNAL_PATHS,
    PathRules,
    _path_error,
    _type_name,
    format_value,
    path_get,
)

MAX_TEMPLATE = 500


def _parse_template(
    template: str, paths: PathRules = SIGNAL_PATHS
) -> tuple[list[tuple[bool, str]], list[str]]:
    """Split a template into (is_path, text) parts plus errors; bad parts stay literal text."""
    parts: list[tuple[bool, str]] = []
    errors: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char not in "{}" or template[i : i + 2] in ("{{", "}}"):
            parts.append((False, char))
            i += 2 if char in "{}" else 1
            continue
        close = template.find("}", i) if char == "{" else -1
        inner, end = template[i + 1 : close], close + 1
        if char == "}":
            problem, end = "unmatched '}' (write '}}' for a literal brace)", i + 1
        elif close < 0 or "{" in inner:
            problem, end = "unclosed '{' (write '{{' for a literal brace)", i + 1
        elif not inner:
            problem = "empty placeholder {} (name a path, e.g. {properties.budget})"
        elif ":" in inner or "!" in inner:
            problem = f"{{{inner}}} has a format spec or conversion; write just {{path}}"
        else:
            problem = _path_error(inner, paths)
        if problem:
            errors.append(f"template (position {i}): {problem}")
        parts.append((False, template[i:end]) if problem else (True, inner))
        i = end
    return parts, errors


def template_paths(template: str, *, paths: PathRules = SIGNAL_PATHS) -> list[str]:
    """The valid placeholders a template names, in order (e.g. to check `answers.*` exist)."""
    parts, _ = _parse_template(template, paths)
    return [text for is_path, text in parts if is_path]


def template_errors(template: object, *, paths: PathRules = SIGNAL_PATHS) -> list[str]:
    """Every problem with a template; [] when valid. Never raises. `paths`: see condition_errors."""
    if not isinstance(template, str):
        return [f"template: must be text, got {_type_name(template)}"]
    if len(template) > MAX_TEMPLATE:
        return [f"template: too long ({len(template)} characters; max {MAX_TEMPLATE})"]
    return _parse_template(template, paths)[1]


def template_render(
    template: str, doc: Mapping[str, Any], *, paths: PathRules = SIGNAL_PATHS
) -> str:
    """Fill placeholders from the document; missing values show as "—".

    Never raises: an invalid template renders its bad placeholders verbatim, because a reason
    with a typo is better than a handoff that never gets raised. Pass the `paths` the template
    was validated with (JOURNEY_PATHS for journey messages), or `{answers.x}` stays verbatim.
    """
    parts, _ = _parse_template(template, paths)
    rendered = []
    for is_path, text in parts:
        if is_path:
            found, value = path_get(doc, text)
            rendered.append(format_value(value) if found else "—")
        else:
            rendered.append(text)
    return "".join(rendered)
