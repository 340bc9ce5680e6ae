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


#: The analysis metrics built on the services' standard HTTP metrics (analysis.py).
BUILTIN_METRICS = ("success-rate", "latency-p99")


class AnalysisMetric(_Model):
    """One check of an analysis: `success-rate` (min, percent of non-5xx answers),
    `latency-p99` (maxMs), or any other name with a PromQL `query` and min and/or max."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    min: float | None = None
    max: float | None = None
    max_ms: float | None = Field(default=None, gt=0)
    query: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> AnalysisMetric:
        if self.name == "success-rate":
            if self.min is None or not 0 <= self.min <= 100:
                raise ValueError("analysis metric success-rate needs min, a percentage 0..100")
            if self.max is not None or self.max_ms is not None or self.query is not None:
                raise ValueError("analysis metric success-rate takes min only")
        elif self.name == "latency-p99":
            if self.max_ms is None:
                raise ValueError("analysis metric latency-p99 needs maxMs")
            if self.min is not None or self.max is not None or self.query is not None:
                raise ValueError("analysis metric latency-p99 takes maxMs only")
        else:
            if self.query is None:
                raise ValueError(
                    f"analysis metric {self.name}: a custom metric needs a query "
                    f"(built in: {', '.join(BUILTIN_METRICS)})"
                )
            if self.min is None and self.max is None:
                raise ValueError(f"analysis metric {self.name} needs min or max")
            if self.max_ms is not None:
                raise ValueError(f"analysis metric {self.name}: maxMs is for latency-p99")
        return self


class Analysis(_Model):
    """Measured every `interval` while the canary takes traffic; `failureLimit` failed
    measurements abort the release; fewer than `minRequests` requests in an interval is
    inconclusive (the release pauses and says so), never a pass."""

    interval: str = Field(default="30s", pattern=DURATION_PATTERN)
    failure_limit: int = Field(default=1, ge=1, le=100)
    min_requests: int = Field(default=10, ge=1)
    metrics: tuple[AnalysisMetric, ...] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _interval_bounds(self) -> Analysis:
        if not 5_000 <= duration_ms(self.interval) <= 3_600_000:
            raise ValueError("analysis.interval must be between 5s and 1h")
        names = [metric.name for metric in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError("analysis.metrics: each name once")
        return self

    @property
    def interval_seconds(self) -> float:
        return duration_ms(self.interval) / 1000


class Pause(_Model):
    """Wait `duration`, or without one until `kubectl shopmesh promote`."""

    duration: str | None = Field(default=None, pattern=DURATION_PATTERN)


class AnalysisStep(_Model):
    """Wait until `measurements` analysis measurements in a row have passed."""

    measurements: int = Field(default=3, ge=1, le=100)


class CanaryStep(_Model):
    set_weight: int | None = Field(default=None, ge=0, le=100)
    pause: Pause | None = None
    analysis: AnalysisStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        if sum(part is not None for part in (self.set_weight, self.pause, self.analysis)) != 1:
            raise ValueError("a canary step is exactly one of setWeight, pause or analysis")
        return self


class Canary(_Model):
    steps: tuple[CanaryStep, ...] = Field(min_length=1, max_length=50)
    #: istio: VirtualService weights; replicas: the share of pods behind the one Service.
    #: Unset: istio when mesh mTLS is on, else replicas.
    traffic_routing: Literal["istio", "replicas"] | None = None
    analysis: Analysis | None = None

    @model_validator(mode="after")
    def _analysis_steps_need_analysis(self) -> Canary:
        if self.analysis is None and any(step.analysis for step in self.steps):
            raise ValueError("canary: an analysis step needs canary.analysis")
        return self


class BlueGreen(_Model):
    """The new version runs beside the active one behind the `<name>-preview` Service;
    promotion switches the `<name>` Service's selector to it in one update; the old
    version is kept `scaleDownDelaySeconds` after the switch, so an abort is instant.
    With `analysis`, `prePromotionMeasurements` measurements in a row of the preview's
    pods must pass before promotion (and the analysis goes on after the switch)."""

    #: Promote this long after the preview is available; unset: kubectl shopmesh promote.
    auto_promotion_seconds: int | None = Field(default=None, ge=0, le=86400)
    scale_down_delay_seconds: int = Field(default=30, ge=0, le=86400)
    analysis: Analysis | None = None
    pre_promotion_measurements: int = Field(default=3, ge=1, le=100)


class Rollout(_Model):
    strategy: Literal["Rolling", "Canary", "BlueGreen"] = "Rolling"
    #: How long new pods may take to become ready before the release is rolled back.
    progress_deadline_seconds: int = Field(default=600, ge=10, le=86400)
    canary: Canary | None = None
    blue_green: BlueGreen | None = None

    @model_validator(mode="after")
    def _strategy_has_its_block(self) -> Rollout:
        if self.strategy == "Canary" and self.canary is None:
            raise ValueError("rollout.strategy Canary needs rollout.canary (its steps)")
        if self.strategy != "Canary" and self.canary is not None:
            raise ValueError("rollout.canary is only read with rollout.strategy Canary")
        if self.strategy != "BlueGreen" and self.blue_green is not None:
            raise ValueError("rollout.blueGreen is only read with rollout.strategy BlueGreen")
        return self


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
    annotations: dict[str, str] = Field(default_factory=dict)


ConditionType = Literal["Ready", "Progressing", "Degraded", "OutOfSync"]
Phase = Literal["Pending", "Progressing", "Paused", "Ready", "Degraded", "Failed"]


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


HeldReason = Literal["RolledBack", "RolloutUndone", "Aborted"]


class HeldRelease(_Model):
    """A spec generation whose pod template the operator does not apply: it rolled it
    back itself (`RolledBack`), a user ran `kubectl rollout undo` (`RolloutUndone`), or a
    canary was aborted by its analysis or by a user (`Aborted`)."""

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
    outcome: Literal["Released", "RolledBack", "RolloutUndone", "Aborted"]
    at: str


class _Status(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


Verdict = Literal["Successful", "Failed", "Inconclusive"]


class Measurement(_Status):
    """One analysis metric measured once."""

    metric: str
    #: None: Prometheus had no value (no data is inconclusive).
    value: float | None = None
    #: What passes, as people read it: ">= 99", "<= 500ms".
    threshold: str
    verdict: Verdict
    #: Requests the canary served in the window measured.
    requests: float | None = None
    message: str = ""
    at: str


class AnalysisStatus(_Status):
    measured_at: str | None = None
    failures: int = 0
    #: Passing measurements in a row during the current analysis step.
    passes: int = 0
    #: The last measurements, newest last.
    measurements: tuple[Measurement, ...] = ()


class ReleaseState(_Status):
    """A Canary or BlueGreen release in progress; its whole state, so a new operator
    resumes it. A blue-green release walks fixed steps (canary.release_steps): preview,
    analysis, promotion, switch (weight 100), scale-down delay."""

    strategy: Literal["Canary", "BlueGreen"] = "Canary"
    generation: int
    image: str
    #: Index of the current step; len(steps) means every step is done (promoting).
    step: int = 0
    step_started_at: str
    #: The share of traffic the canary is given, percent (BlueGreen: 100 once switched).
    weight: int = 0
    #: Why the release waits for a person: Paused (kubectl shopmesh pause), PauseStep (a
    #: pause without duration), Inconclusive (too little traffic to judge).
    paused: Literal["Paused", "PauseStep", "Inconclusive"] | None = None
    pause_message: str = ""
    analysis: AnalysisStatus = Field(default_factory=AnalysisStatus)


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
    #: The Canary or BlueGreen release in progress.
    release: ReleaseState | None = None
    #: The id of the last `kubectl shopmesh` command handled (see steering.py).
    steered: str | None = None


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
