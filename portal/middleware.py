from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from portal.errors import json_error


class BodySizeLimitMiddleware:
    """413 before reading an oversized API body (DRF parsers read the stream themselves)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error(400, "Invalid Content-Length header.")
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return json_error(
                    413, f"Body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
                )
        return self.get_response(request)
