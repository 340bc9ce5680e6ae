"""Orders: `POST /orders` runs an orchestrated saga (reserve stock, charge, confirm).

The saga's rules are pure (`domain.saga`); `service_layer.saga_runner` drives them against
inventory and payments, persists the state after every step and resumes unfinished sagas
after a crash; `service_layer.placing` takes orders under an Idempotency-Key.
"""
