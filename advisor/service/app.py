"""The HTTP API of ``advisor serve``: FastAPI routes over the job store and the supervisor.

The web process profiles uploads (to refuse bad input before a job exists), stores them, queues
jobs and reads their state; it never imports TensorFlow — trials run in the supervisor's spawned
worker processes. Every error is ``{"error": "<one line>"}``: the CLI's message for bad data
(400) and bad options (422), and 401, 404, 409, 413 and 429 as the API contract says.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.suggest import did_you_mean
from advisor.base.version import __version__
from advisor.service.store import Conflict, Job, QueueFull, Store
from advisor.service.supervisor import Supervisor
from advisor.service.uploads import (
    Form,
    UploadError,
    keep,
    leftover_temp_files,
    receive_form,
    relabel,
    relabel_error,
)

log = logging.getLogger("advisor.serve")

MAX_ATTEMPTS = 3
RETRY_AFTER_SECONDS = 10
LONG_POLL_SECONDS = 0.025  # how often a long-polling request looks at its job's progress
# A submission with ``Prefer: wait=N`` (RFC 7240) is answered once its job has finished, or after
# at most this many seconds; a finished job's end is announced, so it looks again only this often.
MAX_PREFER_WAIT = 30
FINISH_RECHECK_SECONDS = 0.5
# The recommend options a job takes as form fields (the Options fields a client may set; rules
# files, jobs and memory limits are the server's business).
JOB_FIELDS = ("target", "task", "domain", "metric", "model", "output", "budget", "validate",
              "seed", "candidates", "fn_cost", "fp_cost", "under_cost", "over_cost",
              "calibration", "encoding")
PROFILE_FIELDS = ("target", "task", "encoding", "seed")
_FLOATS = ("budget", "fn_cost", "fp_cost", "under_cost", "over_cost")
_INTS = ("seed", "candidates")
_BOOLS = ("validate", "calibration")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass
class Settings:
    data_dir: Path
    token: str | None = None
    jobs: int = 1
    max_upload_mb: float = 100.0
    max_budget: float = 600.0
    queue_limit: int = 100
    max_attempts: int = MAX_ATTEMPTS
    warm: bool = True
    stale_seconds: float = 120.0  # no heartbeat for this long: the job's worker is stopped
    scheduler: str | None = None  # every job's trials run on this Dask cluster (operator's choice)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


class Changes:
    """Wakes long-polling requests the moment the supervisor hears a job finished (its start
    and progress are only in its row: the requests look at it every LONG_POLL_SECONDS too)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        """From any thread: wake every waiting request."""
        with self._lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # its event loop is closed

    @asynccontextmanager
    async def watch(self):
        """An event set by the next :meth:`notify` (take it before looking at the job, so a
        change between the look and the wait is not missed)."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.add(waiter)
        try:
            yield waiter[1]
        finally:
            with self._lock:
                self._waiting.discard(waiter)


class Service:
    """The data folder (locked: one server per folder), the store and the supervisor."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir).expanduser().resolve()
        self.uploads_dir = self.data_dir / "uploads"
        self.cache_dir = self.data_dir / "cache"
        self.store = Store(self.data_dir / "advisor.db")
        self.changes = Changes()
        self.supervisor = Supervisor(self.data_dir / "advisor.db", self.uploads_dir,
                                     self.cache_dir, workers=settings.jobs,
                                     warm=settings.warm and not settings.scheduler,
                                     stale_seconds=settings.stale_seconds,
                                     scheduler=settings.scheduler,
                                     on_change=self.changes.notify)
        self._lock_file = None
        self._profiles: OrderedDict[tuple, Any] = OrderedDict()
        self._reports: OrderedDict[tuple, str] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self._rulebook = None

    def open(self) -> None:
        """Take the data folder (refusing one another server holds) and prepare it."""
        try:
            self.uploads_dir.mkdir(parents=True, exist_ok=True)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AdvisorError(
                f"Cannot use the data folder {self.data_dir}: {exc.strerror or exc}. Pass "
                "--data-dir DIR you can write to.") from None
        handle = open(self.data_dir / "server.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AdvisorError(
                f"Another advisor serve ({holder}) is using the data folder {self.data_dir}; "
                "stop it, or pass another --data-dir.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock_file = handle
        self.store.init()
        for path in leftover_temp_files(self.uploads_dir):  # a killed server's half uploads
            path.unlink(missing_ok=True)

    def start(self) -> None:
        if self._lock_file is None:
            self.open()
        self.supervisor.start()
        # What the first upload's check needs, imported now rather than during a request.
        import advisor.criteria
        import advisor.profiling  # noqa: F401

        self.rulebook()

    def close(self) -> None:
        self.supervisor.stop()
        self.store.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- the checks a request passes before a job exists --------------------------------------

    def rulebook(self):
        if self._rulebook is None:
            from advisor.rules import RuleBook

            self._rulebook = RuleBook.load(())
        return self._rulebook

    def profile(self, path: Path, label: str, sha256: str, target: str | None, task: str | None,
                encoding: str | None, seed: int):
        """The profile of an upload (memoised by content and arguments); an AdvisorError with
        the CLI's message, naming the client's file, for bad data."""
        key = (sha256, label, target, task, encoding, seed)
        with self._memo_lock:
            if key in self._profiles:
                self._profiles.move_to_end(key)
                cached = self._profiles[key]
                if isinstance(cached, AdvisorError):
                    raise cached
                return cached
        from advisor.profiling import profile

        try:
            with self._checks:
                prof = profile(str(path), target, task=task, encoding=encoding, seed=seed)
            prof = type(prof).from_dict(relabel(prof.to_dict(), str(path), label))
            outcome = prof
        except AdvisorError as exc:
            outcome = relabel_error(exc, str(path), label)
        except Exception as exc:
            log.warning("profiling upload %s failed", sha256, exc_info=True)  # says it (exit 1)
            outcome = AdvisorError(relabel(f"internal error: {type(exc).__name__}: {exc}",
                                           str(path), label))
        with self._memo_lock:
            self._profiles[key] = outcome
            while len(self._profiles) > 256:
                self._profiles.popitem(last=False)
        if isinstance(outcome, AdvisorError):
            raise outcome
        return outcome

    def check_job(self, path: Path, label: str, sha256: str, target: str, options):
        """Everything the CLI would refuse before its first trial: the table, the target, the
        options against the data. Returns the upload's profile (naming the client's file), which
        the job's worker then reuses instead of profiling the table again."""
        from advisor.criteria import criteria_for

        prof = self.profile(path, label, sha256, target, options.task, options.encoding,
                            options.seed)
        criteria_for(prof, options, known_domains=self.rulebook().domains)
        return prof

    def report(self, job: Job, fmt: str) -> str:
        key = (job.id, fmt)
        with self._memo_lock:
            if key in self._reports:
                return self._reports[key]
        text = render_report(job, fmt)
        with self._memo_lock:
            self._reports[key] = text
            while len(self._reports) > 32:
                self._reports.popitem(last=False)
        return text


def render_report(job: Job, fmt: str) -> str:
    """The job's report, rendered from its result alone (the report never reads the input, so
    the client's file name in ``input.path`` is only ever a label, escaped by the templates).
    As JSON: the result as ``advisor recommend --format json`` prints it (stored compact)."""
    if fmt == "json":
        return json.dumps(json.loads(job.result), indent=2, allow_nan=False)
    from advisor.pipeline import Recommendation
    from advisor.reporting import render

    return render(Recommendation.from_dict(json.loads(job.result)), fmt)


# -- request parsing ------------------------------------------------------------------------------


def parse_fields(fields: dict[str, str], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Form fields as typed values (an empty field counts as absent); UsageError otherwise."""
    typed: dict[str, Any] = {}
    for name, raw in fields.items():
        if name not in allowed:
            raise UsageError(f"Unknown form field '{name}'.{did_you_mean(name, allowed)} "
                             f"Expected: file, {', '.join(allowed)}.")
        value = raw.strip()
        if value == "":
            continue
        if name in _FLOATS:
            try:
                number = float(value)
            except ValueError:
                raise UsageError(f"Invalid value for '{name}': '{value}' is not a valid "
                                 "number.") from None
            if not math.isfinite(number):
                raise UsageError(f"Invalid value for '{name}': '{value}' is not a finite number.")
            typed[name] = number
        elif name in _INTS:
            try:
                typed[name] = int(value)
            except ValueError:
                raise UsageError(f"Invalid value for '{name}': '{value}' is not a valid "
                                 "integer.") from None
        elif name in _BOOLS:
            if value.lower() in _TRUE:
                typed[name] = True
            elif value.lower() in _FALSE:
                typed[name] = False
            else:
                raise UsageError(f"Invalid value for '{name}': '{value}' is not a valid boolean "
                                 "(true or false).")
        elif name == "task" and value == "auto":
            continue
        elif not value.isprintable():
            raise UsageError(f"Invalid value for '{name}': it holds control characters.")
        else:
            typed[name] = value
    return typed


def job_options(typed: dict[str, Any], max_budget: float):
    """The recommend options of a job, checked as the CLI checks them."""
    from advisor.criteria import Options

    fields = {k: v for k, v in typed.items() if k != "target"}
    if "seed" in fields and not -2**63 <= fields["seed"] < 2**63:
        raise UsageError(f"Invalid value for 'seed': {fields['seed']} is out of range.")
    options = Options(**fields).checked()
    if options.validate and options.budget > max_budget:
        raise UsageError(f"--budget {options.budget:g} is above this server's limit of "
                         f"{max_budget:g} seconds (--max-budget); ask for at most "
                         f"{max_budget:g}.")
    return options


def stored_options(options) -> dict[str, Any]:
    data = options.to_dict()
    return {name: data[name] for name in JOB_FIELDS if name in data}


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds"
                                                                      ).replace("+00:00", "Z")


def job_document(job: Job, *, with_result: bool = True) -> dict[str, Any]:
    base = f"/v1/jobs/{job.id}"
    document = {
        "id": job.id,
        "state": job.state,
        "progress": {"phase": job.phase, "done": job.done, "total": job.total},
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "heartbeat_at": iso(job.heartbeat_at),
        "filename": job.filename,
        "target": job.target,
        "options": job.options,
        "upload_sha256": job.upload_sha256,
        "worker_pid": job.worker_pid if job.state == "running" else None,
        "links": {"self": base, "cancel": f"{base}/cancel",
                  "report": {fmt: f"{base}/report.{fmt}" for fmt in ("html", "md", "json")}},
    }
    if with_result:
        document["result"] = None
    return document


def job_response(job: Job, status: int = 200, headers: dict | None = None) -> Response:
    """The job as JSON, its result document spliced in as stored (not parsed and re-dumped)."""
    text = json.dumps(job_document(job))
    if job.result is not None:
        assert text.endswith('"result": null}')
        text = text[:-len("null}")] + job.result + "}"
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status,
                        headers=headers)


def advisor_error(exc: AdvisorError) -> JSONResponse:
    return error(422 if isinstance(exc, UsageError) else 400, str(exc))


# -- OpenAPI documentation of the responses -------------------------------------------------------


class ErrorBody(BaseModel):
    error: str = Field(description="One line: the same message the command line prints.")


class Progress(BaseModel):
    phase: str
    done: int
    total: int


class JobBody(BaseModel):
    id: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: Progress
    attempts: int
    max_attempts: int
    error: str | None
    result: dict[str, Any] | None = Field(
        None, description="The `advisor recommend --format json` document, once succeeded.")
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    filename: str
    target: str
    options: dict[str, Any]
    upload_sha256: str
    worker_pid: int | None
    links: dict[str, Any]


class JobList(BaseModel):
    jobs: list[dict[str, Any]]


class Health(BaseModel):
    status: str
    version: str
    workers: int
    jobs: dict[str, int]


def _errors(*codes: int) -> dict[int, dict]:
    return {code: {"model": ErrorBody} for code in codes}


_FILE_SCHEMA = {"type": "string", "format": "binary",
                "description": "The table: CSV/TSV (any common dialect), gzip/bz2/xz/zip, Parquet."}
_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_JOB_FORM = {
    "type": "object",
    "required": ["file", "target"],
    "properties": {
        "file": _FILE_SCHEMA,
        "target": {**_STRING, "description": "Target column; several as a,b,c (multilabel)."},
        "task": {"type": "string", "enum": ["auto", "binary", "multiclass", "multilabel",
                                            "regression", "count"]},
        "domain": {**_STRING, "description": "generic, medical, fraud, finance, insurance, "
                                             "forecasting, marketing, manufacturing"},
        "metric": _STRING,
        "model": {"type": "string", "enum": ["mlp", "linear", "cnn", "rnn", "transformer"]},
        "output": {"type": "string", "enum": ["logits", "probabilities"]},
        "budget": {**_NUMBER, "description": "Seconds of validation trials (at most the "
                                             "server's --max-budget)."},
        "validate": {"type": "boolean"},
        "seed": {"type": "integer"},
        "candidates": {"type": "integer", "minimum": 1},
        "fn_cost": _NUMBER, "fp_cost": _NUMBER, "under_cost": _NUMBER, "over_cost": _NUMBER,
        "calibration": {"type": "boolean"},
        "encoding": _STRING,
    },
}
_PROFILE_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": _FILE_SCHEMA,
                   "target": {**_STRING, "description": "Default: a column named target, label, "
                                                        "y, class or outcome, else the last."},
                   "task": _JOB_FORM["properties"]["task"], "encoding": _STRING,
                   "seed": {"type": "integer"}},
}


def _form_body(schema: dict) -> dict:
    return {"requestBody": {"required": True,
                            "content": {"multipart/form-data": {"schema": schema}}}}


# -- the app --------------------------------------------------------------------------------------


def create_app(service: Service) -> FastAPI:
    """The app over ``service``: its lifespan starts and stops the workers."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    app = FastAPI(title="Loss Advisor", version=__version__, lifespan=lifespan,
                  description="Which loss should this Keras model train with? Submit a table, "
                              "get the advisor's recommendation as a job.")

    _error_handlers(app)
    _open_routes(app, service)
    api = APIRouter(prefix="/v1", dependencies=[Depends(_token_check(service.settings.token))],
                    responses=_errors(401))
    _upload_routes(api, service)
    _job_routes(api, service)
    app.include_router(api)
    return app


def _token_check(secret: str | None):
    """The dependency every /v1 route has: the bearer token, compared in constant time."""
    bearer = HTTPBearer(auto_error=False, description="The server's --token, when it has one.")
    token = secret.encode() if secret else None

    def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token is None:
            return
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, token):
            raise StarletteHTTPException(
                401, "Missing or wrong token: send the server's --token as "
                     "'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": "Bearer"})

    return require_token


