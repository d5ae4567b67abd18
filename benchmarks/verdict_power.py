"""How often does the verdict recommend another loss, when nothing differs and when something does?

For the designs the budget buys (``advisor.validation.budget.plan_trials`` on tables of 1,000, 5,000 and
20,000 rows with 20 features and four candidates), simulated trial scores go through the
validator's own decision rule (``advisor.validation.verdict.decide``, with its round-by-round early stop):

- *error*: the share of runs recommending a non-baseline loss when every loss has the same score
  distribution (target ≤ 5%, the rule's ``FAMILY_ALPHA``, plus Monte-Carlo error);
- *power*: the share recommending the better loss when it beats the baseline by 0.5, 1 or 1.5
  trial standard deviations.

A trial's score variance splits into a part every loss shares on that trial (the fold's
difficulty and the seed's luck — pairing removes it), a loss × fold part, and the loss's own
noise (see ``advisor.validation.verdict.simulate``). The shared part decides the power; it is printed for
two values: 0.5 and 0.75. The share measured on real tables — the 60 s advisor runs of
``real_tables.py``, baseline against each alternative on the trials both ran — is printed first
when ``results/real_tables.json`` exists.

    python benchmarks/verdict_power.py [--comparisons 2000] [--save]

No TensorFlow; a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.validation.budget import mlp_params, plan_trials  # noqa: E402
from advisor.validation.verdict import FAMILY_ALPHA, simulate  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "verdict_power.txt"
REAL_TABLES = Path(__file__).parent / "results" / "real_tables.json"
CANDIDATES = ("rules_pick", "second", "third", "baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=2000)
    parser.add_argument("--save", action="store_true", help=f"write the printout to {RESULTS}")
    opts = parser.parse_args()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    started = time.time()
    measured = shared_shares()
    if measured:
        import numpy as np

        q1, median, q3 = np.percentile(measured, [25, 50, 75])
        say(f"Shared share of a trial's variance on the real tables ({len(measured)} baseline vs "
            f"alternative pairs, 60 s runs): median {median:.2f}, quartiles {q1:.2f}–{q3:.2f}.")
        say()
    say(f"Simulated verdicts, {opts.comparisons} runs per cell; error target ≤ {FAMILY_ALPHA:.0%}.")
    say("design = rows used, folds × most rounds, alternatives in the first round (from the plan)")
    say()
    header = (f"{'rows':>6} {'budget':>6}  {'design':<22} {'shared':>6}  {'error':>12}  "
              f"{'power 0.5sd':>11} {'power 1sd':>9} {'power 1.5sd':>11}")
    say(header)
    say("-" * len(header))
    for rows in (1000, 5000, 20000):
        for budget in (15, 30, 60, 120):
            plan = plan_trials(rows, CANDIDATES, "baseline", mlp_params(20, 1), budget)
            alternatives = len(plan.candidates) - 1
            design = f"{plan.rows:,} r, {plan.folds}×{plan.rounds}, {alternatives} alt"
            for shared in (0.5, 0.75):
                cells = []
                for effect in (0.0, 0.5, 1.0, 1.5):
                    out = simulate(effect, rounds=plan.rounds, folds=plan.folds,
                                   alternatives=alternatives, shared_share=shared,
                                   comparisons=opts.comparisons, seed=int(effect * 10) + rows)
                    cells.append(out)
                error = f"{cells[0]['share']:.3f}±{cells[0]['mc_error']:.3f}"
                say(f"{rows:>6} {budget:>5}s  {design:<22} {shared:>6.2f}  {error:>12}  "
                    f"{cells[1]['share']:>11.3f} {cells[2]['share']:>9.3f} {cells[3]['share']:>11.3f}")
    say()
    say(f"total {time.time() - started:.0f} s")
    if opts.save:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def shared_shares() -> list[float]:
    """1 − var(a − b) / (var a + var b) for the baseline and each alternative of every table's
    60 s run in the real-table benchmark (trials both finished, at least 5)."""
    if not REAL_TABLES.exists():
        return []
    import json

    import numpy as np

    from advisor.losses.catalog import BASELINE_LOSSES

    shares = []
    for table in json.loads(REAL_TABLES.read_text(encoding="utf-8"))["tables"].values():
        trialled = (table.get("advisor", {}).get("60s") or {}).get("trialled", {})
        task = (table.get("info") or {}).get("task")
        base = BASELINE_LOSSES.get(task)
        if base not in trialled:
            continue

        def scores(cid: str) -> dict:
            t = trialled[cid]
            return {(f, s): y for f, s, y in zip(t.get("folds", ()), t.get("seeds", ()),
                                                 t.get("scores", ())) if y is not None}

        b = scores(base)
        for cid in trialled:
            a = scores(cid)
            keys = sorted(set(a) & set(b))
            if cid == base or len(keys) < 5:
                continue
            x, y = np.array([a[k] for k in keys]), np.array([b[k] for k in keys])
            total = x.var(ddof=1) + y.var(ddof=1)
            if total > 0:
                shares.append(float(1 - (x - y).var(ddof=1) / total))
    return shares


if __name__ == "__main__":
    main()
