"""Test kit of the gateway's tests (unit and integration): signing keys and a JWKS held in
memory, tokens crafted the way attackers craft them, a fake upstream (a real aiohttp server
on a loopback port that records what reached it), an in-memory rate-limit counter, API keys
from a dict and a composition cache in memory. Imported by the tests' conftest files, which
put this directory on sys.path (the module name is unique in the repository).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from shopmesh_gateway.api.pipeline import Gateway
from shopmesh_gateway.domain.identity import Identity
from shopmesh_gateway.service_layer.api_keys import ApiKeys

ISSUER = "https://shopmesh.local/users"
AUDIENCE = "shopmesh"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{segment(header)}.{segment(claims)}.{b64(signature)}"


def hs256(keys: KeySet, secret: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.current.kid}
    signing_input = f"{segment(header)}.{segment(keys.claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def public_pem(keys: KeySet) -> bytes:
    return keys.current.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey
    jwk: dict[str, Any]


def new_key(kid: str | None = None) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = dict(ECAlgorithm.to_jwk(private.public_key(), as_dict=True))
    kid = kid or uuid.uuid4().hex
    jwk.update(kid=kid, alg="ES256", use="sig")
    return SigningKey(kid=kid, private=private, jwk=jwk)


@dataclass
class KeySet:
    """The users service's keys as a verifier sees them: a JWKS, and a way to sign."""

    keys: list[SigningKey] = field(default_factory=lambda: [new_key()])
    fetches: int = 0
    failing: bool = False

    @property
    def current(self) -> SigningKey:
        return self.keys[-1]

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "nbf": now,
            "exp": now + 900,
            "email": "ada@example.com",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        key: SigningKey | None = None,
        *,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        key = key or self.current
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm="ES256",
            headers={"kid": key.kid, **(headers or {})},
        )

    @staticmethod
    def kid_of(token: str) -> str | None:
        kid = jwt.get_unverified_header(token).get("kid")
        return kid if isinstance(kid, str) else None

    def raw_token(
        self, header: dict[str, Any], claims: dict[str, Any], key: SigningKey | None = None
    ) -> str:
        """A token signed (ES256) exactly as given: headers PyJWT itself would refuse to write."""
        signing_input = f"{segment(header)}.{segment(claims)}".encode()
        algorithm = ECAlgorithm(ECAlgorithm.SHA256)
        signature = algorithm.sign(signing_input, (key or self.current).private)
        return f"{signing_input.decode()}.{b64(signature)}"

    async def fetch(self) -> bytes:
        self.fetches += 1
        if self.failing:
            raise ConnectionError("users is down")
        return json.dumps({"keys": [k.jwk for k in self.keys]}).encode()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeUpstream:
    """One aiohttp server standing in for every service: records requests, answers from
    `answers[(method, path)]` (status, JSON body), 200 {} by default."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: dict[tuple[str, str], tuple[int, Any]] = {}
        self.response_headers: dict[tuple[str, str], dict[str, str]] = {}
        self.delays: dict[str, float] = {}  # path -> seconds before answering
        self.down: set[str] = set()  # path prefixes that answer 503
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        if request.path in self.delays:
            await asyncio.sleep(self.delays[request.path])
        if any(request.path.startswith(prefix) for prefix in self.down):
            return web.json_response({"title": "down"}, status=503)
        route = (request.method, request.path)
        status, payload = self.answers.get(route, (200, {}))
        return web.json_response(payload, status=status, headers=self.response_headers.get(route))


class InMemoryCounter:
    """The rate limiter's Redis script, in memory (one process: exact, like the script):
    a sliding log per key, a request admitted on every key or on none."""

    def __init__(self) -> None:
        self.logs: dict[str, list[float]] = {}
        self.failing = False
        self.calls = 0

    async def hit(
        self, keys: Sequence[str], limits: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        self.calls += 1
        if self.failing:
            raise ConnectionError("Redis is down")
        now = time.monotonic()
        pairs = list(zip(keys, limits, strict=True))
        for key, (_, window_ms) in pairs:
            self.logs[key] = [at for at in self.logs.get(key, []) if at > now - window_ms / 1000]
        admitted = all(len(self.logs[key]) < limit for key, (limit, _) in pairs)
        out = []
        for key, (limit, window_ms) in pairs:
            log = self.logs[key]
            if admitted:
                log.append(now)
            count = len(log) if admitted or len(log) < limit else limit + 1
            oldest = log[0] if log else now
            out.append((count, int((oldest + window_ms / 1000 - now) * 1000)))
        return out


class FakeApiKeys(ApiKeys):
    def __init__(self, known: dict[str, Identity]) -> None:
        super().__init__(None, cache_seconds=0)  # type: ignore[arg-type]
        self.known = known

    async def identify(self, secret: str) -> Identity | None:
        return self.known.get(secret)


class MemoryCompositionCache:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    async def load(self, user_id: str) -> dict[str, Any] | None:
        return self.values.get(user_id)

    async def store(self, user_id: str, value: dict[str, Any]) -> None:
        self.values[user_id] = value


MakeGateway = Callable[..., Any]


@dataclass
class Harness:
    client: httpx.AsyncClient
    upstream: FakeUpstream
    keys: KeySet
    counter: InMemoryCounter
    api_keys: FakeApiKeys
    cache: MemoryCompositionCache
    gateway: Gateway

    def auth(self, token: str | None = None, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.keys.token()}", **headers}
