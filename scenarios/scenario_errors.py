"""The one error of a scenario file, and where in the TOML text a field lives.

tomllib reports line numbers only for syntax errors; a valid file that fails validation is
located here by scanning the text for the table headers and keys of the failing field path
(``symbol[0].path.segment[1].file``). The scan knows tables, arrays of tables, dotted and quoted
keys, and skips over multi-line strings and arrays; a path inside an inline value falls back to
the line of its key, a missing field to the line of its table's header.
"""

from __future__ import annotations

import re


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file, the field and the line."""

    def __init__(self, file: str, line: int, field: str, message: str,
                 *, csv_file: str | None = None, csv_line: int | None = None) -> None:
        self.file, self.line, self.field, self.detail = file, line, field, message
        self.csv_file, self.csv_line = csv_file, csv_line
        where = f"{file}:{line}: {field}" if field else f"{file}:{line}"
        if csv_file is not None:
            super().__init__(f"{csv_file}:{csv_line}: {message} (read for {where})")
        else:
            super().__init__(f"{where}: {message}")


_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_PART_TEXT = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART_TEXT}(?:\s*\.\s*{_PART_TEXT})*)\s*=")
_PART = re.compile(_PART_TEXT)


def _parts(dotted: str) -> list[str]:
    return [part.strip("\"'") for part in _PART.findall(dotted)]


def _open_brackets(value: str) -> int:
    """Net depth of [ and { in a value, outside strings (a multi-line array continues while
    this is positive)."""
    depth, quote, index = 0, "", 0
    while index < len(value):
        char = value[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        index += 1
    return depth


def key_lines(text: str) -> dict[str, int]:
    """Map every table path and key path of ``text`` to its 1-based line."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    prefix = ""
    depth = 0
    in_string = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in line:
                in_string = ""
            continue
        if depth > 0:
            depth += _open_brackets(line)
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            is_array = header.group(1) == "[["
            resolved = ""
            names = _parts(header.group(2))
            for position, name in enumerate(names):
                resolved = f"{resolved}.{name}" if resolved else name
                last = position == len(names) - 1
                if last and is_array:
                    counts[resolved] = counts.get(resolved, 0) + 1
                if resolved in counts:
                    resolved = f"{resolved}[{counts[resolved] - 1}]"
            prefix = resolved
            lines.setdefault(prefix, number)
            continue
        key = _KEY.match(line)
        if key:
            path = ".".join([prefix, *_parts(key.group(1))] if prefix else _parts(key.group(1)))
            lines.setdefault(path, number)
            value = line[key.end():]
            for marker in ('"""', "'''"):
                if value.count(marker) == 1:
                    in_string = marker
            if not in_string:
                depth = max(_open_brackets(value), 0)
    return lines


def line_of(lines: dict[str, int], path: str) -> int:
    """The line of ``path``, or of its nearest enclosing key or table; 1 if none is written."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return 1
