"""The users service's use cases: accounts (sign-up, login, lookup) and the signing key ring."""
