"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI

from api.errors import install_error_handlers
from api.guard import RequestGuard, check_parameters
from api.metrics import RequestMetrics
from api.metrics import router as metrics_router
from api.openapi import install_openapi
from api.routers import (
    agreement,
    allocation,
    assignments,
    eligibility,
    enrolment,
    exports,
    gradings,
    health,
    me,
    protocols,
    pulls,
    reliability,
    screening,
    series,
    sr_deliveries,
    studies,
    trials,
    users,
)
from api.web import mount_page
from registry import crypto
from registry.db import get_engine, migrate
from registry.imaging.store import open_store
from registry.security import FailureBrake
from registry.services.eligibility.periodic import PeriodicReevaluation
from registry.services.grading_writer import GradingWriter
from registry.services.pulls import PullRunner
from registry.services.sr_store import SrStore, sr_store_config
from registry.services.users import TokenCache
from registry.settings import BackgroundMode, Settings, get_settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, background: bool = False) -> FastAPI:
    """Build the app on ``settings`` (default: the environment); migrates the database first.

    With ``background`` (``modic serve``) the app also takes part in the site's periodic work while it
    runs, unless ``MODIC_BACKGROUND=off`` (see :mod:`registry.jobs`). Without a usable
    ``MODIC_PATIENT_KEY`` this fails at once (:class:`registry.crypto.PatientKeyError`).
    """
    settings = settings or get_settings()
    crypto.configure(None if settings.patient_key is None else settings.patient_key.get_secret_value())
    engine = get_engine(settings.database_url)
    migrate(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Few worker threads: the work is mostly Python under one GIL, and SQLite has one writer.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        # What start-up built lives as long as the process: keep it out of the collector's full passes.
        gc.freeze()
        if app.state.sr_store is not None:
            app.state.sr_store.start()
        periodic = None
        if background and settings.background is BackgroundMode.auto:
            periodic = PeriodicReevaluation(engine, settings.reevaluation_interval_seconds).start()
        yield
        if periodic is not None:
            await anyio.to_thread.run_sync(periodic.stop)
        await anyio.to_thread.run_sync(app.state.grading_writer.drain, 30.0)  # gradings still being written
        app.state.pull_runner.shutdown()
        if app.state.sr_store is not None:
            await anyio.to_thread.run_sync(app.state.sr_store.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="Modic grading & registry",
        version="0.1.0",
        description="Nordic Modic grading of low-field lumbar MRI, trial eligibility and rater agreement.",
        docs_url=None,  # served by install_openapi, from local files
        openapi_url=f"{API_PREFIX}/openapi.json",
        dependencies=[Depends(check_parameters)],
    )
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(RequestMetrics)
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = open_store(settings)
    app.state.token_cache = TokenCache(settings.token_cache_seconds, epoch_seconds=settings.revocation_check_seconds)
    app.state.auth_brake = FailureBrake(settings.auth_failures_allowed, settings.auth_failure_window_seconds)
    app.state.grading_writer = GradingWriter(engine)
    app.state.pull_runner = PullRunner(
        engine, app.state.store, expected_field_strength_t=settings.expected_field_strength_t
    )
    sr_config = sr_store_config(settings)
    app.state.sr_store = None if sr_config is None else SrStore(engine, sr_config)
    install_error_handlers(app)
    for router in (
        health.router,
        me.router,
        studies.router,
        assignments.router,
        series.router,
        gradings.router,
        reliability.router,
        agreement.router,
        trials.router,
        protocols.router,
        eligibility.router,
        screening.router,
        enrolment.router,
        allocation.router,
        exports.router,
        pulls.router,
        sr_deliveries.router,
        users.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(metrics_router)
    install_openapi(app, f"{API_PREFIX}/openapi.json")
    mount_page(app)
    return app
