"""Service tokens themselves: settings, minting (`TokenSource`) and verification.

See the package docstring for the scheme and why. Used by `middleware` (verification), by
`resilience.ClientFactory` (a `TokenSource` per service) and by tests that call a service
directly (`HS256TokenSource` as a named caller).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import jwt
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
MAX_LIFETIME_SECONDS = 300
LEEWAY_SECONDS = 5  # clock skew between hosts
_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti"]
_CACHE_SIZE = 1024

Clock = Callable[[], float]


class ServiceAuthSettings(BaseSettings):
    """SHOPMESH_SERVICE_TOKEN_SECRET turns service tokens on, both minted and required."""

    # The secret must not show up in a validation error.
    model_config = SettingsConfigDict(
        env_prefix="SHOPMESH_", extra="ignore", hide_input_in_errors=True
    )

    service_token_secret: SecretStr | None = None
    service_token_ttl_seconds: int = Field(default=60, ge=10, le=MAX_LIFETIME_SECONDS)
    # Comma list of caller names; empty = any service holding the secret.
    allowed_callers: Annotated[frozenset[str], NoDecode] = frozenset()
    # False only on the edge (the gateway): public routes, yet it mints tokens for its calls.
    require_service_token: bool = True

    @field_validator("service_token_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("service_token_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("allowed_callers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(name.strip() for name in value.split(",") if name.strip())
        return value

    @property
    def secret(self) -> bytes | None:
        value = self.service_token_secret
        return None if value is None else value.get_secret_value().encode()


def mint_token(*, secret: bytes, caller: str, audience: str, ttl_seconds: int, now: float) -> str:
    """A service token from `caller` for `audience`, valid `ttl_seconds` from `now`."""
    issued = int(now)
    claims = {
        "iss": caller,
        "sub": caller,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class TokenSource(Protocol):
    """Where a caller gets its token for one downstream (ClientFactory's plug point)."""

    def token_for(self, audience: str) -> str | None:
        """A bearer token for calls to `audience`, or None to send none."""


class HS256TokenSource:
    """Mints HS256 tokens as `caller`, one per audience, reused until half-way to expiry."""

    def __init__(
        self, secret: bytes, *, caller: str, ttl_seconds: int = 60, clock: Clock = time.time
    ) -> None:
        self.caller = caller
        self.ttl_seconds = ttl_seconds
        self._secret = secret
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    def token_for(self, audience: str) -> str:
        now = self._clock()
        cached = self._cache.get(audience)
        if cached is not None and cached[1] - now > self.ttl_seconds / 2:
            return cached[0]
        token = mint_token(
            secret=self._secret,
            caller=self.caller,
            audience=audience,
            ttl_seconds=self.ttl_seconds,
            now=now,
        )
        self._cache[audience] = (token, now + self.ttl_seconds)
        return token


def token_source_from_env(
    caller: str, settings: ServiceAuthSettings | None = None
) -> HS256TokenSource | None:
    """The token source of service `caller` when a secret is configured, else None."""
    settings = settings or ServiceAuthSettings()
    if settings.secret is None:
        return None
    return HS256TokenSource(
        settings.secret, caller=caller, ttl_seconds=settings.service_token_ttl_seconds
    )


@dataclass(frozen=True)
class Caller:
    """The verified caller of a request: `request.state.caller`."""

    name: str
    token_id: str
    expires_at: float


class TokenRejected(Exception):
    """Why a request's token was refused: 401 (no valid token) or 403 (caller not allowed)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason  # a metric label: a small fixed set
        self.detail = detail


_REASONS: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.MissingRequiredClaimError, "claims"),
    (jwt.InvalidAlgorithmError, "algorithm"),
    (jwt.InvalidSignatureError, "signature"),
]


class ServiceTokenVerifier:
    """Checks a token: HS256 only, aud == `service`, fresh, short-lived, caller allowed."""

    def __init__(
        self,
        secret: bytes,
        *,
        service: str,
        allowed_callers: frozenset[str] = frozenset(),
        clock: Clock = time.time,
    ) -> None:
        self.service = service
        self.allowed_callers = allowed_callers
        self._secret = secret
        self._clock = clock
        self._verified: dict[str, Caller] = {}

    def verify(self, token: str) -> Caller:
        """The caller, or TokenRejected."""
        now = self._clock()
        caller = self._verified.get(token)
        if caller is None or caller.expires_at + LEEWAY_SECONDS <= now:
            caller = self._decode(token)
            if len(self._verified) >= _CACHE_SIZE:
                self._verified.clear()  # cheaper than LRU upkeep; refills in one round
            self._verified[token] = caller
        if self.allowed_callers and caller.name not in self.allowed_callers:
            raise TokenRejected(403, "caller", f"{caller.name} may not call {self.service}")
        return caller

    def _decode(self, token: str) -> Caller:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.service,
                leeway=LEEWAY_SECONDS,
                options={"require": _CLAIMS, "strict_aud": True},
            )
        except jwt.PyJWTError as error:
            reason = next((r for kind, r in _REASONS if isinstance(error, kind)), "invalid")
            raise TokenRejected(401, reason, f"service token refused: {error}") from error
        issuer, subject = claims["iss"], claims["sub"]
        if not isinstance(issuer, str) or not issuer or issuer != subject:
            raise TokenRejected(
                401, "claims", "service token refused: iss and sub must name the caller"
            )
        if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS:
            raise TokenRejected(
                401,
                "lifetime",
                f"service token refused: lives longer than {MAX_LIFETIME_SECONDS} s",
            )
        return Caller(name=issuer, token_id=str(claims["jti"]), expires_at=float(claims["exp"]))
