"""Paste-ready code for a configured loss: the protocol the trials followed, line for line.

The code is the configuration's :class:`~advisor.losses.protocol.Training` and
:class:`~advisor.losses.protocol.Prediction` written out: the seed, the output layer with the bias the
trials started from, ``compile`` with the optimizer and learning rate, the seeded validation
split (weighted like the training rows when class weights are in play), ``fit`` with the epoch
cap, batch size and early stopping, and the function that turns outputs into the predictions the
trials scored. Numbers are printed exactly as the trials used them. The code runs as printed
given ``X``, ``y``, ``inputs`` and ``hidden`` (the comment at its top says what each is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.profiling.profiler import DatasetProfile
from advisor.profiling.target import CLASSIFICATION_TASKS, VALUE_TASKS

if TYPE_CHECKING:  # pragma: no cover
    from advisor.losses.catalog import LossConfig

MAX_LISTED_LABELS = 8


def python_literal(value) -> str:
    """A short Python literal: floats to 4 significant digits, lists and dicts recursively."""
    return _literal(value, _short_float)


def exact_literal(value) -> str:
    """A Python literal that reads back as exactly ``value`` (floats by their shortest repr)."""
    return _literal(value, repr)


def _short_float(value: float) -> str:
    text = f"{value:.4g}"
    return text if any(c in text for c in ".en") else text + ".0"


def _literal(value, float_text) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v, float_text) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(_key(k), float_text)}: {_literal(v, float_text)}"
                               for k, v in value.items()) + "}"
    return repr(value)


def _key(k):
    return int(k) if isinstance(k, str) and k.isdigit() else k


def loss_expression(config: LossConfig) -> tuple[str, str | None]:
    """``keras.losses.Huber(delta=99.5)`` and, for our own classes, the import it needs."""
    keras_spec = config.keras
    name = keras_spec["class_name"]
    args = ", ".join(f"{k}={exact_literal(v)}" for k, v in keras_spec["config"].items())
    if name.startswith("advisor>"):
        cls = name.split(">", 1)[1]
        return f"{cls}({args})", f"from advisor.keras_losses import {cls}"
    module = keras_spec.get("module")
    if module and not module.startswith("keras"):
        return f"{name}({args})", f"from {module} import {name}"
    return f"keras.losses.{name}({args})", None


def target_comment(config: LossConfig, p: DatasetProfile) -> str:
    labels = [str(x) for x in (p.class_labels or ())]
    shown = ", ".join(repr(x) for x in labels[:MAX_LISTED_LABELS])
    shown += ", …" if len(labels) > MAX_LISTED_LABELS else ""
    return {
        "binary_01": f"# y: 1 where {p.target} == {p.positive_class!r}, else 0",
        "label_index": f"# y: the class index in [{shown}]",
        "one_hot": f"# y: keras.utils.to_categorical(class index, {p.n_classes}) over [{shown}]",
        "multi_hot": f"# y: one 0/1 column per label: {shown}",
    }.get(config.target_transform, f"# y: {p.target} as it is")


def _output_comment(config: LossConfig) -> str:
    output = config.prediction.output
    if output == "logits":
        return "logits"
    if output == "margin":
        return "margins, not probabilities"
    if output == "log_mean":
        return "the log of the mean"
    if output == "probability":
        return "probabilities"
    return "target units"


def _bias_comment(config: LossConfig) -> str:
    if config.task not in CLASSIFICATION_TASKS:
        return "start at the target's mean"
    if config.training.validation_weighted:
        return "start at the class-weighted prior"
    return "start at the class prior"


def head_lines(config: LossConfig) -> list[str]:
    head = config.head
    activation = "" if head.activation == "linear" else f', activation="{head.activation}"'
    comment = f"  # {_output_comment(config)}"
    if head.bias is not None and head.units == 1:
        init = f", bias_initializer=keras.initializers.Constant({exact_literal(head.bias[0])})"
        lines = [f"outputs = keras.layers.Dense(1{activation}{init})(hidden)"
                 f"{comment}; bias: {_bias_comment(config)}"]
    elif head.bias is not None:
        lines = [f"head = keras.layers.Dense({head.units}{activation}){comment}",
                 "outputs = head(hidden)",
                 f"head.bias.assign({exact_literal(list(head.bias))})  # {_bias_comment(config)}"]
    else:
        lines = [f"outputs = keras.layers.Dense({head.units}{activation})(hidden){comment}"]
    if head.rescale_scale is not None:
        lines.append(f"outputs = keras.layers.Rescaling(scale={exact_literal(head.rescale_scale)}, "
                     f"offset={exact_literal(head.rescale_offset)})(outputs)"
                     "  # start at the median, robust spread")
    return lines


def _stratify(config: LossConfig) -> tuple[list[str], str]:
    """Lines computing what the split stratifies on, and the ``stratify=`` argument."""
    if not config.training.stratify:
        return [], ""
    transform = config.target_transform
    if transform == "one_hot":
        return [], ", stratify=y.argmax(axis=1)"
    if transform == "multi_hot":
        return (["rarest = np.argmin(np.minimum(y.sum(axis=0), len(y) - y.sum(axis=0)))"
                 "  # stratify on the rarest label"], ", stratify=y[:, rarest]")
    return [], ", stratify=y"


def _labels(config: LossConfig) -> str:
    return "y.argmax(axis=1)" if config.target_transform == "one_hot" else "y"


def prediction_lines(config: LossConfig, p: DatasetProfile) -> list[str]:
    prediction = config.prediction
    what = prediction.predicts
    if config.task == "binary" and prediction.kind != "margin":
        what = f"the probability that {p.target} == {p.positive_class!r}"
    elif prediction.kind == "exp":
        what = f"the predicted mean of {p.target}"
    elif config.task in VALUE_TASKS:
        what = f"the predicted {p.target}"
    return [f"def predict(X):  # {what}, as the trials scored it",
            f"    return keras.ops.convert_to_numpy({prediction.expression('model(X)')})"]


def render_code(config: LossConfig, p: DatasetProfile) -> str:
    training = config.training
    class_weight = config.fit.get("class_weight")
    expression, import_line = loss_expression(config)
    strata_lines, stratify = _stratify(config)
    needs_numpy = bool(class_weight) or bool(strata_lines)
    lines = ["import keras"]
    if needs_numpy:
        lines.append("import numpy as np")
    lines.append("from sklearn.model_selection import train_test_split")
    if import_line:
        lines.append(import_line)
    lines += [
        "# You supply: X, a float32 array of preprocessed features (one row per example); y, the",
        "# target encoded as below; inputs and hidden, your model's input and last hidden layer",
        "# (e.g. inputs = keras.Input((X.shape[1],)); "
        "hidden = keras.layers.Dense(64, activation=\"relu\")(inputs)).",
        target_comment(config, p),
        f"keras.utils.set_random_seed({training.seed})  # the head starts as in the trials",
    ]
    lines += head_lines(config)
    lines.append("model = keras.Model(inputs, outputs)")
    lines.append(f"model.compile(optimizer=keras.optimizers.{training.optimizer_class}("
                 f"learning_rate={exact_literal(float(training.learning_rate))}), "
                 f"loss={expression})")
    lines += strata_lines
    split = (f"test_size={exact_literal(float(training.validation_fraction))}{stratify}, "
             f"random_state={training.seed}")
    stop = (f"keras.callbacks.EarlyStopping(monitor=\"{training.monitor}\", "
            f"patience={training.patience}, "
            f"restore_best_weights={training.restore_best_weights})")
    schedule = (f"epochs={training.max_epochs}, batch_size={training.batch_size}, "
                "shuffle=False,  # the split left the rows in a seeded random order")
    if class_weight:
        weights = {int(k): float(v) for k, v in class_weight.items()}
        validation = ("(X_val, y_val, w_val)" if training.validation_weighted
                      else "(X_val, y_val)")
        lines += [
            f"class_weight = {exact_literal(weights)}",
            f"w = np.array([class_weight[int(c)] for c in {_labels(config)}], dtype=\"float32\")"
            "  # each row's class weight",
            f"X_train, X_val, y_train, y_val, w_train, w_val = train_test_split(X, y, w, {split})",
            f"model.fit(X_train, y_train, sample_weight=w_train, validation_data={validation},"
            + ("  # validation rows weighted too" if training.validation_weighted else ""),
        ]
    else:
        lines += [
            f"X_train, X_val, y_train, y_val = train_test_split(X, y, {split})",
            "model.fit(X_train, y_train, validation_data=(X_val, y_val),",
        ]
    lines += [f"          {schedule}", f"          callbacks=[{stop}])"]
    lines += prediction_lines(config, p)
    return "\n".join(lines)
