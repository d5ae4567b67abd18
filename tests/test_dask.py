"""Trials on a real Dask cluster (``--scheduler``): the same answer as a local run, a worker that
dies mid-trial, a scheduler that is unreachable or vanishes, nothing left behind, the cache and
TensorFlow kept to the submitting process and the workers respectively."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import advisor  # noqa: E402
from advisor.base.errors import AdvisorError  # noqa: E402
from tests.conftest import SAMPLE_DATA  # noqa: E402

BUDGET = 10  # seconds: a one-round plan of two candidates on three folds


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame[[*frame.columns[:10], "target"]]


def _run(**options):
    return advisor.recommend(_breast_cancer(), "target", budget=BUDGET, candidates=2, seed=0,
                             **{"cache": False, **options})


def _answer(rec) -> dict:
    """Everything a run decides and measures, without wall-clock seconds or the executor."""
    v = rec.validation
    return {
        "status": v.status, "pick": v.pick, "recommended": v.recommended,
        "plan": v.plan.to_dict(), "verdict": v.verdict,
        "candidates": [(c.id, c.status, c.scores, c.folds, c.seeds, c.epochs, c.curves)
                       for c in v.candidates],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tasks_on(address: str) -> int:
    """Tasks (futures, scattered data) the scheduler still holds, once releases have landed."""
    with distributed.Client(address, set_as_default=False) as client:
        for _ in range(50):
            # The releases of a closed client reach the scheduler asynchronously.
            held = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
            if held == 0:
                break
            time.sleep(0.1)
        return held


@pytest.fixture(scope="module")
def cluster():
    # Workers are spawned, never forked (TensorFlow hangs after fork); spawn is distributed's
    # default, set here so a changed default cannot fork TensorFlow.
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def local_run():
    return _run()


@pytest.mark.slow
def test_cluster_run_gives_the_local_answer_and_leaves_nothing_behind(cluster, local_run, tmp_path):
    address = cluster.scheduler_address
    rec = _run(scheduler=address, cache=tmp_path)
    assert rec.validation.executor == f"dask {address} (2 workers)"
    assert local_run.validation.executor == "local"
    # The data decides: on these ten features class weights measure the same as cross-entropy.
    assert (rec.validation.status, rec.recommendation.id) == ("tied", "crossentropy")
    assert [(c.id, c.status) for c in rec.validation.candidates] == [
        ("crossentropy", "recommended"), ("weighted_crossentropy", "equivalent")]
    assert _answer(rec) == _answer(local_run)  # seeded trials: the same scores, exactly
    assert _tasks_on(address) == 0  # no futures, no scattered folds left on the scheduler


@pytest.mark.slow
def test_the_cache_is_the_submitting_processes_and_shared_with_local_runs(cluster, local_run,
                                                                       tmp_path, monkeypatch):
    address = cluster.scheduler_address
    first = _run(scheduler=address, cache=tmp_path)
    entries = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("output.pkl"))
    trials = sum(c.n_trials for c in first.validation.candidates)
    assert len(entries) >= trials  # stored here, as results came back
    submitted = []
    real_submit = distributed.Client.submit

    def counting_submit(self, fn, *args, **kwargs):
        submitted.append(getattr(fn, "__name__", fn))
        return real_submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", counting_submit)
    again = _run(scheduler=address, cache=tmp_path)
    assert "trial_on_worker" not in submitted  # every trial came from the cache
    assert _answer(again) == _answer(first) == _answer(local_run)
    # A local run reads the entries the cluster run stored: it trains nothing new either.
    here = _run(cache=tmp_path)
    assert _answer(here) == _answer(local_run)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("output.pkl")) == entries


@pytest.mark.slow
def test_the_submitting_process_never_imports_tensorflow(cluster, tmp_path):
    script = f"""
import json, sys
import advisor
from sklearn.datasets import load_breast_cancer
frame = load_breast_cancer(as_frame=True).frame
frame = frame[[*frame.columns[:10], "target"]]
rec = advisor.recommend(frame, "target", budget={BUDGET}, candidates=2, seed=0,
                        scheduler={cluster.scheduler_address!r})
print(json.dumps({{"executor": rec.validation.executor, "status": rec.validation.status,
                  "imported": sorted(m for m in ("tensorflow", "keras") if m in sys.modules)}}))
