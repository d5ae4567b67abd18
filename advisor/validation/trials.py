"""One trial: train a Keras model with one candidate loss on one fold with one seed, and score it.

A trial follows the candidate's protocol (:mod:`advisor.losses.protocol`) exactly as its paste-ready
code prints it: the seed set again before the head, the head's bias, Adam and its learning rate,
the training rows in the order the seeded validation split left them, sample weights on the
training rows and — when the protocol says so — on the validation rows, the batch size, early
stopping (monitor, patience, best weights restored), and predictions read through the
candidate's :class:`~advisor.losses.protocol.Prediction`. Run on the same rows and seed, the printed code
and the trial train the same weights and get the same score (a test checks it for every loss).

A trial is a pure function of picklable inputs (:class:`TrialJob` and :class:`FoldData`), so the
same code runs in-process, in joblib's worker processes, or on a Dask cluster's workers
(:mod:`advisor.validation.executors`). Keras is imported inside the worker, after its thread
count is set, so parallel workers don't oversubscribe the cores.

Finished trials are cached on disk by ``joblib.Memory`` keyed by the fold's data hash, the
candidate, the fold, the seed and the training settings — by the trial itself when it runs
here or in joblib's workers, by the submitting process (:class:`TrialCache`) when it ran on a
cluster. A trial cut short by the time budget raises :class:`BudgetExceeded` instead of
returning, so it is never cached as if complete.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from advisor.losses.catalog import CLASSIFICATION, OutputHead
from advisor.losses.kerasenv import import_keras
from advisor.losses.protocol import Prediction, Training, class_weight_of, prediction_for

PREDICT_BATCH = 8192  # rows per forward pass when scoring


class BudgetExceeded(Exception):
    """The trial could not finish before the validation deadline."""


@dataclass(frozen=True)
class Settings:
    """Training settings shared by every trial of a validation run: the run's numbers (epoch
    cap, batch size, patience, learning rate) override the candidate's :class:`Training` ones."""

    architecture: str  # mlp | linear
    max_epochs: int
    batch_size: int
    patience: int
    metric: str
    metric_context: tuple[tuple[str, Any], ...] = ()
    hidden_units: tuple[int, ...] = (64, 32)
    learning_rate: float = 1e-3

    @classmethod
    def from_training(cls, training: Training, *, architecture: str = "mlp", metric: str,
                      metric_context: tuple[tuple[str, Any], ...] = (),
                      hidden_units: tuple[int, ...] = (64, 32)) -> Settings:
        """The settings that make trials follow ``training``'s numbers."""
        return cls(architecture=architecture, max_epochs=training.max_epochs,
                   batch_size=training.batch_size, patience=training.patience, metric=metric,
                   metric_context=metric_context, hidden_units=hidden_units,
                   learning_rate=training.learning_rate)


@dataclass(frozen=True)
class FoldData:
    """Preprocessed arrays of one outer fold: train (fit), val (early stopping, thresholds), test."""

    key: str  # hash of the arrays: the cache key's data part
    fold: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


@dataclass(frozen=True)
class TrialJob:
    candidate_id: str
    task: str
    loss_class: str | type  # import path of a catalogue class, or a user-registered class
    loss_config: dict[str, Any]
    class_weight: dict[int, float] | None
    head: OutputHead
    target_transform: str
    from_logits: bool | None
    fold: int
    seed: int
    settings: Settings
    model_fn_key: str | None = None  # identifies a user's model_fn in the cache key
    # The candidate's LossConfig.prediction and .training (trial_job fills both). Without a
    # prediction, the catalogue's meaning of the loss class's output is used; without a training
    # block, the validation rows are weighted whenever class weights are given.
    prediction: Prediction | None = None
    training: Training | None = None


def trial_job(config, *, fold: int, seed: int, settings: Settings, candidate_id: str | None = None,
              model_fn_key: str | None = None) -> TrialJob:
    """The trial of ``config`` (a :class:`~advisor.losses.catalog.LossConfig` or a candidate) on one
    fold with one seed: its loss, class weights, head, target encoding, prediction and training.

    Catalogue classes travel by import path (a stable cache key); a user's class travels as
    itself, since a worker process may not be able to import the script that defined it.
    """
    from advisor.losses.catalog import CATALOG, get_spec, loss_class

    spec = get_spec(config.loss)
    cls = (spec.variants[config.task].class_path if config.loss in CATALOG
           else loss_class(config))
    return TrialJob(
        candidate_id=candidate_id or getattr(config, "id", "") or config.loss, task=config.task,
        loss_class=cls, loss_config=dict(config.keras["config"]),
        class_weight=config.fit_kwargs.get("class_weight"), head=config.head,
        target_transform=config.target_transform, from_logits=config.from_logits, fold=fold,
        seed=seed, settings=settings, model_fn_key=model_fn_key, prediction=config.prediction,
        training=config.training,
    )


