"""Who is calling: the verified identity the gateway passes on to the services.

Built by service_layer.authentication from a verified access token (a user) or an API key
(a machine client); forwarded upstream as X-User-Id (and X-User-Email, X-Api-Key-Id),
never taken from the client's own headers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """A user (`scopes` None: every authenticated route) or an API key (its scopes)."""

    subject: str
    email: str | None = None
    api_key_id: str | None = None
    scopes: frozenset[str] | None = None

    def may_call(self, route: str) -> bool:
        """True when this identity may call the route named `route`."""
        return self.scopes is None or route in self.scopes


def api_key_subject(key_id: str) -> str:
    """The subject a machine client acts as: it owns the orders it places."""
    return f"key:{key_id}"
