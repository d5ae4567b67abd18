"""Tables larger than memory: shards read as one table, and the streaming profile.

The streaming profile must equal the in-memory one on every exact fact; on a table of at most
``SAMPLE_ROWS`` rows (its own sample) it must equal it on every fact.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advisor.base.errors import AdvisorError
from advisor.profiling import features as feats
from advisor.profiling.profiler import DatasetProfile, profile, profile_frame, profile_streamed
from advisor.profiling.streaming import SAMPLE_ROWS, SAMPLED_FACTS, Moments, streams

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
# How a table was read and what it holds in memory: not facts about its rows.
NOT_FACTS = ("source", "source_format", "memory_mb", "facts_from_sample")
SAMPLED = set(SAMPLED_FACTS) | {"task_reason"}


def differences(expected: DatasetProfile, got: DatasetProfile, skip=()) -> list:
    """Fields that differ (floats to 1e-9 relative: moments merge in another order)."""
    out = []
    a, b = expected.to_dict(), got.to_dict()
    for key, value in a.items():
        if key in NOT_FACTS or key in skip:
            continue
        other = b[key]
        if key == "warnings" and "conflicting_label_fraction" in skip:  # a sampled warning
            value, other = ([w for w in ws if "share identical features" not in w]
                            for ws in (value, other))
        if isinstance(value, float) and isinstance(other, float):
            same = math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12)
        elif isinstance(value, list) and value and all(isinstance(v, float) for v in value):
            same = len(value) == len(other) and np.allclose(value, other, rtol=1e-9, atol=1e-12)
        else:
            same = value == other
        if not same:
            out.append((key, value, other))
    return out


def write_shards(frame: pd.DataFrame, folder: Path, parts: int = 3, kind: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        part = frame.iloc[rows]
        if kind == "parquet":
            part.to_parquet(folder / f"part-{i:03d}.parquet", index=False)
        else:
            part.to_csv(folder / f"part-{i:03d}.csv", index=False)
    return folder


def mixed_table(rows: int, seed: int = 1, duplicates: bool = False) -> pd.DataFrame:
    """Numbers, nullable integers, booleans, text with missing and blank cells, dates, a
    constant, and a binary target with missing values; ``duplicates`` makes rows repeat."""
    rng = np.random.default_rng(seed)
    levels = 3 if duplicates else 1000
    data = {
        "num_0": np.round(rng.standard_t(3, rows), 0 if duplicates else 3),
        "num_1": rng.integers(0, levels, rows) * 0.5,
        "int_0": pd.array(np.where(rng.random(rows) < 0.01, None, rng.integers(0, 5, rows)),
                          dtype="Int64"),
        "int_1": rng.integers(0, 3, rows),
        "flag": rng.random(rows) < 0.3,
        "region": pd.Series(np.array(["n", "s", "e", "w"])[rng.integers(0, 4, rows)],
                            dtype=object).where(rng.random(rows) > 0.05, None),
        "blank": np.where(rng.random(rows) < 0.1, " ", "x"),
        "const": np.ones(rows),
        "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 50, rows), unit="D"),
    }
    if duplicates:
        data["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 2, rows),
                                                                     unit="D")
    y = (rng.random(rows) < 0.05 + 0.1 * (data["int_1"] == 2)).astype(float)
    y[rng.random(rows) < 0.02] = np.nan
    data["y"] = y
    return pd.DataFrame(data)


def count_table(rows: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": np.round(x[:, 2], 1),
                         "n": rng.poisson(np.exp(0.3 * x[:, 0]))})


# --------------------------------------------------------------------------------------------
# Shards


@pytest.mark.parametrize("name, target", [
    ("claims", "n_claims"), ("diagnosis", "diagnosis"), ("house_prices", "price_k"),
    ("land_cover", "land_cover")])
def test_csv_shards_profile_as_the_file(tmp_path, name, target):
    """Small real tables are their own sample: every fact, sampled ones too, equals the
    in-memory profile of the whole file."""
    frame = pd.read_csv(SAMPLE_DATA / f"{name}.csv")
    folder = write_shards(frame, tmp_path / name, parts=4, kind="csv")
    whole = profile(SAMPLE_DATA / f"{name}.csv", target)
    streamed = profile(folder, target)
    assert differences(whole, streamed) == []
    assert streamed.sample_rows == whole.n_rows
    assert streamed.facts_from_sample and set(streamed.facts_from_sample) <= SAMPLED
    assert whole.facts_from_sample is None


@pytest.mark.parametrize("loader, target", [
    ("load_breast_cancer", "target"), ("load_wine", "target"), ("load_diabetes", "target"),
    ("load_iris", "target"), ("load_digits", "target")])
def test_parquet_shards_of_scikit_learn_sets(tmp_path, loader, target):
    import sklearn.datasets

    frame = getattr(sklearn.datasets, loader)(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    folder = write_shards(frame, tmp_path / "shards", parts=5)
    whole = profile(tmp_path / "whole.parquet", target)
    streamed = profile(folder, target)
    assert differences(whole, streamed) == []
    assert differences(profile_frame(frame, target), streamed, skip=("target_dtype",)) == []


def test_a_glob_and_a_directory_give_the_same_profile(tmp_path):
    folder = write_shards(count_table(3000), tmp_path / "data", parts=3)
    (folder / "_SUCCESS").write_text("")  # what Spark leaves beside its shards
    by_folder = profile(folder, "n")
    by_glob = profile(str(folder / "part-*.parquet"), "n")
    assert by_folder.to_dict() | {"source": ""} == by_glob.to_dict() | {"source": ""}
    assert by_folder.task == "count"


def test_shards_that_disagree_are_one_line_errors(tmp_path):
    frame = count_table(300)
    folder = write_shards(frame, tmp_path / "a", parts=3)
    frame.drop(columns=["b"]).to_parquet(folder / "part-009.parquet", index=False)
    with pytest.raises(AdvisorError) as missing:
        profile(folder, "n")
    message = str(missing.value)
    assert "\n" not in message and "part-009.parquet" in message and "no column(s) b" in message
    assert "same columns" in message

    typed = write_shards(frame, tmp_path / "b", parts=2)
    frame.assign(b=frame["b"].astype(str)).to_parquet(typed / "part-009.parquet", index=False)
    with pytest.raises(AdvisorError) as types:
        profile(typed, "n")
    assert "\n" not in str(types.value) and "part-009.parquet" in str(types.value)
    assert "column 'b'" in str(types.value) and "same column types" in str(types.value)

    text = write_shards(frame, tmp_path / "c", parts=2, kind="csv")
    (text / "part-009.csv").write_text("a,b,x\n1,2,3\n")
    with pytest.raises(AdvisorError, match=r"part-009\.csv does not have the columns"):
        profile(text, "n")


def test_empty_inputs_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdvisorError, match="is a directory with no Parquet or CSV shards"):
        profile(tmp_path / "empty", "y")
    with pytest.raises(AdvisorError, match="No file matches the pattern"):
        profile(str(tmp_path / "nothing-*.parquet"), "y")
    mixed = write_shards(count_table(100), tmp_path / "mixed", parts=2)
    count_table(100).to_csv(mixed / "extra.csv", index=False)
    with pytest.raises(AdvisorError, match="mixes Parquet"):
        profile(mixed, "n")


def test_a_table_of_the_target_alone_streams_as_it_profiles(tmp_path):
    """No feature column: nothing is hashed, and the streaming profile still equals the
    in-memory one (the target of scikit-learn's wine set, in shards)."""
    import sklearn.datasets

    frame = sklearn.datasets.load_wine(as_frame=True).frame[["target"]]
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    streamed = profile(write_shards(frame, tmp_path / "shards", parts=2), "target")
    whole = profile(tmp_path / "whole.parquet", "target")
    assert streamed.task == "multiclass" and streamed.feature_names == ()
    assert differences(whole, streamed) == []


def test_the_command_line_profiles_and_recommends_a_directory(tmp_path, cli):
    folder = write_shards(count_table(2000), tmp_path / "data", parts=4)
    shown = cli("profile", folder, "--target", "n", "--format", "json")
    assert shown.exit_code == 0, shown
    prof = json.loads(shown.stdout)
    assert prof["n_rows"] == 2000 and prof["task"] == "count" and prof["facts_from_sample"]
    advice = cli("recommend", str(folder / "*.parquet"), "--target", "n", "--no-validate",
                 "--format", "json")
    assert advice.exit_code == 0, advice
    result = json.loads(advice.stdout)
    assert result["profile"]["n_rows"] == 2000 and result["input"]["sha256"]


# --------------------------------------------------------------------------------------------
# Exact facts beyond the sample


def test_exact_facts_of_a_table_larger_than_the_sample(tmp_path):
    """Past ``SAMPLE_ROWS`` the streaming profile still equals the in-memory one on every exact
    fact; duplicates (sampled in memory) equal an exact count over every row."""
    frame = mixed_table(3 * SAMPLE_ROWS, duplicates=True)
    folder = write_shards(frame, tmp_path / "big", parts=4)
    frame.to_parquet(tmp_path / "big.parquet", index=False)
    whole = profile(tmp_path / "big.parquet", "y")
    streamed = profile(folder, "y")
    assert streamed.n_rows > SAMPLE_ROWS and streamed.sample_rows == SAMPLE_ROWS
    assert differences(whole, streamed, skip=SAMPLED | {"duplicate_row_fraction"}) == []
    kept = frame[frame["y"].notna()]
    assert streamed.duplicate_row_fraction == pytest.approx(kept.duplicated().mean(), abs=1e-12)
    assert streamed.duplicate_row_fraction > 0.01
    assert "const" in [n for n, k in zip(streamed.feature_names, streamed.feature_kinds)
                       if k == "constant"]


def test_conflicting_labels_from_the_pass_hashes_are_pandas_own(tmp_path):
    """The sample's profile reads the features' hashes the pass computed instead of hashing the
    rows again: the conflicting labels they give are pandas' on the same rows (numbers, nullable
    integers with missing cells, booleans, text with missing and blank cells, dates), on a table
    that is its own sample and on one three times larger."""
    from advisor.profiling.streaming import scan

    small = mixed_table(SAMPLE_ROWS // 10, seed=5, duplicates=True)
    small.to_parquet(tmp_path / "small.parquet", index=False)
    streamed = profile(write_shards(small, tmp_path / "small", parts=3), "y")
    assert streamed.conflicting_label_fraction > 0.05
    assert differences(profile(tmp_path / "small.parquet", "y"), streamed) == []

    folder = write_shards(mixed_table(3 * SAMPLE_ROWS, seed=6, duplicates=True), tmp_path / "big")
    found = scan(folder, "y")
    streamed = profile(folder, "y")
    pandas_own = feats._duplicates_and_conflicts(found.sample.drop(columns="y"),
                                                 found.sample["y"])[1]
    assert pandas_own > 0.05
    assert streamed.conflicting_label_fraction == pandas_own
    assert len(found.sample_hashes()) == len(found.sample) == SAMPLE_ROWS


def test_the_kept_hashes_follow_the_sample_store_when_it_is_compacted(tmp_path, monkeypatch):
    """With a trials' sample and small batches the samples' store is compacted during the pass;
    the features' hashes kept for the sampled rows are pruned with it, and still give pandas'
    conflicting labels on the sample."""
    from advisor.profiling import streaming

    pruned = []
    prune = streaming._FeatureTally._prune
    monkeypatch.setattr(streaming._FeatureTally, "_prune",
                        lambda self, held: (pruned.append(len(held)), prune(self, held)))
    folder = write_shards(mixed_table(5 * SAMPLE_ROWS, seed=7, duplicates=True), tmp_path / "t")
    found = streaming.scan(folder, "y", keep_rows=5000, batch_rows=8192)
    assert pruned and found.trial_sample is not None
    pandas_own = feats._duplicates_and_conflicts(found.sample.drop(columns="y"),
                                                 found.sample["y"])[1]
    from_pass = feats._duplicates_and_conflicts(found.sample.drop(columns="y"),
                                                found.sample["y"], found.sample_hashes())[1]
    assert pandas_own > 0.05 and from_pass == pandas_own


def test_large_nullable_integers_hash_as_pandas_does(tmp_path):
    """A nullable integer column (pandas' Int64, kept by the loader) with values beyond 2⁵³:
    the pass hashes the integers themselves, as pandas does, so 2⁵³ and 2⁵³ + 1 stay apart in
    the duplicates and the conflicting labels, as in memory."""
    rng = np.random.default_rng(0)
    which = rng.integers(0, 4, 3000)
    x = pd.array(np.where(which >= 2, None, np.array([2**53, 2**53 + 1, 0, 0])[which]),
                 dtype="Int64")
    frame = pd.DataFrame({"x": x, "y": (which % 2).astype(float)})
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    streamed = profile(write_shards(frame, tmp_path / "shards", parts=3), "y")
    whole = profile(tmp_path / "whole.parquet", "y")
    assert whole.conflicting_label_fraction == pytest.approx(0.5217, abs=1e-4)
    assert differences(whole, streamed) == []


def test_value_targets_have_exact_moments(tmp_path):
    frame = count_table(2 * SAMPLE_ROWS + 123)
    folder = write_shards(frame, tmp_path / "counts", parts=3)
    streamed = profile(folder, "n")
    whole = profile_frame(frame, "n")
    assert differences(whole, streamed, skip=SAMPLED | {"target_dtype"}) == []
    v = frame["n"].to_numpy(dtype=float)
    assert streamed.target_std == pytest.approx(v.std(), rel=1e-12)
    assert streamed.target_dispersion == pytest.approx(v.var() / v.mean(), rel=1e-12)


def test_moments_merge_as_one_pass():
    rng = np.random.default_rng(5)
    v = rng.lognormal(0, 1.5, 100_001)
    merged = Moments()
    for part in np.array_split(v, 17):
        merged.add(part)
    from scipy import stats

    assert merged.n == len(v) and merged.mean == pytest.approx(v.mean(), rel=1e-12)
    assert merged.variance == pytest.approx(v.var(), rel=1e-10)
    skew, kurt = merged.shape()
    assert skew == pytest.approx(stats.skew(v), rel=1e-9)
    assert kurt == pytest.approx(stats.kurtosis(v), rel=1e-9)


def test_same_seed_same_sampled_facts_whatever_the_shards(tmp_path):
    """The sample is the rows with the smallest seeded keys: it does not depend on how the rows
    are cut into shards or batches, and another seed draws another sample."""
    frame = count_table(3 * SAMPLE_ROWS)
    few = write_shards(frame, tmp_path / "few", parts=2)
    many = write_shards(frame, tmp_path / "many", parts=7)
    a = profile(few, "n", seed=3)
    b = profile(many, "n", seed=3)
    c = profile(few, "n", seed=4)
    fields = [f for f in SAMPLED_FACTS if f != "target_histogram_counts"]
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert a.target_histogram_counts == b.target_histogram_counts
    assert a.target_outlier_fraction != c.target_outlier_fraction or a.target_mad != c.target_mad \
        or a.feature_outlier_fraction != c.feature_outlier_fraction


def test_the_trials_sample_is_stratified_and_capped(tmp_path):
    frame = mixed_table(4 * SAMPLE_ROWS)
    folder = write_shards(frame, tmp_path / "t", parts=3)
    prof, sample = profile_streamed(folder, "y", seed=0, keep_rows=20_000)
    counts = dict(zip(prof.class_labels, prof.class_counts))
    got = sample["y"].value_counts()
    assert abs(len(sample) - 20_000) <= len(counts)
    for label, count in counts.items():
        assert got[label] == max(1, round(count * 20_000 / prof.n_rows))
    assert sample["y"].notna().all() and list(sample.columns) == list(frame.columns)
    again = profile_streamed(folder, "y", seed=0, keep_rows=lambda mb_per_row: 20_000)[1]
    pd.testing.assert_frame_equal(sample, again)


def test_when_one_file_streams(tmp_path):
    path = tmp_path / "t.parquet"
    count_table(5000).to_parquet(path, index=False)
    assert not streams(path)
    assert streams(path, memory_limit_mb=os.path.getsize(path) / 2**20)  # 4 × the file > limit
    assert not streams(path, memory_limit_mb=1000)
    assert streams(tmp_path) and streams(str(tmp_path / "*.parquet"))
    small = profile(path, "n", memory_limit_mb=0.01)
    assert small.facts_from_sample is not None
    assert differences(profile(path, "n"), small) == []


# --------------------------------------------------------------------------------------------
# Memory


_CHILD = textwrap.dedent("""
    import json, re, sys
    from advisor.profiling.profiler import profile
    prof = profile(sys.argv[1], "y", memory_limit_mb=float(sys.argv[2]))
    status = open("/proc/self/status").read()
    peak_mb = int(re.search(r"VmHWM:\\s*(\\d+) kB", status).group(1)) / 1024
    print(json.dumps({"profile": prof.to_dict(), "peak_mb": peak_mb}))
""")


@pytest.mark.slow
def test_a_file_several_times_larger_than_the_memory_cap(tmp_path):
    """Profile, in a child process, one Parquet file whose table takes several times the memory
    the child is allowed, and match the in-memory profile on every exact fact.

    The cap is on the child's peak resident memory, not its address space: ``RLIMIT_AS`` counts
    virtual memory, and pyarrow's allocator (jemalloc/mimalloc) and OpenBLAS reserve large
    virtual arenas they never touch, so an address-space cap fails on imports or kills the child
    for memory it never used. The resident peak is what a machine actually pays. The child reads
    it from ``/proc/self/status`` (``VmHWM``, the high-water mark of its own address space), not
    from ``getrusage``: Linux carries ``ru_maxrss`` across ``exec`` from the forked copy of the
    parent, so a child of this test process (which holds the generated data) would report the
    parent's size. The imports alone (pandas, pyarrow, scipy, scikit-learn) take about 120 MB;
    the data is an in-memory table of 1.34 GB (10⁷ rows × 18 numbers), 2.7 times the 500 MB
    cap. The child peaked near 400 MB when this test was written, at 428–447 MB on later
    versions, 464–467 MB since the features' exact facts are tallied in a thread one batch
    behind the reader (a batch more in memory; reading the next batch ahead as well reached
    504 MB, and keeping whole batches in the sample store until the samples are taken 494–501
    MB: both were dropped), 456–470 MB since the tally keeps the features' hashes of the rows the
    samples store (keeping a copy of each batch's hashes until the next one reached 477–489 MB:
    dropped). Its peak is the final merge of the 80 MB of distinct row hashes.
    """
    rows = 10_000_000
    rng = np.random.default_rng(11)
    path = tmp_path / "large.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetWriter(path, pa.schema(
            [(f"x{i}", pa.float64()) for i in range(16)] + [("k", pa.int64()),
                                                            ("y", pa.int64())])) as writer:
        for start in range(0, rows, 1_000_000):
            n = 1_000_000
            x = rng.normal(size=(n, 16)).round(2)
            columns = {f"x{i}": x[:, i] for i in range(16)}
            columns["k"] = rng.integers(0, 7, n)
            columns["y"] = (rng.random(n) < 0.1 + 0.2 * (x[:, 0] > 1)).astype(np.int64)
            writer.write_table(pa.table(columns))
    table_mb = rows * 18 * 8 / 2**20
    cap_mb = 500
    assert table_mb > 2.5 * cap_mb
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), "256"], check=False,
                          capture_output=True,
                          text=True, timeout=1200, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["peak_mb"] < cap_mb, f"peak {report['peak_mb']:.0f} MB"
    streamed = DatasetProfile.from_dict(report["profile"])
    assert streamed.n_rows == rows and streamed.facts_from_sample
    # The in-memory profile of the same file, here (this process has no cap).
    whole = profile(path, "y")
    assert differences(whole, streamed, skip=SAMPLED | {"duplicate_row_fraction"}) == []
    assert streamed.duplicate_row_fraction == pytest.approx(
        pd.read_parquet(path).duplicated().mean(), abs=1e-12)