"""
    # A fresh cache: the Keras semantics check is measured too (on a worker).
    env = {**os.environ, "ADVISOR_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["imported"] == []
    assert out["executor"] == f"dask {cluster.scheduler_address} (2 workers)"
    assert list(tmp_path.rglob("output.pkl"))  # the cache was written, by this process


@pytest.mark.slow
def test_a_worker_that_dies_mid_trial_costs_a_retry_not_the_run(cluster, local_run):
    address = cluster.scheduler_address
    killed = []
    with distributed.Client(address, set_as_default=False) as watcher:

        def kill_a_busy_worker(phase, done, total):
            if phase != "trials" or done < 1 or killed:
                return
            busy = {w: keys for w, keys in watcher.processing().items()
                    if any(str(k).startswith("advisor-trial-") for k in keys)}
            if busy:
                worker = min(busy)
                pid = watcher.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
                killed.append((worker, busy[worker]))

        rec = _run(scheduler=address, progress=kill_a_busy_worker)
    assert killed, "no trial was running when the first result came back"
    assert _answer(rec) == _answer(local_run)
    assert all(c.error is None for c in rec.validation.candidates)
    assert _tasks_on(address) == 0


def test_an_unreachable_scheduler_is_one_line_naming_it(cli):
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    args = ["recommend", SAMPLE_DATA / "diagnosis.csv", "--target", "diagnosis", "--budget", "5"]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        for result in (cli(*args, "--scheduler", address), _cli_with_env(args, address)):
            assert result.exit_code == 1, result
            assert result.stderr.startswith(f"Error: Cannot reach the Dask scheduler {address}: ")
            assert "'dask scheduler'" in result.stderr and "unset --scheduler" in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
            assert "Traceback" not in result.stderr


def _cli_with_env(args, address):
    from click.testing import CliRunner

    from advisor.cli import main
    from tests.conftest import CliResult

    return CliResult(CliRunner(env={"ADVISOR_SCHEDULER": address}).invoke(
        main, [str(a) for a in args]))


def test_without_the_dask_extra_the_error_says_how_to_install_it(monkeypatch):
    from advisor.validation.executors import open_executor

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(AdvisorError, match=r'pip install "loss-advisor\[dask\]"'):
        open_executor("tcp://127.0.0.1:1", jobs=1, threads=1, cache_dir=None)


@pytest.mark.slow
def test_dask_scheduler_and_worker_commands_as_a_user_runs_them(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask_cli = str(Path(sys.executable).with_name("dask"))
    started = []
    try:
        started.append(subprocess.Popen(
            [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        started.append(subprocess.Popen(
            [dask_cli, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
             "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        env = {**os.environ, "ADVISOR_CACHE_DIR": str(tmp_path / "cache")}
        command = [sys.executable, "-m", "advisor", "recommend", str(SAMPLE_DATA / "diagnosis.csv"),
                   "--target", "diagnosis", "--budget", str(BUDGET), "--candidates", "2",
                   "--format", "json", "--quiet", "--scheduler", address]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                              check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        document = json.loads(done.stdout)
        validation = document["validation"]
        assert validation["executor"] == f"dask {address} (1 worker)"
        # The same status and pick the data gives a local run of this command (same seed, plan).
        assert (validation["status"], document["recommendation"]["id"]) == ("tied", "crossentropy")

        # The scheduler vanishes mid-run: one line naming it, and the way out.
        scheduler = started[0]
        killed = []

        def kill_the_scheduler(phase, done, total):
            if phase == "trials" and done >= 1 and not killed:
                scheduler.kill()
                killed.append(True)

        with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
                pytest.raises(AdvisorError) as lost:
            advisor.recommend(SAMPLE_DATA / "diagnosis.csv", "diagnosis", budget=BUDGET,
                              candidates=2, seed=1, cache=False, scheduler=address,
                              progress=kill_the_scheduler)
        assert killed
        assert str(lost.value).startswith(f"Lost the Dask scheduler {address} during the trials")
        assert "unset --scheduler" in str(lost.value)
    finally:
        for process in reversed(started):
            process.kill()
            process.wait(timeout=30)


@pytest.mark.slow
def test_advisor_serve_runs_its_jobs_trials_on_the_cluster(cluster, tmp_path):
    """``advisor serve --scheduler``: the operator names the cluster; every job's trials run there
    and the job's result says so, with the answer a local run gives."""
    from tests.test_service_helpers import Server

    address = cluster.scheduler_address
    server = Server(tmp_path / "data", "--scheduler", address).start()
    try:
        table = tmp_path / "diagnosis.csv"
        table.write_bytes((SAMPLE_DATA / "diagnosis.csv").read_bytes())
        response = server.submit(table, target="diagnosis", budget=BUDGET, candidates=2)
        assert response.status_code == 202, response.text
        job = server.wait_job(response.json()["id"])
        assert job["state"] == "succeeded", job["error"]
        validation = job["result"]["validation"]
        assert validation["executor"] == f"dask {address} (2 workers)"
        local = advisor.recommend(table, "diagnosis", budget=BUDGET, candidates=2, cache=False)
        assert (validation["status"], validation["recommended"]) == \
            (local.validation.status, local.validation.recommended)
        assert [c["scores"] for c in validation["candidates"]] == \
            [list(c.scores) for c in local.validation.candidates]
    finally:
        server.stop()
