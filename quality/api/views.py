import json

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.body_limit import body_limit_message
from fleetmon.registry.authentication import FleetTokenAuthentication, HasFleetToken
from quality.api.serializers import IngestMessageSerializer, IngestResultSerializer
from quality.ingest import ingest_messages


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = (
        "The database is unavailable; send the batch again (a replay stores nothing twice)."
    )


class IngestView(APIView):
    """Accept a batch of raw device messages from a gateway (contract C1 -> C2)."""

    authentication_classes = [FleetTokenAuthentication]
    permission_classes = [HasFleetToken]
    # The body is read and parsed here (limits first, then orjson); JSONParser is never run,
    # it only tells the schema (and OPTIONS) that the body is JSON.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="ingest_readings",
        request=IngestMessageSerializer(many=True),
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(description="malformed JSON, or not an array of messages"),
            401: OpenApiResponse(description="missing or unknown fleet token"),
            413: OpenApiResponse(description="body or batch larger than the configured limit"),
            415: OpenApiResponse(description="a Content-Type other than application/json"),
            422: IngestResultSerializer,
            503: OpenApiResponse(description="the database is unavailable: send it again"),
        },
        description=(
            "Rows failing the type checks are listed in `errors` and not stored; the rest "
            "are stored in one transaction. 422 when every row was rejected. Replaying a "
            "batch stores nothing new."
        ),
    )
    def post(self, request):
        if request.content_type.split(";")[0].strip().lower() != "application/json":
            raise UnsupportedMediaType(request.content_type or "(none)")
        messages = _parse_batch(_read_body(request))
        try:
            result = ingest_messages(messages=messages)
        except (OperationalError, InterfaceError) as exc:
            # A failover or a dropped connection: nothing was committed, so the gateway
            # sends the batch again.
            raise DatabaseUnavailable() from exc
        code = 422 if messages and result.rejected == len(messages) else 200
        return Response(result.as_dict(), status=code)


def _read_body(request) -> bytes:
    limit = settings.FLEETMON_INGEST_MAX_BODY_BYTES
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > limit:
        raise PayloadTooLarge(
            f"Request body of {declared} bytes exceeds the limit of {limit} bytes "
            "(FLEETMON_INGEST_MAX_BODY_BYTES)."
        )
    try:
        body = request.body
    except RequestDataTooBig:  # a chunked body, which declares no length
        body = None
    if body is None or len(body) > limit:
        raise PayloadTooLarge(body_limit_message(limit))
    return body


def _parse_batch(body: bytes) -> list:
    try:
        messages = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson refuses a lone surrogate ("\ud800") in a string; the JSON grammar does not.
        # Such a string is one row's problem (quality.checks: unstorable), not the batch's.
        try:
            messages = json.loads(body)
        except ValueError:
            raise ParseError(f"Malformed JSON: {exc}") from exc
    if not isinstance(messages, list):
        raise ParseError("Expected a JSON array of device messages.")
    limit = settings.FLEETMON_INGEST_MAX_BATCH
    if len(messages) > limit:
        raise PayloadTooLarge(
            f"Batch of {len(messages)} messages exceeds the limit of {limit} messages "
            "(FLEETMON_INGEST_MAX_BATCH)."
        )
    return messages
