"""Settings of the users service (environment variables with the SHOPMESH_ prefix).

Used by `main.create_app` to build the password hasher, the key ring and the token policy.
Tests lower the argon2 cost and the key overlap through the same fields.
"""

from __future__ import annotations

from pydantic import Field

from shopmesh_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """The users service's knobs."""

    service_name: str = "users"
    database: str = "users"

    issuer: str = "https://shopmesh.local/users"
    audience: str = "shopmesh"
    access_token_ttl_seconds: int = Field(default=900, ge=1, le=86_400)
    # How long a replaced signing key stays in the JWKS. None means ttl + 60 s, so that every
    # token the old key signed (also by a replica that learns of the rotation up to
    # key_reload_seconds late) can still be verified until it expires.
    key_overlap_seconds: float | None = Field(default=None, ge=0)
    key_reload_seconds: float = Field(default=5.0, gt=0)

    # argon2id cost (argon2-cffi's RFC 9106 "low memory" profile by default); tests lower it.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    # At most this many hashes run at once: each one holds memory_cost KiB in a worker thread.
    password_hash_concurrency: int = Field(default=4, ge=1)

    @property
    def key_overlap(self) -> float:
        """Seconds a replaced key stays published after a rotation."""
        if self.key_overlap_seconds is not None:
            return self.key_overlap_seconds
        return float(self.access_token_ttl_seconds + 60)
