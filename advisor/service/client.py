"""``advisor.Client``: the advisor through a running ``advisor serve``, from Python.

    client = advisor.Client("http://127.0.0.1:8000", token=None)
    rec = client.recommend("data.csv", target="y", domain="medical", budget=60)
    job = client.recommend("data.csv", target="y", wait=False)   # a handle: .status() .wait() …

``recommend`` returns the same :class:`~advisor.pipeline.Recommendation` as
``advisor.recommend`` (rebuilt from the job's JSON document); the server's errors are raised as
:class:`~advisor.AdvisorError` (:class:`~advisor.UsageError` for bad options) with the server's
one-line message. Needs no TensorFlow: the server's workers run the trials.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.suggest import did_you_mean
from advisor.service.store import FINISHED

# recommend()'s options the service takes (as form fields of the same names).
SERVICE_OPTIONS = ("task", "domain", "metric", "model", "output", "budget", "validate", "seed",
                   "candidates", "fn_cost", "fp_cost", "under_cost", "over_cost", "calibration",
                   "encoding")
_LOCAL_ONLY = ("rules", "jobs", "memory_limit_mb", "model_fn", "cache", "plan", "y", "options",
               "command")
TRANSPORT_RETRIES = 3
LONG_POLL = 30.0  # seconds the server may hold a status request (it answers on any change)


class Client:
    """A connection to ``advisor serve`` at ``url`` (with its ``--token``, if it has one)."""

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, *,
                 timeout: float = 300.0):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the advisor's verbs ------------------------------------------------------------------

    def profile(self, data, target: str | None = None, *, task: str | None = None,
                encoding: str | None = None, seed: int = 0):
        """``advisor.profile`` on the server: the :class:`~advisor.DatasetProfile`."""
        from advisor.profiling import DatasetProfile

        fields = _fields({"target": target, "task": task, "encoding": encoding, "seed": seed})
        response = self._send("POST", "/v1/profile", data=fields, upload=data)
        return DatasetProfile.from_dict(response.json())

    def recommend(self, data, target: str | None = None, *, wait: bool = True,
                  timeout: float | None = None, idempotency_key: str | None = None,
                  progress: Callable[[str, int, int], None] | None = None, **options):
        """``advisor.recommend`` on the server. ``data`` is a path or a DataFrame (sent as
        Parquet). With ``wait`` (the default) returns the :class:`Recommendation`; else the
        :class:`Job` handle at once. ``progress(phase, done, total)`` is called while waiting."""
        # Waiting without progress reports: the submission itself waits for a quick job
        # (Prefer: wait), which spares a small job its status request.
        hold = None if not wait or progress is not None else LONG_POLL
        if hold is not None and timeout is not None:
            hold = min(hold, timeout)
        start = time.monotonic()
        job = self.submit(data, target, idempotency_key=idempotency_key, prefer_wait=hold,
                          **options)
        if not wait:
            return job
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        return job.wait(left, progress=progress)

    def submit(self, data, target: str | None = None, *, idempotency_key: str | None = None,
               prefer_wait: float | None = None, **options) -> Job:
        """Queue a job; returns its :class:`Job` handle. Safe to retry: a transport failure is
        retried with the same Idempotency-Key, so the server makes one job. ``prefer_wait``:
        seconds the server may hold the answer until the job has finished (``Prefer: wait``);
        the handle then already holds the outcome."""
        for name in options:
            if name in _LOCAL_ONLY:
                raise UsageError(f"'{name}' is not available through the service; call "
                                 f"advisor.recommend(..., {name}=...) in-process instead.")
            if name not in SERVICE_OPTIONS:
                raise TypeError(f"recommend() got an unexpected keyword argument '{name}'"
                                f"{did_you_mean(name, SERVICE_OPTIONS)}")
        if target is None:
            raise UsageError("Pass target='COLUMN' (or 'a,b,c' for multilabel): the service "
                             "needs the target column.")
        fields = _fields({"target": target, **options})
        key = idempotency_key or uuid.uuid4().hex
        headers = {"Idempotency-Key": key}
        if prefer_wait is not None:
            headers["Prefer"] = f"wait={max(0, int(prefer_wait))}"
        response = self._send("POST", "/v1/jobs", data=fields, upload=data, headers=headers)
        return Job(self, response.json())

    def job(self, job_id: str) -> Job:
        return Job(self, self._send("GET", f"/v1/jobs/{job_id}").json())

    def jobs(self, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        params = {"limit": limit, **({"state": state} if state else {})}
        return self._send("GET", "/v1/jobs", params=params).json()["jobs"]

    def health(self) -> dict[str, Any]:
        return self._send("GET", "/healthz").json()

    # -- HTTP -----------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, upload=None, **kwargs) -> httpx.Response:
        for attempt in range(TRANSPORT_RETRIES):
            try:
                if upload is None:
                    response = self._http.request(method, path, **kwargs)
                else:
                    name, handle = _open_upload(upload)
                    with handle:
                        response = self._http.request(method, path, files={"file": (name, handle)},
                                                      **kwargs)
                break
            except httpx.TransportError as exc:
                # Only requests that are safe to repeat are retried: reads, and submissions
                # carrying an Idempotency-Key.
                safe = method == "GET" or "Idempotency-Key" in (kwargs.get("headers") or {})
                if not safe or attempt == TRANSPORT_RETRIES - 1:
                    raise AdvisorError(f"Cannot reach the advisor service at {self.url}: "
                                       f"{exc or type(exc).__name__}.") from None
                time.sleep(0.5 * 2 ** attempt)
        if response.status_code >= 400:
            raise _server_error(response)
        return response


class Job:
    """A job on the server: ``.id``, ``.state``, ``.status()``, ``.wait()``, ``.cancel()``,
    ``.result()``, ``.report(fmt)``."""

    def __init__(self, client: Client, document: dict[str, Any]):
        self._client = client
        self.id: str = document["id"]
        self.document = document

    def __repr__(self) -> str:
        return f"<advisor job {self.id} {self.state}>"

    @property
    def state(self) -> str:
        return self.document["state"]

    def status(self) -> dict[str, Any]:
        """The job's current document (state, progress, attempts, error, result…)."""
        self.document = self._client._send("GET", f"/v1/jobs/{self.id}").json()
        return self.document

    def wait(self, timeout: float | None = None, *,
             progress: Callable[[str, int, int], None] | None = None):
        """Wait until the job finishes; its :class:`Recommendation`, or AdvisorError when it
        failed or was cancelled, or TimeoutError after ``timeout`` seconds."""
        if self.state in FINISHED and progress is None:
            return self.result()  # the submission's answer already holds the outcome
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        while True:
            left = LONG_POLL if deadline is None else max(0.0, deadline - time.monotonic())
            document = self._client._send("GET", f"/v1/jobs/{self.id}",
                                          params={"wait": f"{min(left, LONG_POLL):.3f}"}).json()
            self.document = document
            if progress is not None:
                step = document["progress"]
                now = (step["phase"], step["done"], step["total"])
                if now != seen:
                    seen = now
                    progress(*now)
            if document["state"] in FINISHED:
                return self.result()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"Job {self.id} is still {document['state']} after "
                                   f"{timeout:g} s.")

    def result(self):
        """The :class:`Recommendation` of a succeeded job; AdvisorError otherwise."""
        from advisor.pipeline import Recommendation

        document = self.document if self.document.get("result") else self.status()
        state = document["state"]
        if state == "succeeded":
            return Recommendation.from_dict(document["result"])
        if state == "failed":
            raise AdvisorError(document["error"] or f"Job {self.id} failed.")
        if state == "cancelled":
            raise AdvisorError(f"Job {self.id} was cancelled.")
        raise AdvisorError(f"Job {self.id} is {state}; its result exists once it has "
                           "succeeded (job.wait()).")

    def cancel(self) -> dict[str, Any]:
        self.document = self._client._send("POST", f"/v1/jobs/{self.id}/cancel").json()
        return self.document

    def report(self, fmt: str = "html") -> str:
        """The job's report as text: ``"html"``, ``"md"`` or ``"json"``."""
        return self._client._send("GET", f"/v1/jobs/{self.id}/report.{fmt}").text


def _fields(values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out


def _open_upload(data):
    """(file name, open binary file) for a path or a DataFrame (sent as Parquet). The name is a
    label the server puts in messages and results; it never opens it."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        try:
            return str(data), open(path, "rb")
        except OSError as exc:
            raise AdvisorError(f"Input file {data} cannot be read: {exc.strerror or exc}. Check "
                               "the path.") from None
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        buffer = io.BytesIO()
        data.to_parquet(buffer, index=False)
        buffer.seek(0)
        return "DataFrame.parquet", buffer
    raise UsageError(f"Expected a path or a pandas DataFrame, got {type(data).__name__}.")


def _server_error(response: httpx.Response) -> AdvisorError:
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code} from the advisor service: " \
                  f"{' '.join(response.text.split())[:200]}"
    if response.status_code == 429:
        message += f" (Retry-After: {response.headers.get('Retry-After', '?')} s)"
    error = UsageError(message) if response.status_code == 422 else AdvisorError(message)
    error.status_code = response.status_code
    return error
