"""How close to the best loss can any choice made from the development rows get?

The real-table benchmark (``real_tables.py``) asks whether the advisor's pick lands inside the
best loss's band on TEST. This script measures what that target asks of *any* advisor: it spends
far more than any budget — every catalogue loss suited to the task, not only the rules'
candidates, on ``ROUNDS`` seed rounds of the advisor's own 5-fold trials on the development rows
(TRAIN∪VAL: all the advisor ever sees) — and scores two selectors on the benchmark's TEST split:

- **best cross-validated mean**: the loss with the best mean fold score, no burden of proof.
  Whatever the validation rows can tell about which loss is best, this uses it all.
- **verdict over every loss**: the advisor's decision rule (``verdict.decide``) on the same
  trials, every alternative compared with the baseline, the error allowance split evenly
  (no rules' favourite): the baseline unless another loss beats it beyond noise.

Each pick's TEST score is the reference entry of the same configuration in the saved benchmark
(``results/real_tables.json``: every suited loss × 5 seeds, trained on TRAIN, scored on TEST), so
"inside the band" and "worse than the baseline" mean exactly what they mean there. If even the
best cross-validated mean, on several times the trials a 60 s budget buys, misses the band on a
table, no advisor that sees only the development rows can be expected to land in it there: the
band then separates losses by what TEST's own rows happen to favour.

The trials are the advisor's (``validator.validate`` replaying a fixed plan: 5 folds, every
suited loss, seeds ``ADVISOR_SEED + 1009·r``), in one process per table with one TensorFlow
thread, no trial cache.

Run (needs the ``bench`` extra and a saved ``results/real_tables.json``):

    python benchmarks/selection_ceiling.py [--tables a,b] [--rounds 2] [--workers 2] [--save]

``--save`` writes ``results/selection_ceiling.txt`` (this printout) and ``.json`` (every trial's
fold score).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_tables as rt  # noqa: E402  the benchmark this one bounds: same tables, split, reference
from printout import save, say  # noqa: E402

ROUNDS = 2  # seed rounds of every loss on every fold: 10 paired trials each


def run_table(name: str, rounds: int) -> dict:
    """Every suited loss on ``rounds`` rounds of the advisor's folds; plain data back."""
    out: dict[str, Any] = {"name": name, "error": None}
    try:
        rt.import_advisor()
        from advisor.losses.kerasenv import import_keras

        import_keras(1)
        started = time.perf_counter()
        s = rt.setup_table(rt.TABLES[name])
        out.update(_trials(s, rounds))
        out["seconds"] = round(time.perf_counter() - started, 1)
    except Exception as exc:  # noqa: BLE001  reported, the other tables go on
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    return out


def _trials(s, rounds: int) -> dict:
    from advisor.losses.catalog import BASELINE_LOSSES
    from advisor.validation.budget import mlp_params, plan_trials
    from advisor.validation.validator import validate
    from advisor.validation.verdict import looks_for

    baseline = BASELINE_LOSSES[s.profile.task]
    ids = (baseline, *(k for k in s.configs if k != baseline))
    candidates = [rt.as_candidate(s.configs[k], k) for k in ids]
    criteria = s.criteria.replace(budget_seconds=100_000.0, jobs=1)
    params = mlp_params(s.data.n_features, candidates[0].head.units)
    plan = plan_trials(len(s.dev), ids, baseline, params, criteria.budget_seconds)
    plan = plan.replace(rounds=rounds, looks=looks_for(rounds), candidates=ids,
                        schedule=(ids,) * rounds)
    val = validate(s.dev, s.profile, criteria, candidates, baseline=baseline,
                   seed=rt.ADVISOR_SEED, cache=False, replay=plan)
    scores = {c.id: [[f, sd, sc] for f, sd, sc in zip(c.folds, c.seeds, c.scores)]
              for c in val.candidates}
    return {"baseline": baseline, "greater_is_better": val.greater_is_better,
            "metric": val.metric, "rows": plan.rows, "folds": plan.folds, "rounds": rounds,
            "scores": scores, "broken": {c.id: c.status for c in val.candidates
                                         if c.status in ("diverged", "failed")}}


# --- the two selectors, from the trials' scores ----------------------------------------------------


def selections(res: dict) -> dict:
    """The best cross-validated mean and the verdict over every loss, from ``res['scores']``."""
    from advisor.validation.verdict import Design, decide, looks_for

    greater, baseline = res["greater_is_better"], res["baseline"]
    scores = {cid: {(f, sd): sc for f, sd, sc in rows if sc is not None}
              for cid, rows in res["scores"].items()}
    broken = frozenset(res["broken"])
    sign = 1.0 if greater else -1.0
    usable = {c: v for c, v in scores.items() if c not in broken and v}
    means = {c: sum(v.values()) / len(v) for c, v in usable.items()}
    argmax = max(means, key=lambda c: (sign * means[c], c))
    design = Design(folds=res["folds"], alternatives=len(scores) - 1,
                    looks=looks_for(res["rounds"]), favoured=None)
    verdict = decide(scores, baseline, greater, design, broken)
    return {"cv_best": argmax, "cv_means": means, "verdict": verdict.status,
            "verdict_pick": verdict.recommended,
            "better": [c.loss for c in verdict.comparisons if c.outcome == "better"]}


