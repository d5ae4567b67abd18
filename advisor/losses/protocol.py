"""The training protocol: how a candidate loss is trained, and how its outputs are read.

One description serves three readers, so that what the user pastes is what the trials measured:

- the trials (:mod:`advisor.validation.trials`) train and score by it;
- the paste-ready code (:mod:`advisor.losses.code`) prints it;
- the JSON output carries it (``training`` and ``prediction`` of every candidate).

:class:`Training` is the fit: the inner validation split, whether its rows carry the class
weights, early stopping, the epoch cap, batch size, optimizer and seed. :class:`Prediction` is how
the model's raw output becomes what the metric scores (a sigmoid of logits, the exponential of a
log-mean…). Both are pure data; nothing here imports TensorFlow or Keras.

Defaults and where they come from:

- inner validation split of 15%, early stopping on the validation loss with patience 10 and the
  best weights restored (Prechelt 1998, "Early stopping — but when?": patience-based stopping
  with the best model kept);
- Adam with learning rate 1e-3 (Kingma & Ba 2015);
- with class weights, the validation rows carry the same weights, so early stopping watches the
  objective the model trains on (a weighted fit judged by an unweighted loss is judged on a
  different problem: Elkan 2001 on cost-sensitive learning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.base.records import Record
from advisor.profiling.target import CLASSIFICATION_TASKS

VALIDATION_FRACTION = 0.15  # share of the training rows held out for early stopping
MONITOR = "val_loss"
PATIENCE = 10  # Prechelt 1998
MAX_EPOCHS = 100
LEARNING_RATE = 1e-3  # Kingma & Ba 2015, Adam's default
OPTIMIZER = "adam"
MIN_BATCH, MAX_BATCH = 32, 1024
STEPS_PER_EPOCH = 30

CLASSIFICATION = CLASSIFICATION_TASKS

# What a model's raw output (after the head's activation) means.
OUTPUTS = ("probability", "logits", "margin", "log_mean", "value")
# How that output becomes what the metric scores.
PREDICTION_KINDS = ("sigmoid", "softmax", "identity", "exp", "margin")
# Keras optimizer classes by the names the protocol uses.
OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


@dataclass(frozen=True)
class Training(Record):
    """How a candidate is trained: the trials follow it, the printed code prints it.

    Rows go through ``fit`` in the order the seeded validation split leaves them: a random order,
    the same every epoch. With a seed set, Keras 3's ``shuffle=True`` on NumPy inputs repeats one
    permutation every epoch anyway (Keras 3.15), so shuffling buys nothing over this explicit
    order — and the explicit order is what lets the trials feed the same batches.
    """

    validation_fraction: float = VALIDATION_FRACTION
    validation_weighted: bool = False  # the validation rows carry the class weights too
    monitor: str = MONITOR
    patience: int = PATIENCE
    restore_best_weights: bool = True
    max_epochs: int = MAX_EPOCHS
    batch_size: int = MIN_BATCH
    optimizer: str = OPTIMIZER
    learning_rate: float = LEARNING_RATE
    stratify: bool = True  # the validation split keeps the class shares (classification)
    seed: int = 0  # keras.utils.set_random_seed and the split's random_state

    def describe(self) -> str:
        weighted = ", weighted" if self.validation_weighted else ""
        split = "stratified " if self.stratify else ""
        return (f"{self.optimizer} (lr {self.learning_rate:g}), batch {self.batch_size}, up to "
                f"{self.max_epochs} epochs; early stopping on {self.monitor} of a {split}"
                f"{self.validation_fraction:.0%} validation split{weighted} (patience "
                f"{self.patience}{', best weights restored' if self.restore_best_weights else ''})"
                f"; seed {self.seed}")

    @property
    def optimizer_class(self) -> str:
        """The Keras class name of the optimizer (``keras.optimizers.Adam``)."""
        return OPTIMIZERS.get(self.optimizer.lower(), self.optimizer)


@dataclass(frozen=True)
class Prediction(Record):
    """How the model's raw output becomes what the metric scores.

    ``kind``: sigmoid (logits of independent labels), softmax (logits of one class among K),
    identity (the output already is a probability or a target value), exp (the output is the log
    of the mean) or margin (a max-margin score, used as it is: decide at 0, or by the argmax).
    """

    kind: str
    output: str  # what the raw output is: probability | logits | margin | log_mean | value
    task: str

    def expression(self, raw: str) -> str:
        """The Keras expression that turns ``raw`` (e.g. ``"model(X)"``) into predictions."""
        if self.kind == "sigmoid":
            return f"keras.ops.sigmoid({raw})"
        if self.kind == "softmax":
            return f"keras.ops.softmax({raw}, axis=-1)"
        if self.kind == "exp":
            return f"keras.ops.exp({raw})"
        return raw

    @property
    def predicts(self) -> str:
        """What the predictions are."""
        if self.kind == "margin":
            return ("class scores (the argmax is the class)" if self.task == "multiclass"
                    else "margins (decide at 0; larger means the positive class)")
        if self.task == "binary":
            return "the probability of the positive class"
        if self.task == "multiclass":
            return "the probability of each class"
        if self.task == "multilabel":
            return "each label's probability"
        return "the predicted mean" if self.kind == "exp" else "the predicted value"

    def describe(self) -> str:
        how = {"sigmoid": "sigmoid of the logits", "softmax": "softmax of the logits",
               "exp": "exponential of the log-mean", "margin": "the raw margins",
               "identity": f"the raw output ({self.output})"}[self.kind]
        return f"{how}: {self.predicts}"


def prediction_for(output: str, task: str) -> Prediction:
    """The prediction for a model whose raw output means ``output``, on a ``task`` target."""
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; expected one of {', '.join(OUTPUTS)}")
    if output == "logits":
        if task not in CLASSIFICATION:
            raise ValueError(f"logits make no prediction on a {task} target")
        kind = "softmax" if task == "multiclass" else "sigmoid"
    elif output == "margin":
        kind = "margin"
    elif output == "log_mean":
        kind = "exp"
    else:
        kind = "identity"
    return Prediction(kind=kind, output=output, task=task)


def batch_size_for(train_rows: int) -> int:
    """Bigger batches for bigger tables: about 20–40 steps an epoch, between 32 and 1024 rows."""
    size = 2 ** round(math.log2(max(train_rows / STEPS_PER_EPOCH, MIN_BATCH)))
    return int(min(max(size, MIN_BATCH), MAX_BATCH))


def training_for(config: Any, *, rows: int | None = None, batch_size: int | None = None,
                 max_epochs: int = MAX_EPOCHS, seed: int = 0, patience: int = PATIENCE,
                 learning_rate: float = LEARNING_RATE) -> Training:
    """The training protocol of ``config`` (a :class:`~advisor.losses.catalog.LossConfig`).

    The validation rows are weighted exactly when the fit is (class weights in ``config.fit``);
    the split is stratified for classification. ``batch_size`` defaults to the rule of
    :func:`batch_size_for` on the rows left for training after the validation split.
    """
    if batch_size is None:
        batch_size = (batch_size_for(round(rows * (1 - VALIDATION_FRACTION))) if rows
                      else MIN_BATCH)
    return Training(
        validation_weighted=bool((config.fit or {}).get("class_weight")),
        max_epochs=int(max_epochs), batch_size=int(batch_size), patience=int(patience),
        learning_rate=float(learning_rate), stratify=config.task in CLASSIFICATION,
        seed=int(seed),
    )


def weighted_prior(fractions: list[float] | tuple[float, ...],
                   class_weight: dict[Any, float] | None) -> list[float]:
    """The class shares a model trained with ``class_weight`` settles at: π_c ∝ w_c · f_c.

    A weighted likelihood counts a row of class c w_c times, so its intercept-only optimum is the
    weighted share; balanced weights n/(K·n_c) make it uniform.
    """
    if not class_weight:
        return list(fractions)
    weights = {int(k): float(v) for k, v in class_weight.items()}
    raw = [f * weights.get(i, 1.0) for i, f in enumerate(fractions)]
    total = sum(raw)
    return [r / total for r in raw] if total > 0 else list(fractions)


def class_weight_of(y: np.ndarray, class_weight: dict[Any, float]) -> np.ndarray:
    """Each row's class weight, as float32: the printed code's ``w`` (``y`` holds class indices
    or 0/1 labels; a one-hot ``y`` is read by its argmax)."""
    y = np.asarray(y)
    labels = (y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)).astype(int)
    keys = np.array(sorted(int(k) for k in class_weight), dtype=int)
    weights = np.array([float(class_weight[k]) for k in sorted(class_weight, key=int)])
    at = np.searchsorted(keys, labels).clip(max=len(keys) - 1)
    missing = keys[at] != labels
    if missing.any():
        raise KeyError(int(labels[missing][0]))  # a class without a weight, as a dict lookup says
    return weights[at].astype("float32")


def rarest_label(counts: list[int] | tuple[int, ...], n_rows: int) -> int:
    """The multilabel column the validation split stratifies on: the label whose rarer value
    (positive or negative) has the fewest rows."""
    return int(np.argmin([min(c, n_rows - c) for c in counts]))


def split_strata(y: np.ndarray, task: str, stratify: bool = True) -> np.ndarray | None:
    """What the validation split stratifies on, for ``y`` as the trials hold it (0/1 labels,
    class indices, a 0/1 label matrix, values): the labels, the argmax of a one-hot matrix, the
    rarest label of a multilabel matrix; None for regression and counts or ``stratify=False``."""
    if not stratify or task not in CLASSIFICATION:
        return None
    y = np.asarray(y)
    if task == "multilabel":
        counts = y.sum(axis=0).astype(int).tolist()
        return y[:, rarest_label(counts, len(y))]
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    return y.reshape(-1)


__all__ = ["CLASSIFICATION", "LEARNING_RATE", "MAX_EPOCHS", "MONITOR", "OPTIMIZERS", "OUTPUTS",
           "PATIENCE", "PREDICTION_KINDS", "Prediction", "Training", "VALIDATION_FRACTION",
           "batch_size_for", "class_weight_of", "prediction_for", "rarest_label", "split_strata",
           "training_for", "weighted_prior"]
