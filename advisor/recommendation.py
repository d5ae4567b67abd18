"""The whole pipeline: ``recommend(data, target, ...) -> Recommendation``.

load → profile → criteria → rules → (validation) → the answer: a ready-to-use Keras loss with
its ``fit()`` arguments, the output layer it expects, paste-ready code, and the evidence. The
``Recommendation`` round-trips through JSON (the ``--format json`` document), so reports can be
re-rendered from a saved result without re-running anything.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from advisor import __version__
from advisor.catalog import BASELINE_LOSSES, build_loss, configure, incompatibility, specs
from advisor.criteria import Criteria, criteria_for
from advisor.errors import AdvisorError, UsageError
from advisor.keras_semantics import assumed_semantics, version_is_covered
from advisor.loading import SourceFormat, load_table
from advisor.profiler import DatasetProfile, profile_frame
from advisor.records import Record
from advisor.rules import Candidate, Exclusion, RuleBook
from advisor.budget import Plan
from advisor.validator import Validation, skipped_validation

# Facts only the user states (costs, a quantile): a loss proposed because of them is what the
# user asked for, so the trials report on it but do not overrule it.
STATED_FACTS = ("fn_cost", "fp_cost", "cost_ratio", "under_cost", "over_cost", "quantile_tau")


@dataclass(frozen=True)
class InputInfo(Record):
    path: str | None
    target: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Choice(Candidate):
    """The recommended candidate, with the verdict that chose it."""

    verdict: str = ""


@dataclass(frozen=True)
class Recommendation(Record):
    advisor_version: str
    input: InputInfo
    profile: DatasetProfile
    criteria: Criteria
    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...]
    validation: Validation
    recommendation: Choice
    warnings: tuple[str, ...]
    reproducibility: dict[str, Any]

    @property
    def output_activation(self) -> str:
        return self.recommendation.output_activation

    @property
    def fit_kwargs(self) -> dict[str, Any]:
        return self.recommendation.fit_kwargs

    @property
    def code(self) -> str:
        return self.recommendation.code

    @cached_property
    def loss(self):
        """The recommended ``keras.losses.Loss`` instance (imports Keras)."""
        return build_loss(self.recommendation)

    def save_report(self, path: str | os.PathLike) -> Path:
        from advisor.report import write_report

        return write_report(self, path)


def recommend(data: pd.DataFrame | str | os.PathLike, target=None, *, y=None, task: str | None = None,
              domain: str = "generic", metric: str | None = None, model: str = "mlp",
              output: str | None = None, budget: float = 60.0, validate: bool = True,
              candidates: int = 4, seed: int = 0, rules: list | tuple = (), jobs: int = 1,
              fn_cost: float | None = None, fp_cost: float | None = None,
              under_cost: float | None = None, over_cost: float | None = None,
              calibration: bool | None = None, memory_limit_mb: float | None = None,
              encoding: str | None = None, cache: bool | str | os.PathLike = True,
              model_fn: Callable | None = None, progress: bool = False,
              command: str | None = None, plan: Plan | str | os.PathLike | None = None
              ) -> Recommendation:
    """Profile, match rules over the four criteria, validate the top candidates, recommend.

    ``data`` is a path or a DataFrame holding the target column, or a feature matrix with the
    target given as ``y`` (``advisor.recommend(X, y)``). ``model_fn(n_features, output)`` builds
    the user's own Keras model for the trials (see :mod:`advisor.validator`). ``plan``: a saved
    result (its path) or a :class:`Plan` whose trials to replay exactly.
    """
    replay = load_plan(plan) if plan is not None else None
    if y is None and target is not None and not _names_columns(target):
        y, target = target, None  # advisor.recommend(X, y): the second argument is the target
    frame, source, fmt, digest = _inputs(data, target, y, encoding)
    if y is not None:
        target = "target"
    prof = profile_frame(frame, target, task, source=source, source_format=fmt, seed=seed)
    book = RuleBook.load(rules)
    crit = criteria_for(prof, model=model, output=output, budget_seconds=budget,
                        memory_limit_mb=memory_limit_mb, jobs=jobs, domain=domain, fn_cost=fn_cost,
                        fp_cost=fp_cost, under_cost=under_cost, over_cost=over_cost,
                        calibration=calibration, metric=metric, known_domains=book.domains)
    if candidates < 1:
        raise UsageError(f"--candidates must be at least 1, got {candidates}.")
    semantics = assumed_semantics()
    started = time.time()  # validation's budget counts importing TensorFlow for it
    if validate or model_fn is not None:
        from advisor.keras_semantics import verify_semantics

        semantics = verify_semantics(cache)
    matching = book.match(prof, crit, semantics)
    if not matching.candidates:
        raise AdvisorError(f"No rule suggested a loss for this {prof.task} target; check the "
                           "rules files passed with --rules.")
    warnings = list(prof.warnings)
    if not version_is_covered(semantics.keras_version):
        warnings.append(f"Keras {semantics.keras_version} is outside the versions whose loss "
                        "semantics were verified; run with validation to check them.")
    if prof.task_ambiguous and prof.task_source != "user":
        warnings.append(f"The task call is ambiguous ({prof.task} or {prof.task_alternative}): "
                        "the recommendation assumes " + prof.task + "; pass --task to decide.")
    base = baseline_candidate(matching.candidates, prof, crit, semantics)
    stated = stated_choice(matching.candidates)
    if validate:
        from advisor.validator import validate as run_validation

        ranked = matching.candidates
        if stated is not None:  # what the user asked for is trialled first, whatever the budget
            ranked = (stated,) + tuple(c for c in ranked if c.id != stated.id)
        trialled = trial_set(ranked, candidates, base, prof, crit, semantics)
        validation = run_validation(frame, prof, crit, trialled, baseline=base.id, seed=seed,
                                    cache=cache, model_fn=model_fn, progress=progress,
                                    started=started, stated=stated.id if stated else None,
                                    replay=replay)
        warnings.extend(validation.warnings)
        pool = _as_trialled(trialled + tuple(c for c in matching.candidates if c not in trialled),
                            validation.plan, seed, prof)
    else:
        pick = stated or matching.candidates[0]
        validation = skipped_validation(crit, pick=pick.id, baseline=base.id,
                                        decided_by="statement" if stated else "rules")
        pool = matching.candidates
    chosen = _choose(pool, validation)
    return Recommendation(
        advisor_version=__version__,
        input=InputInfo(source if source != "DataFrame" else None, prof.target, prof.n_rows, digest),
        profile=prof,
        criteria=crit,
        candidates=_as_trialled(matching.candidates, validation.plan, seed, prof),
        excluded=matching.excluded,
        validation=validation,
        recommendation=chosen,
        warnings=tuple(dict.fromkeys(warnings)),
        reproducibility=_reproducibility(seed, book, semantics, command, validate, candidates,
                                         encoding, validation.plan),
    )


def baseline_candidate(candidates: tuple[Candidate, ...], prof: DatasetProfile, crit: Criteria,
                       semantics) -> Candidate:
    """The task's baseline loss (cross-entropy / MSE / Poisson) as the rules proposed it, or configured
    from the catalogue when no rule did: the answer unless trials show another loss better."""
    for c in candidates:
        if c.loss == BASELINE_LOSSES[prof.task] and not c.fit:
            return c
    key = BASELINE_LOSSES[prof.task]
    config = configure(key, prof, crit, {}, semantics)
    return Candidate(**config.__dict__, id=key,
                     why="The task's baseline loss: every comparison is made against it.")


def stated_choice(candidates: tuple[Candidate, ...]) -> Candidate | None:
    """The best-ranked candidate a rule proposed because of the user's own statement (costs, a
    quantile): then the statement, not the trials, decides."""
    for candidate in candidates:
        for firing in candidate.rules:
            if any(e.fact in STATED_FACTS for e in firing.evidence):
                return candidate
    return None


def trial_set(candidates: tuple[Candidate, ...], k: int, baseline: Candidate,
              prof: DatasetProfile | None = None, crit: Criteria | None = None,
              semantics=None) -> tuple[Candidate, ...]:
    """The baseline and the rules' top ``k − 1`` alternatives, in the rules' order (the baseline
    where the rules ranked it). One loss alone decides nothing: when the rules propose no
    alternative, the simplest catalogue loss that fits the task is trialled against it."""
    alternatives = [c for c in candidates if c.id != baseline.id][:max(k - 1, 1)]
    if not alternatives and prof is not None:
        alternatives = _fallback_alternative(baseline, prof, crit, semantics)
    chosen = {baseline.id, *(c.id for c in alternatives)}
    ranked = [c for c in candidates if c.id in chosen]
    if baseline.id not in {c.id for c in ranked}:
        ranked.append(baseline)
    ranked += [c for c in alternatives if c.id not in {r.id for r in ranked}]
    return tuple(ranked)


def _fallback_alternative(baseline: Candidate, prof: DatasetProfile, crit: Criteria,
                          semantics) -> list[Candidate]:
    from advisor.rules import facts_of

    facts = facts_of(prof, crit)
    fitting = sorted((spec.complexity, key) for key, spec in specs().items()
                     if key != baseline.loss and prof.task in spec.variants
                     and incompatibility(spec, facts) is None)
    if not fitting:
        return []
    key = fitting[0][1]
    config = configure(key, prof, crit, {}, semantics)
    return [Candidate(**config.__dict__, id=key,
                      why="No rule proposed an alternative: the simplest other loss for the task.")]


def load_plan(plan: Plan | str | os.PathLike) -> Plan:
    """The plan saved in a result's JSON (``reproducibility.plan``), to replay its trials."""
    if isinstance(plan, Plan):
        return plan
    import json

    path = Path(plan)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read the plan file {path}: {exc.strerror}. Pass the JSON a "
                         "validated run wrote (--format json or --report FILE.json).") from None
    except ValueError:
        raise UsageError(f"The plan file {path} is not JSON. Pass the JSON a validated run wrote "
                         "(--format json or --report FILE.json).") from None
    saved = data.get("reproducibility", {}).get("plan") if isinstance(data, dict) else None
    if not saved:
        raise UsageError(f"{path} holds no plan (reproducibility.plan): it is not the result of a "
                         "validated run. Pass the JSON of a run without --no-validate.")
    try:
        return Plan.from_dict(saved)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"The plan in {path} does not fit this version of the advisor ({exc}); "
                         "re-run the original command to make a new one.") from None


