"""Typed models of the Microservice resource: spec, status and the parts of metadata we use.

The spec is parsed once, at the handler edge (`Microservice.from_body`); render
and reconcile code only ever see these models. `tests/unit/test_crd_agrees.py`
checks that the CRD's OpenAPI schema and these models describe the same fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class KeyRef(_Model):
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    optional: bool | None = None


class EnvVarSource(_Model):
    secret_key_ref: KeyRef | None = None
    config_map_key_ref: KeyRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvVarSource:
        if (self.secret_key_ref is None) == (self.config_map_key_ref is None):
            raise ValueError("valueFrom needs exactly one of secretKeyRef or configMapKeyRef")
        return self


class EnvVar(_Model):
    name: str = Field(min_length=1)
    value: str | None = None
    value_from: EnvVarSource | None = None

    @model_validator(mode="after")
    def _not_both(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise ValueError(f"env {self.name}: set value or valueFrom, not both")
        return self


class Resources(_Model):
    requests: dict[str, int | str] = Field(default_factory=dict)
    limits: dict[str, int | str] = Field(default_factory=dict)


class Probes(_Model):
    readiness: str = Field(default="/health/ready", pattern=r"^/")
    liveness: str = Field(default="/health/live", pattern=r"^/")


class MicroserviceSpec(_Model):
    image: str = Field(min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    replicas: int = Field(default=1, ge=0, le=1000)
    env: tuple[EnvVar, ...] = ()
    resources: Resources = Field(default_factory=Resources)
    probes: Probes = Field(default_factory=Probes)


class ObjectRef(_Model):
    """The identity of a Microservice: what owner references and events need."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    namespace: str
    uid: str = ""
    generation: int = 0


ConditionType = Literal["Ready", "Progressing", "Degraded"]
Phase = Literal["Pending", "Progressing", "Ready", "Degraded", "Failed"]


class Condition(_Model):
    """A status condition; foreign fields and condition types are kept, not refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class MicroserviceStatus(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    observed_generation: int | None = None
    phase: Phase | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    updated_replicas: int | None = None
    conditions: tuple[Condition, ...] = ()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Microservice(_Model):
    model_config = ConfigDict(extra="ignore", frozen=True)

    metadata: ObjectRef
    spec: MicroserviceSpec
    status: MicroserviceStatus = Field(default_factory=MicroserviceStatus)

    @classmethod
    def from_body(cls, body: Any) -> Microservice:
        """Parse a resource body (a dict or kopf's Body) into the typed model."""
        try:
            status = MicroserviceStatus.model_validate(dict(body.get("status") or {}))
        except ValidationError:
            # Status is ours to rewrite: a garbled one must never block reconcile.
            status = MicroserviceStatus()
        return cls.model_validate(
            {
                "metadata": dict(body.get("metadata", {})),
                "spec": dict(body.get("spec", {})),
                "status": status,
            }
        )
