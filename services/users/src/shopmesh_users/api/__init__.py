"""The users service's HTTP API: routes, request/response schemas and dependencies."""
