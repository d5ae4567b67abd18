"""Sanity check for the bundled sample tables (not a test; not run in CI).

Prints each table's target distribution and fits a quick scikit-learn
HistGradientBoosting model on a seeded 70/30 split to confirm the features
carry signal, compared with a constant baseline. The figures quoted in
sample_data/README.md come from:

    python sample_data/check_samples.py

``--data-dir DIR`` checks tables written elsewhere (default: this folder).
Needs scikit-learn in addition to numpy and pandas.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, mean_absolute_error, mean_poisson_deviance, roc_auc_score
from sklearn.model_selection import KFold, cross_val_predict, train_test_split

HERE = Path(__file__).resolve().parent
SEED = 0


def _features(df: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    X = df.drop(columns=targets)
    for col in X.columns:
        if not pd.api.types.is_numeric_dtype(X[col]):
            X[col] = X[col].astype("category")
    return X


def _clf():
    # Small tables: shallow trees and large leaves so the quick fit does not overfit.
    return HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_depth=3, min_samples_leaf=30, random_state=SEED
    )


def check_diagnosis(df):
    y = (df["diagnosis"] == "positive").astype(int)
    X = _features(df, ["diagnosis"])
    print(f"  positive rate: {y.mean():.2%} ({y.sum()} of {len(y)})")
    print("  missing share:", {c: round(v, 3) for c, v in df.isna().mean().items() if v > 0})
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=SEED, stratify=y)
    p = _clf().fit(Xtr, ytr).predict_proba(Xte)[:, 1]
    print(f"  sanity: ROC AUC {roc_auc_score(yte, p):.3f} (constant predictor 0.500)")


def check_land_cover(df):
    y = df["land_cover"]
    X = _features(df, ["land_cover"])
    print("  class shares:", {k: round(v, 3) for k, v in y.value_counts(normalize=True).items()})
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=SEED, stratify=y)
    pred = _clf().fit(Xtr, ytr).predict(Xte)
    majority = np.full(len(yte), ytr.mode()[0])
    rng = np.random.default_rng(SEED)
    prior = rng.choice(ytr.to_numpy(), size=len(yte))
    print(
        f"  sanity: macro-F1 {f1_score(yte, pred, average='macro'):.3f}, "
        f"accuracy {(pred == yte).mean():.3f} "
        f"(majority class: macro-F1 {f1_score(yte, majority, average='macro'):.3f}, "
        f"accuracy {(majority == yte).mean():.3f}; "
        f"random draw from the class prior: macro-F1 {f1_score(yte, prior, average='macro'):.3f})"
    )
    per_class = f1_score(yte, pred, average=None, labels=y.value_counts().index)
    print("  per-class F1:", {k: round(float(v), 3) for k, v in zip(y.value_counts().index, per_class)})


def check_house_prices(df):
    y = df["price_k"]
    X = _features(df, ["price_k"])
    med = y.median()
    ratio = y / med
    print(
        f"  price_k: median {med:.1f}, mean {y.mean():.1f}, min {y.min():.1f}, max {y.max():.1f}; "
        f"share above 5x median {np.mean(ratio > 5):.2%}, below median/5 {np.mean(ratio < 0.2):.2%}"
    )
    print("  missing share:", {c: round(v, 3) for c, v in df.isna().mean().items() if v > 0})
    # Gross outliers: 5-fold out-of-fold robust fit on log(price); a residual beyond
    # log(4) is far outside the t(3) noise (scale 0.10) and flags a x10 or /10 entry.
    robust = HistGradientBoostingRegressor(loss="absolute_error", max_depth=3, random_state=SEED)
    resid = np.log(y) - cross_val_predict(robust, X, np.log(y), cv=KFold(5, shuffle=True, random_state=SEED))
    print(
        f"  flagged gross outliers (|log residual| > log 4): {np.mean(np.abs(resid) > np.log(4)):.2%} "
        f"({np.sum(resid > np.log(4))} high, {np.sum(resid < -np.log(4))} low)"
    )
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=SEED)
    reg = HistGradientBoostingRegressor(loss="absolute_error", max_iter=300, learning_rate=0.05, random_state=SEED)
    pred = reg.fit(Xtr, ytr).predict(Xte)
    base = np.full(len(yte), ytr.median())
    print(
        f"  sanity: MAE {mean_absolute_error(yte, pred):.1f} k (HGB, absolute-error loss) "
        f"vs {mean_absolute_error(yte, base):.1f} k (constant train median)"
    )


def check_claims(df):
    y = df["n_claims"]
    expo = df["exposure"]
    X = _features(df, ["n_claims", "exposure"])
    print("  counts:", y.value_counts().sort_index().to_dict())
    print(
        f"  zero share {np.mean(y == 0):.2%}, mean {y.mean():.3f}, variance {y.var():.3f}, max {y.max()}; "
        f"claims per exposure-year {y.sum() / expo.sum():.3f}"
    )
    Xtr, Xte, ytr, yte, etr, ete = train_test_split(X, y, expo, test_size=0.3, random_state=SEED)
    # Model the annual frequency n/exposure with exposure as weight; predict counts = rate * exposure.
    reg = HistGradientBoostingRegressor(
        loss="poisson", max_iter=200, learning_rate=0.03, max_depth=3, min_samples_leaf=50, random_state=SEED
    )
    reg.fit(Xtr, ytr / etr, sample_weight=etr)
    pred = reg.predict(Xte) * ete
    const_mean = np.full(len(yte), ytr.mean())
    const_rate = ytr.sum() / etr.sum() * ete
    print(
        f"  sanity: mean Poisson deviance {mean_poisson_deviance(yte, pred):.4f} (HGB frequency x exposure) "
        f"vs {mean_poisson_deviance(yte, const_mean):.4f} (constant mean) "
        f"vs {mean_poisson_deviance(yte, const_rate):.4f} (constant rate x exposure)"
    )


def check_tags(df):
    labels = ["is_spam", "is_promo", "is_urgent"]
    X = _features(df, labels)
    print("  positive rates:", {c: round(float(df[c].mean()), 3) for c in labels})
    print("  label correlation (phi):")
    print(df[labels].corr().round(3).to_string().replace("\n", "\n    ").join(["    ", ""]))
    print(f"  rows with no label {np.mean(df[labels].sum(axis=1) == 0):.2%}, with 2+ labels {np.mean(df[labels].sum(axis=1) >= 2):.2%}")
    Xtr, Xte, Ytr, Yte = train_test_split(X, df[labels], test_size=0.3, random_state=SEED)
    aucs = {c: round(float(roc_auc_score(Yte[c], _clf().fit(Xtr, Ytr[c]).predict_proba(Xte)[:, 1])), 3) for c in labels}
    print(f"  sanity: per-label ROC AUC {aucs} (constant predictor 0.500)")


CHECKS = {
    "diagnosis": check_diagnosis,
    "land_cover": check_land_cover,
    "house_prices": check_house_prices,
    "claims": check_claims,
    "tags": check_tags,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=HERE)
    args = parser.parse_args(argv)
    for name, check in CHECKS.items():
        path = args.data_dir / f"{name}.csv"
        df = pd.read_csv(path)
        print(f"{name}.csv: {len(df)} rows x {df.shape[1]} columns, {path.stat().st_size / 1024:.0f} KB")
        check(df)
        print()


if __name__ == "__main__":
    main()
