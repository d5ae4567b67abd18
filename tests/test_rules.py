"""The rules engine and its commands: every default rule behaves on its own examples, loading
refuses a wrong file by naming the file, the rule and the key (and never runs what the file
contains), matching merges, ranks and removes with reasons, and ``advisor rules`` / ``advisor
recommend --no-validate`` keep their contracts — without importing TensorFlow.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from functools import lru_cache
from string import Template

import numpy as np
import pandas as pd
import pytest

import advisor
from advisor.base.records import plain
from advisor.criteria.statement import criteria_for
from advisor.losses import catalog
from advisor.profiling.target import TASKS
from advisor.rules.engine import OPS, Condition, RuleBook, RulesError, facts_of
from tests.conftest import ROOT, SAMPLE_DATA

RULES = RuleBook.load().rules


# --- real profiles ------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def frame_of(name: str) -> pd.DataFrame:
    """The sample tables, and tables built from them for conditions the samples lack."""
    if name == "wetland":  # binary, 2.1% positive: land_cover's rarest class against the rest
        frame = pd.read_csv(SAMPLE_DATA / "land_cover.csv")
        return frame.assign(wetland=frame["land_cover"] == "wetland").drop(columns="land_cover")
    if name == "log_price":  # regression with negative values: log(price / median price)
        frame = pd.read_csv(SAMPLE_DATA / "house_prices.csv")
        log_price = np.log(frame["price_k"] / frame["price_k"].median())
        return frame.assign(log_price=log_price).drop(columns="price_k")
    return pd.read_csv(SAMPLE_DATA / f"{name}.csv")


TARGETS = {"diagnosis": "diagnosis", "land_cover": "land_cover", "house_prices": "price_k",
           "claims": "n_claims", "tags": "is_spam,is_promo,is_urgent", "wetland": "wetland",
           "log_price": "log_price"}


@lru_cache(maxsize=None)
def profile_of(name: str, task: str | None = None) -> advisor.DatasetProfile:
    return advisor.profile(frame_of(name), TARGETS[name], task=task)


# --- 3. every default rule ------------------------------------------------------------------------


def tasks_admitted(rule) -> set[str]:
    """The tasks a rule can fire for, read from its conditions on ``task``."""
    tasks = set(TASKS)
    for c in rule.when:
        if c.fact == "task":
            tasks &= {"eq": {c.value}, "in": set(c.value), "ne": set(TASKS) - {c.value},
                      "not_in": set(TASKS) - set(c.value)}[c.op]
    return tasks


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_fires_on_its_example_and_not_on_its_counter_example(rule):
    conditions = "; ".join(c.text() for c in rule.when)
    assert rule.fires(rule.fires_example), \
        f"{rule.source} {rule.id}: examples.fires {rule.fires_example} vs {conditions}"
    assert not rule.fires(rule.quiet_example), \
        f"{rule.source} {rule.id}: examples.does_not_fire {rule.quiet_example} vs {conditions}"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_losses_exist_in_the_catalogue(rule):
    named = [s.loss for s in rule.suggest] + list(rule.exclude)
    missing = [loss for loss in named if loss not in catalog.CATALOG]
    assert not missing, f"{rule.id} names {missing}; catalogue: {sorted(catalog.CATALOG)}"
    admitted = tasks_admitted(rule)
    for s in rule.suggest:  # a suggestion for tasks the rule never fires on is dead
        fits = set(catalog.CATALOG[s.loss].variants)
        assert fits & admitted, f"{rule.id} suggests {s.loss} ({fits}) for tasks {admitted}"


def test_default_rules_are_unique_and_cover_the_four_criteria():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert {r.criterion for r in RULES} == {"data_distribution", "model_architecture",
                                            "computational_constraints", "problem_domain"}
    assert RuleBook.load().check_examples() == []


# --- 3. load-time validation: one file, one mistake, one message ----------------------------------

RULE_FILE = Template("""\
criterion: data_distribution
rules:
  - id: $id
    title: Rare positives call for focal loss
    when: $when
    $actions
    because: $because
    $examples
    $extra