def trial_training(job: TrialJob) -> Training:
    """The protocol a trial follows: the candidate's training block with the run's numbers
    (epoch cap, batch size, patience, learning rate from :class:`Settings`) and the trial's seed.
    Printed with :func:`advisor.losses.catalog.with_training`, it is the code that trains like the trial.
    """
    base = job.training if job.training is not None else Training(
        validation_weighted=bool(job.class_weight), stratify=job.task in CLASSIFICATION)
    s = job.settings
    return base.replace(max_epochs=int(s.max_epochs), batch_size=int(s.batch_size),
                        patience=int(s.patience), learning_rate=float(s.learning_rate),
                        seed=int(job.seed))


def trial_prediction(job: TrialJob) -> Prediction:
    """How the trial reads its model's outputs: the candidate's prediction, or — for a job built
    without one — what the catalogue says its loss class outputs on this task."""
    if job.prediction is not None:
        return job.prediction
    from advisor.losses.catalog import output_of

    output = output_of(job.loss_class, job.task, job.from_logits)
    if output is None:  # a class the catalogue does not know: read the head
        logits = bool(job.from_logits) and job.head.activation == "linear"
        output = ("logits" if logits else "probability") if job.task in CLASSIFICATION else "value"
    return prediction_for(output, job.task)


@dataclass(frozen=True)
class TrialResult:
    candidate_id: str
    fold: int
    seed: int
    score: float | None
    epochs: int
    seconds: float
    diverged_epoch: int | None = None
    error: str | None = None
    cut: bool = False  # stopped by the budget
    val_loss: tuple[float, ...] = field(default=())


def run_trial(job: TrialJob, data: FoldData, deadline: float | None = None,
              model_fn: Callable | None = None, cache_dir: str | None = None,
              threads: int = 1) -> TrialResult:
    """Train and score one trial; errors and budget cuts come back as results, never raise.

    ``threads`` is TensorFlow's intra-op thread count in this worker; with deterministic ops it
    does not change the result, so it is not part of the cache key.
    """
    started = time.time()
    if deadline is not None and started >= deadline:
        return TrialResult(job.candidate_id, job.fold, job.seed, None, 0, 0.0, cut=True)
    try:
        if cache_dir:
            return _memorized(cache_dir)(job, data.key, data, deadline, model_fn, threads,
                                         code_version())
        return _train_and_score(job, data.key, data, deadline, model_fn, threads)
    except BudgetExceeded:
        return TrialResult(job.candidate_id, job.fold, job.seed, None, 0, time.time() - started,
                           cut=True)
    except Exception as exc:  # a candidate that raises is reported; the others go on
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return TrialResult(job.candidate_id, job.fold, job.seed, None, 0, time.time() - started,
                           error=message)


def _memorized(cache_dir: str):
    """``_train_and_score`` under the on-disk cache, keyed by the job, the fold's data hash and
    the version of the code that trains and scores (:func:`code_version`)."""
    import joblib

    return joblib.Memory(cache_dir, verbose=0).cache(
        _train_and_score, ignore=["data", "deadline", "model_fn", "threads"])


class _NotCached(Exception):
    """A :class:`TrialCache` look-up found nothing (raised, so nothing is stored)."""


class TrialCache:
    """The trial cache as a process that has trials trained elsewhere (on a Dask cluster) reads
    and writes it: the same entries :func:`run_trial` keeps, so a local re-run reuses a cluster
    run's trials and the other way round. Results cut by the budget or failed are never stored,
    as in :func:`run_trial`."""

    def __init__(self, cache_dir: str):
        self._memorized = _memorized(cache_dir)

    def get(self, job: TrialJob, data_key: str) -> TrialResult | None:
        try:
            return self._memorized(job, data_key, None, None, None, 1, code_version())
        except _NotCached:
            return None

    def put(self, job: TrialJob, data_key: str, result: TrialResult) -> None:
        if not result.cut and result.error is None:
            self._memorized.call(job, data_key, result, None, None, 1, code_version())


