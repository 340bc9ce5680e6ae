"""Payments' domain, pure (no I/O): the provider's fault rolls and the charge life cycle.

`faults` turns the knobs and a random draw into what the simulated provider does;
`charges` says what a charge or a refund does to an order's charge in each state.
"""
