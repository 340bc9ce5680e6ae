"""Inventory adapters: the SQL behind products and reservations (asyncpg)."""
