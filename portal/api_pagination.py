from typing import Any

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
        for name in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(name)
            if raw is not None and not (raw.isdigit() and 0 < int(raw[:12]) < 10**9):
                raise InvalidInput("Invalid input.", {name: ["Expected a positive integer."]})
        return super().paginate_queryset(queryset, request, view)