def judged(table: dict, pick: str) -> dict:
    """The saved benchmark's judgement of ``pick`` on TEST (``inside_band``,
    ``worse_than_baseline``), made as it judges the advisor's own picks."""
    return rt.pick_assessment(table, {"reference_twin": pick})


# --- the printout ---------------------------------------------------------------------------------


def report(results: list[dict], saved: dict, rounds: int, say) -> dict:
    import numpy as np
    from scipy.stats import spearmanr

    rows = []
    for res in results:
        name = res["name"]
        table = saved["tables"][name]
        summary, info = table["summary"], table["info"]
        say(f"== {name} [{'held-out' if info['held_out'] else 'tuning'}] — {info['kind']} · "
            f"{info['metric_title']} ({'higher' if info['greater_is_better'] else 'lower'} is "
            "better) ==")
        if res.get("error"):
            say(f"  FAILED: {res['error']}")
            rows.append({"name": name, "error": res["error"]})
            continue
        sel = selections(res)
        best, edge = summary["best"], summary["edge"]
        say(f"  {len(res['scores'])} losses × {res['folds']} folds × {rounds} seed rounds on "
            f"{res['rows']:,} development rows ({res['seconds']:.0f} s); TEST best {best} "
            f"{rt.fmt(summary['best_mean'])}, band edge {rt.fmt(edge)}")
        say(f"  {'loss':28s} {'CV mean':>10s} {'CV rank':>7s} {'TEST mean':>10s} {'TEST rank':>9s}  in band")
        sign = 1.0 if res["greater_is_better"] else -1.0
        cv_rank = {c: i + 1 for i, c in enumerate(
            sorted(sel["cv_means"], key=lambda c: -sign * sel["cv_means"][c]))}
        test_means = {c: v["mean"] for c, v in summary["stats"].items()
                      if v["mean"] is not None and math.isfinite(v["mean"])}
        test_rank = {c: i + 1 for i, c in enumerate(
            sorted(test_means, key=lambda c: -sign * test_means[c]))}
        for c in sorted(sel["cv_means"], key=lambda c: cv_rank[c]):
            mark = "  ← best CV mean" if c == sel["cv_best"] else ""
            mark += "  ← verdict" if c == sel["verdict_pick"] else ""
            say(f"  {c:28s} {rt.fmt(sel['cv_means'][c]):>10s} {cv_rank[c]:>7d} "
                f"{rt.fmt(test_means.get(c, math.nan)):>10s} {test_rank.get(c, 0):>9d}  "
                f"{rt.yes_no(summary['inside'].get(c))}{mark}")
        common = [c for c in sel["cv_means"] if c in test_means]
        rho = float(spearmanr([sel["cv_means"][c] for c in common],
                              [test_means[c] for c in common]).statistic)
        say(f"  the losses' CV and TEST means rank alike to a Spearman correlation of {rho:+.2f}")
        cv, ver = judged(table, sel["cv_best"]), judged(table, sel["verdict_pick"])
        adv = table["advisor"].get("60s", {})
        assessed = rt.pick_assessment(table, adv)
        adv_inside = assessed.get("inside_band")
        base_inside = summary["inside"].get(res["baseline"])
        say(f"  best CV mean: {sel['cv_best']} (inside the band: {rt.yes_no(cv['inside_band'])}); "
            f"verdict over every loss: {sel['verdict']} → {sel['verdict_pick']} (inside: "
            f"{rt.yes_no(ver['inside_band'])}); the advisor at 60 s: {adv.get('pick')} (inside: "
            f"{rt.yes_no(adv_inside)}); the baseline inside: {rt.yes_no(base_inside)}")
        say()
        rows.append({"name": name, "held_out": info["held_out"], "cv_best": sel["cv_best"],
                     "cv_best_inside": cv["inside_band"],
                     "cv_best_worse": cv["worse_than_baseline"],
                     "verdict": sel["verdict"], "verdict_pick": sel["verdict_pick"],
                     "verdict_inside": ver["inside_band"],
                     "verdict_worse": ver["worse_than_baseline"],
                     "advisor_60s": adv.get("pick"), "advisor_60s_inside": adv_inside,
                     "advisor_60s_worse": assessed.get("worse_than_baseline"),
                     "baseline_inside": base_inside, "test_best": best,
                     "test_best_cv_rank": cv_rank.get(best), "rank_correlation": rho,
                     "task": info["task"],
                     "trials": sum(len(v) for v in res["scores"].values()),
                     "advisor_60s_trials": sum(v.get("n_trials") or 0
                                               for v in adv.get("trialled", {}).values())})
    say("== totals: inside the best's band on TEST ==")
    say(f"  {'selector':44s} {'tuning':>8s} {'held-out':>9s} {'all':>6s}  worse than baseline")
    ok = [r for r in rows if not r.get("error")]
    for label, key, worse in (
            ("best CV mean over every loss", "cv_best_inside", "cv_best_worse"),
            ("verdict over every loss", "verdict_inside", "verdict_worse"),
            ("the advisor at 60 s (saved benchmark)", "advisor_60s_inside", "advisor_60s_worse"),
            ("always the baseline", "baseline_inside", None)):
        parts = []
        for group in (False, True, None):
            sub = [r for r in ok if group is None or r["held_out"] == group]
            parts.append(f"{sum(bool(r[key]) for r in sub)}/{len(sub)}")
        bad = f"{sum(bool(r[worse]) for r in ok)}/{len(ok)}" if worse else "—"
        say(f"  {label:44s} {parts[0]:>8s} {parts[1]:>9s} {parts[2]:>6s}  {bad}")
    missed = [r["name"] for r in ok if not r["cv_best_inside"]]
    say(f"  tables where even the best CV mean misses the band: {', '.join(missed) or 'none'}")
    at_top = sum(r["test_best_cv_rank"] == 1 for r in ok)
    say(f"  TEST's best loss is also the best CV mean on {at_top}/{len(ok)} tables")
    ratios = sorted(r["trials"] / r["advisor_60s_trials"] for r in ok if r["advisor_60s_trials"])
    if ratios:
        say(f"  trials per table: {len(ratios)} tables, {float(np.median(ratios)):.1f} times as many as "
            f"the advisor's at 60 s (median; {ratios[0]:.1f} to {ratios[-1]:.1f})")
    for label, tasks in (("classification", ("binary", "multiclass")),
                         ("regression and counts", ("regression", "count"))):
        rhos = sorted(r["rank_correlation"] for r in ok if r["task"] in tasks)
        if rhos:
            say(f"  CV and TEST rank the losses alike ({label}, {len(rhos)} tables): Spearman "
                f"median {float(np.median(rhos)):+.2f}, range {rhos[0]:+.2f} to {rhos[-1]:+.2f}")
    return {"tables": rows}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", help="comma-separated subset of: " + ", ".join(rt.TABLES))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="rebuild the printout from "
                        "the saved trial scores (results/selection_ceiling.json), training nothing")
    opts = parser.parse_args(argv)
    names = rt.table_names(parser, opts.tables)
    saved_path = rt.RESULTS / "real_tables.json"
    if not saved_path.exists():
        parser.error(f"{saved_path} is missing: run benchmarks/real_tables.py --part advisor --save first")
    saved = json.loads(saved_path.read_text())
    stem = "selection_ceiling" if not opts.tables else "selection_ceiling_partial"
    if opts.report_only:
        raw = json.loads((rt.RESULTS / f"{stem}.json").read_text())
        for line in raw["header"]:
            say(line)
        ordered = [raw["tables"][n] for n in names if n in raw["tables"]]
        raw["summary"] = report(ordered, saved, raw["rounds"], say)
        say(raw["wall_line"])
    else:
        raw = _run(opts, names, saved)
    if opts.save:
        save(f"{stem}.txt")
        (rt.RESULTS / f"{stem}.json").write_text(json.dumps(raw, indent=1) + "\n",
                                                 encoding="utf-8")
        rt.progress(f"written {rt.RESULTS / stem}.txt and .json")