@functools.cache
def code_version() -> str:
    """A hash of the source that trains, predicts and scores a trial. joblib keys a cached
    function on its own source only, and ``_train_and_score`` hands the work to these; so a
    change to any of them is a different cache entry."""
    from advisor.validation import scoring

    try:
        parts = [inspect.getsource(f) for f in (trained_predictions, predict_scores, datasets,
                                                compiled_model, build_model, scoring)]
    except OSError:  # installed without its sources: the release stands for them
        from advisor.base.version import __version__

        parts = [__version__]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _train_and_score(job: TrialJob, data_key: str, data: FoldData, deadline: float | None,
                     model_fn: Callable | None, threads: int, code: str = "") -> TrialResult:
    # ``code`` is only part of the cache key (see code_version). TrialCache calls the cached
    # function with no data (a look-up) or with a result trained elsewhere (to store it under
    # this trial's key): neither trains here.
    if data is None:
        raise _NotCached()
    if isinstance(data, TrialResult):
        return data
    out = trained_predictions(job, data, deadline, model_fn, threads)
    if isinstance(out, TrialResult):
        return out
    from advisor.validation.scoring import score_predictions

    score = score_predictions(job.settings.metric, job.task, data.y_val, out.val, data.y_test,
                              out.test, dict(job.settings.metric_context))
    return TrialResult(job.candidate_id, job.fold, job.seed, float(score), out.epochs,
                       time.time() - out.started, val_loss=out.val_loss)


@dataclass(frozen=True)
class Predictions:
    """A trained trial's predictions on its inner validation rows and on its held-out rows."""

    val: np.ndarray
    test: np.ndarray
    epochs: int
    started: float  # time.time() when the trial began (its seconds include the scoring)
    val_loss: tuple[float, ...]


def trained_predictions(job: TrialJob, data: FoldData, deadline: float | None = None,
                        model_fn: Callable | None = None,
                        threads: int = 1) -> Predictions | TrialResult:
    """Train one trial and predict its validation and held-out rows (what :func:`run_trial`
    scores); a trial that diverged comes back as its unscored :class:`TrialResult`. Raises
    ``BudgetExceeded`` past the deadline."""
    keras = import_keras(threads)
    started = time.time()
    training = trial_training(job)
    model = compiled_model(keras, job, data.n_features, model_fn)
    train, val = datasets(data, job)
    watch = _Watch(keras, deadline)
    stop = keras.callbacks.EarlyStopping(monitor=training.monitor, patience=training.patience,
                                         restore_best_weights=training.restore_best_weights)
    history = model.fit(train, validation_data=val, epochs=training.max_epochs,
                        callbacks=[watch, stop], verbose=0, shuffle=False)
    val_loss = tuple(float(v) for v in history.history.get("val_loss", []))
    train_loss = history.history.get("loss", [])
    epochs = len(train_loss)
    bad = [i for i, v in enumerate(train_loss) if not math.isfinite(v)]
    if watch.diverged_epoch is not None or bad:
        epoch = watch.diverged_epoch if watch.diverged_epoch is not None else bad[0] + 1
        return TrialResult(job.candidate_id, job.fold, job.seed, None, epochs,
                           time.time() - started, diverged_epoch=epoch, val_loss=val_loss)
    val_scores = predict_scores(model, data.x_val, job)
    test_scores = predict_scores(model, data.x_test, job)
    if not (np.all(np.isfinite(val_scores)) and np.all(np.isfinite(test_scores))):
        return TrialResult(job.candidate_id, job.fold, job.seed, None, epochs,
                           time.time() - started, diverged_epoch=epochs, val_loss=val_loss)
    return Predictions(val_scores, test_scores, epochs, started, val_loss)


def datasets(data: FoldData, job: TrialJob, rows: int | None = None):
    """Training and validation pipelines, built once per trial.

    They hand ``fit`` exactly the batches the printed code's ``model.fit(X_train, y_train,
    sample_weight=w_train, validation_data=(X_val, y_val, w_val), batch_size=…, shuffle=False)``
    gets: the training rows in the order the seeded split left them, the validation rows batched
    at the same size. A dataset built once costs less than the pipeline Keras builds around NumPy
    arrays at every epoch, which is a third of an epoch on a small table. Class weights become
    per-row sample weights on the training rows, and on the validation rows when the protocol
    weights them, so early stopping watches the objective the model trains on.
    """
    import tensorflow as tf

    training = trial_training(job)
    rows = len(data.x_train) if rows is None else rows
    train = _arrays(data.x_train[:rows], data.y_train[:rows], job, weighted=True)
    train = tf.data.Dataset.from_tensor_slices(train).batch(training.batch_size).prefetch(2)
    val = _arrays(data.x_val, data.y_val, job, weighted=training.validation_weighted)
    val = tf.data.Dataset.from_tensor_slices(val).batch(training.batch_size)
    return train, val


