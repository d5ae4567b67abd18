"""What the installed Keras actually does with the arguments our derived parameters feed it.

Keras's loss arguments have traps (docs/losses.md §5): ``BinaryFocalCrossentropy`` ignores ``alpha``
unless ``apply_class_balancing=True`` and then weights class **1** by alpha; a categorical focal
``alpha`` list weights classes by index. ``verify_semantics()`` measures each on the installed Keras with two-row
computations. ``assumed_semantics()`` returns the behaviour verified for the Keras versions we
test against, without importing Keras, so rule matching stays TensorFlow-free; whenever Keras is
imported anyway (validation, building ``rec.loss``) the verified behaviour replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from advisor.base.records import Record
from advisor.base.version import installed_version

# Keras releases whose behaviour matches ASSUMED (checked by the test suite on the installed one).
VERIFIED_MAJOR = 3


@dataclass(frozen=True)
class KerasSemantics(Record):
    keras_version: str
    verified: bool
    focal_alpha_needs_balancing_flag: bool  # alpha is ignored unless apply_class_balancing=True
    focal_alpha_weights_class_1: bool  # with the flag, alpha multiplies the loss of y = 1
    categorical_focal_alpha_by_index: bool  # an alpha list weights class i by alpha[i]

    def keras_binary_alpha(self, weight_on_positive: float) -> float:
        """Keras's ``alpha`` that puts ``weight_on_positive`` on class 1 (the positive class)."""
        if self.focal_alpha_weights_class_1:
            return weight_on_positive
        return round(1.0 - weight_on_positive, 6)


def installed_keras_version() -> str:
    return installed_version("keras") or "not installed"


def assumed_semantics() -> KerasSemantics:
    """The behaviour of Keras 3 as verified by our tests, without importing Keras."""
    return KerasSemantics(
        keras_version=installed_keras_version(),
        verified=False,
        focal_alpha_needs_balancing_flag=True,
        focal_alpha_weights_class_1=True,
        categorical_focal_alpha_by_index=True,
    )


def version_is_covered(version: str) -> bool:
    return version.split(".")[0] == str(VERIFIED_MAJOR)


def verify_semantics(cache: bool | str | None = None, measure=None) -> KerasSemantics:
    """The installed Keras's measured behaviour; with a cache, measured once per Keras install
    (keyed by its version and location), so later runs need not import TensorFlow for it.
    ``measure``: what measures it when the cache has nothing (default :func:`measure_semantics`
    here; a Dask run measures on a worker, where the trials import Keras)."""
    from advisor.base.cache import memory

    measure = measure or measure_semantics
    store = memory(cache)
    if store is None:
        return measure()
    return store.cache(_measured_for, ignore=["measure"])(installed_keras_version(),
                                                          _install_stamp(), measure)


def _measured_for(version: str, stamp: str, measure) -> KerasSemantics:
    """Cached by its arguments: a Keras version and where/when it was installed."""
    return measure()


def _install_stamp() -> str:
    """Location and modification time of the installed Keras, found without importing it."""
    import os
    from importlib.util import find_spec

    spec = find_spec("keras")
    if spec is None or spec.origin is None:
        return "missing"
    return f"{spec.origin}:{os.path.getmtime(spec.origin):.0f}"


@lru_cache(maxsize=1)
def measure_semantics() -> KerasSemantics:
    """Measure the installed Keras (imports it): each fact from a two-row computation."""
    import numpy as np

    from advisor.losses.kerasenv import import_keras

    keras = import_keras()

    def value(loss, y, p):
        return float(loss(np.array(y, dtype="float32"), np.array(p, dtype="float32")))

    focal = keras.losses.BinaryFocalCrossentropy
    gated = value(focal(alpha=0.9), [[1.0]], [[0.5]]) == value(focal(alpha=0.1), [[1.0]], [[0.5]])
    balanced = focal(alpha=0.9, apply_class_balancing=True)
    on_class_1 = value(balanced, [[1.0]], [[0.5]]) > value(balanced, [[0.0]], [[0.5]])
    categorical = keras.losses.CategoricalFocalCrossentropy(alpha=[0.9, 0.1])
    by_index = (value(categorical, [[1.0, 0.0]], [[0.5, 0.5]])
                > value(categorical, [[0.0, 1.0]], [[0.5, 0.5]]))
    return KerasSemantics(
        keras_version=keras.__version__,
        verified=True,
        focal_alpha_needs_balancing_flag=gated,
        focal_alpha_weights_class_1=on_class_1,
        categorical_focal_alpha_by_index=by_index,
    )