def test_the_pipeline_trains_on_the_pass_sample_sized_by_the_memory_limit(tmp_path):
    """``recommend`` on shards hands the trials the pass's stratified sample, as many rows as
    ``row_cap`` allows for ``--memory-limit-mb``; an ordinary file still goes through whole."""
    from advisor.criteria.options import Options
    from advisor.pipeline.recommendation import _profiled
    from advisor.validation.validator import row_cap

    frame = mixed_table(2 * SAMPLE_ROWS)
    folder = write_shards(frame, tmp_path / "t", parts=3)
    options = Options(memory_limit_mb=40)
    sample, prof, digest = _profiled(folder, "y", None, options)
    cap, why = row_cap(prof, options)
    assert "--memory-limit-mb" in why and 100 < cap < prof.n_rows
    assert abs(len(sample) - cap) <= 0.02 * cap + prof.n_classes  # sized from the first batch
    shares = sample["y"].value_counts(normalize=True).sort_index()
    whole = pd.Series(prof.class_counts, index=prof.class_labels, dtype=float) / prof.n_rows
    assert np.allclose(shares.to_numpy(), whole.sort_index().to_numpy(), atol=2 / cap)
    assert prof.n_rows == frame["y"].notna().sum() and len(digest) == 64
    assert _profiled(folder, "y", None, Options(validate=False))[0] is None

    single = tmp_path / "t.csv"
    frame.iloc[:500].to_csv(single, index=False)
    whole_frame, small, _ = _profiled(single, "y", None, options)
    assert len(whole_frame) == 500 and small.facts_from_sample is None


