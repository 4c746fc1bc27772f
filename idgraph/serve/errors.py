"""The service's error answers: one JSON shape for every status, with a message that says why.

Every error answer carries `code` and `message`: the fields the official Segment and
RudderStack SDKs read from an error answer (RudderStack's client fails with a `KeyError`
without `code`).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError

from idgraph.serve.models import CallError, Problem


class ApiError(Exception):
    """An answer other than 200: status, message, and per-call errors for collection calls."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[CallError] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or error_code(status)
        self.message = message
        self.headers = dict(headers or {})
        self.errors = errors or []


#: The `code` of an error answer, per status.
ERROR_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_encoding",
    500: "internal_error",
    503: "unavailable",
}


def error_code(status: int) -> str:
    """The `code` an error answer with `status` carries.

    Examples:
        >>> error_code(400), error_code(418)
        ('invalid_request', 'error_418')
    """
    return ERROR_CODES.get(status, f"error_{status}")


def json_response(
    body: dict[str, object], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer serialised with orjson."""
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def problem_response(exc: ApiError) -> Response:
    problem = Problem(code=exc.code, message=exc.message, errors=exc.errors)
    return problem_body(problem, exc.status, exc.headers)


def problem_body(
    problem: Problem, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """A `Problem` as JSON; top-level fields that do not apply (None) are left out."""
    body = {k: v for k, v in problem.model_dump(mode="json").items() if v is not None}
    return json_response(body, status, headers)


async def api_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return problem_response(exc)


async def validation_error_handler(_request: Request, exc: Exception) -> Response:
    """Bad query or path parameters: 400 naming each parameter, as calls' errors do."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        CallError(
            index=None,
            field=".".join(str(part) for part in error.get("loc", ())[1:]) or None,
            reason=str(error.get("msg", "invalid")),
        )
        for error in exc.errors()
    ]
    reasons = "; ".join(f"{e.field}: {e.reason}" if e.field else e.reason for e in errors)
    return problem_response(ApiError(400, f"invalid request: {reasons}", errors=errors))
