"""The gateway's composition root: `uvicorn --factory shopmesh_gateway.main:create_app`.

Start-up: create the `gateway` database if missing and migrate it (when
SHOPMESH_RUN_MIGRATIONS), open the pool, connect Redis (lazily: a Redis that is down
does not stop the gateway, see service_layer.rate_limiting), build one resilient client
per service (shopmesh_common.resilience), and wire the JWKS cache, the verified-token cache,
API keys, the rate limiter and the composition. Readiness is the database (API keys);
neither Redis nor users is a readiness condition: both have a defined degraded mode.

Middleware, outermost first: EdgeMiddleware (request id, security headers), CORS (only
with an allow-list), then create_app's (metrics, trace id, access line), then the
RouteDispatcher, which runs the public routes without FastAPI's router (api.dispatch).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.lifespan import database_readiness, service_lifespan, wait_for_database
from shopmesh_common.resilience import BreakerSettings, ClientFactory, DownstreamSettings

from .adapters.composition_cache import CompositionCache
from .adapters.database import ensure_database
from .adapters.jwks import Fetch, JwksCache, jwks_fetcher
from .adapters.rate_limiter import RedisRateLimiter, RespRateLimiter
from .adapters.resp import Endpoint, RespClient
from .adapters.revocation_feed import RevocationFeed
from .adapters.token_cache import TokenCache
from .api import admin, routes
from .api.dispatch import RouteDispatcher
from .api.edge import EdgeMiddleware
from .api.pipeline import Gateway
from .domain.routes import JWKS, USER_ORDERS, with_timeouts
from .domain.tokens import TokenPolicy
from .service_layer.api_keys import ApiKeys
from .service_layer.authentication import Authenticator
from .service_layer.composition import UserOrders
from .service_layer.rate_limiting import Counter, RateLimiting
from .settings import Settings

PACKAGE = "shopmesh_gateway"


def downstreams(settings: Settings) -> list[DownstreamSettings]:
    """How the gateway calls each service. Per-route attempt timeouts come from the route
    table; these bound the whole call (deadline) and size the breakers and bulkheads."""
    common = {
        "retry_attempts": settings.upstream_retry_attempts,
        "deadline_seconds": settings.upstream_deadline_seconds,
        "bulkhead_max_concurrent": 256,
        "bulkhead_max_wait_seconds": 0.5,
    }
    # Sign-up and login hash passwords (argon2): slow by design, not a sick users service.
    users_breaker = BreakerSettings(wait_duration_in_open=5.0, slow_call_duration=5.0)
    breaker = BreakerSettings(wait_duration_in_open=5.0)
    return [
        DownstreamSettings(
            name="users",
            base_url=settings.users_url,
            breaker=users_breaker,
            **common,  # type: ignore[arg-type]
        ),
        DownstreamSettings(name="orders", base_url=settings.orders_url, breaker=breaker, **common),  # type: ignore[arg-type]
        # The catalog is the same for everyone: its last good answer may stand in.
        DownstreamSettings(
            name="inventory",
            base_url=settings.inventory_url,
            breaker=breaker,
            cache_fallback=True,
            **common,  # type: ignore[arg-type]
        ),
        DownstreamSettings(
            name="order-history",
            base_url=settings.order_history_url,
            breaker=breaker,
            **common,  # type: ignore[arg-type]
        ),
    ]


def connect_redis(settings: Settings) -> Redis:
    """A Redis client that fails fast: no retries, short timeouts (the limiter decides)."""
    timeout = settings.rate_limit_timeout_seconds
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        max_connections=512,
    )


def connect_rate_limiter(settings: Settings, redis: Redis) -> RespRateLimiter | RedisRateLimiter:
    """The gateway's own pipelined Redis connection for a plain redis:// URL (the hot path:
    one call per request), redis-py for anything else (TLS, unix sockets)."""
    timeout = settings.rate_limit_timeout_seconds
    endpoint = Endpoint.parse(settings.redis_url)
    if endpoint is None:
        return RedisRateLimiter(redis, timeout_seconds=timeout)
    return RespRateLimiter(RespClient(endpoint, connect_timeout=timeout, reply_timeout=timeout))


def token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=frozenset(settings.jwt_algorithms),
        leeway_seconds=settings.jwt_leeway_seconds,
        max_bytes=settings.jwt_max_bytes,
        max_header_bytes=settings.jwt_max_header_bytes,
    )


def build_gateway(
    settings: Settings,
    *,
    clients: ClientFactory,
    counter: Counter,
    api_keys: ApiKeys,
    composition_cache: CompositionCache | None,
    jwks_fetch: Fetch | None = None,
) -> Gateway:
    """Wire the gateway's parts (the lifespan passes the real adapters, unit tests fakes);
    the JWKS comes from users through `clients` unless `jwks_fetch` is given."""
    timeouts = with_timeouts(settings.route_timeouts)
    tokens = TokenCache(
        max_entries=settings.token_cache_size, max_seconds=settings.token_cache_seconds
    )
    jwks = JwksCache(
        jwks_fetch or jwks_fetcher(clients["users"].request, timeout=timeouts[JWKS.name]),
        algorithms=settings.jwt_algorithms,
        max_age=settings.jwks_cache_seconds,
        refetch_interval=settings.jwks_refetch_interval_seconds,
        service=settings.service_name,
        on_change=tokens.forget_all_but,
    )
    return Gateway(
        clients=clients,
        authenticator=Authenticator(
            policy=token_policy(settings),
            jwks=jwks,
            tokens=tokens,
            api_keys=api_keys,
            service=settings.service_name,
        ),
        rate_limiting=RateLimiting(
            counter,
            policies=settings.rate_limits,
            on_error=settings.rate_limit_on_redis_error,
            retry_seconds=settings.rate_limit_redis_retry_seconds,
            service=settings.service_name,
            key_prefix=settings.rate_limit_key_prefix,
        ),
        jwks=jwks,
        api_keys=api_keys,
        user_orders=UserOrders(
            users=clients["users"],
            history=clients["order-history"],
            cache=composition_cache,
            timeout_seconds=timeouts[USER_ORDERS.name],
        ),
        timeouts=timeouts,
        max_body_bytes=settings.max_body_bytes,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway app, configured from `settings` (default: the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        admin_url = f"{settings.postgres_url.rstrip('/')}/postgres"
        await wait_for_database(admin_url, within=settings.startup_wait_seconds)
        await ensure_database(settings.postgres_url, settings.database)
        async with service_lifespan(app, settings, package=PACKAGE) as runtime:
            redis = connect_redis(settings)
            runtime.on_close(redis.aclose)
            clients = ClientFactory(settings.service_name, downstreams(settings), redis=redis)
            limiter = connect_rate_limiter(settings, redis)
            # Closed last registered first: JWKS refresh, clients, limiter, then their Redis.
            runtime.on_close(limiter.close)
            runtime.on_close(clients.close)
            feed = RevocationFeed(settings.redis_url)
            runtime.on_close(feed.close)
            api_keys = ApiKeys(runtime.db, cache_seconds=settings.api_key_cache_seconds, feed=feed)
            runtime.background.start("api-key-revocations", lambda: feed.follow(api_keys))
            gateway = build_gateway(
                settings,
                clients=clients,
                counter=limiter,
                api_keys=api_keys,
                composition_cache=(
                    CompositionCache(redis, ttl_seconds=settings.composition_cache_ttl_seconds)
                    if settings.composition_cache
                    else None
                ),
            )
            runtime.on_close(gateway.jwks.close)
            app.state.gateway = gateway
            yield

    return build_app(settings, lifespan=lifespan)


def build_app(
    settings: Settings, *, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    """The app around `lifespan`, which must put `settings`, `db` and a Gateway on app.state
    (the unit tests pass one with fakes)."""
    app = create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[routes.router, admin.router],
        readiness=database_readiness,
        inner_middleware=[Middleware(RouteDispatcher, routes=routes.router.routes)],
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "X-API-Key",
            ],
            expose_headers=[
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
                "X-Request-ID",
                "Location",
            ],
            max_age=600,
        )
    app.add_middleware(EdgeMiddleware)
    return app
