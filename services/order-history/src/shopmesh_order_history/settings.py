"""Order history's settings (environment variables with the SHOPMESH_ prefix).

Used by `main.create_app`. Everything beyond the stack's contract is the consumer's queue,
retry delays and prefetch, from `shopmesh_common.consumers.ConsumerSettings`.
"""

from __future__ import annotations

from shopmesh_common.consumers import ConsumerSettings, QueueName


class Settings(ConsumerSettings):
    """Which queue feeds the read model and how patiently failures are retried."""

    service_name: str = "order-history"
    database: str = "order_history"
    queue: QueueName = "order-history"
