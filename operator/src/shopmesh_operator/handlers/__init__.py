"""kopf decorators, and nothing else: each handler parses its input and calls
reconcile. Importing this package registers them (see __main__.py)."""

from shopmesh_operator.handlers import lifecycle, microservice

__all__ = ["lifecycle", "microservice"]
