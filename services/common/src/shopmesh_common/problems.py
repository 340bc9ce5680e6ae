"""RFC 9457 problem details: every error a service returns is `application/problem+json`.

`Problem` is raised by route and service code; `install_problem_handlers` turns it, FastAPI's
validation errors and Starlette's HTTP errors into problem+json with a useful `detail`.
Used by `app.create_app` for every service.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error with an HTTP status, a stable type slug and a human detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_ if type_ == "about:blank" or ":" in type_ else f"urn:shopmesh:{type_}"
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extensions)
        return doc


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """A JSONResponse carrying `problem` with the problem+json media type."""
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _describe_validation(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    items = []
    for err in errors:
        loc = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        items.append({"field": loc or "(body)", "message": err.get("msg", "invalid")})
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    return detail or "the request is invalid", items


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` a problem+json response."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail, items = _describe_validation(list(exc.errors()))
        problem = Problem(422, detail, type_="validation-error", errors=items)
        return problem_response(problem, request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        problem = Problem(exc.status_code, str(exc.detail), headers=headers)
        return problem_response(problem, request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
