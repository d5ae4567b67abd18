"""The English of a verdict, rendered from the validation record (the decision is made elsewhere).

Text, Markdown, HTML and JSON all carry this one sentence set, so every output says the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.base.text import signed
from advisor.validation.budget import MAX_ROUNDS
from advisor.validation.verdict import MIN_PAIRED_BETTER

if TYPE_CHECKING:  # pragma: no cover
    from advisor.validation.validator import Validation

STATUS_TITLES = {
    "improved": "Improved",
    "tied": "Tied",
    "baseline-best": "Baseline best",
    "inconclusive": "Inconclusive",
    "baseline-failed": "Baseline failed",
    "skipped": "Not validated",
}


def _interval(v: Validation) -> str:
    c = v.vs_baseline
    if c is None or c.ci_low is None:
        n = 0 if c is None else c.n_trials
        return f"{n} paired trial(s), no interval"
    return (f"{c.level:.1%} interval {signed(c.ci_low)} to {signed(c.ci_high)}, "
            f"{c.n_trials} paired trials")


def failures(broken: dict[str, str]) -> str:
    """``crossentropy failed (ValueError: …); focal diverged at epoch 3``."""
    return "; ".join(f"{loss} {why}" for loss, why in broken.items())


def _trial_sentence(v: Validation, broken: dict[str, str]) -> str:
    metric, base, c = v.metric_title, v.baseline, v.vs_baseline
    if v.status == "improved":
        return (f"Improved: {c.loss} beats the baseline {base} on {metric} by "
                f"{c.diff_mean:.3g} ({_interval(v)}).")
    if v.status == "baseline-best" and c is None:
        return (f"Baseline best: every alternative diverged or failed "
                f"({failures({k: w for k, w in broken.items() if k != base})}); the baseline "
                f"{base} trained.")
    if v.status == "baseline-best":
        return (f"Baseline best: {base} beats every alternative on {metric} beyond noise; the "
                f"closest, {c.loss}, is behind by {abs(c.diff_mean):.3g} ({_interval(v)}).")
    if v.status == "baseline-failed":
        return (f"Baseline failed: the baseline {base} {broken.get(base, 'did not train')}; "
                f"{v.recommended} is the best working candidate on {metric}, compared with no "
                "baseline.")
    if v.status == "inconclusive":
        if base in broken:  # no budget buys a comparison with a baseline that does not train
            return (f"Inconclusive: nothing to compare with — {failures(broken)}; keeping the "
                    f"baseline {base}, untested.")
        need = v.plan.minimum_budget_seconds if v.plan is not None else None
        settle = (f" A --budget of about {need:g} s would run the minimum design (the baseline "
                  "and one alternative on every fold, twice)." if need else "")
        n = c.n_trials if c is not None else 0
        gone = f" ({failures(broken)})" if broken else ""
        return (f"Inconclusive: only {n} paired trial(s) of the baseline {base} and an "
                f"alternative finished{gone} — too few to compare; keeping the baseline.{settle}")
    # tied
    if c is None:
        return f"Tied: no alternative could be compared with the baseline {base}; keep it."
    closeness = (f"shown equivalent within ±{v.margin:.3g}" if c.outcome == "equivalent"
                 else "not told apart")
    if c.outcome == "open" and c.ci_low is not None and c.ci_low > 0:
        closeness = (f"ahead, but a change of loss needs at least {MIN_PAIRED_BETTER} paired "
                     "trials")
    more = ""
    if c.outcome == "open" and v.plan is not None and v.plan.rounds < MAX_ROUNDS:
        more = " More seeds (a larger --budget) could narrow the interval."
    return (f"Tied: no candidate differs measurably from the baseline {base} on {metric}; keep "
            f"the baseline. The closest, {c.loss}, differs by {signed(c.diff_mean)} "
            f"({_interval(v)}; {closeness}).{more}")


def verdict_text(v: Validation, broken: dict[str, str]) -> str:
    """One paragraph: the status and what was measured; who decided when it was not the trials.

    ``broken``: candidates that diverged or failed, with a few words on how.
    """
    if v.status == "skipped":
        stated = (" Your stated costs decide it." if v.decided_by == "statement" else "")
        return (f"Not validated (--no-validate): {v.recommended} is the rules' pick, untested "
                f"against the baseline {v.baseline}.{stated} Run without --no-validate to "
                "measure whether it beats the baseline.")
    trials = _trial_sentence(v, broken)
    if v.decided_by == "statement":
        c = v.vs_baseline
        if c is None:
            measured = f"It was not compared with the baseline {v.baseline}."
        else:
            word = {"better": "better than", "worse": "worse than", "equivalent": "equivalent to",
                    "open": "not told apart from"}[c.outcome]
            measured = (f"Measured against the baseline {v.baseline} on {v.metric_title}, it is "
                        f"{word} it: {signed(c.diff_mean)} ({_interval(v)}).")
        return (f"Your stated costs decide: {v.recommended} is the loss they require, whatever "
                f"the trials say. {measured}")
    return trials