""")
VALID = {
    "id": "user-rare-focal",
    "when": "{minority_fraction: {lt: 0.1}}",
    "actions": "suggest: [{loss: focal, weight: 2}]",
    "because": "'Only {minority_fraction} of rows are positive.'",
    "examples": "examples: {fires: {minority_fraction: 0.05}, does_not_fire: {minority_fraction: 0.3}}",
    "extra": "",
}


def rules_file(tmp_path, name="user.yaml", **changes) -> str:
    path = tmp_path / name
    path.write_text(RULE_FILE.substitute({**VALID, **changes}), encoding="utf-8")
    return str(path)


def test_the_valid_template_loads_and_adds_to_the_defaults(tmp_path):
    book = RuleBook.load([rules_file(tmp_path)])
    assert [r.id for r in book.rules] == [r.id for r in RULES] + ["user-rare-focal"]
    assert book.check_examples() == []


ERROR_CASES = [  # (case, changes to the valid rule, key the message names, message pattern)
    ("unknown fact", {"when": "{minority_fracton: {lt: 0.1}}"}, "when.minority_fracton",
     r"unknown fact 'minority_fracton' — did you mean 'minority_fraction'\?"),
    ("text for a number", {"when": "{minority_fraction: {lt: low}}"}, "when.minority_fraction.lt",
     r"expected a number, found 'low'"),
    ("quoted number", {"when": "{minority_fraction: {lt: '0.1'}}"}, "when.minority_fraction.lt",
     r"expected a number, found '0.1'"),
    ("float without a dot", {"when": "{minority_fraction: {lt: 1e-3}}"},
     "when.minority_fraction.lt", r"'1e-3' is read as text; write floats with a dot, e.g. 1.0e-3"),
    ("float without a dot in params", {"actions": "suggest: [{loss: focal, params: {gamma: 2e0}}]"},
     "suggest[0].params.gamma", r"'2e0' is read as text; write floats with a dot"),
    ("leading zero", {"when": "{n_rows: {ge: 010}}"}, "when.n_rows.ge",
     r"'010' has a leading zero \(YAML reads it as octal\)"),
    ("unknown operator", {"when": "{minority_fraction: {less: 0.1}}"},
     "when.minority_fraction.less", r"unknown operator 'less' .*operators: eq, ne, lt, le, gt, ge"),
    ("ordering text", {"when": "{task: {lt: binary}}"}, "when.task.lt",
     r"'lt' compares numbers but 'task' is str"),
    ("unknown rule key", {"extra": "wehn: {task: {eq: binary}}"}, "wehn",
     r"unknown key — did you mean 'when'\?"),
    ("empty when", {"when": "{}"}, "when", r"empty condition"),
    ("neither suggest nor exclude", {"actions": ""}, "suggest",
     r"a rule must suggest or exclude at least one loss"),
    ("unknown loss", {"actions": "suggest: [{loss: focall}]"}, "suggest[0].loss",
     r"unknown loss 'focall' — did you mean 'focal'\?"),
    ("unknown excluded loss", {"actions": "exclude: [hubber]"}, "exclude",
     r"unknown loss 'hubber' — did you mean 'huber'\?"),
    ("parameter the loss does not take", {"actions": "suggest: [{loss: focal, params: {delta: 1.0}}]"},
     "suggest[0].params.delta", r"loss 'focal' does not take 'delta' \(takes gamma, alpha\)"),
    ("parameter out of range", {"actions": "suggest: [{loss: focal, params: {gamma: 20.0}}]"},
     "suggest[0].params.gamma", r"20\.0 is outside \[0\.0, 10\.0\]"),
    ("parameter on an open bound", {"actions": "suggest: [{loss: tweedie, params: {power: 2.0}}]"},
     "suggest[0].params.power", r"2\.0 is outside \(1\.0, 2\.0\)"),
    ("weight not positive", {"actions": "suggest: [{loss: focal, weight: 0}]"}, "suggest[0].weight",
     r"expected a positive number, found 0"),
    ("unknown vocabulary value", {"when": "{task: {eq: binay}}"}, "when.task.eq",
     r"unknown value 'binay' — did you mean 'binary'\?"),
    ("unknown value in a list", {"when": "{metric: {in: [macro_f1, balanced_acuracy]}}"},
     "when.metric.in", r"unknown value 'balanced_acuracy' — did you mean 'balanced_accuracy'\?"),
    ("missing examples", {"examples": ""}, "examples",
     r"expected 'fires' and 'does_not_fire'"),
    ("example of the wrong type",
     {"examples": "examples: {fires: {minority_fraction: few}, does_not_fire: {minority_fraction: 0.3}}"},
     "examples.fires.minority_fraction", r"expected a number, found 'few'"),
    ("format spec in because", {"because": "'Only {minority_fraction:.2f} positive.'"}, "because",
     r"'\{minority_fraction:\.2f\}' is not a bare fact name"),
    ("code in because", {"because": "\"Only {__import__('os')} positive.\""}, "because",
     r"'\{__import__\('os'\)\}' is not a bare fact name"),
    ("attribute in because", {"because": "'A {task.__class__} target.'"}, "because",
     r"'\{task\.__class__\}' is not a bare fact name"),
    ("unknown fact in because", {"because": "'Only {minority_fracton} positive.'"}, "because",
     r"unknown fact 'minority_fracton' — did you mean 'minority_fraction'\?"),
    ("id of a default rule", {"id": "classification-baseline"}, "id",
     r"id already used in rules/data_distribution\.yaml; rule ids must be unique"),
]


@pytest.mark.parametrize("changes,key,pattern", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_a_wrong_rule_is_refused_naming_file_rule_and_key(tmp_path, changes, key, pattern):
    path = rules_file(tmp_path, **changes)
    with pytest.raises(RulesError, match=pattern) as info:
        RuleBook.load([path])
    rule_id = changes.get("id", VALID["id"])
    message = str(info.value)
    assert message.startswith(f"{path}: rule '{rule_id}': {key}"), \
        f"changes {changes}: expected '{path}: rule '{rule_id}': {key}…', got: {message}"
    assert "\n" not in message


def test_a_duplicate_id_across_user_files_names_both(tmp_path):
    first = rules_file(tmp_path, "first.yaml")
    second = rules_file(tmp_path, "second.yaml")
    with pytest.raises(RulesError, match=f"^{second}: rule 'user-rare-focal': id already used "
                                         f"in {first}"):
        RuleBook.load([first, second])


# --- 3. safety: plain data only -------------------------------------------------------------------

TAGGED_FILES = [  # where a python tag may hide
    'criterion: data_distribution\nrules: !!python/object/apply:os.system ["touch $marker"]\n',
    '!!python/object/apply:os.system ["touch $marker"]\n',
    'criterion: data_distribution\nrules:\n  - id: x\n    title: t\n'
    '    when: {task: !!python/object/apply:os.system ["touch $marker"]}\n',
    'criterion: data_distribution\nrules: !!python/object/new:os.system [["touch $marker"]]\n',
    'criterion: !!python/name:os.system\nrules: []\n',
    'criterion: data_distribution\nrules:\n  - id: x\n'
    '    title: !!python/object/apply:subprocess.check_call [[touch, $marker]]\n',
]


@pytest.mark.parametrize("text", TAGGED_FILES, ids=range(len(TAGGED_FILES)))
def test_python_tags_are_refused_and_never_run(tmp_path, text):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(Template(text).substitute(marker=marker), encoding="utf-8")
    with pytest.raises(RulesError, match=rf"^{path} \(line \d+\): .*tags such as !!python/\.\.\. "
                                         "are not allowed"):
        RuleBook.load([str(path)])
    assert not marker.exists(), f"loading {text!r} ran code"


def test_import_strings_are_inert_text(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    path = rules_file(
        tmp_path,
        when=f"{{task: {{eq: binary}}, positive_class: {{ne: \"{code}\"}}}}",
        because=f"\"{code} — a {{task}} target.\"",
        examples="examples: {fires: {task: binary, positive_class: 'yes'}, "
                 "does_not_fire: {task: regression}}",
        extra=f"references: [\"{code}\"]",
    )
    book = RuleBook.load([path])
    rule = book.rules[-1]
    assert rule.references == (code,) and rule.when[1].value == code
    p = profile_of("diagnosis")
    matching = book.match(p, criteria_for(p))
    firing = next(f for c in matching.candidates for f in c.rules if f.rule == rule.id)
    assert firing.because == f"{code} — a binary target.", firing.because
    assert not marker.exists()


# --- 3. a fact that is None ----------------------------------------------------------------------

NONE_CASES = [("eq", 0.1), ("ne", 0.1), ("lt", 0.1), ("le", 0.1), ("gt", 0.1), ("ge", 0.1),
              ("in", (0.1, 0.2)), ("not_in", (0.1, 0.2))]


def test_none_cases_cover_every_operator():
    assert {op for op, _ in NONE_CASES} == set(OPS)


@pytest.mark.parametrize("op,value", NONE_CASES)
def test_a_fact_that_is_none_makes_its_condition_false(op, value):
    condition = Condition("minority_fraction", op, value)
    assert condition.holds({"minority_fraction": None}) is False, (op, value)
    assert condition.holds({}) is False, (op, value)
    # On a real regression profile minority_fraction is None: the condition is false, no error.
    p = profile_of("house_prices")
    assert p.minority_fraction is None
    assert condition.holds(facts_of(p, criteria_for(p))) is False


@pytest.mark.parametrize("name", ["diagnosis", "land_cover", "tags", "house_prices", "claims"])
def test_every_default_rule_evaluates_on_every_sample_profile(name):
    """Many facts are None for any one task: no rule may raise on them."""
    p = profile_of(name)
    facts = facts_of(p, criteria_for(p))
    none = [f for f, v in facts.items() if v is None]
    assert none, "expected facts that do not apply"
    for rule in RULES:
        fired = rule.fires(facts)
        nones = [c.fact for c in rule.when if facts.get(c.fact) is None]
        assert not (fired and nones), f"{rule.id} fired on {name} though {nones} are None"


# --- 4. matching: merging, evidence, ranking, exclusions -----------------------------------------

MERGE_CASES = [  # (table, criteria options, loss, rules that propose it, total weight)
    ("wetland", {"domain": "fraud"}, "focal", ["severe-imbalance-focal", "rare-events-focal"], 3.0),
    ("diagnosis", {"domain": "medical"}, "weighted_crossentropy",
     ["moderate-imbalance-class-weights", "severe-imbalance-class-weights",
      "medical-missed-cases"], 4.0),
    ("diagnosis", {"domain": "medical"}, "crossentropy",
     ["classification-baseline", "calibrated-risks-unweighted"], 3.0),
    ("house_prices", {}, "huber", ["target-outliers-huber", "heavy-tails-log-cosh"], 4.0),
    ("diagnosis", {}, "weighted_crossentropy",
     ["moderate-imbalance-class-weights", "severe-imbalance-class-weights"], 3.0),
]


@pytest.mark.parametrize("name,options,loss,rule_ids,weight", MERGE_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in MERGE_CASES])
def test_rules_proposing_the_same_loss_merge_into_one_candidate(name, options, loss, rule_ids,
                                                                weight):
    book = RuleBook.load()
    p = profile_of(name)
    c = criteria_for(p, **options)
    facts = facts_of(p, c)
    matching = book.match(p, c)
    same = [cand for cand in matching.candidates if cand.loss == loss]
    assert len(same) == 1, f"{name} {options}: {[x.id for x in matching.candidates]}"
    candidate = same[0]
    assert [f.rule for f in candidate.rules] == rule_ids, [f.rule for f in candidate.rules]
    assert candidate.score == weight, candidate.score
    rules = {r.id: r for r in book.rules}
    for firing in candidate.rules:
        rule = rules[firing.rule]
        assert [(e.fact, e.op, e.expected) for e in firing.evidence] == \
            [(w.fact, w.op, plain(w.value)) for w in rule.when], firing.evidence
        assert all(e.observed == plain(facts[e.fact]) for e in firing.evidence), firing.evidence
        assert firing.because and firing.because in candidate.why, (firing.because, candidate.why)
        assert firing.source.startswith("rules/") and firing.criterion == rule.criterion


EVIDENCE_CASES = [  # (table, rule, fact, observed, text)
    ("diagnosis", "severe-imbalance-focal", "minority_fraction", 193 / 3000,
     "minority_fraction = 0.0643 < 0.1"),
    ("wetland", "severe-imbalance-focal", "minority_fraction", 52 / 2500,
     "minority_fraction = 0.0208 < 0.1"),
    ("diagnosis", "severe-imbalance-focal", "task", "binary",
     "task = binary (in [binary, multilabel])"),
    ("land_cover", "long-tail-class-balanced", "imbalance_ratio", 1111 / 52,
     "imbalance_ratio = 21.4 ≥ 10"),
]


@pytest.mark.parametrize("name,rule_id,fact,observed,text", EVIDENCE_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in EVIDENCE_CASES])
def test_evidence_records_the_observed_value(name, rule_id, fact, observed, text):
    p = profile_of(name)
    matching = RuleBook.load().match(p, criteria_for(p))
    firing = next(f for c in matching.candidates for f in c.rules if f.rule == rule_id)
    evidence = next(e for e in firing.evidence if e.fact == fact)
    expected = pytest.approx(observed) if isinstance(observed, float) else observed
    assert evidence.observed == expected, evidence
    assert evidence.text() == text, evidence.text()
    assert set(evidence.to_dict()) == {"fact", "op", "expected", "observed"}


RANKING_CASES = [  # (table, criteria options, candidate ids in order)
    ("diagnosis", {}, ["weighted_crossentropy", "focal", "crossentropy"]),
    ("diagnosis", {"domain": "medical"}, ["weighted_crossentropy", "crossentropy"]),
    ("diagnosis", {"fn_cost": 5.0, "fp_cost": 1.0},
     ["cost_weighted_crossentropy", "weighted_crossentropy", "focal", "crossentropy"]),
    # weighted CE (complexity 1) before focal (2) at a total of 2 each.
    ("land_cover", {}, ["class_balanced_crossentropy", "logit_adjusted", "weighted_crossentropy",
                        "focal", "crossentropy"]),
    # MAE (complexity 0) before log-cosh (1) at 2 each.
    ("house_prices", {}, ["huber", "mae", "log_cosh", "mse"]),
    # Counts stay with Poisson; Tweedie (complexity 1) after MSE (0) at 1 each.
    ("claims", {}, ["poisson", "mse", "tweedie"]),
    ("tags", {}, ["asymmetric", "focal", "crossentropy"]),
]


@pytest.mark.parametrize("name,options,expected", RANKING_CASES,
                         ids=[f"{c[0]}-{'-'.join(c[1]) or 'default'}" for c in RANKING_CASES])
def test_candidates_are_ranked_by_total_weight_then_simplicity(name, options, expected):
    p = profile_of(name)
    candidates = RuleBook.load().match(p, criteria_for(p, **options)).candidates
    ids = [c.id for c in candidates]
    assert ids == expected, f"{name} {options}: expected {expected}, got {ids}"
    keys = [(-c.score, c.complexity) for c in candidates]
    assert keys == sorted(keys), [(c.id, c.score, c.complexity) for c in candidates]
    for c in candidates:
        assert c.score == sum(f.weight for f in c.rules), (c.id, c.score, c.rules)


POISSON_FOR_REGRESSION = """\
criterion: data_distribution
rules:
  - id: user-poisson-regression
    title: Rates as a Poisson mean
    when: {task: {eq: regression}}
    suggest: [{loss: poisson, weight: 1}]
    because: A {task} target treated as a rate.
    examples: {fires: {task: regression}, does_not_fire: {task: binary}}
