"""The thread-pool lane of the collection listings: at most `LISTING_THREADS` run at once.

A listing's work in its thread (the credential check, the query, the row mapping, the JSON
encoding) is Python holding the GIL. In the default pool (40 threads) fifty concurrent listings
interleave: each takes about as long as all of them together, and latency spreads out
(`bench/api.py`, 50 clients listing 100 rows: idle p50 ~190 ms, p95 450-500 ms). Two at a time, in
arrival order (anyio's limiter is first come, first served), cut that to p50 ~165 ms, p95 ~195 ms
on the same machine; one at a time measured p95 130 ms, but then a single slow query (a full-text
`q`, a PostgreSQL round trip) would hold up every other listing.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI, Request, Response

LISTING_THREADS = 2


def install_listing_lane(app: FastAPI) -> None:
    app.state.listing_lane = CapacityLimiter(LISTING_THREADS)


async def run_listing(request: Request, page: Callable[[], Response]) -> Response:
    """`page()` in a worker thread of the listings' lane."""
    lane: CapacityLimiter = request.app.state.listing_lane
    return await anyio.to_thread.run_sync(page, limiter=lane)
