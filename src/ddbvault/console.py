"""The `ddbvault` console script's entry point (pyproject.toml [project.scripts]): it imports the
CLI only when called.

Why a module of its own: the script pip generates runs `from ddbvault.console import main` at
its top level, and a process pool started with "spawn" (`backup --processes P`,
backup/executors/pool.py) runs the parent's main script again in every child, as `__mp_main__`,
to import what the parent's __main__ defines. Were that import `ddbvault.cli`, every child would
load the whole CLI (click, the service's and notifications' configuration models) that a
segment task never uses: 0.09-0.17 s of CPU per child, of its 0.53-0.59 s to start and import
what a task needs (bench/README.md). `python -m ddbvault`
(ddbvault/__main__.py) needs no such care: spawn does not re-run a `__main__` module.
"""

from __future__ import annotations


def main() -> None:
    """Run the CLI: ddbvault.cli.main, which exits with the command's exit code."""
    from .cli import main as cli_main

    cli_main()
