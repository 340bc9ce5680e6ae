"""Notifications' adapters: PostgreSQL (asyncpg) and SMTP (aiosmtplib)."""
