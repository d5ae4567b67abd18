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

from advisor.base.errors import AdvisorError, UsageError
from advisor.base.files import sha256_file
from advisor.base.records import Record
from advisor.base.suggest import did_you_mean
from advisor.base.version import __version__, installed_version
from advisor.criteria.options import Options
from advisor.criteria.statement import Criteria, criteria_for
from advisor.losses.catalog import BASELINE_LOSSES, build_loss, configure, incompatibility, specs
from advisor.losses.semantics import assumed_semantics, version_is_covered
from advisor.pipeline.results import RESULT_KEYS, SAVE_HOW, load_plan, read_json
from advisor.profiling.loading import SourceFormat, frame_of, load_table, read_arrow
from advisor.profiling.profiler import (
    DatasetProfile,
    profile_frame,
    profile_streamed,
    profile_table,
)
from advisor.profiling.streaming import open_table, streams
from advisor.rules.engine import Candidate, Exclusion, RuleBook
from advisor.validation.budget import Plan
from advisor.validation.validator import Validation, skipped_validation

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
        from advisor.reporting.report import write_report

        return write_report(self, path)


def recommend(data: pd.DataFrame | str | os.PathLike, target=None, *, y=None,
              options: Options | None = None, cache: bool | str | os.PathLike = True,
              model_fn: Callable | None = None,
              progress: bool | Callable[[str, int, int], None] = False,
              command: str | None = None, plan: Plan | str | os.PathLike | None = None,
              profile: DatasetProfile | None = None, digest: str | None = None,
              **fields) -> Recommendation:
    """Profile, match rules over the four criteria, validate the top candidates, recommend.

    ``data`` is a path or a DataFrame holding the target column, or a feature matrix with the
    target given as ``y`` (``advisor.recommend(X, y)``). The run's options are an
    :class:`~advisor.criteria.options.Options` or its fields as keywords (``task``, ``domain``,
    ``metric``, ``model``, ``output``, ``budget``, ``validate``, ``candidates``, ``seed``,
    ``rules``, ``jobs``, ``memory_limit_mb``, ``fn_cost``/``fp_cost``,
    ``under_cost``/``over_cost``, ``calibration``, ``encoding``, ``scheduler``), named as the
    CLI's options.

    ``cache``: reuse and store finished trials and validated rules (``False``, ``True`` or a
    folder).
    ``model_fn(n_features, output)`` builds the user's own Keras model for the trials (see
    :mod:`advisor.validation.validator`). ``plan``: a saved result (its path) or a :class:`Plan`
    whose trials to replay exactly. ``progress``: ``True`` draws the trials on the terminal; a
    function is called as ``progress(phase, done, total)`` for the phases profiling, matching,
    trials and done.

    ``profile``: a profile of exactly this input, target, task, encoding and seed, as
    ``advisor.profile`` returns it, made earlier (the service profiles an upload to check it
    before queueing the job). The caller vouches for it: it is used as given, not checked. With
    a path, the table is then not profiled again, and read only when the run validates (the
    trials need it); the input's digest is still the file's own: ``digest``, its sha256 when the
    caller knows it (the service stores each upload under its own), saves hashing it again.
    """
    options = (options or Options()).replace(**_option_fields(fields)).checked()
    replay = load_plan(plan) if plan is not None else None
    tell = _progress_function(progress)
    try:
        tell("profiling", 0, 1)
        frame, prof, digest = _profiled(data, target, y, options, profile, digest)
        tell("matching", 0, 1)
        book = RuleBook.load(options.rules, cache=cache)
        crit = criteria_for(prof, options, known_domains=book.domains)
        started = time.time()  # validation's budget counts importing TensorFlow for it
        semantics = assumed_semantics()
        if options.validate or model_fn is not None:
            from advisor.losses.semantics import verify_semantics

            semantics = verify_semantics(cache, measure=_measure_on(options.scheduler))
        matching = book.match(prof, crit, semantics)
        if not matching.candidates:
            raise AdvisorError(f"No rule suggested a loss for this {prof.task} target; check the "
                               "rules files passed with --rules.")
        base = baseline_candidate(matching.candidates, prof, crit, semantics)
        stated = stated_choice(matching.candidates)
        if options.validate:
            validation, pool = _validated(frame, prof, crit, matching.candidates, base, stated,
                                          semantics, options, cache, model_fn, tell, started,
                                          replay)
        else:
            pick = stated or matching.candidates[0]
            validation = skipped_validation(crit, pick=pick.id, baseline=base.id,
                                            decided_by="statement" if stated else "rules")
            pool = matching.candidates
        chosen = _choose(pool, validation)
        tell("done", 1, 1)
    finally:
        if hasattr(tell, "close"):
            tell.close()
    return Recommendation(
        advisor_version=__version__,
        input=InputInfo(prof.source if prof.source != "DataFrame" else None, prof.target,
                        prof.n_rows, digest),
        profile=prof,
        criteria=crit,
        candidates=_as_trialled(matching.candidates, validation.plan, options.seed, prof),
        excluded=matching.excluded,
        validation=validation,
        recommendation=chosen,
        warnings=tuple(dict.fromkeys((*_warnings(prof, semantics), *validation.warnings))),
        reproducibility=_reproducibility(options, book, semantics, command, validation.plan),
    )


