"""The gateway's use cases: authenticate a request, forward it to a service, compose
"my orders", issue and revoke API keys."""
