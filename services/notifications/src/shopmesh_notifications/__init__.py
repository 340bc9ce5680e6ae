"""shopmesh_notifications: exactly one email per finished order, over SMTP.

Choreography only: it consumes `user.registered` (to keep its own recipients projection),
`order.confirmed` and `order.failed`, and nothing calls it for business. The composition
root is `main.create_app` (uvicorn --factory shopmesh_notifications.main:create_app);
`domain` holds the pure email rules, `adapters` the SQL and the SMTP client,
`service_layer` the event handlers and the sweeper, `api` the support routes.
"""
