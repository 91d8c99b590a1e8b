"""The statuses every operation of the API can answer beyond its own, documented once: a
drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

# status: (description, whether the error body comes with it)
ANY_OPERATION = {
    400: ("Malformed input: a query parameter, or the body.", True),
    401: ("No API key, or one that is unknown, revoked or expired.", True),
    406: ("The Accept header asks for something other than JSON.", True),
    414: (
        "The URI is too long: the web server in front of the API refuses it, in its own words.",
        False,
    ),
    429: ("Too many requests for this key: wait as long as Retry-After says.", True),
    503: (
        "The database is briefly unavailable: send the request again after Retry-After "
        "seconds (every write is safe to replay).",
        True,
    ),
}
WITH_BODY = {
    413: ("The body is larger than the API's limit, which the message names.", True),
    415: ("The body is not JSON (Content-Type: application/json).", True),
}
FINDING = {404: ("No such record of this marketplace, or a page cursor that is not one.", True)}


def _response(description: str, with_body: bool) -> dict:
    return {"description": description, **({"content": ERROR_BODY} if with_body else {})}


def document_error_statuses(result, generator, request, public):
    """Add to each operation the shared statuses it can answer and does not yet document."""
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            statuses = dict(ANY_OPERATION)
            if method in ("post", "put", "patch"):
                statuses |= WITH_BODY
            # A record named in the path, or a list paged by cursor.
            if "{" in path or method == "get":
                statuses |= FINDING
            responses = operation.setdefault("responses", {})
            for status, (description, with_body) in statuses.items():
                responses.setdefault(str(status), _response(description, with_body))
    return result
