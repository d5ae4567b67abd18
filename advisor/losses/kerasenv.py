"""Importing Keras for trials: thread count, deterministic ops, and a quiet start-up.

TensorFlow 2.21 prints CUDA probes and oneDNN notices through absl before its log level is read,
so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them; while it is imported, file descriptor 2 points
at /dev/null (unless the user asked for TensorFlow's logs with ``TF_CPP_MIN_LOG_LEVEL=0``).
Everything here is done once per process.
"""

from __future__ import annotations

import os
import sys

_configured: dict[str, int] = {}


def import_keras(threads: int | None = None):
    """Keras, with TensorFlow limited to ``threads`` intra-op threads and deterministic ops."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if threads:
            os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
            os.environ["TF_NUM_INTEROP_THREADS"] = "1"
        quiet_import_tensorflow()
    import tensorflow as tf

    if "threads" not in _configured:
        try:
            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            _configured["threads"] = threads or 0
        except RuntimeError:
            _configured["threads"] = -1  # the runtime already started: its setting stands
        tf.config.experimental.enable_op_determinism()
    import keras

    import advisor.losses.keras_losses  # noqa: F401  registers our losses for deserialisation

    return keras


def quiet_import_tensorflow() -> None:
    """Import TensorFlow with its start-up chatter sent to /dev/null; configures nothing, so
    :func:`import_keras` can still set the thread counts before the runtime starts."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
