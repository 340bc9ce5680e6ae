"""Notifications' Prometheus metrics (label `service` first, like every ShopMesh metric)."""

from __future__ import annotations

from prometheus_client import Counter

EMAILS = Counter(
    "shopmesh_notifications_emails_total",
    "Order emails handed to the SMTP server, by kind and outcome (sent, failed)",
    ["service", "kind", "outcome"],
)
