"""Order history's use cases: project events into the view, answer "my orders"."""
