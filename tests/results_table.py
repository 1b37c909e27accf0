"""Writing measured rows into the Markdown tables of bench/RESULTS.md."""

from __future__ import annotations


def record_row(text: str, columns: tuple[str, ...], row: dict, key: tuple[str, ...], no_run: str) -> str:
    """Return `text` with `row` in the table whose header names `columns`.

    A row that matches on every column in `key` (the configuration) is replaced, otherwise the row is
    appended; the table's `no_run` placeholder line goes once the first row is in.
    """
    header = "| " + " | ".join(columns) + " |"
    lines = text.splitlines()
    cells = "| " + " | ".join(str(row[c]) for c in columns) + " |"
    if header not in lines:
        return text.rstrip("\n") + f"\n\n{header}\n|{'---|' * len(columns)}\n{cells}\n"
    start = lines.index(header) + 2  # past the header and its separator
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    wanted = [str(row[c]) for c in key]
    where = [columns.index(c) for c in key]
    rows = [r for r in lines[start:end] if [[c.strip() for c in r.strip("|").split("|")][i] for i in where] != wanted]
    lines[start:end] = rows + [cells]
    if no_run in lines:  # the first row replaces the note, and the blank line after it
        del lines[lines.index(no_run):lines.index(no_run) + 2]
    return "\n".join(lines) + "\n"
