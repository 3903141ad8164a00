"""Prometheus metrics of the registry's own work (the HTTP metrics are in :mod:`api.metrics`).

Each process keeps its own values; when ``PROMETHEUS_MULTIPROC_DIR`` is set (``modic serve --workers
N`` sets it) they are written there and ``/metrics`` adds up every worker's. The names and what they
mean are listed in ``docs/deployment.md#metrics``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GRADING_QUEUE = Gauge(
    "modic_grading_writer_queue",
    "First gradings waiting for the grading writer's next transaction",
    multiprocess_mode="livesum",
)
GRADING_BATCH = Histogram(
    "modic_grading_writer_batch_size",
    "First gradings recorded in one transaction by the grading writer",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
INGESTED_FILES = Counter(
    "modic_ingest_files_total", "Image files received by ingest, by outcome (stored, rejected)", ["outcome"]
)
INGESTED_STUDIES = Counter("modic_ingest_studies_total", "Studies written by ingest")
CACHE_REQUESTS = Counter(
    "modic_cache_requests_total",
    "Look-ups in the service's caches, by cache and result (hit, miss)",
    ["cache", "result"],
)
FEED_LAG = Gauge(
    "modic_feed_lag_seconds",
    "Age of the oldest decision in the latest feed page read, by trial (0: the reader was up to date)",
    ["trial"],
    multiprocess_mode="mostrecent",
)


def cache_lookup(cache: str, hit: bool) -> None:
    """Count one look-up in ``cache``."""
    CACHE_REQUESTS.labels(cache, "hit" if hit else "miss").inc()
