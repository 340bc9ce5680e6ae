"""shopmesh_users: sign-up, login, short-lived ES256 access tokens and a rotating JWKS.

The composition root is `main.create_app` (uvicorn --factory shopmesh_users.main:create_app);
`domain` holds the pure rules (tokens, signing keys and their rotation window), `adapters` the
SQL and the password hasher, `service_layer` the use cases, `api` the HTTP routes.
"""
