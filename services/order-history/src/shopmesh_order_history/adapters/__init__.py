"""Order history's adapters: the read model on PostgreSQL (asyncpg)."""
