"""The rules engine: declarative YAML rules over the facts, matched into ranked candidate losses.

A rules file (see ``rules/README.md``) holds rules of one criterion. Each rule says when it fires
(``fact: {op: value}``, all must hold), which catalogue losses it suggests (with a weight and
optional parameters) or excludes, why (a text filled only from bare fact names), and one example
where it fires and one where it does not. Files are read with ``yaml.safe_load`` and validated
when loaded — unknown facts, operators, keys, losses and parameters are errors that name the
file, the rule and the key — and nothing in them is ever executed.

``RuleBook.match(profile, criteria)`` evaluates every rule on the flat facts (profile ∪ criteria),
merges the suggestions of the rules that fired into candidates, keeping every reason and the
observed values behind it, removes what an exclusion or the catalogue's hard requirements rule
out (with the reason), and ranks the rest by total weight, then simplicity.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import re
import types
import typing
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.base.conditions import OPS, ORDERED_OPS, holds
from advisor.base.errors import AdvisorError
from advisor.base.files import write_atomic
from advisor.base.records import Record, plain
from advisor.base.suggest import did_you_mean
from advisor.base.text import show
from advisor.criteria.metrics import METRICS
from advisor.criteria.options import MODELS, OUTPUTS
from advisor.criteria.statement import DOMAINS, Criteria
from advisor.losses import catalog
from advisor.losses.catalog import LossConfig
from advisor.losses.semantics import KerasSemantics
from advisor.profiling.profiler import DatasetProfile
from advisor.profiling.target import TASKS

if TYPE_CHECKING:
    import yaml

CRITERIA = ("data_distribution", "model_architecture", "computational_constraints",
            "problem_domain")
RULE_KEYS = {"id", "title", "criterion", "when", "suggest", "exclude", "because", "references",
             "examples"}
FILE_KEYS = {"criterion", "description", "domains", "rules"}
SUGGEST_KEYS = {"loss", "weight", "params"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class RulesError(AdvisorError):
    """A rules file that cannot be used: names the file, the rule and the key."""


# --- the fact schema: every field of DatasetProfile and Criteria, with its type ----------------


@dataclass(frozen=True)
class FactType:
    kind: str  # number | bool | str | any | list
    vocabulary: tuple[str, ...] | None = None


def _kind(hint) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if len(args) == 1:
            return _kind(args[0])
        return "any"
    if typing.get_origin(hint) in (tuple, list, dict) or hint in (tuple, list, dict):
        return "list"
    if hint is bool:
        return "bool"
    if hint in (int, float):
        return "number"
    if hint is str:
        return "str"
    return "any"


def fact_schema(extra_domains: tuple[str, ...] = ()) -> dict[str, FactType]:
    """Known facts: the profile's and the criteria's fields, names as rules write them."""
    vocabularies = {
        "task": TASKS, "model": MODELS, "output": OUTPUTS, "metric": tuple(METRICS),
        "domain": tuple(DOMAINS) + tuple(extra_domains), "task_alternative": TASKS,
    }
    return {name: FactType(kind, vocabularies.get(name)) for name, kind in _fact_kinds()}


@functools.cache
def _fact_kinds() -> tuple[tuple[str, str], ...]:
    """Each fact's name and kind, from the profile's and the criteria's type hints (resolved
    once per process: ``get_type_hints`` evaluates every annotation)."""
    return tuple((name, _kind(hint)) for cls in (DatasetProfile, Criteria)
                 for name, hint in typing.get_type_hints(cls).items())


def facts_of(profile: DatasetProfile, criteria: Criteria) -> dict[str, Any]:
    return {**profile.to_dict(), **criteria.to_dict()}


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    fact: str
    op: str
    value: Any

    def holds(self, facts: dict[str, Any]) -> bool:
        """A fact that is None (does not apply) fails every test; it never raises."""
        return holds(facts.get(self.fact), self.op, self.value)

    def text(self) -> str:
        return f"{self.fact} {OPS[self.op]} {show(self.value)}"


@dataclass(frozen=True)
class Suggestion:
    loss: str
    weight: float
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    criterion: str
    when: tuple[Condition, ...]
    suggest: tuple[Suggestion, ...]
    exclude: tuple[str, ...]
    because: str
    references: tuple[str, ...]
    fires_example: dict[str, Any]
    quiet_example: dict[str, Any]
    source: str

    def fires(self, facts: dict[str, Any]) -> bool:
        return all(c.holds(facts) for c in self.when)

    def explain(self, facts: dict[str, Any]) -> str:
        return _PLACEHOLDER.sub(lambda m: show(facts.get(m.group(1))), self.because)


# --- what matching produces --------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence(Record):
    fact: str
    op: str
    expected: Any
    observed: Any

    def text(self) -> str:
        """``minority_fraction = 0.0643 < 0.1``; ``domain = medical`` for an equality."""
        observed = f"{self.fact} = {show(self.observed)}"
        if self.op in ORDERED_OPS:
            return f"{observed} {OPS[self.op]} {show(self.expected)}"
        if self.op == "eq":
            return observed
        return f"{observed} ({OPS[self.op]} {show(self.expected)})"


@dataclass(frozen=True)
class Firing(Record):
    rule: str
    title: str
    criterion: str
    weight: float
    because: str
    evidence: tuple[Evidence, ...]
    references: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Candidate(LossConfig):
    """A configured loss with the rules that proposed it: what the validator trials."""

    id: str = ""
    score: float = 0.0
    rules: tuple[Firing, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Exclusion(Record):
    loss: str
    reason: str
    rule: str | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Matching(Record):
    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...]
    fired: tuple[str, ...]


class RuleBook:
    """Validated rules from the default files plus the user's, ready to match."""

    def __init__(self, rules: tuple[Rule, ...], files: tuple[tuple[str, str], ...],
                 domains: tuple[str, ...] = ()):
        self.rules = rules
        self.files = files  # (path, sha256)
        self.domains = domains

    @classmethod
    def load(cls, paths: list[str | Path] | tuple = (), defaults: bool = True,
             cache: bool | str | os.PathLike = True) -> RuleBook:
        """The shipped rules (unless ``defaults=False``) and then each user file, in order.

        ``cache``: where validated rules are kept between runs, as for the trials (``False``:
        parse afresh and write nothing; see :func:`advisor.base.cache.cache_root`).
        """
        sources: list[tuple[str, str]] = []
        shipped: dict[Path, int] = {}  # a default file's location -> its index in sources
        if defaults:
            for entry in sorted(default_rules_folder().iterdir(), key=lambda e: e.name):
                if entry.name.endswith(".yaml"):
                    sources.append((f"rules/{entry.name}", entry.read_text(encoding="utf-8")))
                    shipped[Path(str(entry)).resolve()] = len(sources) - 1
        for given in paths:
            path = Path(given)
            if not path.is_file():
                raise RulesError(f"Rules file {path} does not exist or is not a file.")
            # The name as given, so callers can match problems to the paths they passed.
            index = shipped.get(path.resolve())
            if index is not None:  # a default file named again (advisor rules check rules/*.yaml)
                sources[index] = (os.fspath(given), sources[index][1])
                continue
            sources.append((os.fspath(given), path.read_text(encoding="utf-8")))
        files = tuple((name, hashlib.sha256(text.encode()).hexdigest()) for name, text in sources)
        rules, domains = _validated(tuple(sources), files, cache)
        return cls(rules, files, domains)

    def check_examples(self, rules: list[Rule] | None = None) -> list[str]:
        """Every rule must fire on its ``fires`` example and not on its ``does_not_fire`` one."""
        problems = []
        for rule in self.rules if rules is None else rules:
            if not rule.fires(rule.fires_example):
                problems.append(f"{rule.source}: rule '{rule.id}': examples.fires does not fire "
                                f"({'; '.join(c.text() for c in rule.when)})")
            if rule.fires(rule.quiet_example):
                problems.append(f"{rule.source}: rule '{rule.id}': examples.does_not_fire fires")
        return problems

    def match(self, profile: DatasetProfile, criteria: Criteria,
              semantics: KerasSemantics | None = None) -> Matching:
        facts = facts_of(profile, criteria)
        suggested: dict[tuple[str, tuple], list[tuple[Firing, float]]] = {}
        excluded: dict[str, Exclusion] = {}
        fired = []
        for rule in self.rules:
            if not rule.fires(facts):
                continue
            fired.append(rule.id)
            evidence = tuple(Evidence(c.fact, c.op, plain(c.value), plain(facts[c.fact]))
                             for c in rule.when)
            because = rule.explain(facts)
            for suggestion in rule.suggest:
                firing = Firing(rule.id, rule.title, rule.criterion, suggestion.weight, because,
                                evidence, rule.references, rule.source)
                suggested.setdefault((suggestion.loss, suggestion.params), []).append(
                    (firing, suggestion.weight))
            for loss in rule.exclude:
                excluded.setdefault(loss, Exclusion(loss, because, rule.id, evidence))
        configured: dict[tuple[str, str], tuple[LossConfig, list, tuple]] = {}
        for (loss, params), firings in suggested.items():
            if loss in excluded:
                continue
            spec = catalog.get_spec(loss)
            if profile.task not in spec.variants:
                continue  # a suggestion meant for another task: not an incompatibility
            problem = catalog.incompatibility(spec, facts)
            if problem:
                excluded.setdefault(loss, Exclusion(loss, f"{spec.title} {problem}"))
                continue
            config = catalog.configure(loss, profile, criteria, dict(params), semantics)
            # Rules that name a parameter's default and rules that leave it out mean one loss.
            identity = (loss, json.dumps([config.keras, config.fit], sort_keys=True))
            if identity in configured:
                configured[identity][1].extend(firings)
            else:
                configured[identity] = (config, list(firings), params)
        per_loss = Counter(loss for loss, _ in configured)
        candidates = []
        for (loss, _), (config, firings, params) in configured.items():
            firing_list = tuple(f for f, _ in firings)
            label = ", ".join(f"{k}={show(v)}" for k, v in params)
            candidates.append(Candidate(
                **{f.name: getattr(config, f.name) for f in dataclasses.fields(LossConfig)},
                id=f"{loss}({label})" if per_loss[loss] > 1 and label else loss,
                score=float(sum(w for _, w in firings)),
                rules=firing_list,
                why=" ".join(dict.fromkeys(f.because for f in firing_list)),
            ))
        candidates.sort(key=lambda c: (-c.score, c.complexity, c.id))
        return Matching(tuple(candidates), tuple(excluded.values()), tuple(fired))


