"""Data errors: one exception per kind of problem, each message naming the file, row and column.

Row numbers are 1-based data rows everywhere (for .jsonl the line number, for .csv the row after the
header, for an image folder the file's position in sorted order), so a user can go straight to it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

MAX_LISTED = 50   # a report longer than this lists the first 50 and counts the rest

SKIP_HINT = "Fix or remove these rows, or pass --skip-bad (data.skip_bad=true; skip_bad=True in Python) to skip them."


class DataError(ValueError):
    """A dataset cannot be loaded as asked (unknown name, missing column, sizes differ, ...)."""


class AudioError(DataError):
    """An audio file is missing, unreadable or empty."""


@dataclass
class BadRow:
    row: int          # 1-based data row (see the module docstring for the convention)
    column: str       # the column at fault, or "row" for the whole row (e.g. invalid JSON)
    problem: str

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.problem}"


def format_report(source: str, bad: list[BadRow], total: int, convention: str) -> str:
    lines = [f"{source}: {len(bad)} bad row{'s' if len(bad) != 1 else ''} out of {total} ({convention}):"]
    lines += [f"  {b}" for b in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        lines.append(f"  ... and {len(bad) - MAX_LISTED} more")
    return "\n".join(lines)


class BadRowsError(DataError):
    """Some rows of a user's dataset are bad; the message lists them (up to 50) with row and column."""

    def __init__(self, source: str, bad_rows: list[BadRow], total: int, convention: str, hint: str = SKIP_HINT):
        self.source = source
        self.bad_rows = list(bad_rows)
        self.total = total
        super().__init__(format_report(source, self.bad_rows, total, convention) + "\n" + hint)


def settle_bad_rows(source: str, bad: list[BadRow], total: int, convention: str, skip_bad: bool) -> set[int]:
    """Refuse (BadRowsError) unless skip_bad; returns the bad row numbers to leave out.

    Skipping everything is still an error: an empty dataset would only fail later, less clearly.
    """
    bad = sorted(bad, key=lambda b: b.row)
    rows = {b.row for b in bad}
    if bad and not skip_bad:
        raise BadRowsError(source, bad, total, convention)
    if total == 0:
        raise DataError(f"{source}: no data rows")
    if len(rows) >= total:
        raise BadRowsError(source, bad, total, convention,
                           hint="Every row is bad, so nothing is left after skipping; fix the rows listed above.")
    return rows
