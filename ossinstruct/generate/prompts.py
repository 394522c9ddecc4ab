"""Prompt templates: the paper's chat prompt and a few-shot completion variant.

Each template is a YAML file in ossinstruct/generate/templates/ with an `id`; the id and the
file's sha256 go into every generated record, so a changed prompt is never mistaken for
the old one.

Template file keys:
  chat:        id, mode: chat, system, user (with {code})
  completion:  id, mode: completion, header (text before the examples), example (with
               {code}, {problem}, {solution}), query (with {code}; ends where the model
               starts writing), examples (list of {code, problem, solution}), stop (list)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = {"chat": "oss-instruct-chat-v1", "completion": "oss-instruct-fewshot-v1"}


@dataclass(frozen=True)
class Template:
    id: str
    mode: str
    sha256: str
    data: dict = field(repr=False, hash=False, compare=False)

    @property
    def stop(self) -> list[str]:
        return list(self.data.get("stop", []))

    def render(self, code: str) -> dict:
        """Return {"messages": [...]} (chat) or {"prompt": "..."} (completion)."""
        if self.mode == "chat":
            messages = []
            if self.data.get("system"):
                messages.append({"role": "system", "content": self.data["system"]})
            # Verbatim, as the authors' str.format: the seed keeps its line ends.
            messages.append({"role": "user", "content": _fill(self.data["user"], strip=False, code=code)})
            return {"messages": messages}
        parts = [self.data.get("header", "")]
        for example in self.data.get("examples", []):
            parts.append(_fill(self.data["example"], **example))
        parts.append(_fill(self.data["query"], code=code))
        return {"prompt": "".join(parts)}


def _fill(text: str, strip: bool = True, **values: str) -> str:
    # One pass over the placeholders: str.format would choke on the braces of code, and
    # sequential replaces would substitute inside an already inserted snippet. `strip`
    # drops the values' trailing newlines (the few-shot layout); chat templates keep them.
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in values))

    def value(m: re.Match) -> str:
        text = values[m.group(0)[1:-1]]
        return text.rstrip("\n") if strip else text

    return pattern.sub(value, text)


@lru_cache(maxsize=None)
def load_template(template_id: str) -> Template:
    path = TEMPLATE_DIR / f"{template_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))
        raise ValueError(f"unknown prompt template {template_id!r}; known: {', '.join(known)}")
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    if data.get("id") != template_id:
        raise ValueError(f"{path}: its id {data.get('id')!r} differs from its file name")
    if data.get("mode") not in ("chat", "completion"):
        raise ValueError(f"{path}: mode must be chat or completion")
    return Template(template_id, data["mode"], hashlib.sha256(raw).hexdigest(), data)


def template_for(teacher: dict) -> Template:
    return load_template(teacher.get("template") or DEFAULT_TEMPLATE[teacher.get("mode", "chat")])
