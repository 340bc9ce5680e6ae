"""Inventory HTTP entry points: routes, request/response schemas and dependencies."""
