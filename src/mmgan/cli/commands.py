"""The subcommand table: name -> (add_parser(subparsers), run(args) -> exit code). Each module of
mmgan.cli adds its own commands; mmgan.cli imports them all in one visible place."""
from __future__ import annotations

from typing import Callable

COMMANDS: dict[str, tuple[Callable, Callable]] = {}
