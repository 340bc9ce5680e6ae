"""shopmesh_gateway: the shop's edge. Routes `/api/...` to the services, verifies JWTs
against users' JWKS, rate limits per user and per IP in Redis, validates requests before
any service sees them, composes "my orders", and issues API keys for machine clients.
See services/README.md ("gateway") for the contract and `main.create_app` for the wiring.
"""
