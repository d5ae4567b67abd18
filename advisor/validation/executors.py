"""Where trials run: here through joblib (:class:`LocalExecutor`), or on a Dask cluster
(:class:`DaskExecutor`, ``--scheduler tcp://HOST:PORT``).

Both take a round's trials — ``(TrialJob, FoldData)`` pairs — and hand back their
:class:`~advisor.validation.trials.TrialResult` s sorted by (seed, fold, candidate): completion
order varies between runs and executors, the statistics must not. A trial is seeded and a pure
function of its inputs, so the same seed gives the same scores wherever it ran.

:class:`LocalExecutor` is joblib's ``Parallel`` (``--jobs``): in this process for one job, else
in worker processes; each trial reads and writes the on-disk cache itself.

:class:`DaskExecutor` sends the trials to an existing cluster through ``distributed.Client``:

- each fold's arrays are scattered to every worker once per validation; a trial's task refers
  to them, so only the small :class:`TrialJob` travels per trial;
- one task per trial, run one at a time per worker process (a trial needs a worker thread and
  TensorFlow's process-wide seed to itself: start workers with ``--nthreads 1``);
- a worker that dies mid-trial costs that trial a retry on another worker (the scheduler's
  ``distributed.scheduler.allowed-failures``); a trial that kills every worker it lands on comes
  back as failed, and the run goes on;
- TensorFlow is imported on the workers only (the Keras semantics check and a ``model_fn``'s
  size are measured there too, through :meth:`DaskExecutor.call`);
- the trial cache is this process's: finished trials are looked up here first, only misses are
  sent, and results are stored here as they come back — workers never see the cache folder;
- a scheduler that cannot be reached, or vanishes mid-run, ends the run with one
  :class:`AdvisorError` line naming its address;
- on the way out — finished, failed or interrupted — outstanding tasks are cancelled and the
  scattered arrays released, so nothing of the run is left on the scheduler.

``distributed`` is imported only when a scheduler is given (the ``loss-advisor[dask]`` extra).
"""

from __future__ import annotations

import threading
import uuid
from typing import Callable

from advisor.base.errors import AdvisorError

INSTALL_HINT = 'pip install "loss-advisor[dask]"'
RESUBMITS = 3  # times a trial is sent again after its fold's scattered arrays were all lost


def open_executor(scheduler: str | None, *, jobs: int, threads: int, cache_dir: str | None):
    """The executor for a validation: local, or the Dask cluster at ``scheduler``."""
    if not scheduler:
        return LocalExecutor(jobs, threads, cache_dir)
    return DaskExecutor(scheduler, cache_dir)


def _order(results: list) -> list:
    return sorted(results, key=lambda r: (r.seed, r.fold, r.candidate_id))


class LocalExecutor:
    """Trials through joblib: in this process for one job, else ``jobs`` worker processes."""

    name = "local"
    warnings: tuple[str, ...] = ()

    def __init__(self, jobs: int, threads: int, cache_dir: str | None):
        self.jobs, self.threads, self.cache_dir = jobs, threads, cache_dir

    def call(self, fn: Callable, *args):
        return fn(*args)

    def run(self, batch, deadline, model_fn, bar) -> list:
        from joblib import Parallel, delayed

        from advisor.validation.trials import run_trial

        calls = (delayed(run_trial)(job, data, deadline, model_fn, self.cache_dir, self.threads)
                 for job, data in batch)
        out = []
        # n_jobs=None for one job: without a joblib backend context it runs in this process.
        for result in Parallel(n_jobs=None if self.jobs == 1 else self.jobs,
                               return_as="generator_unordered")(calls):
            out.append(result)
            bar.step()
        return _order(out)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise AdvisorError("--scheduler runs trials on a Dask cluster, which needs the dask "
                           f"extra: {INSTALL_HINT} (or unset --scheduler).") from None
    return distributed


def connect_timeout() -> float:
    """Seconds to wait for the scheduler: Dask's ``distributed.comm.timeouts.connect``."""
    import dask
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s"))


def _unreachable(address: str, exc: BaseException) -> AdvisorError:
    why = " ".join(str(exc).split()) or type(exc).__name__
    return AdvisorError(f"Cannot reach the Dask scheduler {address}: {why}. Start one with "
                        "'dask scheduler' (and workers with 'dask worker ADDRESS --nthreads 1'), "
                        "or unset --scheduler to run the trials here.")


def _lost(address: str, why: str = "the connection closed") -> AdvisorError:
    return AdvisorError(f"Lost the Dask scheduler {address} during the trials ({why}); the run "
                        "stopped. Restart it ('dask scheduler') and its workers, or unset "
                        "--scheduler to run the trials here.")


# A worker process runs one trial at a time, however many threads it has: trials set
# TensorFlow's process-wide seed and reuse the process's compiled models.
_ONE_AT_A_TIME = threading.Lock()


