"""The decision rule: trial scores + the plan's design → a verdict record. No TensorFlow, no text.

The burden of proof is on change. The task's baseline loss (cross-entropy, MSE, Poisson for
counts) is the answer unless the trials show another candidate better than it beyond noise on
the metric:

- ``improved``: an alternative beat the baseline beyond noise; the best such is recommended.
- ``tied``: no measurable difference; the baseline stays, and the closest contender's interval
  shows how close.
- ``baseline-best``: the baseline beat every alternative beyond noise.
- ``inconclusive``: too few paired trials finished to compare anything; the baseline stays.
- ``baseline-failed``: the baseline itself diverged or failed; the best working candidate is
  recommended, which no comparison with the baseline supports.

"Beyond noise" is a paired comparison over the same folds and seeds, blocked by fold: each
fold's differences are averaged over its seeds, and the interval is Student's t over the fold
means (k − 1 degrees of freedom). Seeds repeated on one fold share its test rows, so they are not
independent evidence (Dietterich 1998); averaging them within the fold makes the fold the unit,
as in a one-way random-effects analysis. The question is "which loss should be trained on this
table", so the table itself is fixed: unlike Nadeau & Bengio's (2003) corrected test, which asks
about new tables of the same size, the interval does not widen for the overlap of training sets
(that correction left a one-standard-deviation effect undetectable at any trial count). Trials are added
round by round while the decision is open, so the same data are looked at more than once, and
several alternatives are compared with one baseline: "better" may be claimed at two looks only
(the second round and the last), and each claim spends a one-sided error of ``FAMILY_ALPHA``
split evenly over every (alternative, look) pair (Bonferroni),
so the chance of recommending a non-baseline loss that is no better stays at or below
``FAMILY_ALPHA`` however the looks fall. Equivalence (two one-sided tests, Schuirmann 1987)
within ± ``EQUIVALENCE_SHARE`` of the baseline's score (and a tenth of the errors it leaves)
settles a comparison as a tie early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from advisor.base.records import Record

# One-sided error for "a non-baseline loss is better" over all alternatives and looks of a run.
FAMILY_ALPHA = 0.05
# Fewest paired trials a comparison needs before it can be decided either way.
MIN_PAIRED = 3
# Fewest paired trials behind a claim that another loss is *better*: a change of loss needs at
# least one full round at five folds' worth of evidence. Three fold means give a t-interval two
# degrees of freedom, where one lucky fold decides; a tie or a loss keeps the baseline and costs
# the user nothing, so only the claim of change waits for more trials (benchmarks/README.md,
# "Changes after the first run").
MIN_PAIRED_BETTER = 5
FIRST_LOOK = 2  # the first round whose comparisons may claim "better" (when more may follow)
# Two losses are the same for practical purposes within 2% of the baseline's score and within a
# tenth of the errors it leaves: near a perfect score (accuracy 0.97, ROC AUC 0.99) 2% of the
# score would be most of what is left to gain. Every metric that grows is perfect at 1 (accuracy,
# F1, the AUCs, R²); every one that shrinks is an error, perfect at 0, so the score itself is
# what is left and its 2% is the smaller.
EQUIVALENCE_SHARE = 0.02
EQUIVALENCE_ERROR_SHARE = 0.1
EQUIVALENCE_FLOOR = 1e-3  # for scores near 0 (an error metric on a well-fitted target)

STATUSES = ("improved", "tied", "baseline-best", "inconclusive", "baseline-failed", "skipped")
# Outcome of one alternative against the baseline.
BETTER, WORSE, EQUIVALENT, OPEN = "better", "worse", "equivalent", "open"

Scores = dict[tuple[int, int], float]  # (fold, seed) -> score


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int  # trials (fold × seed) behind the mean


@dataclass(frozen=True)
class Design(Record):
    """What the decision needs of the plan: the fold ratio and how many looks it allows."""

    folds: int
    alternatives: int  # alternatives compared with the baseline in the first round
    looks: int  # rounds at which a "better" claim may be made
    favoured: str | None = None  # the rules' first alternative: half the error allowance

    def alpha_for(self, alternative: str | None = None) -> float:
        """One-sided error of each look's test of ``alternative``: the whole allowance for a
        lone alternative; else half for the rules' first choice and half shared by the rest
        (a weighted Bonferroni split: the rules' ranking is prior knowledge, so more budget
        for breadth costs their first choice little power)."""
        per_look = FAMILY_ALPHA / max(self.looks, 1)
        if self.alternatives <= 1:
            return per_look
        if self.favoured is None:
            return per_look / self.alternatives
        if alternative == self.favoured:
            return per_look / 2
        return per_look / 2 / (self.alternatives - 1)

    def level_for(self, alternative: str | None = None) -> float:
        """Two-sided level of an alternative's interval: each side holds its ``alpha_for``."""
        return 1 - 2 * self.alpha_for(alternative)

    @property
    def level(self) -> float:
        """The level of the rules' first alternative (of every one, when unweighted)."""
        return self.level_for(self.favoured)


