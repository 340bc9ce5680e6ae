"""Inventory use cases: one unit of work each (reserve, commit, release, sweep, products)."""
