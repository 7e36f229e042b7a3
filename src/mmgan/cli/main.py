"""`mmgan`: the parser over every registered subcommand, and the error policy (a clear one-line error,
exit 1; Ctrl-C keeps the latest checkpoint)."""
from __future__ import annotations

import argparse
import sys

from .. import __version__
from .commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmgan", description="Multimodal GANs: train, generate, evaluate, "
                                     "index and serve. Run `mmgan COMMAND --help` for each command.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="cmd")
    for name, (add, _) in COMMANDS.items():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(__version__)
        return 0
    if not args.cmd:
        parser.print_help()
        return 2
    try:
        return int(COMMANDS[args.cmd][1](args) or 0)
    except KeyboardInterrupt:
        print("interrupted; the latest checkpoint is kept", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as e:
        msg = str(e) if not isinstance(e, KeyError) or len(e.args) != 1 else str(e.args[0])
        print(f"mmgan {args.cmd}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