@dataclass(frozen=True)
class Comparison(Record):
    """One alternative against the baseline; positive differences mean the alternative is better."""

    loss: str  # the alternative's candidate id
    diff_mean: float | None
    ci_low: float | None
    ci_high: float | None
    n_trials: int
    level: float
    outcome: str  # better | worse | equivalent | open


@dataclass(frozen=True)
class Verdict(Record):
    status: str
    baseline: str
    recommended: str
    vs_baseline: Comparison | None  # the recommended loss, or (tied, baseline-best) the closest
    comparisons: tuple[Comparison, ...]
    level: float
    margin: float  # ± this much of the metric counts as equivalent
    decided: bool  # further trials could not change the status


def paired(a: Scores, b: Scores, greater_is_better: bool) -> Scores:
    """(a − b) over the trials both finished, oriented so positive means ``a`` is better."""
    sign = 1.0 if greater_is_better else -1.0
    return {k: sign * (a[k] - b[k]) for k in sorted(set(a) & set(b))}


def blocked_interval(values: Scores, level: float) -> Interval:
    """Mean of ``values`` and its two-sided ``level`` t-interval over fold means (seeds averaged
    within each fold). With one fold there is no interval."""
    if not values:
        return Interval(math.nan, None, None, 0)
    by_fold: dict[int, list[float]] = {}
    for (fold, _seed), value in sorted(values.items()):
        by_fold.setdefault(fold, []).append(value)
    means = np.array([np.mean(v) for v in by_fold.values()], dtype="float64")
    mean = float(np.mean(list(values.values())))
    k = len(means)
    if k < 2:
        return Interval(mean, None, None, len(values))
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, k - 1) * means.std(ddof=1) / math.sqrt(k))
    centre = float(means.mean())  # equals ``mean`` when every fold has the same seeds
    return Interval(centre, centre - half, centre + half, len(values))


def margin_for(baseline: Scores, greater_is_better: bool = False) -> float:
    """± this much of the metric counts as equivalent to the baseline (see EQUIVALENCE_SHARE)."""
    if not baseline:
        return EQUIVALENCE_FLOOR
    scores = np.array(list(baseline.values()), dtype="float64")
    size = float(np.mean(np.abs(scores)))
    left = float(np.mean(1.0 - scores)) if greater_is_better else size
    return max(min(EQUIVALENCE_SHARE * size, EQUIVALENCE_ERROR_SHARE * left), EQUIVALENCE_FLOOR)


def compare(alternative: str, diffs: Scores, design: Design, margin: float) -> Comparison:
    level = design.level_for(alternative)
    interval = blocked_interval(diffs, level)
    if interval.n == 0:
        return Comparison(alternative, None, None, None, 0, level, OPEN)
    outcome = OPEN
    if interval.n >= MIN_PAIRED and interval.low is not None:
        if interval.low > 0:
            outcome = BETTER if interval.n >= MIN_PAIRED_BETTER else OPEN
        elif interval.high < 0:
            outcome = WORSE
        elif -margin <= interval.low and interval.high <= margin:
            outcome = EQUIVALENT
    return Comparison(alternative, interval.mean, interval.low, interval.high, interval.n,
                      level, outcome)


def decide(scores: dict[str, Scores], baseline: str, greater_is_better: bool, design: Design,
           broken: frozenset[str] | set[str] = frozenset()) -> Verdict:
    """The verdict from every candidate's finished trial scores (``broken``: diverged or failed).

    A pure function: the same scores and design give the same verdict.
    """
    alternatives = [c for c in scores if c != baseline and c not in broken]
    base = scores.get(baseline, {})
    margin = margin_for(base, greater_is_better)
    usable = [c for c in alternatives if len(scores[c]) >= MIN_PAIRED]
    if baseline in broken and usable:
        sign = 1.0 if greater_is_better else -1.0
        best = max(usable, key=lambda c: (sign * float(np.mean(list(scores[c].values()))), c))
        return Verdict("baseline-failed", baseline, best, None, (), design.level, margin, True)
    # An alternative that diverged or failed lost to a baseline that trained.
    failed = tuple(Comparison(c, None, None, None, 0, design.level, WORSE)
                   for c in scores if c != baseline and c in broken)
    comparisons = tuple(compare(c, paired(scores[c], base, greater_is_better), design, margin)
                        for c in alternatives) + failed
    comparable = [c for c in comparisons if c.n_trials >= MIN_PAIRED]
    if len(base) >= MIN_PAIRED and failed and len(failed) == len(comparisons):
        return Verdict("baseline-best", baseline, baseline, None, comparisons, design.level,
                       margin, True)
    if len(base) < MIN_PAIRED or not comparable:
        return Verdict("inconclusive", baseline, baseline, _closest(comparisons), comparisons,
                       design.level, margin, False)
    better = [c for c in comparable if c.outcome == BETTER]
    if better:
        best = _largest_gain(better, scores, base, greater_is_better)
        return Verdict("improved", baseline, best.loss, best, comparisons, design.level, margin,
                       True)
    open_ = [c for c in comparisons if c.outcome == OPEN]
    if all(c.outcome == WORSE for c in comparisons):
        return Verdict("baseline-best", baseline, baseline, _closest(comparisons), comparisons,
                       design.level, margin, True)
    return Verdict("tied", baseline, baseline, _closest(comparisons), comparisons, design.level,
                   margin, not open_)


