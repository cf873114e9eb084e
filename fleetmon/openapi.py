"""Schema hook: document the answers DRF and Django give on their own.

Views declare what their own code answers (200, 201, 409...). Beside those, the framework
answers 403 to a caller without the role (401 first where a token is the first way in),
400 to a malformed body or query, 404 to an unknown object or page, 413 to a body past the
limit and 415 to a body that is not JSON. Each is added here where it can occur, unless the
view described it already; an error a view described in words only gets the body every
error has (`Error`, or `ValidationError` for a 400).
"""

import threading

from drf_spectacular.views import SpectacularAPIView

_generating = threading.Lock()


class SchemaView(SpectacularAPIView):
    """/api/schema/, generated one at a time.

    drf-spectacular loads its extensions' target classes on first use, and not thread-safe:
    the first requests of a fresh process that arrive together (the docs page and a client
    after a restart) mostly got a 500 (AttributeError in plumbing._load_class).
    """

    def _get_schema_response(self, request):
        with _generating:
            return super()._get_schema_response(request)


ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "what went wrong, in words",
}
INVALID = {
    "anyOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {"type": "string"}},
    ],
    "description": "messages per field (`non_field_errors` for the whole input)",
}
TOKEN_SCHEMES = {"userToken", "fleetToken"}
# Pagination ignores a malformed size or offset (DRF's way) but answers 404 to a bad page.
PAGINATION = {"page", "page_size", "cursor", "limit", "offset"}
PAGE_PARAMETERS = {"page", "cursor"}


def _answer(description: str, schema_name: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


def framework_answers(operation: dict) -> dict[str, dict]:
    """The framework's answers that can occur for one operation."""
    parameters = operation.get("parameters", [])
    query = [p for p in parameters if p.get("in") == "query"]
    filters = [p for p in query if p["name"] not in PAGINATION]
    in_path = any(p.get("in") == "path" for p in parameters)
    security = [name for option in operation.get("security", []) for name in option]
    answers = {"403": _answer("not signed in, or your role may not do this", "Error")}
    if security and security[0] in TOKEN_SCHEMES:
        answers["401"] = _answer("no valid token", "Error")
    if "requestBody" in operation or filters:
        answers["400"] = _answer("invalid input", "ValidationError")
    if in_path or PAGE_PARAMETERS & {p["name"] for p in query}:
        answers["404"] = _answer("no such object in your scope, or no such page", "Error")
    if "requestBody" in operation:
        answers["413"] = _answer(
            "the body is larger than FLEETMON_INGEST_MAX_BODY_BYTES (fleetmon.body_limit)", "Error"
        )
        answers["415"] = _answer("the body is not JSON (Content-Type: application/json)", "Error")
    return answers


def document_framework_answers(result, generator, request, public):
    """drf-spectacular postprocessing hook: add framework_answers() to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationError", INVALID)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, answer in framework_answers(operation).items():
                responses.setdefault(status, answer)
            for status, answer in responses.items():
                if status[0] in "45" and "content" not in answer:
                    # A view that described an error in words only: its body has the same
                    # shape as the framework's (DRF's exceptions, fleetmon.api_errors).
                    answer["content"] = _answer("", _shape(status))["content"]
    return result


def _shape(status: str) -> str:
    return "ValidationError" if status == "400" else "Error"
