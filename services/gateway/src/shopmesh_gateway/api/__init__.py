"""The gateway's HTTP edge: the public /api routes, the admin routes, the edge middleware
(request ids, security headers) and request-body reading with its limits."""
