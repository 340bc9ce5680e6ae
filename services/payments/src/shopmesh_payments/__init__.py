"""shopmesh_payments: charges and refunds against a simulated provider with fault knobs.

The orders saga charges an order (`POST /charges` with an Idempotency-Key) and refunds it
when the order fails or the answer never came back (`POST /charges/{order_id}/refund`). The
provider's declines, errors, hangs and latency are set from the environment or at run time
(`/admin/faults`). The contract is in services/README.md; `main.create_app` is the factory.
"""
