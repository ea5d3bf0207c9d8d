"""Operations: Prometheus metrics (``metrics``) and the optional health/metrics endpoint
(``http``).

Kept empty on purpose: the core (worker, Runway client, quotas) imports ``bot.ops.metrics``
alone, and importing this package must not pull in the HTTP server (which imports the core).
"""
