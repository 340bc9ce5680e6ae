"""Notifications' HTTP routes (support and tests; nothing calls them for business)."""
