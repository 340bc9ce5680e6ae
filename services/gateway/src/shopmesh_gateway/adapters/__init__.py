"""The gateway's I/O: the JWKS cache, the verified-token cache, the Redis rate limiter (over
its own pipelined RESP connection, resp.py), the API-key table (asyncpg), the composed-answer
cache in Redis and the database bootstrap."""