def _arrays(x: np.ndarray, y: np.ndarray, job: TrialJob, weighted: bool) -> tuple:
    if not (job.class_weight and weighted):
        return x, encode_target(y, job)
    return x, encode_target(y, job), class_weight_of(y, job.class_weight)


# Compiled models kept in this process, most recently used last: tracing a model's train and
# test functions costs about a second — more than a whole trial's epochs on a small table —
# and every fold and seed of a candidate can reuse them.
_COMPILED: OrderedDict = OrderedDict()
MAX_COMPILED = 16


def compiled_model(keras, job: TrialJob, n_features: int, model_fn: Callable | None = None):
    """A compiled model for ``job`` in exactly the state a fresh one would start in.

    A fresh model is built under the trial's seed for its initial weights (cheap); when this
    process already compiled a model for the same loss, head and settings, those weights and a
    reset optimizer go into it and its traced functions are reused. The result is identical to
    training the fresh model (a test checks it).
    """
    training = trial_training(job)
    keras.utils.set_random_seed(job.seed)
    fresh = build_model(keras, n_features, job.head, job.settings, model_fn, seed=job.seed)
    name = job.loss_class if isinstance(job.loss_class, str) else job.loss_class.__qualname__
    key = (name, repr(sorted(job.loss_config.items())), job.head, job.settings, n_features,
           job.model_fn_key, job.task, job.target_transform, job.class_weight is not None,
           training.validation_weighted, training.optimizer_class, training.learning_rate)
    if key in _COMPILED:
        model, optimizer_state = _COMPILED[key]
        _COMPILED.move_to_end(key)
        model.set_weights(fresh.get_weights())
        for variable, value in zip(model.optimizer.variables, optimizer_state):
            variable.assign(value)
        return model
    optimizer = getattr(keras.optimizers, training.optimizer_class)
    fresh.compile(optimizer=optimizer(learning_rate=training.learning_rate),
                  loss=_loss_instance(job))
    fresh.optimizer.build(fresh.trainable_variables)
    _COMPILED[key] = (fresh, [keras.ops.convert_to_numpy(v) for v in fresh.optimizer.variables])
    while len(_COMPILED) > MAX_COMPILED:
        _COMPILED.popitem(last=False)
    return fresh


def output_layer(keras, head: OutputHead, seed: int | None = None) -> Callable:
    """``outputs = output(hidden)``: the head a candidate's loss expects (bias, rescaling).

    With ``seed``, the random seed is set again just before the head is built, as the printed
    code does after the user's own layers: the head starts from the same weights in both.
    """

    def apply(hidden):
        if seed is not None:
            keras.utils.set_random_seed(seed)
        layer = keras.layers.Dense(head.units, activation=head.activation, name="advisor_head")
        out = layer(hidden)
        if head.bias is not None:
            layer.bias.assign(np.asarray(head.bias, dtype="float32"))
        if head.rescale_scale is not None:
            out = keras.layers.Rescaling(head.rescale_scale, head.rescale_offset)(out)
        return out

    return apply


def model_params(n_features: int, head: OutputHead, model_fn: Callable) -> int:
    """Weights of the user's model with ``head`` on top (imports Keras)."""
    keras = import_keras(1)
    return int(model_fn(n_features, output_layer(keras, head)).count_params())


def build_model(keras, n_features: int, head: OutputHead, settings: Settings,
                model_fn: Callable | None = None, seed: int | None = None):
    if model_fn is not None:
        model = model_fn(n_features, output_layer(keras, head, seed))
        if not isinstance(model, keras.Model):
            raise TypeError(f"model_fn must return a keras.Model, got {type(model).__name__}")
        return model
    inputs = keras.Input((n_features,))
    hidden = inputs
    if settings.architecture != "linear":
        for units in settings.hidden_units:
            hidden = keras.layers.Dense(units, activation="relu")(hidden)
    return keras.Model(inputs, output_layer(keras, head, seed)(hidden))


