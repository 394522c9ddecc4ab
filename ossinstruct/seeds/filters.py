"""Seed document filters: decoding, the skip rules (empty, binary, huge, long_line,
minified, low_alphanumeric; see ossinstruct/seeds/sampling.py), snippet drawing, and the
glob excludes of local corpora.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from ossinstruct.seeds.plan import SAMPLERS, SeedsError

# --------------------------------------------------------------------------- documents

_NEWLINE = re.compile(r"\r\n|\r|\n")
_NON_ALNUM = re.compile(r"[\W_]+")


def document_lines(text: str) -> list[str]:
    """The lines of `text` under universal newlines, without their line ends."""
    lines = _NEWLINE.split(text)
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the text ends with a line end
    return lines


def decode_document(data: bytes, settings: dict) -> tuple[str | None, str | None]:
    """(text, None) for a usable byte string, else (None, skip reason)."""
    if not data:
        return None, "empty"
    if len(data) > settings["max_document_bytes"]:
        return None, "huge"
    if b"\x00" in data:
        return None, "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "binary"
    return text.removeprefix("\ufeff"), None


def check_text(text: str | None, settings: dict) -> tuple[list[str] | None, str | None]:
    """(lines, None) when `text` passes the document filters, else (None, skip reason)."""
    if text is None or not text.strip():
        return None, "empty"
    if "\x00" in text:
        return None, "binary"
    if len(text) > settings["max_document_bytes"] or (len(text.encode("utf-8")) > settings["max_document_bytes"]):
        return None, "huge"
    lines = document_lines(text)
    lengths = [len(line) for line in lines]
    if max(lengths) > settings["max_line_length"]:
        return None, "long_line"
    if sum(lengths) / len(lengths) > settings["max_mean_line_length"]:
        return None, "minified"
    alnum = len(text) - sum(len(m) for m in _NON_ALNUM.findall(text))
    if alnum / len(text) < settings["min_alphanumeric_fraction"]:
        return None, "low_alphanumeric"
    return lines, None


def draw_snippet(
    lines: list[str], rng: random.Random, min_lines: int, max_lines: int, sampler: str = "magicoder"
) -> tuple[int, int]:
    """0-based [start, end) of a snippet of `lines` (see the module docstring).

    magicoder: start uniform over all lines, then length uniform in [min_lines, max_lines],
    end cut at the document's end. fit: length first (capped by the document), then start
    uniform where it fits.
    """
    if sampler == "magicoder":
        start = rng.randrange(len(lines))
        wanted = rng.randint(min_lines, max(min_lines, max_lines))
        return start, min(start + wanted, len(lines))
    if sampler == "fit":
        wanted = rng.randint(min_lines, max(min_lines, max_lines))
        n = min(wanted, len(lines))
        start = rng.randint(0, len(lines) - n)
        return start, start + n
    raise SeedsError(f"config key seeds.sampler: unknown sampler {sampler!r}; known: {SAMPLERS}")


def cut_snippet(text: str, lines: list[str], rng: random.Random, settings: dict) -> tuple[int, int, str]:
    """(start, end, snippet text) of one document, by ``settings["sampler"]``. `lines` are
    the universal-newline lines of `text` (the fit sampler's)."""
    sampler = settings.get("sampler", "magicoder")
    if sampler == "magicoder":
        kept = text.splitlines(keepends=True)
        start, end = draw_snippet(kept, rng, settings["min_lines"], settings["max_lines"], sampler)
        return start, end, "".join(kept[start:end])
    start, end = draw_snippet(lines, rng, settings["min_lines"], settings["max_lines"], sampler)
    return start, end, "\n".join(lines[start:end])


# --------------------------------------------------------------------------- glob excludes


def _translate_component(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = part.find("]", i + 2 if part[i + 1 : i + 2] in ("!", "]") else i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = part[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern:
    """A regex matching relative POSIX paths for a glob: `*`, `?` and `[...]` stay within a
    path component, a `**` component matches any number of components (zero included)."""
    parts = pattern.strip("/").split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _translate_component(part) + ("" if last else "/")
    return re.compile(regex, re.DOTALL)


class _Excluder:
    def __init__(self, patterns: Iterable[str]):
        patterns = list(patterns)
        self.files = [compile_glob(p) for p in patterns]
        # A directory matching the part before a trailing "/**" has every file excluded.
        trimmed = [p.rstrip("/") for p in patterns]
        self.dirs = [compile_glob(p[: -len("/**")]) for p in trimmed if p.endswith("/**")]

    def file(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self.files)

    def directory(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self.dirs)
