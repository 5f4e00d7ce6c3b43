"""``harness watch``: the duplicate-effect rate of a real service, measured from its own ledger.

The harness's checker counts effects per operation after a test run; the watcher counts them in
production, continuously, through the same declared probes (a SQL query on SQLite or Postgres, an
HTTP JSON ledger, a Python callable), read-only. Per rolling window it exports how many operations
took effect more than once, as Prometheus series and as a JSON and HTML snapshot.

Modules, one job each::

    config      watch.yaml, validated before anything starts
    timestamps  a row's time as Unix seconds (epoch s or ms, ISO-8601, datetime)
    ledger      reading a ledger's rows since a time, read-only, each as (operation, time)
    replays     idempotency-key replays the service reports (a counter, or log lines)
    windows     per-window counts, duplicate rate and interval (the window semantics are here)
    state       the latest snapshot every output renders
    exporter    /metrics on loopback from its own registry
    snapshot    watch.json and watch.html, rewritten atomically
    loop        the bounded, signal-aware poll loop
"""