def _as_trialled(candidates: tuple[Candidate, ...], plan: Plan | None, seed: int,
                 prof: DatasetProfile) -> tuple[Candidate, ...]:
    """The candidates with the training protocol the trials ran (epoch cap, batch size, seed),
    so the code each one prints trains the way its trials did."""
    if plan is None:
        return candidates
    from advisor.catalog import with_training

    return tuple(with_training(c, c.training.replace(
        max_epochs=plan.max_epochs, batch_size=plan.batch_size, patience=plan.patience,
        seed=seed), prof) for c in candidates)


def _choose(candidates: tuple[Candidate, ...], validation: Validation) -> Choice:
    by_id = {c.id: c for c in candidates}
    pick = by_id.get(validation.recommended) or candidates[0]
    verdict = validation.verdict
    fields = {k: v for k, v in pick.__dict__.items()}
    why = pick.why if pick.why else ""
    fields["why"] = f"{verdict} Rules: {why}" if why else verdict
    return Choice(**fields, verdict=verdict)


def _inputs(data, target, y, encoding):
    if y is not None:
        if not isinstance(data, (pd.DataFrame,)) and not hasattr(data, "shape"):
            raise UsageError("With y=..., pass the features as a DataFrame or an array.")
        frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        frame.columns = [str(c) for c in frame.columns]
        if "target" in frame.columns:
            raise UsageError("The features already have a column named 'target'; pass one table "
                             "with target='column' instead of y=.")
        values = y.to_numpy() if hasattr(y, "to_numpy") else y
        if len(values) != len(frame):
            raise UsageError(f"y has {len(values)} rows but the features have {len(frame)}.")
        frame["target"] = values
        return frame, "DataFrame", "pandas DataFrame", _frame_digest(frame)
    if isinstance(data, pd.DataFrame):
        return data, "DataFrame", "pandas DataFrame", _frame_digest(data)
    if isinstance(data, (str, os.PathLike)):
        from concurrent.futures import ThreadPoolExecutor

        # hashlib releases the GIL: the digest runs on a spare core while the table is read.
        with ThreadPoolExecutor(max_workers=1) as pool:
            digest = pool.submit(_file_sha256, data)
            frame = load_table(data, encoding=encoding)
            fmt = SourceFormat(**frame.attrs["source_format"]).describe()
            return frame, str(Path(data)), fmt, digest.result()
    raise UsageError(f"Expected a path or a pandas DataFrame, got {type(data).__name__}.")