def _loss_instance(job: TrialJob):
    if isinstance(job.loss_class, type):
        return job.loss_class(**job.loss_config)
    from importlib import import_module

    module, name = job.loss_class.rsplit(".", 1)
    return getattr(import_module(module), name)(**job.loss_config)


def encode_target(y: np.ndarray, job: TrialJob) -> np.ndarray:
    """The target in the form the candidate's loss expects."""
    if job.target_transform == "one_hot":
        return np.eye(job.head.units, dtype="float32")[y.astype(int)]
    if job.target_transform == "label_index":
        return y.astype("int32")
    if job.task in ("binary", "regression", "count"):
        return y.astype("float32").reshape(-1, 1)
    return y.astype("float32")


def predict_scores(model, x: np.ndarray, job: TrialJob) -> np.ndarray:
    """Predictions on the scale the metrics read, through the candidate's Prediction: the same
    Keras operations the printed ``predict`` applies (probabilities, margins, target values)."""
    import keras

    prediction = trial_prediction(job)
    # Calling the model directly skips predict()'s pipeline set-up, which dominates on small folds.
    parts = [keras.ops.convert_to_numpy(_read(keras, prediction, model(x[i:i + PREDICT_BATCH],
                                                                          training=False)))
             for i in range(0, len(x), PREDICT_BATCH)]
    out = np.concatenate(parts).astype("float64")
    return out.reshape(-1) if job.task in ("binary", "regression", "count") else out


def _read(keras, prediction: Prediction, raw):
    if prediction.kind == "sigmoid":
        return keras.ops.sigmoid(raw)
    if prediction.kind == "softmax":
        return keras.ops.softmax(raw, axis=-1)
    if prediction.kind == "exp":
        return keras.ops.exp(raw)
    return raw


class _Watch:
    """Keras callback (duck-typed to avoid importing Keras at module import): stops at the
    deadline by raising, and records the first epoch whose loss is NaN or infinite."""

    def __new__(cls, keras, deadline):
        class Watch(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.diverged_epoch = None
                self.epoch = 0

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                if deadline is not None and batch % 8 == 0 and time.time() > deadline:
                    raise BudgetExceeded()
                loss = (logs or {}).get("loss")
                if loss is not None and not math.isfinite(float(loss)):
                    self.diverged_epoch = self.epoch + 1
                    self.model.stop_training = True

        return Watch()


@dataclass(frozen=True)
class Timing:
    """What one pilot measured: fixed cost per trial and per candidate (tracing), and per epoch
    ``a + b · steps``."""

    trial_seconds: float
    epoch_seconds: float
    step_seconds: float
    batch_size: int
    compile_seconds: float = 0.0  # tracing a candidate's model, once per process


def time_training(job: TrialJob, data_key: str, data: FoldData, threads: int,
                  model_fn: Callable | None = None) -> Timing:
    """Pilot: build, compile and train the candidate for a few epochs on the full fold and on a
    quarter of it, so epoch time can be split into a fixed part and a per-step part.
    (``data_key`` names ``data`` in a cache key.)"""
    keras = import_keras(threads)
    started = time.perf_counter()
    model = compiled_model(keras, job, data.n_features, model_fn)
    batch = job.settings.batch_size
    train, val = datasets(data, job)
    fit = dict(validation_data=val, verbose=0, shuffle=False)
    model.fit(train, epochs=1, **fit)  # traces the train and test functions
    predict_scores(model, data.x_val, job)
    predict_scores(model, data.x_test, job)
    first = time.perf_counter() - started
    timings = []
    for rows in (len(data.x_train), max(batch, len(data.x_train) // 4)):
        part, _ = datasets(data, job, rows)
        tick = time.perf_counter()
        model.fit(part, epochs=2, **fit)
        timings.append(((time.perf_counter() - tick) / 2, math.ceil(rows / batch)))
    (full, steps_full), (part, steps_part) = timings
    # A later trial of the same candidate reuses the traced model: its fixed cost is a fresh
    # build for the initial weights, the reset, and the two predictions.
    tick = time.perf_counter()
    model = compiled_model(keras, job, data.n_features, model_fn)
    predict_scores(model, data.x_val, job)
    predict_scores(model, data.x_test, job)
    trial_fixed = time.perf_counter() - tick
    step = max((full - part) / max(steps_full - steps_part, 1), 0.0)
    epoch_fixed = max(full - step * steps_full, 0.0)
    compile_seconds = max(first - full - trial_fixed, 0.0)
    return Timing(trial_fixed, epoch_fixed, step, batch, compile_seconds)
