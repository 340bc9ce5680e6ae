"""Shared check of the model tables: a spec is refused at `loc` with error `kind`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_operator.models import MicroserviceSpec


def assert_refused(spec: dict[str, Any], loc: str, kind: str, text: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        MicroserviceSpec.model_validate(spec)
    errors = {
        (".".join(map(str, err["loc"])), err["type"]): err["msg"] for err in excinfo.value.errors()
    }
    assert (loc, kind) in errors, errors
    assert text in errors[(loc, kind)]
