"""What a run is told, as one object: the CLI's options, the API's keywords and the service's form
fields are the fields of :class:`Options`, each written once here.

``Options(**fields)`` refuses an unknown name the way a function does; :meth:`Options.checked`
refuses a bad value with the CLI's one-line message (naming the ``--option``). Checks that need
the data (a cost pair on a multiclass target, a metric for another task) are made by
:func:`advisor.criteria.criteria_for`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from advisor.base.errors import UsageError
from advisor.base.records import Record
from advisor.base.suggest import choose
from advisor.profiling.target import TASKS

MODELS = ("mlp", "linear", "cnn", "rnn", "transformer")
OUTPUTS = ("logits", "probabilities")


@dataclass(frozen=True)
class Options(Record):
    """One recommend run's options (defaults are the CLI's)."""

    task: str | None = None  # None: inferred from the target
    domain: str = "generic"
    metric: str | None = None  # None: the one that fits the task and domain
    model: str = "mlp"
    output: str | None = None  # logits | probabilities | None (each loss's stable default)
    budget: float = 60.0  # seconds of validation trials
    validate: bool = True
    candidates: int = 4  # top candidates trialled
    seed: int = 0
    rules: tuple[str, ...] = ()  # rules files added to the defaults
    jobs: int = 1
    memory_limit_mb: float | None = None
    fn_cost: float | None = None
    fp_cost: float | None = None
    under_cost: float | None = None
    over_cost: float | None = None
    calibration: bool | None = None  # None: by domain
    encoding: str | None = None
    scheduler: str | None = None  # a Dask scheduler's address (tcp://host:port): trials run there

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def checked(self) -> Options:
        """These options, or a :class:`UsageError` naming the first bad one."""
        if self.task is not None:
            choose("--task", self.task, TASKS)
        choose("--model", self.model, MODELS)
        if self.output is not None:
            choose("--output", self.output, OUTPUTS)
        if not self.budget > 0:
            raise UsageError(f"--budget must be a positive number of seconds, got {self.budget:g}.")
        for option, value in (("--candidates", self.candidates), ("--jobs", self.jobs)):
            if value < 1:
                raise UsageError(f"{option} must be at least 1, got {value}.")
        if self.memory_limit_mb is not None and not self.memory_limit_mb > 0:
            raise UsageError("--memory-limit-mb must be a positive number of MiB, got "
                             f"{self.memory_limit_mb:g}.")
        for low, high, what in (("fn_cost", "fp_cost", "the cost of a missed positive and of a "
                                 "false alarm"),
                                ("under_cost", "over_cost", "the cost of predicting too low and "
                                 "too high")):
            first, second = getattr(self, low), getattr(self, high)
            if (first is None) != (second is None):
                raise UsageError(f"Pass both {_flag(low)} and {_flag(high)} ({what}), or neither.")
            for name, value in ((low, first), (high, second)):
                if value is not None and not value > 0:
                    raise UsageError(f"{_flag(name)} must be a positive number, got {value:g}.")
        return self

    @property
    def quantile_tau(self) -> float | None:
        """τ = C_under / (C_under + C_over): the quantile the stated costs ask for."""
        if self.under_cost is None:
            return None
        return self.under_cost / (self.under_cost + self.over_cost)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")
