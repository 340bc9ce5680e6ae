"""The users service's business metrics (Prometheus; label `service` first, as everywhere).

Incremented by the service layer: successful sign-ups, and logins by outcome (`ok`,
`rejected`), so a credential-stuffing burst shows up as a jump in `rejected`.
"""

from __future__ import annotations

from prometheus_client import Counter

SIGNUPS = Counter("shopmesh_users_signups_total", "Accounts created", ["service"])
LOGINS = Counter(
    "shopmesh_users_logins_total",
    "Login attempts by outcome (ok, rejected)",
    ["service", "outcome"],
)