def default_rules_folder():
    """The shipped rules: package data of an install (``advisor.default_rules``), or the
    ``rules/`` folder beside the package when it runs from a source checkout (``python -m
    advisor`` in the repository imports the checkout, which has no such subpackage)."""
    try:
        return resources.files("advisor.default_rules")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "rules"


# Validated rules by their sources' names and hashes, the catalogue and the package version, in
# memory and (unless the run's cache is off) on disk: PyYAML's constructor is pure Python, and
# parsing the defaults on every run would cost more than matching them does.
_VALIDATED: dict[str, tuple[tuple[Rule, ...], tuple[str, ...]]] = {}


@functools.cache
def _facts_key() -> str:
    """The known facts, as validated rules depend on them (fixed for the life of the process)."""
    return repr(sorted(fact_schema().items()))


def _validated(sources: tuple[tuple[str, str], ...], files,
               cache: bool | str | os.PathLike = True) -> tuple[tuple[Rule, ...], tuple]:
    from advisor.base.version import __version__

    catalogue = sorted((key, spec.tasks, tuple((p.name, p.low, p.high, p.low_open, p.high_open)
                                               for p in spec.params))
                       for key, spec in catalog.specs().items())  # register_loss adds to it
    key = hashlib.sha256(repr((__version__, files, catalogue, _facts_key())).encode()
                         ).hexdigest()[:32]
    if key in _VALIDATED:
        return _VALIDATED[key]
    path = _cache_path(key, cache)
    if path is not None and path.is_file():
        try:
            _VALIDATED[key] = pickle.loads(path.read_bytes())
            return _VALIDATED[key]
        except Exception:  # noqa: BLE001  a stale or torn cache file: parse afresh
            pass
    parsed = [(name, _parse_yaml(name, text)) for name, text in sources]
    domains = tuple(d for _, data in parsed for d in (data.get("domains") or {}))
    schema = fact_schema(domains)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for name, data in parsed:
        for rule in _file_rules(name, data, schema):
            if rule.id in seen:
                raise RulesError(f"{name}: rule '{rule.id}': id already used in {seen[rule.id]}; "
                                 "rule ids must be unique (user rules add to the defaults, "
                                 "never replace them).")
            seen[rule.id] = name
            rules.append(rule)
    _VALIDATED[key] = (tuple(rules), domains)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, pickle.dumps(_VALIDATED[key]))
        except OSError:
            pass  # an unwritable cache costs speed, never correctness
    return _VALIDATED[key]


