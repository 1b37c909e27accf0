"""Add a trained LoRA to library.toml by editing its text, so every other line and comment stays as written.

The edit is checked before anything is written: the new text must parse to the old manifest plus the
one entry, and must pass the library's own validation. A manifest laid out in a way this editor does
not follow (an inline table, dotted keys) is left alone, with a message giving the lines to add by hand.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

from tools.errors import FileRefused, LibraryError
from tools.files.atomic import write_bytes
from tools.files.bounded import LIBRARY_LIMIT, read_bytes
from tools.files.toml_file import read_toml
from tools.models.library import load_library, parse_library

_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
"""A table header such as [characters.kaitoyosuke] (not an array of tables)."""
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)\s*=")
_COMMENT = re.compile(r"""=\s*(?:"(?:[^"\\]|\\.)*"|'[^']*')(\s*#.*?)\s*$""")
"""The comment after a one-line string value, kept when the value is replaced."""


def lora_reference(manifest: Path, lora: Path) -> str:
    """Return how the manifest names a LoRA file: relative to its folder when inside it, else absolute."""
    target = lora.resolve()
    try:
        return target.relative_to(manifest.parent.resolve()).as_posix()
    except ValueError:
        return str(target)


def _string(text: str) -> str:
    """Quote text as a TOML basic string (JSON's escapes are all valid TOML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _table_name(header: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in header.split("."))


def _key_name(line: str) -> str | None:
    match = _KEY.match(line)
    return match.group(1).strip("\"'") if match else None


def _tables(lines: list[str]) -> list[tuple[tuple[str, ...], int, int]]:
    """Return each table's name, header line index and the end (exclusive) of its body."""
    starts = [(index, _table_name(match.group(1))) for index, line in enumerate(lines)
              if (match := _HEADER.match(line))]
    tables = []
    for start, name in starts:
        end = start + 1
        while end < len(lines) and not _ANY_HEADER.match(lines[end]):
            end += 1
        tables.append((name, start, end))
    return tables


def _last_key(lines: list[str], start: int, end: int) -> int:
    """Return the index of a table's last key line, or of its header when it has none."""
    keys = [index for index in range(start + 1, end) if _key_name(lines[index]) is not None]
    return keys[-1] if keys else start


def _set_keys(lines: list[str], name: tuple[str, ...], values: dict[str, str], newline: str) -> list[str]:
    """Set keys inside a table: replace their lines where present, add the others after its last key.

    A missing table goes after the last table of its group (after [characters.b] for [characters.c]),
    else at the end of the file.
    """
    tables = _tables(lines)
    found = [(start, end) for table, start, end in tables if table == name]
    if not found:
        block = [f"[{'.'.join(name)}]{newline}"] + [f"{key} = {_string(value)}{newline}"
                                                     for key, value in values.items()]
        group = [(start, end) for table, start, end in tables if table[0] == name[0]]
        if group:
            at = _last_key(lines, *group[-1]) + 1
            lines = _ended(lines, at, newline)
            return lines[:at] + [newline] + block + lines[at:]
        ending = [] if not lines or lines[-1].endswith(("\n", "\r")) else [newline]
        spacer = [newline] if lines and lines[-1].strip() else []
        return lines + ending + spacer + block
    start, end = found[0]
    lines = list(lines)
    for index in range(start + 1, end):
        key = _key_name(lines[index])
        if key in values:
            line = lines[index]
            indent = line[: len(line) - len(line.lstrip())]
            comment = match.group(1) if (match := _COMMENT.search(line)) else ""
            lines[index] = f"{indent}{key} = {_string(values.pop(key))}{comment}{newline}"
    at = _last_key(lines, start, end) + 1
    added = [f"{key} = {_string(value)}{newline}" for key, value in values.items()]
    lines = _ended(lines, at, newline) if added else lines
    return lines[:at] + added + lines[at:]


def _ended(lines: list[str], at: int, newline: str) -> list[str]:
    """Return the lines with the one before `at` ending in a newline, so a line can be put after it."""
    if at and not lines[at - 1].endswith(("\n", "\r")):
        lines = list(lines)
        lines[at - 1] += newline
    return lines


def _edit(path: Path, name: tuple[str, ...], values: dict[str, str]) -> None:
    """Set `values` in table `name` of the manifest at `path`, checked before the file is replaced."""
    original = read_toml(path, LibraryError, "library", LIBRARY_LIMIT)
    load_library(path)  # a manifest that is already broken is reported as it is, not blamed on this edit
    try:
        raw = read_bytes(path, LIBRARY_LIMIT, "library file (TOML)")
    except (OSError, FileRefused) as error:  # it changed since it was read just above
        raise LibraryError(f"{path}: cannot read the file ({error})") from None
    text = raw.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    edited = "".join(_set_keys(text.splitlines(keepends=True), name, dict(values), newline))
    expected = copy.deepcopy(original)
    table = expected
    for part in name:
        table = table.setdefault(part, {})
    table.update(values)
    try:
        parsed = tomllib.loads(edited)
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed != expected:
        wanted = " ".join(f"{key} = {_string(value)}" for key, value in values.items())
        raise LibraryError(f"{path}: cannot add the entry to this layout by itself; add [{'.'.join(name)}] "
                           f"{wanted} by hand")
    try:
        parse_library(parsed, path.parent, str(path))
    except LibraryError as error:
        raise LibraryError(f"{path}: {error}") from None
    write_bytes(path, edited.encode("utf-8"))
    try:
        load_library(path)
    except LibraryError:
        write_bytes(path, raw)
        raise


def add_character(path: Path, token: str, class_word: str, lora: Path) -> None:
    """Point [characters.TOKEN] of the manifest at `lora` with its class word, adding the table if needed."""
    _edit(path, ("characters", token), {"class": class_word, "lora": lora_reference(path, lora)})


def add_shot(path: Path, slug: str, lora: Path) -> None:
    """Point the shot type's line in [shots] at `lora`, adding the line (and the table) if needed."""
    _edit(path, ("shots",), {slug: lora_reference(path, lora)})
