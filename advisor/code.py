"""Paste-ready code for a configured loss: the target encoding, the output layer, compile, fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.profiler import DatasetProfile

if TYPE_CHECKING:  # pragma: no cover
    from advisor.catalog import LossConfig

MAX_LISTED_LABELS = 8


def python_literal(value) -> str:
    """A short Python literal: floats to 4 significant digits, lists and dicts recursively."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        text = f"{value:.4g}"
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(_key(k))}: {python_literal(v)}"
                               for k, v in value.items()) + "}"
    return repr(value)


def _key(k):
    return int(k) if isinstance(k, str) and k.isdigit() else k


def loss_expression(config: LossConfig) -> tuple[str, str | None]:
    """``keras.losses.Huber(delta=99.5)`` and, for our own classes, the import it needs."""
    keras_spec = config.keras
    name = keras_spec["class_name"]
    args = ", ".join(f"{k}={python_literal(v)}" for k, v in keras_spec["config"].items())
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


def head_lines(config: LossConfig) -> list[str]:
    head = config.head
    activation = "" if head.activation == "linear" else f', activation="{head.activation}"'
    comment = ""
    if head.activation == "linear" and config.from_logits:
        squash = "softmax" if config.task == "multiclass" else "sigmoid"
        comment = f"  # logits: keras.ops.{squash}(model(x)) gives probabilities"
    if config.keras["class_name"] in ("Hinge", "CategoricalHinge"):
        comment = "  # margins, not probabilities"
    if config.loss == "tweedie":
        comment = "  # the log of the mean: keras.ops.exp(model(x)) predicts"
    if head.bias is not None and head.units == 1:
        init = f", bias_initializer=keras.initializers.Constant({python_literal(head.bias[0])})"
        lines = [f"outputs = keras.layers.Dense(1{activation}{init})(hidden){comment}"]
    elif head.bias is not None:
        lines = [f"head = keras.layers.Dense({head.units}{activation}){comment}",
                 "outputs = head(hidden)",
                 f"head.bias.assign({python_literal(list(head.bias))})  # start at the class priors"]
    else:
        lines = [f"outputs = keras.layers.Dense({head.units}{activation})(hidden){comment}"]
    if head.rescale_scale is not None:
        lines.append(f"outputs = keras.layers.Rescaling(scale={python_literal(head.rescale_scale)}, "
                     f"offset={python_literal(head.rescale_offset)})(outputs)"
                     "  # start at the median, robust spread")
    return lines


def render_code(config: LossConfig, p: DatasetProfile) -> str:
    expression, import_line = loss_expression(config)
    lines = ["import keras"]
    if import_line:
        lines.append(import_line)
    lines.append(target_comment(config, p))
    lines += head_lines(config)
    lines.append(f'model.compile(optimizer="adam", loss={expression})')
    fit_args = "".join(f", {k}={python_literal(v)}" for k, v in config.fit.items())
    lines.append(f"model.fit(X, y{fit_args}, validation_split=0.2, "
                 "callbacks=[keras.callbacks.EarlyStopping(restore_best_weights=True)])")
    return "\n".join(lines)
