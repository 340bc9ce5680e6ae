"""The users service's adapters: SQL for users and signing keys, and the password hasher."""