def _option_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(Options.names()))
    if unknown:
        raise TypeError(f"recommend() got an unexpected keyword argument '{unknown[0]}'"
                        f"{did_you_mean(unknown[0], Options.names())}")
    if "rules" in fields:
        fields = {**fields, "rules": tuple(str(r) for r in fields["rules"] or ())}
    return fields


def _progress_function(progress) -> Callable[[str, int, int], None]:
    if callable(progress):
        return progress
    if progress:
        from advisor.reporting.progress import TerminalProgress

        return TerminalProgress()
    return lambda phase, done, total: None


def _profiled(data, target, y, options: Options, given: DatasetProfile | None = None,
              digest: str | None = None) -> tuple[pd.DataFrame, DatasetProfile, str]:
    if y is None and target is not None and not _names_columns(target):
        y, target = target, None  # advisor.recommend(X, y): the second argument is the target
    if given is not None and y is None and isinstance(data, (str, os.PathLike)):
        return _given(data, target, given, options, digest)
    if y is None and isinstance(data, (str, os.PathLike)):
        if streams(data, options.memory_limit_mb):
            return _streamed(data, target, options)
        return _from_file(data, target, options)
    frame, source, fmt, digest = _inputs(data, target, y, options.encoding)
    if y is not None:
        target = "target"
    prof = profile_frame(frame, target, options.task, source=source, source_format=fmt,
                         seed=options.seed)
    return frame, prof, digest


def _from_file(data, target, options: Options) -> tuple[pd.DataFrame | None, DatasetProfile, str]:
    """A file that fits: profiled from pyarrow's table as ``advisor.profile`` does it, converted
    to a DataFrame only when trials need one; its digest made meanwhile (hashlib releases the
    GIL) — after the read, which keeps both cores busy, while the profile leaves one idle."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        table, fmt = read_arrow(data, encoding=options.encoding)
        digest = pool.submit(_file_sha256, data)
        prof = profile_table(table, target, options.task, source=str(Path(data)),
                             source_format=fmt.describe(), seed=options.seed)
        frame = frame_of(table, fmt) if options.validate else None
        return frame, prof, digest.result()


def _streamed(data, target, options: Options) -> tuple[pd.DataFrame | None, DatasetProfile, str]:
    """Shards, or a file too large for ``--memory-limit-mb``: one streaming pass profiles the
    table and draws the trials' stratified sample, as many rows as ``rows_within`` allows for the
    table's bytes per row (the trials' plan may cut it further). The digest covers every shard."""
    from advisor.validation.validator import rows_within

    def keep_rows(mb_per_row: float) -> int:
        return rows_within(mb_per_row, options.memory_limit_mb)[0]

    prof, frame = profile_streamed(data, target, options.task, encoding=options.encoding,
                                   seed=options.seed, keep_rows=keep_rows if options.validate else 0)
    return frame, prof, _shards_sha256(data)


def _given(data, target, prof: DatasetProfile, options: Options, known: str | None = None
           ) -> tuple[pd.DataFrame | None, DatasetProfile, str]:
    """A path with the caller's profile of it: the digest, and the trials' frame when the run
    validates (for streamed input, the streaming pass that draws their sample)."""
    if streams(data, options.memory_limit_mb):
        if options.validate:
            frame, _, digest = _streamed(data, target, options)
            return frame, prof, digest
        return None, prof, _shards_sha256(data)
    known = known if known and os.path.isfile(data) else None
    if options.validate:
        if known:
            return load_table(data, encoding=options.encoding), prof, known
        frame, _, _, digest = _inputs(data, target, None, options.encoding)
        return frame, prof, digest
    digest = known or _file_sha256(data)
    if not digest:
        load_table(data, encoding=options.encoding)  # raises the reader's message for it
    return None, prof, digest


def _shards_sha256(data) -> str:
    digest = hashlib.sha256()
    for shard in open_table(data).files:
        digest.update(f"{Path(shard).name}\x1f{_file_sha256(shard)}\n".encode())
    return digest.hexdigest()


def _warnings(prof: DatasetProfile, semantics) -> list[str]:
    warnings = list(prof.warnings)
    if not version_is_covered(semantics.keras_version):
        warnings.append(f"Keras {semantics.keras_version} is outside the versions whose loss "
                        "semantics were verified; run with validation to check them.")
    if prof.task_ambiguous and prof.task_source != "user":
        warnings.append(f"The task call is ambiguous ({prof.task} or {prof.task_alternative}): "
                        "the recommendation assumes " + prof.task + "; pass --task to decide.")
    return warnings


def _validated(frame, prof, crit, candidates, base, stated, semantics, options, cache, model_fn,
               tell, started, replay) -> tuple[Validation, tuple[Candidate, ...]]:
    """The trials' validation, and every candidate with the protocol the trials ran."""
    from advisor.validation.validator import validate as run_validation

    ranked = candidates
    if stated is not None:  # what the user asked for is trialled first, whatever the budget
        ranked = (stated,) + tuple(c for c in ranked if c.id != stated.id)
    trialled = trial_set(ranked, options.candidates, base, prof, crit, semantics)
    validation = run_validation(frame, prof, crit, trialled, baseline=base.id, seed=options.seed,
                                cache=cache, model_fn=model_fn, progress=tell, started=started,
                                stated=stated.id if stated else None, replay=replay,
                                scheduler=options.scheduler)
    _check_measured(validation)
    pool = _as_trialled(trialled + tuple(c for c in candidates if c not in trialled),
                        validation.plan, options.seed, prof)
    return validation, pool


