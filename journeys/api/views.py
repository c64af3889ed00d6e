from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.api.serializers import (
    SignalAcceptedSerializer,
    SignalBatchOutSerializer,
    SignalInSerializer,
    signal_validator,
    validate_signal,
)
from journeys.ingestion import body_hash, signal_ingest, signal_ingest_batch
from journeys.models import Contact
from journeys.privacy import contact_erase, contact_export
from journeys.selectors import (
    contact_get_for,
    contact_timeline,
    contacts_visible_to,
    timeline_count,
)
from portal.api_access import require_contact_data_right, require_integration
from portal.api_fields import StrictSerializer, TextField
from portal.api_pagination import Pagination, page_of, page_parameters
from portal.api_schema import error_responses
from portal.errors import InvalidInput, flatten_errors
from portal.models import ApiKey

MAX_BATCH = 1000


def _with_header_key(request: Request, raw: Any) -> Any:
    header = request.headers.get("Idempotency-Key")
    if not header or not isinstance(raw, dict):
        return raw
    body_key = raw.get("idempotency_key")
    if body_key not in (None, header):
        raise InvalidInput(
            "Idempotency-Key header and body idempotency_key differ",
            {"idempotency_key": ["Does not match the Idempotency-Key header."]},
        )
    return {**raw, "idempotency_key": header}


class SignalIngestView(APIView):
    @extend_schema(
        request=SignalInSerializer,
        responses={202: SignalAcceptedSerializer, **error_responses(409, 415)},
        summary="Send one signal",
    )
    def post(self, request: Request) -> Response:
        api_key = require_integration(request)
        raw = _with_header_key(request, request.data)
        data, errors = validate_signal(raw)
        if errors:
            raise InvalidInput("Invalid input.", flatten_errors(errors))
        accepted = signal_ingest(api_key=api_key, data=data, raw_hash=body_hash(raw))
        return Response(
            {"id": str(accepted.id), "duplicate": accepted.duplicate},
            status=status.HTTP_202_ACCEPTED,
        )


