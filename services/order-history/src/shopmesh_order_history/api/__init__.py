"""Order history's HTTP routes: the "my orders" query."""
