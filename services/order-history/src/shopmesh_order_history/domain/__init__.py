"""Order history's pure rules: how events become the "my orders" view (no I/O)."""
