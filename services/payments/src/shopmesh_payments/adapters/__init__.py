"""Payments adapters: the simulated provider and the SQL behind charges (asyncpg)."""