def _largest_gain(better: list[Comparison], scores: dict[str, Scores], base: Scores,
                  greater_is_better: bool) -> Comparison:
    """Of the alternatives better than the baseline beyond noise, the one with the largest gain
    over it on the trials they all share (the same folds and seeds), so a loss trialled on fewer
    rounds is not ranked on a different, luckier set of trials; by the whole mean if they share
    too few."""
    common = set(base).intersection(*(scores[c.loss] for c in better))
    if len(better) == 1 or len(common) < MIN_PAIRED:
        return max(better, key=lambda c: (c.diff_mean, c.loss))
    shared = {k: base[k] for k in common}

    def gain(c: Comparison) -> float:
        return float(np.mean(list(paired(scores[c.loss], shared, greater_is_better).values())))

    return max(better, key=lambda c: (gain(c), c.loss))


def _closest(comparisons: tuple[Comparison, ...]) -> Comparison | None:
    """The alternative that came closest to (or furthest past) the baseline."""
    measured = [c for c in comparisons if c.diff_mean is not None]
    if not measured:
        return None
    return max(measured, key=lambda c: (c.n_trials >= MIN_PAIRED, c.diff_mean, c.loss))


def looks_for(rounds: int) -> int:
    """Rounds at which "better" may be claimed: the second (or the only) one and the last."""
    return 1 if rounds <= FIRST_LOOK else 2


def is_look(round_number: int, rounds: int) -> bool:
    """Whether a "better" claim may be made after ``round_number`` (1-based) of at most
    ``rounds``; a run that stops early makes its last round a look too (still at most two)."""
    return round_number == min(FIRST_LOOK, rounds) or round_number == rounds


def stops(verdict: Verdict, round_number: int, rounds: int) -> bool:
    """Whether the run stops after this round: decided at a look, or — between looks — decided
    without any claim that an alternative is better (worse or equivalent costs no error)."""
    if round_number >= rounds:
        return True
    if is_look(round_number, rounds):
        return verdict.decided
    return verdict.decided and verdict.status != "improved"


def still_open(verdict: Verdict, look: bool = True) -> tuple[str, ...]:
    """Alternatives more trials could still settle; between looks a "better" one stays in."""
    going = (OPEN,) if look else (OPEN, BETTER)
    return tuple(c.loss for c in verdict.comparisons if c.outcome in going)


def simulate(effect_sd: float, *, rounds: int, folds: int = 5, alternatives: int = 1,
             shared_share: float = 0.5, interaction_share: float = 0.1, comparisons: int = 2000,
             seed: int = 0) -> dict[str, float]:
    """Share of simulated runs that recommend a non-baseline loss, with its Monte-Carlo error.

    A trial's score (variance 1) is ``μ_c + F_f + S_fs + I_cf + e_cfs``: ``F`` the test fold's
    difficulty and ``S`` the seed's luck on it, shared by every loss (``shared_share`` of the
    variance, which pairing removes); ``I`` how this loss happens to suit this fold, the same
    for every seed (``interaction_share``: what makes repeated folds correlated); ``e`` the
    rest. The first alternative is better than the baseline by ``effect_sd`` trial standard
    deviations (0: the same distribution), the others equal it; it is the rules' first choice. Trials arrive a round (every
    fold, one more seed) at a time and the run stops once the verdict is decided, as the
    validator does.
    """
    rng = np.random.default_rng(seed)
    design = Design(folds=folds, alternatives=alternatives, looks=looks_for(rounds),
                    favoured="alt0")
    own_share = 1.0 - shared_share - interaction_share
    ids = ["baseline"] + [f"alt{i}" for i in range(alternatives)]
    means = {c: 0.0 for c in ids}
    means["alt0"] = effect_sd
    hits = 0
    for _ in range(comparisons):
        fold_effect = rng.normal(0, math.sqrt(shared_share / 2), folds)
        suits = {c: rng.normal(0, math.sqrt(interaction_share), folds) for c in ids}
        scores: dict[str, Scores] = {c: {} for c in ids}
        live = list(ids)
        verdict = None
        for r in range(rounds):
            luck = rng.normal(0, math.sqrt(shared_share / 2), folds)
            for c in live:
                noise = rng.normal(0, math.sqrt(own_share), folds)
                for f in range(folds):
                    scores[c][(f, r)] = means[c] + fold_effect[f] + luck[f] + suits[c][f] + noise[f]
            verdict = decide({c: scores[c] for c in live}, "baseline", True, design)
            if stops(verdict, r + 1, rounds):
                break
            live = ["baseline", *still_open(verdict, is_look(r + 1, rounds))]
        hits += verdict is not None and verdict.status == "improved"
    share = hits / comparisons
    return {"share": share, "mc_error": math.sqrt(max(share * (1 - share), 1e-12) / comparisons),
            "comparisons": comparisons, "rounds": rounds, "folds": folds,
            "alternatives": alternatives, "effect_sd": effect_sd, "shared_share": shared_share,
            "interaction_share": interaction_share, "level": design.level}