"""

EXCLUSION_CASES = [
    # (case, table, task, options, control table and options where the loss is a candidate,
    #  user rules, loss, rule id that excluded it or None for the catalogue, reason pattern)
    ("poisson with negative targets", "log_price", None, {}, ("house_prices", {}),
     POISSON_FOR_REGRESSION, "poisson", None,
     r"^Poisson needs a non-negative target \(target_non_negative = false\)$"),
    ("msle with negative targets", "log_price", None, {"metric": "rmsle"},
     ("house_prices", {"metric": "rmsle"}), None, "msle", None,
     r"^Mean squared logarithmic error needs a non-negative target \(target_non_negative = false\)$"),
    ("mape with zeros", "claims", "regression", {"metric": "mape"},
     ("house_prices", {"metric": "mape"}), None, "mape", None,
     r"^Mean absolute percentage error divides by y and the target has zeros "
     r"\(target_zero_fraction = 0\.767\)$"),
    ("logits-only loss, probabilities out", "land_cover", None, {"output": "probabilities"},
     ("land_cover", {}), None, "logit_adjusted", None,
     r"expects logits but the model outputs probabilities \(--output probabilities\)"),
    ("focal where calibration is needed", "diagnosis", None, {"domain": "medical"},
     ("diagnosis", {}), None, "focal", "calibrated-risks-no-focal",
     r"^In the medical domain predicted probabilities are read as risks; focal loss"),
    ("hinge when the metric needs probabilities", "diagnosis", None,
     {"model": "linear", "metric": "log_loss"}, ("diagnosis", {"model": "linear"}), None, "hinge",
     None, r"^Hinge \(max-margin\) gives margins, not probabilities, and the metric scores "
           r"probabilities \(metric = log_loss\)$"),
]


@pytest.mark.parametrize("name,task,options,control,user_rules,loss,rule_id,reason",
                         [c[1:] for c in EXCLUSION_CASES], ids=[c[0] for c in EXCLUSION_CASES])
def test_incompatible_losses_are_removed_with_a_reason(tmp_path, name, task, options, control,
                                                       user_rules, loss, rule_id, reason):
    paths = []
    if user_rules:
        (tmp_path / "user.yaml").write_text(user_rules, encoding="utf-8")
        paths = [str(tmp_path / "user.yaml")]
    book = RuleBook.load(paths)
    p = profile_of(name, task)
    matching = book.match(p, criteria_for(p, **options))
    assert loss not in [c.loss for c in matching.candidates], [c.id for c in matching.candidates]
    excluded = {e.loss: e for e in matching.excluded}
    assert loss in excluded, f"{loss} neither a candidate nor excluded: {matching.excluded}"
    assert excluded[loss].rule == rule_id
    assert re.search(reason, excluded[loss].reason), excluded[loss].reason
    # The control: the same rules on facts without the conflict keep the loss.
    control_profile = profile_of(control[0])
    kept = book.match(control_profile, criteria_for(control_profile, **control[1]))
    assert loss in [c.loss for c in kept.candidates], (control, [c.id for c in kept.candidates])


# --- 5. commands ---------------------------------------------------------------------------------

DESIGN_KEYS = {"advisor_version", "input", "profile", "criteria", "candidates", "validation",
               "recommendation", "warnings"}
CANDIDATE_KEYS = {"loss", "keras", "fit", "score", "rules", "output_activation", "from_logits",
                  "target_transform", "code", "why"}


def test_recommend_json_has_the_documented_document(cli):
    path = SAMPLE_DATA / "diagnosis.csv"
    result = cli("recommend", path, "--target", "diagnosis", "--no-validate", "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert DESIGN_KEYS <= set(doc), sorted(doc)
    assert doc["advisor_version"] == advisor.__version__
    assert doc["input"]["path"] == str(path) and doc["input"]["target"] == "diagnosis"
    assert doc["input"]["rows"] == 3000 and len(doc["input"]["sha256"]) == 64
    assert doc["profile"]["task"] == "binary" and doc["criteria"]["metric"] == "average_precision"
    assert doc["candidates"], doc
    for candidate in doc["candidates"]:
        assert CANDIDATE_KEYS <= set(candidate), sorted(candidate)
        assert set(candidate["keras"]) >= {"class_name", "config"}
        for firing in candidate["rules"]:
            assert firing["because"]
            for evidence in firing["evidence"]:
                assert set(evidence) == {"fact", "op", "expected", "observed"}, evidence
    assert doc["validation"]["status"] == "skipped"
    recommendation = doc["recommendation"]
    for key in ("loss", "keras", "fit", "output_activation", "from_logits", "target_transform",
                "code", "why"):
        assert key in recommendation, key
    assert recommendation["loss"] == doc["candidates"][0]["loss"] == "weighted_crossentropy"
    assert recommendation["output_activation"] == "linear" and recommendation["from_logits"] is True
    assert recommendation["fit"]["class_weight"] == {"0": pytest.approx(3000 / (2 * 2807), rel=1e-4),
                                                    "1": pytest.approx(3000 / (2 * 193), rel=1e-4)}
    assert isinstance(doc["warnings"], list)


def test_recommend_text_shows_the_code(cli):
    args = ("recommend", SAMPLE_DATA / "house_prices.csv", "--target", "price_k", "--no-validate")
    text = cli(*args)
    document = cli(*args, "--format", "json")
    assert text.exit_code == 0 and document.exit_code == 0, (text, document)
    code = json.loads(document.stdout)["recommendation"]["code"]
    assert ("model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), "
            "loss=keras.losses.Huber(delta=134.3))") in code
    for line in code.splitlines():
        assert line in text.stdout, f"code line missing from the text output: {line}\n{text}"


def test_rules_list_lists_every_rule(cli):
    result = cli("rules", "list")
    assert result.exit_code == 0, result
    listed = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert listed[:-1] == [r.id for r in RULES], result
    assert result.stdout.splitlines()[-1] == f"{len(RULES)} rules from 4 files"


def test_rules_list_adds_a_user_rule_to_the_defaults(cli, tmp_path):
    path = rules_file(tmp_path)
    result = cli("rules", "list", "--rules", path)
    assert result.exit_code == 0, result
    assert "user-rare-focal  [data_distribution]  focal×2" in result.stdout, result
    assert f"when minority_fraction < 0.1  ({path})" in result.stdout, result
    assert all(r.id in result.stdout for r in RULES), result
    assert result.stdout.splitlines()[-1] == f"{len(RULES) + 1} rules from 5 files"


def test_rules_check_accepts_a_good_file(cli, tmp_path):
    result = cli("rules", "check", rules_file(tmp_path))
    assert result.exit_code == 0, result
    assert result.stdout.strip() == "ok: 1 rules in 1 file(s); every example behaves", result


def test_rules_check_accepts_the_default_files(cli):
    files = sorted((ROOT / "rules").glob("*.yaml"))
    result = cli("rules", "check", *files)
    assert result.exit_code == 0, result
    assert result.stdout.strip() == f"ok: {len(RULES)} rules in 4 file(s); every example behaves"


CHECK_FAILURES = [  # (case, changes, the one error line after the path)
    ("unknown fact", {"when": "{minority_fracton: {lt: 0.1}}"},
     "rule 'user-rare-focal': when.minority_fracton: unknown fact 'minority_fracton' — did you "
     "mean 'minority_fraction'?"),
    ("example that does not fire",
     {"examples": "examples: {fires: {minority_fraction: 0.5}, does_not_fire: {minority_fraction: 0.3}}"},
     "rule 'user-rare-focal': examples.fires does not fire (minority_fraction < 0.1)"),
    ("counter-example that fires",
     {"examples": "examples: {fires: {minority_fraction: 0.05}, does_not_fire: {minority_fraction: 0.01}}"},
     "rule 'user-rare-focal': examples.does_not_fire fires"),
]


@pytest.mark.parametrize("changes,error", [c[1:] for c in CHECK_FAILURES],
                         ids=[c[0] for c in CHECK_FAILURES])
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_rules_check_refuses_a_bad_file(cli, tmp_path, monkeypatch, changes, error, relative):
    path = rules_file(tmp_path, "bad.yaml", **changes)
    if relative:  # the path as a user types it
        monkeypatch.chdir(tmp_path)
        path = "./bad.yaml"
    result = cli("rules", "check", path)
    assert result.exit_code == 1, result
    assert result.stdout == "", result
    assert result.stderr.splitlines() == [f"Error: {path}: {error}"], result


# --- 5. a user's own loss, registered in Python and suggested by a user rule ----------------------

USER_LOSS_MODULE = '''\
import keras


class ScaledBinaryCrossentropy(keras.losses.BinaryCrossentropy):
    """Binary cross-entropy times a constant: stands in for a user's own loss."""

    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * super().call(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
'''
USER_RULE = """\
criterion: problem_domain
rules:
  - id: user-scaled-bce
    title: Our team's scaled cross-entropy for binary screening
    when: {task: {eq: binary}}
    suggest: [{loss: scaled_bce, weight: 10, params: {scale: 3, from_logits: false}}]
    because: Our {task} models train with the scaled cross-entropy.
    examples: {fires: {task: binary}, does_not_fire: {task: regression}}
"""


def test_a_user_rule_can_suggest_a_loss_registered_in_python(write, tmp_path, monkeypatch):
    write("advisor_user_losses.py", USER_LOSS_MODULE)
    rules = write("team.yaml", USER_RULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from advisor.losses.kerasenv import import_keras

    keras = import_keras()
    import advisor_user_losses

    try:
        spec = advisor.register_loss("scaled_bce", advisor_user_losses.ScaledBinaryCrossentropy,
                                     ["binary"], params={"scale": 2.0, "from_logits": True},
                                     logits="none")
        assert spec.key in catalog.specs() and spec.key not in catalog.CATALOG
        frame = frame_of("diagnosis")
        rec = advisor.recommend(frame, target="diagnosis", validate=False, rules=[rules])
        top = rec.candidates[0]
        assert (top.loss, top.score, [f.rule for f in top.rules]) == \
            ("scaled_bce", 10.0, ["user-scaled-bce"]), [(c.id, c.score) for c in rec.candidates]
        assert top.rules[0].source == str(rules)
        assert top.keras == {"class_name": "ScaledBinaryCrossentropy", "module": "advisor_user_losses",
                             "config": {"scale": 3.0, "from_logits": False}}
        # The rule's integer 3 becomes the float parameter's 3.0; its boolean stays a boolean.
        assert [type(v) for v in top.keras["config"].values()] == [float, bool], top.keras
        assert "ScaledBinaryCrossentropy(scale=3.0, from_logits=False)" in top.code, top.code
        assert "from advisor_user_losses import ScaledBinaryCrossentropy" in top.code
        assert rec.recommendation.loss == "scaled_bce"
        loss = rec.loss
        assert isinstance(loss, advisor_user_losses.ScaledBinaryCrossentropy) and loss.scale == 3.0
        y, p = np.array([[1.0], [0.0]]), np.array([[0.8], [0.3]])
        plain_bce = float(keras.losses.BinaryCrossentropy()(y, p))
        assert float(loss(y, p)) == pytest.approx(3.0 * plain_bce, rel=1e-5)
    finally:
        catalog.unregister_loss("scaled_bce")
        sys.modules.pop("advisor_user_losses", None)
    with pytest.raises(RulesError, match=r"suggest\[0\]\.loss: unknown loss 'scaled_bce'"):
        RuleBook.load([rules])


def test_advisor_recommend_stays_the_function():
    """The documented API is ``advisor.recommend(df, ...)``; importing the submodule (as the CLI does)
    replaces the package attribute with the module."""
    import importlib

    importlib.import_module("advisor.pipeline.recommendation")
    assert callable(advisor.recommend), advisor.recommend
    assert callable(advisor.recommend), advisor.recommend


def test_profile_and_criteria_facts_do_not_share_a_name():
    """Facts are profile ∪ criteria in one namespace: a shared name hides the profile's value."""
    import typing

    from advisor.criteria.statement import Criteria

    shared = set(typing.get_type_hints(advisor.DatasetProfile)) & set(typing.get_type_hints(Criteria))
    assert not shared, f"rules cannot reach the profile's {sorted(shared)}"


# --- 6. --no-validate imports no TensorFlow -----------------------------------------------------


def test_recommend_without_validation_imports_no_tensorflow(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from advisor.cli import main
        try:
            main(["recommend", {str(SAMPLE_DATA / "diagnosis.csv")!r}, "--target", "diagnosis",
                  "--no-validate", "--format", "json"])
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("LOADED", loaded, file=sys.stderr)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120,
                            env={**os.environ, "ADVISOR_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["validation"]["status"] == "skipped"
    assert "LOADED []" in result.stderr, result.stderr


# --- 8. rules/README.md stays true ---------------------------------------------------------------

README = ROOT / "rules" / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def table_rows(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]
            if not set(row) <= set("|- ")]


def test_readme_cites_only_rule_ids_that_exist_and_every_rule():
    cited = set(re.findall(r"`([a-z][a-z0-9_]*(?:-[a-z0-9_]+)+)`", README.read_text("utf-8")))
    ids = {r.id for r in RULES}
    assert cited - ids == set(), f"README cites unknown rule ids: {sorted(cited - ids)}"
    assert ids - cited == set(), f"rules missing from the README: {sorted(ids - cited)}"


def test_readme_coverage_table_has_a_row_for_every_row_of_losses_section_4():
    rows = table_rows(readme_section("Coverage of docs/losses.md §4").split("Rules that are not tied")[0])
    assert len(rows) == 21, [r[0] for r in rows]  # docs/losses.md §4 has 21 condition rows
    for condition, loss, covered_by in rows:
        keys = re.findall(r"\(`(\w+)`\)", loss)
        assert all(k in catalog.CATALOG for k in keys), (condition, keys)
        cited = re.findall(r"`([a-z0-9_-]+-[a-z0-9_-]+)`", covered_by)
        assert cited or covered_by.startswith("none: "), (condition, covered_by)


def facts_table() -> str:
    """The README's facts table, generated from the DatasetProfile and Criteria fields:
    ``python -c "from tests.test_rules import facts_table; print(facts_table())"``."""
    import inspect
    import typing

    from advisor.criteria.statement import Criteria
    from advisor.rules.engine import fact_schema

    schema = fact_schema()
    classes = (("profile", advisor.DatasetProfile), ("criteria", Criteria))
    hints = {label: typing.get_type_hints(cls) for label, cls in classes}
    lines = ["| fact | type | values | group |", "| --- | --- | --- | --- |"]
    for label, cls in classes:
        group = ""
        for line in inspect.getsource(cls).splitlines():
            comment = re.match(r"\s+# (.+?)\.?$", line)
            field = re.match(r"\s+(\w+): ", line)
            if comment:
                group = comment.group(1).lower()
            elif field and field.group(1) in hints[label]:
                name = field.group(1)
                fact = schema[name]
                kind = "list (not usable in rules)" if fact.kind == "list" else fact.kind
                lines.append(f"| `{name}` | {kind} | {', '.join(fact.vocabulary or ())} | "
                             f"{label}: {group} |")
    return "\n".join(lines)


def losses_table() -> str:
    """The README's table of catalogue losses, generated from ``catalog.CATALOG``."""
    lines = ["| loss | tasks | parameters rules may set: range, default | removed (whatever "
             "suggests it) when |", "| --- | --- | --- | --- |"]
    for key, spec in catalog.CATALOG.items():
        params = "; ".join(f"`{p.name}` {p.interval()}, "
                           + (str(p.default) if p.default is not None else "derived from the data")
                           for p in spec.params) or "—"
        reasons = dict.fromkeys(r.reason if r.reason.startswith("needs") else f"it {r.reason}"
                                for r in spec.requires)
        lines.append(f"| `{key}` | {', '.join(spec.variants)} | {params} | "
                     f"{'; '.join(reasons) or '—'} |")
    return "\n".join(lines)


def test_readme_lists_every_fact_and_every_loss():
    from advisor.rules.engine import fact_schema

    table = facts_table()
    assert {row[0].strip("`") for row in table_rows(table)} == set(fact_schema())
    assert table in readme_section("Facts"), \
        "rules/README.md's facts table is stale: paste facts_table() (see its docstring)"
    assert losses_table() in readme_section("Losses rules can name"), \
        "rules/README.md's table of losses is stale: paste losses_table()"


def test_readme_example_rule_loads_and_behaves(tmp_path):
    example = README.read_text("utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.yaml").write_text(example, encoding="utf-8")
    book = RuleBook.load([tmp_path / "example.yaml"], defaults=False)
    assert [r.id for r in book.rules] == ["severe-imbalance-focal"] and book.check_examples() == []