def _error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": "<one line>"}``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Allow: every method of the path, not just one route's
            methods = set()
            for route in app.routes:
                if getattr(route, "path_regex", None) and route.path_regex.match(request.url.path):
                    methods |= set(getattr(route, "methods", None) or ())
            headers["Allow"] = ", ".join(sorted(methods))
        return error(exc.status_code, str(exc.detail), headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = exc.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        where = [str(part) for part in first.get("loc", ())]
        name = where[-1] if len(where) > 1 else "request"
        place = f" ({where[0]})" if where else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return error(422, f"Invalid value for '{name}'{place}: {first.get('msg')}.{more}")

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError):
        return error(exc.status, exc.message, {"Connection": "close"} if exc.status == 413
                     else None)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect):
        return error(400, "The client disconnected before sending the whole request.")

    @app.exception_handler(AdvisorError)
    async def advisor_failure(request: Request, exc: AdvisorError):
        return advisor_error(exc)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(500, f"internal error: {type(exc).__name__}: {exc}")


def _open_routes(app: FastAPI, service: Service) -> None:
    """What needs no token: the health check and the web page (which asks for the token)."""

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> dict:
        """The server is up: its version, live workers and queue."""
        return {"status": "ok", "version": __version__, "workers": service.supervisor.alive(),
                "jobs": {"queued": service.store.count("queued"),
                         "running": service.store.count("running")}}

    page = _static("index.html")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _STATIC:
            return error(404, f"No static file '{name}'.")
        return Response(_static(name), media_type=_STATIC[name], headers=_PAGE_HEADERS)