def _names_columns(target) -> bool:
    """A column name, "a,b,c", or a list of names — not the target values themselves."""
    if isinstance(target, str):
        return True
    return isinstance(target, (list, tuple)) and all(isinstance(t, str) for t in target)


def _file_sha256(path) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return ""  # load_table reports the unreadable file, with a better message


def _frame_digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    header = "\x1f".join(map(str, frame.columns)).encode()
    return hashlib.sha256(header + hashed.tobytes()).hexdigest()


def _reproducibility(seed, book: RuleBook, semantics, command, validate, candidates,
                     encoding, plan: Plan | None) -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    modules = {"keras": "keras", "tensorflow": "tensorflow", "scikit-learn": "sklearn",
               "pandas": "pandas", "numpy": "numpy", "pyarrow": "pyarrow"}
    for package, module in modules.items():
        # A loaded module knows its version; asking the package metadata scans site-packages.
        loaded = sys.modules.get(module)
        try:
            versions[package] = getattr(loaded, "__version__", None) or metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "seed": seed,
        "command": command,
        "encoding": encoding,
        "validated": validate,
        "candidates_trialled": candidates if validate else 0,
        "rules_files": [{"path": path, "sha256": sha} for path, sha in book.files],
        "versions": versions,
        "keras_semantics": semantics.to_dict(),
        "plan": plan.to_dict() if plan is not None else None,
    }
