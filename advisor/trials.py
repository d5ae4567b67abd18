"""One trial: train a Keras model with one candidate loss on one fold with one seed, and score it.

A trial is a pure function of picklable inputs (:class:`TrialJob` and :class:`FoldData`), so the
same code runs in-process, in joblib's worker processes, or on a Dask cluster through joblib's
dask backend. Keras is imported inside the worker, after its thread count is set, so parallel
workers don't oversubscribe the cores.

Finished trials are cached on disk by ``joblib.Memory`` keyed by the fold's data hash, the
candidate, the fold, the seed and the training settings. A trial cut short by the time budget
raises :class:`BudgetExceeded` instead of returning, so it is never cached as if complete.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from advisor.catalog import OutputHead
from advisor.kerasenv import import_keras


PREDICT_BATCH = 8192  # rows per forward pass when scoring


class BudgetExceeded(Exception):
    """The trial could not finish before the validation deadline."""


@dataclass(frozen=True)
class Settings:
    """Training settings shared by every trial of a validation run."""

    architecture: str  # mlp | linear
    max_epochs: int
    batch_size: int
    patience: int
    metric: str
    metric_context: tuple[tuple[str, Any], ...] = ()
    hidden_units: tuple[int, ...] = (64, 32)
    learning_rate: float = 1e-3


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
            import joblib

            train = joblib.Memory(cache_dir, verbose=0).cache(_train_and_score,
                                 ignore=["data", "deadline", "model_fn", "threads"])
            return train(job, data.key, data, deadline, model_fn, threads)
        return _train_and_score(job, data.key, data, deadline, model_fn, threads)
    except BudgetExceeded:
        return TrialResult(job.candidate_id, job.fold, job.seed, None, 0, time.time() - started,
                           cut=True)
    except Exception as exc:  # a candidate that raises is reported; the others go on
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return TrialResult(job.candidate_id, job.fold, job.seed, None, 0, time.time() - started,
                           error=message)


def _train_and_score(job: TrialJob, data_key: str, data: FoldData, deadline: float | None,
                     model_fn: Callable | None, threads: int) -> TrialResult:
    keras = import_keras(threads)
    started = time.time()
    model = compiled_model(keras, job, data.n_features, model_fn)
    train, val = datasets(data, job)
    watch = _Watch(keras, deadline)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=job.settings.patience,
                                         restore_best_weights=True)
    history = model.fit(train, validation_data=val, epochs=job.settings.max_epochs,
                        callbacks=[watch, stop], verbose=0,
                        shuffle=False)  # the dataset shuffles itself, seeded
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
    from advisor.scoring import score_predictions

    score = score_predictions(job.settings.metric, job.task, data.y_val, val_scores, data.y_test,
                              test_scores, dict(job.settings.metric_context))
    return TrialResult(job.candidate_id, job.fold, job.seed, float(score), epochs,
                       time.time() - started, val_loss=val_loss)


def datasets(data: FoldData, job: TrialJob, rows: int | None = None):
    """Training and validation pipelines built once per trial.

    Feeding NumPy arrays to ``fit`` rebuilds an input pipeline every epoch; on small tables that
    fixed cost is a third of the epoch. The shuffle is seeded, so trials stay reproducible.
    Class weights become per-row sample weights on both splits, so the validation loss that
    early stopping watches is the same weighted objective the model trains on.
    """
    import tensorflow as tf

    rows = len(data.x_train) if rows is None else rows
    train = _arrays(data.x_train[:rows], data.y_train[:rows], job)
    train = (tf.data.Dataset.from_tensor_slices(train)
             .shuffle(rows, seed=job.seed, reshuffle_each_iteration=True)
             .batch(job.settings.batch_size).prefetch(2))
    val = tf.data.Dataset.from_tensor_slices(_arrays(data.x_val, data.y_val, job)).batch(PREDICT_BATCH)
    return train, val


def _arrays(x: np.ndarray, y: np.ndarray, job: TrialJob) -> tuple:
    if not job.class_weight:
        return x, encode_target(y, job)
    weights = np.array([job.class_weight[int(label)] for label in y], dtype="float32")
    return x, encode_target(y, job), weights



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
    keras.utils.set_random_seed(job.seed)
    fresh = build_model(keras, n_features, job.head, job.settings, model_fn)
    name = job.loss_class if isinstance(job.loss_class, str) else job.loss_class.__qualname__
    key = (name, repr(sorted(job.loss_config.items())), job.head, job.settings, n_features,
           job.model_fn_key, job.task, job.target_transform, job.class_weight is not None)
    if key in _COMPILED:
        model, optimizer_state = _COMPILED[key]
        _COMPILED.move_to_end(key)
        model.set_weights(fresh.get_weights())
        for variable, value in zip(model.optimizer.variables, optimizer_state):
            variable.assign(value)
        return model
    fresh.compile(optimizer=keras.optimizers.Adam(job.settings.learning_rate),
                  loss=_loss_instance(job))
    fresh.optimizer.build(fresh.trainable_variables)
    _COMPILED[key] = (fresh, [keras.ops.convert_to_numpy(v) for v in fresh.optimizer.variables])
    while len(_COMPILED) > MAX_COMPILED:
        _COMPILED.popitem(last=False)
    return fresh


def output_layer(keras, head: OutputHead) -> Callable:
    """``outputs = output(hidden)``: the head a candidate's loss expects (bias, rescaling)."""

    def apply(hidden):
        layer = keras.layers.Dense(head.units, activation=head.activation, name="advisor_head")
        out = layer(hidden)
        if head.bias is not None:
            layer.bias.assign(np.asarray(head.bias, dtype="float32"))
        if head.rescale_scale is not None:
            out = keras.layers.Rescaling(head.rescale_scale, head.rescale_offset)(out)
        return out

    return apply


def build_model(keras, n_features: int, head: OutputHead, settings: Settings,
                model_fn: Callable | None = None):
    if model_fn is not None:
        model = model_fn(n_features, output_layer(keras, head))
        if not isinstance(model, keras.Model):
            raise TypeError(f"model_fn must return a keras.Model, got {type(model).__name__}")
        return model
    inputs = keras.Input((n_features,))
    hidden = inputs
    if settings.architecture != "linear":
        for units in settings.hidden_units:
            hidden = keras.layers.Dense(units, activation="relu")(hidden)
    return keras.Model(inputs, output_layer(keras, head)(hidden))


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
    """Predictions on the scale the metrics read: probabilities, margins, or target values."""
    # Calling the model directly skips predict()'s pipeline set-up, which dominates on small folds.
    raw = np.concatenate([np.asarray(model(x[i:i + PREDICT_BATCH], training=False))
                          for i in range(0, len(x), PREDICT_BATCH)]).astype("float64")
    task = job.task
    if task in ("regression", "count"):
        out = raw.reshape(-1)
        return np.exp(np.clip(out, -50, 50)) if _class_name(job).endswith("TweedieLoss") else out
    margins = _class_name(job).endswith("Hinge")
    if task == "multiclass":
        if job.head.activation == "linear" and not margins:
            raw = raw - raw.max(axis=1, keepdims=True)
            raw = np.exp(raw)
            raw /= raw.sum(axis=1, keepdims=True)
        return raw
    if job.head.activation == "linear" and not margins:
        raw = 1.0 / (1.0 + np.exp(-np.clip(raw, -50, 50)))
    return raw.reshape(-1) if task == "binary" else raw


def _class_name(job: TrialJob) -> str:
    return job.loss_class.__name__ if isinstance(job.loss_class, type) else job.loss_class


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