def _upload_routes(api: APIRouter, service: Service) -> None:
    """The routes that take a table: profile it, or queue a job for it."""
    settings = service.settings

    async def read_form(request: Request) -> Form:
        limit = settings.max_upload_bytes
        try:
            return await receive_form(request.headers, request.stream(), service.uploads_dir,
                                      limit)
        except UploadError as exc:
            declared = request.headers.get("content-length", "")
            if exc.status == 413 and not (declared.isdigit() and int(declared) > limit + 2**20):
                await _drain(request, 4 * limit + 64 * 2**20)
            raise

    @api.post("/profile", tags=["advisor"], openapi_extra=_form_body(_PROFILE_FORM),
              responses={200: {"description": "The `advisor profile --format json` document.",
                               "content": {"application/json": {"schema": {"type": "object"}}}},
                         **_errors(400, 413, 422)})
    async def profile_upload(request: Request) -> Response:
        """Profile a table, synchronously: task, class balance, target, features, label noise."""
        form = await read_form(request)
        try:
            received = _require_file(form)
            typed = parse_fields(form.fields, PROFILE_FIELDS)
            from advisor.criteria import Options

            Options(task=typed.get("task")).checked()
            prof = await run_in_threadpool(
                service.profile, received.path, received.label, received.sha256,
                typed.get("target"), typed.get("task"), typed.get("encoding"),
                typed.get("seed", 0))
        finally:
            if form.file is not None:
                form.file.discard()
        return Response(prof.to_json(), media_type="application/json")

    @api.post("/jobs", status_code=202, tags=["jobs"], openapi_extra=_form_body(_JOB_FORM),
              response_model=JobBody,
              responses={200: {"model": JobBody, "description": "With `Prefer: wait=N`: the job "
                                                                "finished within the wait."},
                         409: {"model": ErrorBody, "description": "The Idempotency-Key was used "
                                                                   "for another request."},
                         429: {"model": ErrorBody, "description": "The queue is full; retry "
                                                                   "after Retry-After seconds."},
                         **_errors(400, 413, 422)})
    async def submit(request: Request,
                     idempotency_key: str | None = Header(
                         None, max_length=255, pattern=r"^[\x21-\x7e]+$",
                         description="Repeat a submission safely: the same key and request "
                                     "return the same job."),
                     prefer: str | None = Header(
                         None, max_length=255, description=(
                             f"`wait=N` (RFC 7240): answer once the job has finished (200, "
                             f"with its result), or after N seconds (at most "
                             f"{MAX_PREFER_WAIT}) with 202 as usual. Saves a small job the "
                             f"status request."))) -> Response:
        """Queue a recommend job for a table (202); poll its Location for the outcome. With
        `Prefer: wait=N`, a job that finishes within N seconds is answered at once (200)."""
        wait = prefer_wait(prefer)
        form = await read_form(request)
        try:
            received = _require_file(form)
            typed = parse_fields(form.fields, JOB_FIELDS)
            if not typed.get("target"):
                raise UsageError("Missing form field 'target': name the target column "
                                 "(target=COLUMN, or a,b,c for multilabel).")
            options = job_options(typed, settings.max_budget)
            # One trip to a thread for the rest: every hop costs a small job a little.
            outcome = await run_in_threadpool(_accept, service, received, typed["target"],
                                              options, idempotency_key)
        finally:
            if form.file is not None:
                form.file.discard()  # kept uploads were moved away; this removes the rest
        if isinstance(outcome, Response):
            return outcome
        job, created = outcome
        headers = {"Location": f"/v1/jobs/{job.id}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        if wait is None:
            return job_response(job, 202, headers)
        headers["Preference-Applied"] = f"wait={wait}"
        if not job.finished and wait > 0:
            job = await watch_job(service, job.id, wait, any_change=False)
        return job_response(job, 200 if job.finished else 202, headers)


def _accept(service: Service, received, target: str, options, idempotency_key: str | None
            ) -> Response | tuple[Job, bool]:
    """Everything between a parsed request and its job: the idempotency replay, load shedding,
    the check (while the upload goes to disk), the stored upload, the queued job. Returns the
    (job, created) pair, or the response that replaces the job (a replay, 409, 429)."""
    settings, store = service.settings, service.store
    stored = stored_options(options)
    request_hash = hashlib.sha256(json.dumps(
        [received.sha256, received.label, target, stored], sort_keys=True).encode()).hexdigest()
    if idempotency_key is not None:
        seen = _replay(store, idempotency_key, request_hash)
        if seen is not None:
            return seen
    waiting = store.count("queued")
    if waiting >= settings.queue_limit:  # shed load before profiling (checked again below)
        return _queue_full(waiting, settings)
    received.sync_soon(service.uploads_dir)  # while the table is checked; keep() waits for it
    prof = service.check_job(received.path, received.label, received.sha256, target, options)
    name = keep(received, service.uploads_dir, later=True)
    store.add_upload(received.sha256, name, received.size)
    try:
        job, created = store.submit(
            upload_sha256=received.sha256, filename=received.label, target=target,
            options=stored, request_hash=request_hash, idempotency_key=idempotency_key,
            queue_limit=settings.queue_limit, max_attempts=settings.max_attempts,
            profile=prof.to_json(indent=None))
    except Conflict as exc:
        return _conflict(idempotency_key, str(exc))
    except QueueFull as exc:
        return _queue_full(exc.args[0], settings)
    service.supervisor.wake()
    return job, created


def _queue_full(waiting: int, settings: Settings) -> JSONResponse:
    return error(429, f"The queue is full ({waiting} jobs waiting, --queue-limit "
                      f"{settings.queue_limit}); retry after {RETRY_AFTER_SECONDS} s.",
                 {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _job_routes(api: APIRouter, service: Service) -> None:
    """Jobs: list, read (long polling), cancel, reports."""

    @api.get("/jobs", response_model=JobList, tags=["jobs"], responses=_errors(422))
    def list_jobs(state: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None
                  = Query(None, description="Only jobs in this state."),
                  limit: int = Query(50, ge=1, le=1000)) -> Response:
        """Jobs, newest first (without their result documents)."""
        jobs = service.store.list(state, limit)
        body = {"jobs": [job_document(job, with_result=False) for job in jobs]}
        return Response(json.dumps(body), media_type="application/json")

    @api.get("/jobs/{job_id}", response_model=JobBody, tags=["jobs"],
             responses=_errors(404, 422))
    async def get_job(job_id: str = _JOB_ID,
                      wait: float = Query(0, ge=0, le=60, description=(
                          "Long polling: answer as soon as the job's state or progress changes "
                          "(or it is finished), waiting at most this many seconds."))
                      ) -> Response:
        """A job: its state, progress, attempts, error, and once succeeded the result."""
        if wait <= 0:
            return job_response(await run_in_threadpool(_find, service.store, job_id))
        return job_response(await watch_job(service, job_id, wait, any_change=True))

    @api.post("/jobs/{job_id}/cancel", response_model=JobBody, tags=["jobs"],
              responses=_errors(404, 409))
    def cancel_job(job_id: str = _JOB_ID) -> Response:
        """Cancel a queued or running job (a running job's worker is stopped)."""
        job = _find(service.store, job_id)
        if job.state in ("succeeded", "failed"):
            return error(409, f"Job {job_id} already {job.state}; there is nothing to cancel.")
        job = service.store.cancel(job_id)
        service.supervisor.wake()
        if job.state in ("succeeded", "failed"):  # it finished while we were asking
            return error(409, f"Job {job_id} already {job.state}; there is nothing to cancel.")
        return job_response(job)

    @api.get("/jobs/{job_id}/report.{fmt}", tags=["jobs"],
             responses={200: {"description": "The report: HTML page, Markdown or the JSON "
                                             "document.",
                              "content": {"text/html": {}, "text/markdown": {},
                                          "application/json": {}}},
                        **_errors(404, 409)})
    async def report(job_id: str = _JOB_ID,
                     fmt: Literal["html", "md", "json"] = PathParam(
                         ..., description="html, md or json")) -> Response:
        """The report of a succeeded job (409 before it has succeeded)."""
        job = await run_in_threadpool(_find, service.store, job_id)
        if job.state != "succeeded":
            how = {"queued": "is queued", "running": "is running"}.get(job.state)
            if how:
                return error(409, f"Job {job_id} {how}; its report exists once it has "
                                  f"succeeded. Poll GET /v1/jobs/{job_id}.")
            return error(409, f"Job {job_id} {job.state} ({job.error}); it has no report.")
        text = await run_in_threadpool(service.report, job, fmt)
        if fmt == "json":
            return Response(text, media_type="application/json")
        if fmt == "html":
            return HTMLResponse(text, headers=_REPORT_HEADERS)
        return Response(text, media_type="text/markdown; charset=utf-8")


async def watch_job(service: Service, job_id: str, wait: float, *, any_change: bool) -> Job:
    """The job once it has finished — or, with ``any_change``, once its state or progress
    differs from the first look — or as it is after ``wait`` seconds. Woken at once when a
    worker reports a finished job; progress is only in the job's row, so with ``any_change``
    the row is looked at every LONG_POLL_SECONDS."""
    deadline = time.monotonic() + wait
    recheck = LONG_POLL_SECONDS if any_change else FINISH_RECHECK_SECONDS
    seen = None
    while True:
        async with service.changes.watch() as changed:
            job = await run_in_threadpool(_find, service.store, job_id)
            now = (job.state, job.phase, job.done, job.total)
            left = deadline - time.monotonic()
            if job.finished or (any_change and now != (seen or now)) or left <= 0:
                return job
            seen = now
            try:
                await asyncio.wait_for(changed.wait(), min(recheck, left))
            except asyncio.TimeoutError:
                pass


def prefer_wait(header: str | None) -> int | None:
    """The seconds of a ``Prefer: wait=N`` header (RFC 7240; capped at MAX_PREFER_WAIT), or
    None without one. Preferences the server does not understand, or a malformed wait, are
    ignored, as the RFC asks."""
    if not header:
        return None
    for preference in header.split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "wait":
            value = value.strip().strip('"')
            if value.isdigit():
                return min(int(value), MAX_PREFER_WAIT)
    return None


def _require_file(form: Form):
    if form.file is None:
        if form.file_field_was_text:
            raise UsageError("The form field 'file' must be a file upload, not text: the "
                             "server reads only what is uploaded (curl -F file=@data.csv).")
        raise UsageError("No file: send the table as a multipart file part named 'file' "
                         "(curl -F file=@data.csv -F target=y).")
    return form.file


def _find(store: Store, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise StarletteHTTPException(404, f"Unknown job '{job_id[:64]}'.")
    return job


def _replay(store: Store, key: str, request_hash: str) -> Response | None:
    """The response for an idempotency key seen before, or None for a new key."""
    row = store.connection().execute(
        "SELECT id, request_hash FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        return _conflict(key, row["id"])
    job = store.get(row["id"])
    return job_response(job, 202, {"Location": f"/v1/jobs/{job.id}",
                                   "Idempotent-Replayed": "true"})


def _conflict(key: str, job_id: str) -> JSONResponse:
    return error(409, f"Idempotency-Key '{key}' was used for a different request (job "
                      f"{job_id}); use a new key for a new request.")


async def _drain(request: Request, limit: int) -> None:
    """Read and drop the rest of a refused body (up to ``limit`` bytes and 30 s), so a client
    still sending it can finish and read the 413 instead of a reset connection."""
    import anyio

    seen = 0
    with anyio.move_on_after(30):
        try:
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > limit:
                    return
        except Exception:
            return


_JOB_ID = PathParam(..., max_length=64, description="The job's id.")
_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
# The page runs only its own script; the report it shows (an iframe's srcdoc, which inherits
# this policy, and is sandboxed) needs inline styles and data: pictures.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                               "frame-src 'self'; form-action 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "sandbox",
    "X-Content-Type-Options": "nosniff",
}


def _static(name: str) -> str:
    return (resources.files("advisor.service") / "static" / name).read_text("utf-8")
