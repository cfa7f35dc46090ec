"""What a benchmark module hands back to bench/run.py, and how it is printed.

A benchmark is a module bench/bench_<name>.py with a function

    def run() -> list[Section]: ...

Each Section is printed as one table: its rows are dicts whose keys are the
columns (in the order of the first row, plus any new key met later). Notes
are printed under the table; errors too, and any error makes `make bench`
exit non-zero. A benchmark that cannot run at all raises BenchError (or any
exception): the runner prints it, goes on with the next benchmark and exits
non-zero at the end.
"""

from dataclasses import dataclass, field


class BenchError(Exception):
    """A benchmark could not measure (server did not start, bad response...)."""


@dataclass
class Section:
    title: str
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def format_cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def format_table(rows):
    if not rows:
        return "(no rows)"
    columns = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    cells = [[format_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(line[i]) for line in cells)) for i, col in enumerate(columns)]
    # Text columns left-aligned, figures right-aligned.
    numeric = [
        all(isinstance(row.get(col), (int, float)) or row.get(col) is None for row in rows)
        for col in columns
    ]

    def line(values):
        return "  ".join(
            value.rjust(width) if is_num else value.ljust(width)
            for value, width, is_num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(values) for values in cells)
    return "\n".join(out)


def format_section(section):
    parts = [section.title, "=" * len(section.title), format_table(section.rows)]
    for note in section.notes:
        parts.append(f"  note: {note}")
    for error in section.errors:
        parts.append(f"  ERROR: {error}")
    return "\n".join(parts)
