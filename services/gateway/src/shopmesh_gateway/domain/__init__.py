"""The gateway's pure rules: the route table, identities, rate-limit arithmetic and
headers, the edge schemas, API-key material and the "my orders" merge. No I/O here."""
