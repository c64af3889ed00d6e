from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from portal.errors import json_error

log = logging.getLogger("baton.security")

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# JSON answers; the Segment endpoints (/v1/) bound their own bodies after gzip, in their shape.
JSON_PREFIXES = ("/api/", "/v1/")
UTF8 = {"utf-8", "utf8"}


class RequestSanityMiddleware:
    """Refuse, before any view runs, what would otherwise be a 500 deep inside a query or be
    stored mangled:

    - a body over BATON_MAX_BODY_BYTES (413) or a Content-Length that is not a number (400), on
      every path (DRF parsers read the stream themselves, and no form here takes file uploads);
    - a query string or form body that is not valid UTF-8 (400: Django would quietly turn the
      bad bytes into U+FFFD) or that holds NUL characters (400: PostgreSQL cannot store them);
    - JSON nested past Python's recursion limit in any view's own parser (400, not a crash).

    A multipart body is read whole first (it is within the limit by then), so its raw bytes stay
    available after the form is scanned: DRF still refuses it on JSON-only endpoints (415), and
    anymail re-decodes SendGrid's fields from the charsets SendGrid declares."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = _refusal(request)
        if refusal is not None:
            status, message = refusal
            log.info("refused %s %s: %s", request.method, request.path, message)
            return _error(request, status, message)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RecursionError):
            log.info("refused %s %s: nested too deeply", request.method, request.path)
            return _error(request, 400, "The body is nested too deeply.")
        return None


def _error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path.startswith(JSON_PREFIXES):
        return json_error(status, message)
    if status == 400:
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _refusal(request: HttpRequest) -> tuple[int, str] | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 400, "Invalid Content-Length header."
    if length < 0:
        return 400, "Invalid Content-Length header."
    if length > limit and not request.path.startswith("/v1/"):
        return 413, f"Body larger than {limit} bytes."
    query = request.META.get("QUERY_STRING", "")
    if query:
        if not _valid_utf8_query(query):
            return 400, "The query string is not valid UTF-8."
        if "\x00" in query or any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            return 400, "NUL characters are not allowed in parameters."
    if request.method != "POST" or request.content_type not in (FORM, MULTIPART):
        return None
    # Read the raw body first: the form parser below would consume a multipart stream.
    raw = request.body
    declared_utf8 = (request.encoding or "utf-8").lower() in UTF8
    if request.content_type == FORM and declared_utf8 and not _valid_utf8_form(raw):
        return 400, "The form is not valid UTF-8."
    if any(
        "\x00" in key or any("\x00" in str(v) for v in values)
        for key, values in request.POST.lists()
    ):
        return 400, "NUL characters are not allowed in parameters."
    return None


def _valid_utf8_query(text: str) -> bool:
    """Every %-escape in a query string or form body decodes as UTF-8."""
    try:
        parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    except ValueError:
        return True  # too many fields and the like: Django's own parser answers those
    return True


def _valid_utf8_form(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _valid_utf8_query(text)
