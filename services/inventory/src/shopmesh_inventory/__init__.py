"""shopmesh_inventory: products and stock, with expiring all-or-nothing reservations.

The orders saga reserves stock (`POST /reservations`), then commits it after the payment or
releases it when the order fails; a sweeper releases reservations nobody finished. The
contract is in services/README.md; `main.create_app` is the uvicorn factory.
"""
