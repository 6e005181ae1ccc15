"""The control plane at fleet scale: seeds a PostgreSQL database with a large fleet and ledger,
then times every read endpoint of the spec through Django's full request stack (middleware,
JWT authentication, throttling, DRF), and ``GET /api/v1/nodes`` side by side with a bare Django
view that runs the same queries.

    python -m bench.scale [--nodes 10000] [--sessions 1000] [--rounds 100] [--members 4] [--requests 50]

Defaults: 10,000 nodes (8,000 alive, 2,000 of them past their heartbeat), 1,000 sessions (the
last one running) of 4 members and 100 rounds each: 100,000 rounds and decisions, 400,000
proposals, 1.6 M votes. It needs PostgreSQL (``--database``, default the local server's
``ncrsh_scale`` database, dropped and created) and Redis (the fleet's cache; ``--redis``).
Targets: every endpoint's p50 <= 100 ms, ``/metrics`` <= 1 MB, nodes/bare >= 0.7.
"""
