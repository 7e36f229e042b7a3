"""Every `mmgan ...` command in README.md and docs/*.md code blocks parses with the real parser, every option
an inline `mmgan SUB ...` names exists, and one concept has one option name across subcommands (older
spellings are hidden aliases). Parse only: nothing runs."""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from mmgan.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*(```|~~~)")
PREFIX = re.compile(r"^(?:.*\s)?(?:python3?\s+)?-m\s+mmgan\s+|^mmgan\s+")      # `mmgan X`, `[torchrun ...] -m mmgan X`


def code_lines(path: Path):
    """(line number, text) of each line inside fenced code blocks; backslash continuations joined."""
    inside, pending, start = False, "", 0
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        if not pending:
            start = i
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in DOCS:
        for n, line in code_lines(path):
            text = line.strip()
            m = PREFIX.match(text)
            if not m:
                continue
            argv = shlex.split(text[m.end():], comments=True)
            found.append((f"{path.relative_to(ROOT)}:{n}", argv))
    return found


COMMANDS = documented_commands()


def parse_error(argv: list[str]) -> str | None:
    """None when argv parses, else argparse's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args(argv)
    except SystemExit as e:
        if e.code:
            return err.getvalue().strip().splitlines()[-1]
    return None


def test_the_docs_have_commands():
    names = {argv[0] for _, argv in COMMANDS if argv}
    assert len(COMMANDS) >= 20 and {"train", "generate", "index", "search", "store", "serve"} <= names


@pytest.mark.parametrize("where,argv", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_parses(where, argv):
    assert parse_error(argv) is None, f"{where}: `mmgan {shlex.join(argv)}`: {parse_error(argv)}"


def test_an_unknown_option_fails_the_check():
    assert "unrecognized arguments: --no-such-option" in parse_error(["info", "RUN", "--no-such-option"])


def inline_commands() -> list[tuple[str, str]]:
    """`mmgan ...` spans of the prose (outside code blocks): often fragments, so only their options are checked."""
    found = []
    for path in DOCS:
        prose = re.sub(r"^\s*```.*?^\s*```", "", path.read_text(), flags=re.S | re.M)
        for m in re.finditer(r"`(mmgan [^`]+)`", prose.replace("\n", " ")):
            found.append((path.relative_to(ROOT).as_posix(), m.group(1)))
    return found


def test_inline_commands_name_real_options():
    parsers = dict(_parsers(build_parser()))
    bad = []
    for where, span in inline_commands():
        words = shlex.split(span)[1:]
        cmd = []
        for w in words:                                     # the subcommand path: `store serve`, `keys create`
            if " ".join([*cmd, w]) in parsers:
                cmd.append(w)
            else:
                break
        known = {o for a in parsers[" ".join(cmd)]._actions if a.help != argparse.SUPPRESS for o in a.option_strings}
        bad += [f"{where}: `{span}`: {w}" for w in words
                if w.startswith("-") and w != "..." and w.split("=")[0] not in known]
    assert not bad, "options the parser does not show:\n" + "\n".join(bad)


def _parsers(p: argparse.ArgumentParser, prefix=()):
    yield " ".join(prefix), p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                yield from _parsers(sp, (*prefix, name))


def test_one_name_per_concept():
    """A dest is shown under the same option strings in every subcommand that has it."""
    shown: dict[str, dict[tuple, list[str]]] = {}
    for cmd, p in _parsers(build_parser()):
        for a in p._actions:
            if a.option_strings and a.help != argparse.SUPPRESS and a.dest != "help":
                shown.setdefault(a.dest, {}).setdefault(tuple(a.option_strings), []).append(cmd)
    drift = {dest: spellings for dest, spellings in shown.items() if len(spellings) > 1}
    assert not drift, f"one concept, several names: {drift}"
    assert shown["store"] and all(names == ("--store",) for names in shown["store"])
    assert all(names == ("-n", "--num") for names in shown["num"])


@pytest.mark.parametrize("old,new", [
    (["index", "shapes", "--path", "st"], ["index", "shapes", "--store", "st"]),
    (["search", "--text", "x", "--uri", "http://h:1", "--token", "t", "--assets", "a"],
     ["search", "--text", "x", "--store-uri", "http://h:1", "--store-token", "t", "--store-assets", "a"]),
    (["store", "stats", "--path", "st"], ["store", "stats", "--store", "st"]),
    (["store", "serve", "--path", "st"], ["store", "serve", "--store", "st"]),
    (["serve", "RUN", "--path", "st"], ["serve", "RUN", "--store", "st"]),
    (["generate", "RUN", "--text", "t", "--retrieve", "2", "--store-path", "st", "--retrieve-embedder", "E",
      "--out", "o"], ["generate", "RUN", "--text", "t", "--retrieve", "2", "--store", "st", "--embedder", "E",
                      "--out", "o"]),
    (["data", "make", "shapes", "--out", "d", "--n", "5"], ["data", "make", "shapes", "--out", "d", "-n", "5"]),
    (["index", "RUN", "--prompt", "a", "--prompt", "b"], ["index", "RUN", "--text", "a", "--text", "b"]),
])
def test_old_spellings_are_hidden_aliases(old, new):
    parser = build_parser()
    assert vars(parser.parse_args(old)) == vars(parser.parse_args(new))
    help_text = "".join(sp.format_help() for _, sp in _parsers(parser))
    for opt in ("--path", "--store-path", "--retrieve-embedder", "--prompt", "--uri ", "--token ", "--assets "):
        assert opt not in help_text
