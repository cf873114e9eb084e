import orjson
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.registry.authentication import FleetTokenAuthentication, HasFleetToken
from quality.api.serializers import IngestMessageSerializer, IngestResultSerializer
from quality.ingest import ingest_messages


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class IngestView(APIView):
    """Accept a batch of raw device messages from a gateway (contract C1 -> C2)."""

    authentication_classes = [FleetTokenAuthentication]
    permission_classes = [HasFleetToken]
    parser_classes: list = []  # the body is read here, to enforce limits before parsing

    @extend_schema(
        operation_id="ingest_readings",
        request=IngestMessageSerializer(many=True),
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(description="malformed JSON, or not an array of messages"),
            401: OpenApiResponse(description="missing or unknown fleet token"),
            413: OpenApiResponse(description="body or batch larger than the configured limit"),
            422: IngestResultSerializer,
        },
        description=(
            "Rows failing the type checks are listed in `errors` and not stored; the rest "
            "are stored in one transaction. 422 when every row was rejected. Replaying a "
            "batch stores nothing new."
        ),
    )
    def post(self, request):
        messages = _parse_batch(_read_body(request))
        result = ingest_messages(messages=messages)
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
    body = request.body
    if len(body) > limit:
        raise PayloadTooLarge(
            f"Request body exceeds the limit of {limit} bytes (FLEETMON_INGEST_MAX_BODY_BYTES)."
        )
    return body


def _parse_batch(body: bytes) -> list:
    try:
        messages = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
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