def trial_on_worker(job, data, deadline, model_fn):
    """One trial on a Dask worker: no cache folder (the submitting process keeps the cache), one
    TensorFlow thread (the trial's worker thread), and Python's ``random`` to itself."""
    from advisor.validation.trials import run_trial

    with _ONE_AT_A_TIME, _own_random():
        return run_trial(job, data, deadline, model_fn, None, 1)


_THREAD = threading.local()
_RANDOM_FUNCTIONS = ("seed", "random", "randint", "randrange", "getrandbits", "randbytes", "choice",
                     "choices", "sample", "shuffle", "uniform", "gauss", "normalvariate",
                     "getstate", "setstate")


class _own_random:
    """While a trial runs on a Dask worker, its thread's calls to Python's ``random`` functions
    go to a generator of its own.

    A trial's initial weights come from Python's global ``random``: ``keras.utils.set_random_seed``
    seeds it and Keras draws every unseeded initializer's seed from it. On a Dask worker the
    event-loop thread draws from it too (``distributed.utils_comm`` picks a worker to fetch from
    with ``random.choice``; ``dask.sizeof`` samples big collections), at moments no trial
    controls: about one trial in five then trained from other weights than the same trial run
    locally. The module's functions are replaced once per worker process by ones that use the
    calling thread's generator during a trial and the shared one otherwise, so other threads
    and other tasks see no difference."""

    def __enter__(self):
        import random

        if not getattr(random, "_advisor_per_thread", False):
            shared = random._inst
            for name in _RANDOM_FUNCTIONS:
                if hasattr(shared, name):
                    setattr(random, name, _dispatch(name, getattr(shared, name)))
            random._advisor_per_thread = True
        _THREAD.random = random.Random()
        return self

    def __exit__(self, *exc) -> None:
        _THREAD.random = None


def _dispatch(name: str, shared_method):
    def call(*args, **kwargs):
        own = getattr(_THREAD, "random", None)
        return (getattr(own, name) if own is not None else shared_method)(*args, **kwargs)

    call.__name__ = name
    return call


def call_on_worker(fn, *args):
    """``fn(*args)`` on a Dask worker, one at a time with trials (it may build Keras models)."""
    from advisor.losses.kerasenv import import_keras

    with _ONE_AT_A_TIME, _own_random():
        import_keras(1)
        return fn(*args)


def _worker_facts() -> dict:
    """What the submitting process checks of each worker (runs there through ``client.run``)."""
    from advisor.base.version import __version__

    return {"advisor": __version__}


