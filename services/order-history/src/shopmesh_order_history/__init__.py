"""shopmesh_order_history: the CQRS read model behind "my orders".

It keeps its own copy of customers and orders from `user.registered` and `order.*`
events (no calls to other services, no cross-database joins) and answers
`GET /users/{id}/orders`. The composition root is `main.create_app` (uvicorn --factory
shopmesh_order_history.main:create_app); `domain` holds the projection rules, `adapters`
the SQL, `service_layer` the event handler and the query, `api` the route.
"""
