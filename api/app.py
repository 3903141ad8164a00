"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI

from api.errors import install_error_handlers
from api.guard import RequestGuard, check_parameters
from api.openapi import install_openapi
from api.routers import (
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
    studies,
    trials,
    users,
)
from api.web import mount_page
from registry import crypto
from registry.db import get_engine, migrate
from registry.imaging.store import FileStore
from registry.security import FailureBrake
from registry.services.grading_writer import GradingWriter
from registry.services.pulls import PullRunner
from registry.services.users import TokenCache
from registry.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app on ``settings`` (default: the environment); migrates the database first.

    Without a usable ``MODIC_PATIENT_KEY`` this fails at once (:class:`registry.crypto.PatientKeyError`).
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
        yield
        await anyio.to_thread.run_sync(app.state.grading_writer.drain, 30.0)  # gradings still being written
        app.state.pull_runner.shutdown()

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
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = FileStore.of(settings)
    app.state.token_cache = TokenCache(settings.token_cache_seconds, epoch_seconds=settings.revocation_check_seconds)
    app.state.auth_brake = FailureBrake(settings.auth_failures_allowed, settings.auth_failure_window_seconds)
    app.state.grading_writer = GradingWriter(engine)
    app.state.pull_runner = PullRunner(
        engine, app.state.store, expected_field_strength_t=settings.expected_field_strength_t
    )
    install_error_handlers(app)
    for router in (
        health.router,
        me.router,
        studies.router,
        assignments.router,
        series.router,
        gradings.router,
        reliability.router,
        trials.router,
        protocols.router,
        eligibility.router,
        screening.router,
        enrolment.router,
        allocation.router,
        exports.router,
        pulls.router,
        users.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    install_openapi(app, f"{API_PREFIX}/openapi.json")
    mount_page(app)
    return app