def _run(opts, names: list[str], saved: dict) -> dict:
    """Train the trials of every table, print the report; the raw numbers back."""
    began = time.perf_counter()
    command = "python " + shlex.join(["benchmarks/selection_ceiling.py", *sys.argv[1:]])
    header = [
        "What any choice from the development rows can reach — "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}",
        f"command: {command}",
        rt.machine(),
        f"trials: every suited loss × 5 folds × {opts.rounds} seed rounds of the advisor's trials "
        "on TRAIN∪VAL (no budget, no trial cache); TEST scores, band and baseline comparison: the "
        f"saved benchmark of {saved['date']} ({saved['command']})",
        "",
    ]
    for line in header:
        say(line)
    order = sorted(names, key=lambda n: -rt._cost_hint(n))
    results: dict[str, dict] = {}
    for name, res in rt.each_table({n: (n, opts.rounds) for n in order}, opts.workers, run_table):
        results[name] = res
        rt.progress(f"{name}: done in {res.get('seconds', 0):.0f} s ({len(results)}/{len(order)})")
        if res.get("traceback"):
            print(res["traceback"], file=sys.stderr)
    ordered = [results[n] for n in names]
    summary = report(ordered, saved, opts.rounds, say)
    wall_line = f"wall time: {(time.perf_counter() - began) / 60:.1f} min with {opts.workers} worker(s)"
    say(wall_line)
    return {"command": command, "rounds": opts.rounds, "header": header, "wall_line": wall_line,
            "summary": summary, "tables": {r["name"]: r for r in ordered}}


if __name__ == "__main__":
    main()