class SignalBatchView(APIView):
    @extend_schema(
        request=inline_serializer(
            "SignalBatchIn",
            {
                "signals": serializers.ListField(
                    child=SignalInSerializer(), min_length=1, max_length=MAX_BATCH
                )
            },
        ),
        responses={202: SignalBatchOutSerializer, **error_responses(415)},
        summary="Send up to 1000 signals",
    )
    def post(self, request: Request) -> Response:
        api_key = require_integration(request)
        body = request.data
        if not isinstance(body, dict) or set(body) != {"signals"}:
            raise InvalidInput("Invalid input.", {"signals": ['Send {"signals": [...]}.']})
        items = body["signals"]
        if not isinstance(items, list) or not items:
            raise InvalidInput("Invalid input.", {"signals": ["Expected a non-empty list."]})
        if len(items) > MAX_BATCH:
            raise InvalidInput(
                "Invalid input.", {"signals": [f"At most {MAX_BATCH} signals per batch."]}
            )
        good: list[tuple[int, dict[str, Any], str]] = []
        errors: list[dict[str, Any]] = []
        validate = signal_validator()
        for index, raw in enumerate(items):
            data, item_errors = validate(raw)
            if item_errors:
                errors.append({"index": index, "errors": flatten_errors(item_errors)})
            else:
                good.append((index, data, body_hash(raw)))
        result = signal_ingest_batch(api_key=api_key, items=good) if good else None
        if result is not None:
            errors = sorted(errors + result.errors, key=lambda e: e["index"])
        return Response(
            {
                "accepted": result.accepted if result else 0,
                "duplicates": result.duplicates if result else 0,
                "errors": errors,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    timezone = serializers.CharField()
    account = serializers.DictField(allow_null=True)
    opted_out_channels = serializers.ListField(child=serializers.CharField())

    def to_representation(self, c: Contact) -> dict[str, Any]:
        account = c.account
        return {
            "id": c.pk,
            "external_id": c.external_id,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "timezone": c.timezone,
            "account": {"id": account.pk, "external_id": account.external_id, "name": account.name}
            if account
            else None,
            "opted_out_channels": c.opted_out_channels,
        }


class ContactListView(APIView):
    @extend_schema(
        operation_id="api_v1_contacts_list",
        parameters=[
            OpenApiParameter("external_id", str),
            OpenApiParameter("email", str),
            *page_parameters(),
        ],
        responses={200: page_of("ContactPage", ContactSerializer()), **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        qs = contacts_visible_to(principal=request.user).order_by("id")
        if request.query_params.get("external_id"):
            qs = qs.filter(external_id=request.query_params["external_id"])
        if request.query_params.get("email"):
            qs = qs.filter(email__iexact=request.query_params["email"])
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ContactSerializer(page, many=True).data)


class ContactDetailView(APIView):
    @extend_schema(responses={200: ContactSerializer, **error_responses(404)})
    def get(self, request: Request, contact_id: int) -> Response:
        contact = contact_get_for(principal=request.user, contact_id=contact_id)
        return Response(ContactSerializer(contact).data)


class TimelinePagination(Pagination):
    max_page_size = 200


class ContactTimelineView(APIView):
    @extend_schema(
        parameters=page_parameters(TimelinePagination.max_page_size),
        responses={
            200: page_of("TimelinePage", serializers.DictField()),
            **error_responses(404),
        },
    )
    def get(self, request: Request, contact_id: int) -> Response:
        contact = contact_get_for(principal=request.user, contact_id=contact_id)
        paginator = TimelinePagination()
        paginator.check_parameters(request)  # a malformed page or page_size is a 400, as on lists
        page_size = paginator.get_page_size(request) or 50
        try:
            page = max(1, int(request.query_params.get("page", "1")[:12]))
        except ValueError:
            raise InvalidInput("Invalid input.", {"page": ["Expected a page number."]}) from None
        total = timeline_count(contact=contact, principal=request.user)
        last_page = max(1, -(-total // page_size))
        page = min(page, last_page)  # a huge page number must not load the whole history
        items = contact_timeline(
            contact=contact,
            principal=request.user,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        base = request.build_absolute_uri(request.path)
        return Response(
            {
                "count": total,
                "next": f"{base}?page={page + 1}&page_size={page_size}"
                if page < last_page
                else None,
                "previous": f"{base}?page={page - 1}&page_size={page_size}" if page > 1 else None,
                "results": [item.as_dict() for item in items],
            }
        )


class ContactExportView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer("ContactExport", {"contact": serializers.DictField()}),
            **error_responses(404),
        },
        summary="Export a contact's personal data (subject access request)",
    )
    def get(self, request: Request, contact_id: int) -> Response:
        principal = require_contact_data_right(request, "export")
        contact = _contact_for_data_request(principal, contact_id)
        return Response(
            contact_export(contact=contact),
            headers={"Content-Disposition": f'attachment; filename="contact-{contact.pk}.json"'},
        )


def _contact_for_data_request(principal: Any, contact_id: int) -> Contact:
    """A key acts on the contacts it may read; a person granted the (organisation-wide)
    permission — a data protection officer — on any contact."""
    if isinstance(principal, ApiKey):
        return contact_get_for(principal=principal, contact_id=contact_id)
    contact = Contact.objects.select_related("account").filter(pk=contact_id).first()
    if contact is None:
        raise Http404("No such contact")
    return contact


class ContactEraseInSerializer(StrictSerializer):
    reason = TextField(max_length=300, help_text="The request's reference.")


class ContactEraseView(APIView):
    @extend_schema(
        request=ContactEraseInSerializer,
        responses={
            200: inline_serializer("ContactErased", {"contact_id": serializers.IntegerField()}),
            **error_responses(404, 409, 415),
        },
        summary="Erase a contact's personal data, keeping aggregates",
    )
    def post(self, request: Request, contact_id: int) -> Response:
        principal = require_contact_data_right(request, "erase")
        contact = _contact_for_data_request(principal, contact_id)
        body = ContactEraseInSerializer(data=request.data)
        if not body.is_valid():
            raise InvalidInput("Invalid input.", flatten_errors(body.errors))
        who = f"API key {principal.name}" if isinstance(principal, ApiKey) else ""
        erasure = contact_erase(
            contact_id=contact.pk,
            actor=None if who else principal,
            note=" — ".join(filter(None, [body.validated_data["reason"], who])),
        )
        return Response(erasure.as_dict())
