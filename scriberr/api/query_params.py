"""The query parameters of the collection listings, read in one validation.

FastAPI resolves each declared query parameter on its own on every request, through its
dependency machinery; for the transcription listing's eight parameters that was about 0.4 ms of
the 2 ms of CPU a page of 100 cost (`bench/api.py`, `list_cpu_ms`), whatever the query string
held. A listing instead declares its parameters as one `QueryModel`:

- `from_request` validates the query string into it at once, with the same Pydantic rules FastAPI
  would apply (lax: "50" is an int, an RFC 3339 string a datetime). A bad value raises the usual
  `RequestValidationError` at `("query", name)`, which `errors.py` turns into the 422 naming it.
  Unknown parameters are ignored, as FastAPI does; a repeated one counts its last value, unless
  its field is a list.
- `openapi_parameters` documents the same parameters in the route's OpenAPI operation
  (`openapi_extra`), so clients and schemathesis see them as before.
"""

from __future__ import annotations

import functools
import typing
from typing import Any, Self

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

_COMPONENTS = "#/components/schemas/{model}"


class QueryModel(BaseModel):
    """A listing's query parameters (optional fields with defaults)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def from_request(cls, request: Request) -> Self:
        params = request.query_params
        lists = _list_fields(cls)
        fields = cls.model_fields
        data = {
            name: params.getlist(name) if name in lists else params[name]
            for name in params
            if name in fields
        }
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
            ) from None

    @classmethod
    def openapi_parameters(cls) -> list[dict[str, Any]]:
        """The fields as OpenAPI query parameters (enums as references to the shared
        components, which the response models already define)."""
        schema = cls.model_json_schema(ref_template=_COMPONENTS)
        parameters = []
        for name, field_schema in schema["properties"].items():
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": False,
                "schema": field_schema,
            }
            if "description" in field_schema:
                parameter["description"] = field_schema["description"]
            parameters.append(parameter)
        return parameters


@functools.cache
def _list_fields(model: type[QueryModel]) -> frozenset[str]:
    """The fields read with every value of a repeated parameter."""
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if any(
            typing.get_origin(option) is list
            for option in (field.annotation, *typing.get_args(field.annotation))
        )
    )
