"""The ``advisor`` command: thin click commands over the library.

Exit status 0 on success, 1 for bad data or a failed run, 2 for usage errors; every failure is
one ``Error: …`` line on stderr, with a traceback only under ``--debug``.
"""

from __future__ import annotations

import os
import sys

import click

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notices) is noise on a terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from advisor.base.errors import AdvisorError
from advisor.base.version import __version__
from advisor.profiling.target import TASKS

TASK_CHOICE = click.Choice(["auto", *TASKS])


class AdvisorGroup(click.Group):
    """Turns every failure into one ``Error:`` line and the right exit status."""

    def main(self, args=None, prog_name=None, **extra):
        debug = "--debug" in (sys.argv[1:] if args is None else args)
        try:
            return super().main(args=args, prog_name=prog_name or "advisor", standalone_mode=False,
                                **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Error: interrupted.", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            if debug:
                raise
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            if debug:
                raise
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except AdvisorError as exc:
            if debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: still one line, unless asked for the traceback
            if debug:
                raise
            click.echo(f"Error: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                       "(rerun with --debug for the traceback)", err=True)
            sys.exit(1)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@click.group(cls=AdvisorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="advisor")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
def main(debug: bool) -> None:
    """Which loss should this Keras model train with? Profile a table, match rules, validate.

    \b
    Example:
      advisor recommend sample_data/diagnosis.csv --target diagnosis --domain medical
    """


@main.command("profile")
@click.argument("path", type=click.Path(dir_okay=True, path_type=str))
@click.option("--target", "-t", help="Target column; several as a,b,c (multilabel). Default: a "
              "column named target/label/y/class/outcome, else the last column.")
@click.option("--task", type=TASK_CHOICE, default="auto", show_default=True,
              help="Override the inferred task.")
@click.option("--encoding", help="Text encoding of the file (default UTF-8), e.g. latin-1.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampled facts.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A readable summary, or the profile as one JSON document.")
def profile_command(path, target, task, encoding, seed, fmt):
    """Profile a table: task, class balance, target distribution, features, label noise.

    \b
    Example:
      advisor profile sample_data/claims.csv --target n_claims --format json
    """
    from advisor.profiling.profiler import profile

    prof = profile(path, target, task=None if task == "auto" else task, encoding=encoding, seed=seed)
    if fmt == "json":
        click.echo(prof.to_json())
    else:
        from advisor.reporting.textout import format_profile

        click.echo(format_profile(prof))


@main.command("recommend")
@click.argument("path", type=click.Path(dir_okay=True, path_type=str))
@click.option("--target", "-t", help="Target column; several as a,b,c (multilabel).")
@click.option("--task", type=TASK_CHOICE, default="auto", show_default=True,
              help="Override the inferred task.")
@click.option("--domain", default="generic", show_default=True,
              help="Problem domain: generic, medical, fraud, finance, insurance, forecasting, "
                   "marketing, manufacturing (or one a rules file declares).")
@click.option("--metric", help="Score trials on this metric instead of the one chosen for the "
              "task and domain (e.g. average_precision, macro_f1, mae, poisson_deviance).")
@click.option("--model", type=click.Choice(["mlp", "linear", "cnn", "rnn", "transformer"]),
              default="mlp", show_default=True, help="The architecture you will train.")
@click.option("--output", type=click.Choice(["logits", "probabilities"]), default=None,
              help="What your final layer emits (default: whatever is stable for each loss).")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds of validation trials (wall time).")
@click.option("--no-validate", is_flag=True, help="Rules only: no Keras trials, no TensorFlow.")
@click.option("--candidates", type=click.IntRange(min=1), default=4, show_default=True,
              help="How many top candidates to trial.")
@click.option("--fn-cost", type=float, help="Cost of a missed positive (binary).")
@click.option("--fp-cost", type=float, help="Cost of a false alarm (binary).")
@click.option("--under-cost", type=float, help="Cost of predicting too low (regression).")
@click.option("--over-cost", type=float, help="Cost of predicting too high (regression).")
@click.option("--calibration/--no-calibration", default=None,
              help="Whether predicted probabilities must stay calibrated (default: by domain).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for folds and trials.")
@click.option("--rules", "rules", multiple=True, type=click.Path(path_type=str),
              help="A rules file to add to the defaults (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="What to print on stdout.")
@click.option("--report", type=click.Path(path_type=str),
              help="Also write a report: FILE.html, FILE.md or FILE.json.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials in parallel (worker processes).")
@click.option("--memory-limit-mb", type=click.FloatRange(min=0, min_open=True),
              help="Memory the trials may use; larger tables are sampled down.")
@click.option("--scheduler", envvar="ADVISOR_SCHEDULER", show_envvar=True,
              help="Run the trials on the Dask cluster whose scheduler is at this address "
                   "(tcp://HOST:PORT; workers started with --nthreads 1). Needs "
                   "pip install \"loss-advisor[dask]\".")
@click.option("--encoding", help="Text encoding of the file (default UTF-8).")
@click.option("--no-cache", is_flag=True, help="Do not reuse or store finished trials.")
@click.option("--plan", "plan", type=click.Path(dir_okay=False, path_type=str),
              help="Replay the trial plan of a saved result (its JSON) exactly.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def recommend_command(path, target, no_validate, rules, fmt, report, no_cache, plan, quiet,
                      **fields):
    """Recommend a Keras loss for a table: profile, rules over four criteria, trials.

    \b
    Example:
      advisor recommend sample_data/diagnosis.csv --target diagnosis --domain medical
    """
    from advisor.criteria.options import Options
    from advisor.pipeline.recommendation import recommend

    if report:
        from advisor.reporting.report import check_report_path

        check_report_path(report)  # fail before any trial runs
    if plan and no_validate:
        raise click.UsageError("--plan replays trials; it cannot go with --no-validate.")
    if plan:
        from advisor.pipeline.results import load_plan

        plan = load_plan(plan)  # a bad plan file fails before the table is read
    if fields["task"] == "auto":
        fields["task"] = None
    options = Options(validate=not no_validate, rules=tuple(rules), **fields)
    rec = recommend(path, target, options=options, cache=not no_cache, progress=not quiet,
                    command=_command_line(), plan=plan)
    if report:
        rec.save_report(report)
    if fmt == "json":
        click.echo(rec.to_json())
    elif fmt == "markdown":
        from advisor.reporting.report import render

        click.echo(render(rec, "md"))
    else:
        from advisor.reporting.textout import format_recommendation

        click.echo(format_recommendation(rec))


def _command_line() -> str:
    import shlex

    return "advisor " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@main.group("rules")
def rules_group():
    """List or check rules files."""


@rules_group.command("list")
@click.option("--rules", "rules", multiple=True, type=click.Path(path_type=str),
              help="A rules file to add to the defaults (repeatable).")
def rules_list(rules):
    """List every rule: id, criterion, what it suggests or excludes, and when it fires.

    \b
    Example:
      advisor rules list --rules my_rules.yaml
    """
    from advisor.rules.engine import RuleBook

    book = RuleBook.load(list(rules))
    for rule in book.rules:
        acts = [f"{s.loss}×{s.weight:g}" for s in rule.suggest] + [f"not {x}" for x in rule.exclude]
        click.echo(f"{rule.id}  [{rule.criterion}]  {', '.join(acts)}")
        click.echo(f"    when {' and '.join(c.text() for c in rule.when)}  ({rule.source})")
    click.echo(f"{len(book.rules)} rules from {len(book.files)} files")


@rules_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
def rules_check(files):
    """Validate rules files against the facts and the loss catalogue, and run their examples.

    \b
    Example:
      advisor rules check my_rules.yaml
    """
    from advisor.rules.engine import RuleBook, RulesError

    book = RuleBook.load(list(files))
    own = [r for r in book.rules if r.source in files]
    problems = book.check_examples(own)
    if problems:
        raise RulesError(problems[0])
    click.echo(f"ok: {len(own)} rules in {len(files)} file(s); every example behaves")


@main.command("report")
@click.argument("result", type=click.Path(dir_okay=False, path_type=str))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The report to write: FILE.html (one self-contained page) or FILE.md "
                   "(pictures in FILE_files/ beside it).")
def report_command(result, out):
    """Render a saved JSON result as an HTML or Markdown report, without re-running anything.

    \b
    Example:
      advisor recommend sample_data/diagnosis.csv --target diagnosis --format json > result.json
      advisor report result.json --out report.html
    """
    from advisor.pipeline.recommendation import load_result
    from advisor.reporting.report import check_report_path, write_report

    check_report_path(out)
    written = write_report(load_result(result), out)
    click.echo(f"Wrote {written}")


from advisor.service.command import serve_command  # noqa: E402  (light: imports no web stack)

main.add_command(serve_command)
