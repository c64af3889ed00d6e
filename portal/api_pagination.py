from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from portal.errors import InvalidInput


class Pagination(PageNumberPagination):
    """Page-number pagination that answers a malformed page or page size with a 400 naming it
    (a page past the end stays a 404, as DRF answers it)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.check_parameters(request)
        return super().paginate_queryset(queryset, request, view)

    def check_parameters(self, request: Request) -> None:
        for name in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(name)
            if raw is not None and not (raw.isdigit() and 0 < int(raw[:12]) < 10**9):
                raise InvalidInput("Invalid input.", {name: ["Expected a positive integer."]})


def page_of(name: str, item: Any) -> Any:
    """The documented shape of a page: `{"count", "next", "previous", "results": [item]}`."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializers.ListField(child=item),
        },
    )


def page_parameters(max_page_size: int = Pagination.max_page_size) -> list[OpenApiParameter]:
    """`page` and `page_size` as the pagination takes them (a page past the end is a 404)."""
    return [
        OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 10**9 - 1}),
        OpenApiParameter(
            "page_size",
            {"type": "integer", "minimum": 1, "maximum": 10**9 - 1},
            description=f"At most {max_page_size} are returned, whatever is asked.",
        ),
    ]