def _measure_on(scheduler: str | None):
    """What measures Keras's semantics: here (None), or a worker of the Dask cluster."""
    if not scheduler:
        return None
    from advisor.validation.executors import measure_semantics_on

    return lambda: measure_semantics_on(scheduler)


def _check_measured(validation: Validation) -> None:
    """Refuse to answer when no trial of any candidate produced a score: the trials measured
    nothing, so say what went wrong with each candidate instead of recommending untested."""
    trialled = [r for r in validation.candidates if r.status != "not trialled"]
    if not trialled or any(r.n_trials for r in trialled):
        return
    reasons = "; ".join(
        f"{r.id} diverged at epoch {r.diverged_epoch}" if r.diverged
        else f"{r.id} failed ({r.error})" if r.error
        else f"{r.id} was stopped by the safety limit" for r in trialled)
    raise AdvisorError(f"Every trialled candidate failed, so the trials measured nothing: "
                       f"{reasons}. Fix the cause, or pass --no-validate (validate=False) for "
                       "the rules' answer untested.")


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


# Classes this close to even are balanced: re-weighting them changes next to nothing (the rule
# balanced-classes in rules/data_distribution.yaml draws the line at the same ratio).
BALANCED_RATIO = 1.5


def _fallback_alternative(baseline: Candidate, prof: DatasetProfile, crit: Criteria,
                          semantics) -> list[Candidate]:
    from advisor.rules.engine import facts_of

    facts = facts_of(prof, crit)
    balanced = (facts.get("imbalance_ratio") or BALANCED_RATIO) < BALANCED_RATIO
    fitting = sorted((spec.complexity, key) for key, spec in specs().items()
                     if key != baseline.loss and prof.task in spec.variants
                     and not (balanced and spec.rebalances)
                     and incompatibility(spec, facts) is None)
    if not fitting:
        return []
    key = fitting[0][1]
    config = configure(key, prof, crit, {}, semantics)
    return [Candidate(**config.__dict__, id=key,
                      why="No rule proposed an alternative: the simplest other loss for the task.")]


def load_result(path: str | os.PathLike) -> Recommendation:
    """A saved ``advisor recommend --format json`` result, as a :class:`Recommendation`."""
    data = read_json(path, "Result file", SAVE_HOW)
    missing = [k for k in RESULT_KEYS if k not in data] if isinstance(data, dict) else RESULT_KEYS
    if missing:
        raise AdvisorError(f"{path} is JSON but not an advisor result (missing "
                           f"{', '.join(missing)}); {SAVE_HOW}.")
    try:
        return Recommendation.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise AdvisorError(f"{path} does not fit this advisor's result format (written by advisor "
                           f"{data.get('advisor_version')}, this is {__version__}): {exc}. "
                           "Re-run advisor recommend to save a fresh result.") from None


def _as_trialled(candidates: tuple[Candidate, ...], plan: Plan | None, seed: int,
                 prof: DatasetProfile) -> tuple[Candidate, ...]:
    """The candidates with the training protocol the trials ran (epoch cap, batch size, seed),
    so the code each one prints trains the way its trials did."""
    if plan is None:
        return candidates
    from advisor.losses.catalog import with_training

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
        return sha256_file(path)
    except OSError:
        return ""  # load_table reports the unreadable file, with a better message


def _frame_digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    header = "\x1f".join(map(str, frame.columns)).encode()
    return hashlib.sha256(header + hashed.tobytes()).hexdigest()


def _reproducibility(options: Options, book: RuleBook, semantics, command,
                     plan: Plan | None) -> dict:
    versions = {"python": platform.python_version()}
    modules = {"keras": "keras", "tensorflow": "tensorflow", "scikit-learn": "sklearn",
               "pandas": "pandas", "numpy": "numpy", "pyarrow": "pyarrow"}
    for package, module in modules.items():
        # A loaded module knows its version; asking the package metadata scans site-packages.
        loaded = sys.modules.get(module)
        versions[package] = getattr(loaded, "__version__", None) or installed_version(package)
    return {
        "seed": options.seed,
        "command": command,
        "encoding": options.encoding,
        "validated": options.validate,
        "candidates_trialled": options.candidates if options.validate else 0,
        "rules_files": [{"path": path, "sha256": sha} for path, sha in book.files],
        "versions": versions,
        "keras_semantics": semantics.to_dict(),
        "plan": plan.to_dict() if plan is not None else None,
    }
