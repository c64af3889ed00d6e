from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from portal.errors import json_error


class RequestSanityMiddleware:
    """Refuse, before any view runs: an oversized API body (413; DRF parsers read the stream
    themselves), and NUL characters in the query string or a form body, which PostgreSQL cannot
    store in text and would otherwise surface as a 500 deep inside a query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        if api:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error(400, "Invalid Content-Length header.")
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return json_error(
                    413, f"Body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
                )
        if _has_nul(request):
            message = "NUL characters are not allowed in parameters."
            return json_error(400, message) if api else HttpResponseBadRequest(message)
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.META.get("QUERY_STRING", "") or any(
        "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
    ):
        return True
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        return any(
            "\x00" in key or any("\x00" in str(v) for v in values)
            for key, values in request.POST.lists()
        )
    return False
