"""Typed models of the Microservice resource: spec, status and the parts of metadata we use.

The spec is parsed once, at the handler edge (`Microservice.from_body`); render
and reconcile code only ever see these models. `tests/unit/test_crd_agrees.py`
checks that the CRD's OpenAPI schema and these models describe the same fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

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


#: A Go/Istio duration with a positive amount: "500ms", "2s", "1m", "1h".
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$"
#: A caller: a ServiceAccount name in the same namespace, or "namespace/name".
CALLER_PATTERN = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

_UNITS_MS = {"ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60_000), "h": Decimal(3_600_000)}


def duration_ms(text: str) -> float:
    """Milliseconds in a duration matching DURATION_PATTERN (decimal, so "1.005s" is 1005)."""
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            return float(Decimal(text[: -len(unit)]) * _UNITS_MS[unit])
    raise ValueError(f"not a duration: {text!r}")


class PodsMetric(_Model):
    """An HPA Pods metric: scale on the per-pod average of a custom metric."""

    name: str = Field(min_length=1)
    target_average_value: int | str


class Autoscaling(_Model):
    min_replicas: int = Field(default=1, ge=1, le=1000)
    max_replicas: int = Field(ge=1, le=1000)
    target_cpu_utilization: int | None = Field(
        default=None, ge=1, le=100, alias="targetCPUUtilization"
    )
    target_memory_utilization: int | None = Field(default=None, ge=1, le=100)
    metrics: tuple[PodsMetric, ...] = ()

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling: minReplicas must not exceed maxReplicas")
        return self


class Disruption(_Model):
    min_available: int | str | None = None
    max_unavailable: int | str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Disruption:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise ValueError("disruption needs exactly one of minAvailable or maxUnavailable")
        return self


class Retries(_Model):
    attempts: int = Field(default=2, ge=0, le=10)
    per_try_timeout: str = Field(default="2s", pattern=DURATION_PATTERN)
    retry_on: str = Field(
        default="connect-failure,refused-stream,reset,unavailable",
        pattern=r"^[a-z0-9-]+(,[a-z0-9-]+)*$",
    )


class CircuitBreaker(_Model):
    consecutive5xx_errors: int = Field(default=5, ge=1, alias="consecutive5xxErrors")
    interval: str = Field(default="10s", pattern=DURATION_PATTERN)
    base_ejection_time: str = Field(default="30s", pattern=DURATION_PATTERN)
    max_ejection_percent: int = Field(default=50, ge=0, le=100)
    max_pending_requests: int = Field(default=100, ge=1)
    max_requests_per_connection: int | None = Field(default=None, ge=1)
    max_connections: int | None = Field(default=None, ge=1)


class Mesh(_Model):
    mtls: Literal["STRICT", "PERMISSIVE", "DISABLE"] = "STRICT"
    allowed_callers: tuple[Annotated[str, Field(pattern=CALLER_PATTERN)], ...] = ()
    timeout: str = Field(default="10s", pattern=DURATION_PATTERN)
    retries: Retries = Field(default_factory=Retries)
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    load_balancer: Literal["LEAST_REQUEST", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH"] = (
        "LEAST_REQUEST"
    )

    @model_validator(mode="after")
    def _callers_need_mtls(self) -> Mesh:
        if self.mtls == "DISABLE" and self.allowed_callers:
            raise ValueError("mesh.allowedCallers needs mTLS (caller identities come from it)")
        return self

    @model_validator(mode="after")
    def _retry_budget_fits(self) -> Mesh:
        # Whole milliseconds, as the CRD's CEL rule (getMilliseconds) computes it.
        budget = self.retries.attempts * int(duration_ms(self.retries.per_try_timeout))
        if self.retries.attempts and budget > int(duration_ms(self.timeout)):
            raise ValueError(
                f"mesh.retries: attempts x perTryTimeout ({self.retries.attempts} x "
                f"{self.retries.per_try_timeout}) exceeds mesh.timeout ({self.timeout})"
            )
        return self


class Rollout(_Model):
    strategy: Literal["Rolling"] = "Rolling"
    #: How long new pods may take to become ready before the release is rolled back.
    progress_deadline_seconds: int = Field(default=600, ge=10, le=86400)


class MicroserviceSpec(_Model):
    image: str = Field(min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    replicas: int = Field(default=1, ge=0, le=1000)
    env: tuple[EnvVar, ...] = ()
    resources: Resources = Field(default_factory=Resources)
    probes: Probes = Field(default_factory=Probes)
    autoscaling: Autoscaling | None = None
    disruption: Disruption = Field(default_factory=lambda: Disruption(max_unavailable=1))
    mesh: Mesh = Field(default_factory=Mesh)
    rollout: Rollout = Field(default_factory=Rollout)


class ObjectRef(_Model):
    """The identity of a Microservice: what owner references and events need."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    namespace: str
    uid: str = ""
    generation: int = 0


ConditionType = Literal["Ready", "Progressing", "Degraded", "OutOfSync"]
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


HeldReason = Literal["RolledBack", "RolloutUndone"]


class HeldRelease(_Model):
    """A spec generation whose pod template the operator does not apply: it rolled it
    back itself (`RolledBack`) or a user ran `kubectl rollout undo` (`RolloutUndone`)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    generation: int
    reason: HeldReason
    #: The image that runs instead of the spec's.
    running_image: str
    message: str
    at: str


class Release(_Model):
    """One entry of the release history: a spec generation and how it ended."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    generation: int
    image: str
    outcome: Literal["Released", "RolledBack", "RolloutUndone"]
    at: str


class RolloutStatus(_Model):
    """What releases need to remember between passes (and operator restarts)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    #: The image of the last release that became fully available: the rollback target.
    stable_image: str | None = None
    held: HeldRelease | None = None
    #: The last releases, newest last (at most `HISTORY_LENGTH`).
    history: tuple[Release, ...] = ()


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
    rollout: RolloutStatus = Field(default_factory=RolloutStatus)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def to_wire(self) -> dict[str, Any]:
        wire = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        if self.rollout == RolloutStatus():  # nothing released yet: no empty block
            wire.pop("rollout")
        return wire


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
