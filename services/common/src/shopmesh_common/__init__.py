"""shopmesh_common: the few pieces every ShopMesh service shares.

Each module is one concern: `settings` (environment), `problems` (RFC 9457 errors),
`db` (asyncpg pool and unit of work), `migrate` (Alembic per service), `events` (the
event envelope), `outbox` (transactional outbox and its relay), `inbox` (idempotent
consumers), `broker` (RabbitMQ topology, retries and dead letters), `dead_letters`
(list / show / replay), `idempotency` (Idempotency-Key), `resilience` (every outgoing
HTTP call), `app` (the FastAPI factory with health and metrics).
"""
