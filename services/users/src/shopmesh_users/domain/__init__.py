"""The users service's pure rules: users, signing keys and their rotation window, tokens.

No I/O here: the adapters load and store what these modules compute, and the unit tests
drive them with explicit clocks.
"""