class DaskExecutor:
    """Trials on the Dask cluster whose scheduler listens at ``address``."""

    def __init__(self, address: str, cache_dir: str | None):
        distributed = import_distributed()
        self.address = address
        self._distributed = distributed
        self._token = uuid.uuid4().hex[:8]
        self._data: dict[str, object] = {}  # fold data key -> its scattered future
        self._count = 0
        timeout = connect_timeout()
        # The client logs a lost connection with a traceback from its own thread; the run reports
        # it as one line (_lost), so its log stays quiet while this executor is open.
        self._quiet = _Quiet("distributed.client")
        try:
            self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address
            self._quiet.restore()
            raise _unreachable(address, exc) from None
        try:
            self.client.wait_for_workers(1, timeout=timeout)
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
            facts = self.client.run(_worker_facts)
        except TimeoutError:
            self.close()
            raise AdvisorError(f"The Dask scheduler {address} has no workers (waited "
                               f"{timeout:g} s). Start some with 'dask worker {address} "
                               "--nthreads 1'.") from None
        except Exception as exc:
            disconnected = self._is_disconnected()
            self.close()
            if disconnected:
                raise _unreachable(address, exc) from None
            raise AdvisorError(f"The Dask workers of {address} cannot run the advisor's trials "
                               f"({type(exc).__name__}: {exc}); install loss-advisor on every "
                               "worker, with the same version as here.") from None
        from advisor.base.version import __version__

        warnings = []
        threaded = sorted(a for a, w in workers.items() if w.get("nthreads", 1) > 1)
        if threaded:
            warnings.append(f"{len(threaded)} Dask worker(s) run several threads; each runs one "
                            "trial at a time (a trial needs TensorFlow's process to itself), so "
                            "the extra threads idle: start workers with --nthreads 1.")
        others = sorted({f["advisor"] for f in facts.values()} - {__version__})
        if others:
            warnings.append(f"Dask workers run advisor {', '.join(others)}, this process "
                            f"{__version__}: trials may differ from a local run's.")
        self.warnings = tuple(warnings)
        self.name = f"dask {address} ({len(workers)} worker{'s' if len(workers) != 1 else ''})"
        self.cache = None
        if cache_dir:
            from advisor.validation.trials import TrialCache

            self.cache = TrialCache(cache_dir)

    def _is_disconnected(self) -> bool:
        return self.client.status in ("closing", "closed") or not self.client.scheduler_comm \
            or self.client.scheduler_comm.comm is None or self.client.scheduler_comm.comm.closed()

    def call(self, fn: Callable, *args):
        """``fn(*args)`` on one worker (which may import TensorFlow), not here."""
        future = self.client.submit(call_on_worker, fn, *args, pure=False,
                                    key=f"advisor-call-{self._token}-{self._next()}")
        try:
            return future.result()
        except Exception as exc:
            if self._is_disconnected() or isinstance(exc, self._cancelled()):
                raise _lost(self.address) from None
            raise
        finally:
            future.release()

    def _next(self) -> int:
        self._count += 1
        return self._count

    def _cancelled(self) -> tuple[type, ...]:
        from concurrent.futures import CancelledError

        return (CancelledError, self._distributed.client.FutureCancelledError)

    def _scattered(self, data):
        """The fold's arrays on every worker, scattered once (again only if all copies died)."""
        held = self._data.get(data.key)
        if held is None or held.status != "finished":
            [self._data[data.key]] = self.client.scatter([data], broadcast=True, hash=False)
        return self._data[data.key]

    def _submit(self, job, data, deadline, model_fn):
        key = (f"advisor-trial-{self._token}-{self._next()}-{job.candidate_id}"
               f"-fold{job.fold}-seed{job.seed}")
        return self.client.submit(trial_on_worker, job, self._scattered(data), deadline,
                                  model_fn, key=key, pure=False, retries=1)

    def run(self, batch, deadline, model_fn, bar) -> list:
        """The round's trials: cache hits here, the misses on the cluster, gathered as they end."""
        out, todo = [], []
        for job, data in batch:
            hit = self.cache.get(job, data.key) if self.cache is not None else None
            if hit is None:
                todo.append((job, data))
            else:
                out.append(hit)
                bar.step()
        if not todo:
            return _order(out)
        pending: dict = {}
        try:
            for job, data in todo:
                pending[self._submit(job, data, deadline, model_fn)] = (job, data, 0)
            finished = self._distributed.as_completed(list(pending), loop=self.client.loop)
            for future in finished:
                job, data, resent = pending.pop(future)
                if (future.status == "cancelled" and not self._is_disconnected()
                        and resent < RESUBMITS):
                    # Still connected, yet cancelled: every copy of the fold's scattered arrays
                    # died with its workers. Scatter them again and send the trial again.
                    future.release()
                    again = self._submit(job, data, deadline, model_fn)
                    pending[again] = (job, data, resent + 1)
                    finished.add(again)
                    continue
                result = self._result(future, job)
                future.release()
                if self.cache is not None:
                    self.cache.put(job, data.key, result)
                out.append(result)
                bar.step()
        except OSError as exc:
            raise _lost(self.address, " ".join(str(exc).split())) from None
        finally:
            if pending:  # an error or an interruption: nothing of this round may run on
                self._cancel(list(pending))
        return _order(out)

    def _cancel(self, futures) -> None:
        try:
            self.client.cancel(futures, force=True)
        except Exception:  # the scheduler is gone: so is everything the run had on it
            if not self._is_disconnected():
                raise

    def _result(self, future, job):
        from advisor.validation.trials import TrialResult

        if future.status == "finished":
            return future.result()
        if future.status == "cancelled" or self._is_disconnected():
            raise _lost(self.address)
        exc = future.exception()
        if isinstance(exc, self._distributed.KilledWorker):
            error = ("KilledWorker: the trial's worker died every time it ran it (out of "
                     "memory?)")
        else:
            error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return TrialResult(job.candidate_id, job.fold, job.seed, None, 0, 0.0, error=error)

    def close(self) -> None:
        """Cancel what is left and release the scattered arrays; disconnect."""
        client = getattr(self, "client", None)
        if client is None:
            self._quiet.restore()
            return
        try:
            if self._data and client.status == "running":
                client.cancel(list(self._data.values()), force=True)
        except Exception:  # the scheduler is gone already: nothing is left on it then
            pass
        self._data.clear()
        try:
            client.close(timeout=5)
        except Exception:
            pass
        self.client = None
        self._quiet.restore()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Quiet:
    """A logger silenced (all but CRITICAL) until :meth:`restore`."""

    def __init__(self, name: str):
        import logging

        self.logger = logging.getLogger(name)
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def restore(self) -> None:
        if self.logger is not None:
            self.logger.setLevel(self.level)
            self.logger = None


def measure_semantics_on(scheduler: str):
    """The Keras semantics measured on a worker of the cluster at ``scheduler`` (not here)."""
    from advisor.losses.semantics import measure_semantics

    with DaskExecutor(scheduler, None) as executor:
        return executor.call(measure_semantics)