def test_arrow_read_columns_count_as_the_in_memory_loader_does(tmp_path):
    """The pass reads numbers, booleans and text in Arrow (other columns through pandas): its
    missing cells, constant columns, distinct rows and pandas memory equal what pandas says of
    the same rows, whatever the batch size (memory: with a batch a shard): nullable and narrow integers, float32, booleans with
    nulls, blank and empty strings, ±inf, -0.0 beside 0.0, categoricals and dates."""
    from advisor.profiling.streaming import scan

    rng = np.random.default_rng(12)
    n = 30_000
    pick = rng.integers(0, 4, n)
    frame = pd.DataFrame({
        "i8": pd.array(np.where(rng.random(n) < 0.01, None, rng.integers(-3, 3, n)), dtype="Int8"),
        "i32": rng.integers(0, 3, n).astype("int32"),
        "f32": np.where(rng.random(n) < 0.02, np.nan, rng.integers(0, 4, n)).astype("float32"),
        "zero": np.where(pick == 0, -0.0, 0.0),
        "inf": np.where(pick == 1, np.inf, np.where(pick == 2, -np.inf, 1.5)),
        "b": pd.array(np.where(rng.random(n) < 0.01, None, pick == 3), dtype="boolean"),
        "flag": pick == 3,
        "s": pd.array(np.where(rng.random(n) < 0.02, None, np.array(["a", " ", "", "b"])[pick]),
                      dtype="string[pyarrow]"),
        "one": np.array(["same"] * n, dtype=object),
        "cat": pd.Categorical(np.array(["x", "y"])[pick % 2]),
        "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(pick, unit="D"),
        "y": rng.integers(0, 2, n),
    })
    folder = write_shards(frame, tmp_path / "kinds", parts=3)
    read = pd.concat([pd.read_parquet(f) for f in sorted(folder.glob("*.parquet"))],
                     ignore_index=True)
    features = read.drop(columns=["y"])
    missing = pd.DataFrame({c: feats.missing_mask(features[c]) for c in features.columns})
    found = [scan(folder, "y", batch_rows=rows) for rows in (1_000, 7_777, 1 << 18)]
    for got in found:
        assert got.feature_missing == tuple(int(missing[c].sum()) for c in features.columns)
        assert got.rows_with_missing == int(missing.any(axis=1).sum())
        assert got.distinct_rows == len(read) - int(read.assign(
            zero=read["zero"] + 0.0).duplicated().sum())
        assert dict(zip(got.feature_names, got.feature_varies)) == {
            c: features[c][~missing[c]].nunique() > 1 for c in features.columns}
    whole_batches = found[2]  # one batch a shard: the pandas memory of each shard's frame
    per_shard = sum(pd.read_parquet(f).memory_usage(index=False).sum()
                    for f in sorted(folder.glob("*.parquet"))) / 2**20
    assert whole_batches.memory_mb == pytest.approx(per_shard, rel=1e-12)


def test_a_shard_whose_pandas_index_is_a_column_gets_one_clear_line(tmp_path):
    """pandas writes a named index into Parquet as a column its metadata makes the index again:
    the pass cannot read such a column as a feature, and says so (it used to fail on a KeyError)."""
    frame = pd.DataFrame({"a": np.arange(100.0), "y": np.arange(100) % 2},
                         index=pd.Index(np.arange(100) * 3, name="rid"))
    path = tmp_path / "indexed.parquet"
    frame.to_parquet(path)
    with pytest.raises(AdvisorError, match=rf"^Input {path} has pandas metadata that makes a "
                                           r"column the index .*index=False\)\.$"):
        profile_streamed(path, "y")
