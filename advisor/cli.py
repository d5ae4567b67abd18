"""The ``advisor`` command: thin click commands over the library.

Exit status 0 on success, 1 for bad data or a failed run, 2 for usage errors; every failure is
one ``Error: …`` line on stderr, with a traceback only under ``--debug``.
"""

from __future__ import annotations

import sys

import click

from advisor import __version__
from advisor.errors import AdvisorError
from advisor.target import TASKS

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
    from advisor.profiler import profile

    prof = profile(path, target, task=None if task == "auto" else task, encoding=encoding, seed=seed)
    if fmt == "json":
        click.echo(prof.to_json())
    else:
        from advisor.textout import format_profile

        click.echo(format_profile(prof))