def _cache_path(key: str, cache: bool | str | os.PathLike = True) -> Path | None:
    from advisor.base.cache import cache_root

    root = cache_root(cache)
    return None if root is None else root / "rules" / f"{key}.pickle"


# --- loading and validation ---------------------------------------------------------------------


def _parse_yaml(name: str, text: str) -> dict:
    # One parse: compose the node tree (its raw scalars are checked below), then construct
    # plain data from it with the safe constructor — the C implementation where available.
    # PyYAML loads here, on a parse: a run whose rules are cached (the usual case) needs none.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.constructor.ConstructorError as exc:
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise RulesError(f"{name}{where}: {exc.problem}; rules files are plain data — tags such "
                         "as !!python/... are not allowed.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RulesError(f"{name}{where}: not valid YAML: {problem}.") from None
    finally:
        loader.dispose()
    if node is not None:
        _check_scalars(name, node)
    if not isinstance(data, dict):
        raise RulesError(f"{name}: expected a mapping with 'criterion' and 'rules', found "
                         f"{type(data).__name__}.")
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise RulesError(f"{name}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                         f"expected {', '.join(sorted(FILE_KEYS))}.")
    return data


def _check_scalars(name: str, node, rule: str | None = None, key: str = "") -> None:
    """Raw-scalar checks the constructed data cannot show (octal-looking integers, floats without
    a dot), reported like every other error: the file, the rule and the key."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        problem = _raw_scalar_problem(node)
        if problem:
            where = name + (f": rule {rule}" if rule else "") + (f": {key}" if key else "")
            raise RulesError(f"{where}: {problem} (line {node.start_mark.line + 1})")
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if rule is None and key == "rules" and isinstance(item, yaml.MappingNode):
                rule_id = next((v.value for k, v in item.value if isinstance(k, yaml.ScalarNode)
                                and k.value == "id" and isinstance(v, yaml.ScalarNode)), None)
                _check_scalars(name, item, f"'{rule_id}'" if rule_id else f"#{i + 1}")
            else:
                _check_scalars(name, item, rule, f"{key}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _check_scalars(name, k, rule, key)
            label = k.value if isinstance(k, yaml.ScalarNode) else "?"
            _check_scalars(name, v, rule, f"{key}.{label}" if key else label)


def _raw_scalar_problem(node: yaml.ScalarNode) -> str | None:
    raw = node.value
    if node.tag.endswith(":int") and re.fullmatch(r"[-+]?0\d+", raw):
        return f"'{raw}' has a leading zero (YAML reads it as octal); write the number without it"
    # Plain (unquoted) style is None in PyYAML's Python composer and '' in its C one.
    if node.tag.endswith(":str") and not node.style and re.fullmatch(
            r"[-+]?\d+[eE][-+]?\d+", raw):
        return (f"'{raw}' is read as text; write floats with a dot, e.g. "
                f"{raw.replace('e', '.0e').replace('E', '.0E')}")
    return None


def _file_rules(name: str, data: dict, schema: dict[str, FactType]) -> list[Rule]:
    criterion = data.get("criterion")
    if criterion not in CRITERIA:
        raise RulesError(f"{name}: criterion '{criterion}' is not one of {', '.join(CRITERIA)}.")
    items = data.get("rules")
    if not isinstance(items, list) or not items:
        raise RulesError(f"{name}: 'rules' must be a non-empty list of rules.")
    return [_rule(name, i, item, criterion, schema) for i, item in enumerate(items)]


def _rule(name: str, index: int, item, criterion: str, schema: dict[str, FactType]) -> Rule:
    if not isinstance(item, dict):
        raise RulesError(f"{name}: rule #{index + 1} must be a mapping, found {type(item).__name__}.")
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise RulesError(f"{name}: rule #{index + 1}: 'id' must be a lowercase name "
                         f"(letters, digits, '-', '_'), found {rule_id!r}.")
    where = f"{name}: rule '{rule_id}'"

    def fail(key: str, message: str):
        raise RulesError(f"{where}: {key}: {message}")

    unknown = set(item) - RULE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        fail(key, f"unknown key{did_you_mean(key, sorted(RULE_KEYS), inline=True)} "
                  f"(keys: {', '.join(sorted(RULE_KEYS))})")
    for key in ("title", "because"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            fail(key, "required text is missing")
    own = item.get("criterion", criterion)
    if own != criterion:
        fail("criterion", f"'{own}' differs from the file's criterion '{criterion}'")
    conditions = _conditions(fail, item.get("when"), schema)
    suggest = item.get("suggest") or []
    exclude = item.get("exclude") or []
    if not suggest and not exclude:
        fail("suggest", "a rule must suggest or exclude at least one loss")
    if not isinstance(suggest, list) or not isinstance(exclude, list):
        fail("suggest" if not isinstance(suggest, list) else "exclude", "expected a list")
    suggestions = tuple(_suggestion(fail, i, s) for i, s in enumerate(suggest))
    for loss in exclude:
        if not isinstance(loss, str):
            fail("exclude", f"expected loss names, found {loss!r}")
        _check_loss(fail, "exclude", loss)
    because = item["because"]
    for placeholder in _PLACEHOLDER.findall(because):
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", placeholder):
            fail("because", f"'{{{placeholder}}}' is not a bare fact name; texts may only "
                            "use {fact_name}")
        _check_fact(fail, "because", placeholder, schema)
    references = item.get("references") or []
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        fail("references", "expected a list of texts")
    examples = _examples(fail, item.get("examples"), schema)
    return Rule(
        id=rule_id, title=item["title"].strip(), criterion=criterion, when=conditions,
        suggest=suggestions, exclude=tuple(exclude), because=" ".join(because.split()),
        references=tuple(references), fires_example=dict(examples["fires"]),
        quiet_example=dict(examples["does_not_fire"]), source=name,
    )


def _conditions(fail, when, schema: dict[str, FactType]) -> tuple[Condition, ...]:
    """The checked conditions of a rule's ``when``: ``fact: {op: value}`` mappings."""
    if not isinstance(when, dict) or not when:
        fail("when", "empty condition; a rule needs at least one 'fact: {op: value}'")
    conditions = []
    for fact, tests in when.items():
        _check_fact(fail, f"when.{fact}", fact, schema)
        if not isinstance(tests, dict) or not tests:
            fail(f"when.{fact}", "expected a mapping of operator to value, e.g. {lt: 0.1}")
        for op, value in tests.items():
            conditions.append(_condition(fail, f"when.{fact}.{op}", fact, op, value, schema[fact]))
    return tuple(conditions)


def _examples(fail, examples, schema: dict[str, FactType]) -> dict:
    """A rule's ``examples``: facts it ``fires`` on and facts it ``does_not_fire`` on, checked."""
    if not isinstance(examples, dict) or set(examples) != {"fires", "does_not_fire"}:
        fail("examples", "expected 'fires' and 'does_not_fire', each a mapping of facts")
    for kind in ("fires", "does_not_fire"):
        example = examples[kind]
        if not isinstance(example, dict):
            fail(f"examples.{kind}", "expected a mapping of fact: value")
        for fact, value in example.items():
            _check_fact(fail, f"examples.{kind}.{fact}", fact, schema)
            _check_value(fail, f"examples.{kind}.{fact}", value, schema[fact], allow_none=True)
    return examples


def _check_fact(fail, key: str, fact, schema) -> None:
    if fact not in schema:
        fail(key, f"unknown fact '{fact}'{did_you_mean(fact, schema, inline=True)}")
    if schema[fact].kind == "list":
        fail(key, f"fact '{fact}' is a list; rules compare single values")


def _condition(fail, key: str, fact: str, op, value, kind: FactType) -> Condition:
    if op not in OPS:
        fail(key, f"unknown operator '{op}'{did_you_mean(op, OPS, inline=True)}"
             f" (operators: {', '.join(OPS)})")
    if op in ORDERED_OPS and kind.kind != "number":
        fail(key, f"'{op}' compares numbers but '{fact}' is {kind.kind}")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            fail(key, f"'{op}' needs a non-empty list, found {value!r}")
        for v in value:
            _check_value(fail, key, v, kind)
        return Condition(fact, op, tuple(value))
    _check_value(fail, key, value, kind)
    return Condition(fact, op, value)


def _check_value(fail, key: str, value, kind: FactType, allow_none: bool = False) -> None:
    if value is None:
        if allow_none:
            return
        fail(key, "a value is missing (null)")
    if kind.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and re.fullmatch(r"[-+]?[\d.]+[eE][-+]?\d+", value):
                hint = "; write floats with a dot, e.g. 1.0e-3"
            fail(key, f"expected a number, found {value!r}{hint}")
    elif kind.kind == "bool":
        if not isinstance(value, bool):
            fail(key, f"expected true or false, found {value!r}")
    elif kind.kind == "str":
        if not isinstance(value, str):
            fail(key, f"expected text, found {value!r}")
        if kind.vocabulary and value not in kind.vocabulary:
            fail(key, f"unknown value '{value}'{did_you_mean(value, kind.vocabulary, inline=True)}"
                 f" (one of: {', '.join(kind.vocabulary)})")


def _check_loss(fail, key: str, loss: str) -> catalog.LossSpec:
    known = catalog.specs()
    if loss not in known:
        fail(key, f"unknown loss '{loss}'{did_you_mean(loss, known, inline=True)}"
             " (see 'advisor rules list' or register it with advisor.register_loss)")
    return known[loss]


def _suggestion(fail, index: int, item) -> Suggestion:
    key = f"suggest[{index}]"
    if isinstance(item, str):
        item = {"loss": item}
    if not isinstance(item, dict) or "loss" not in item:
        fail(key, "expected {loss: name, weight: number, params: {...}}")
    unknown = set(item) - SUGGEST_KEYS
    if unknown:
        fail(f"{key}.{sorted(unknown)[0]}", f"unknown key (keys: {', '.join(sorted(SUGGEST_KEYS))})")
    spec = _check_loss(fail, f"{key}.loss", item["loss"])
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
        fail(f"{key}.weight", f"expected a positive number, found {weight!r}")
    params = item.get("params") or {}
    if not isinstance(params, dict):
        fail(f"{key}.params", "expected a mapping of parameter: value")
    for name, value in params.items():
        param = spec.param(name)
        if param is None:
            takes = ", ".join(p.name for p in spec.params) or "no parameters"
            fail(f"{key}.params.{name}", f"loss '{spec.key}' does not take '{name}' (takes {takes})")
        if param.kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            fail(f"{key}.params.{name}", f"expected a number, found {value!r}")
        if param.kind is float and not param.within(value):
            fail(f"{key}.params.{name}", f"{value!r} is outside {param.interval()}")
    # Integers written for float parameters become floats; other kinds (a registered loss's
    # bool or int arguments) stay as written.
    return Suggestion(spec.key, float(weight), tuple(sorted(
        (k, float(v) if spec.param(k).kind is float and not isinstance(v, bool) else v)
        for k, v in params.items())))
