"""Just enough Markdown to judge a runbook: headings, anchors, sections, code.

Anchors follow GitHub's heading slugs (what a reviewer clicking a
``runbook.md#dep-01`` link lands on), plus explicit ``<a id="...">`` anchors.
Code is what an on-call engineer copies: fenced blocks line by line, and
inline code spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^(```|~~~)\s*([\w+-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
_SPAN = re.compile(r"(`+)(.+?)\1")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    line: int

    @property
    def slug(self) -> str:
        return slugify(self.text)


@dataclass(frozen=True)
class Code:
    """A piece of code as written, where it is, and whether it came from a
    shell block (every line is a command) or an inline span."""

    text: str
    line: int
    block_lang: str | None  # None: an inline span


@dataclass
class Document:
    text: str
    headings: list[Heading] = field(default_factory=list)
    anchors: set[str] = field(default_factory=set)
    code: list[Code] = field(default_factory=list)
    # Level-2 sections: heading text -> body (without nested fences stripped).
    sections: dict[str, str] = field(default_factory=dict)

    def has_anchor(self, anchor: str) -> bool:
        return anchor.lower() in self.anchors


def slugify(text: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|__", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def parse(text: str) -> Document:
    doc = Document(text=text)
    fence: str | None = None
    lang: str | None = None
    block: list[tuple[int, str]] = []
    current: str | None = None
    body: list[str] = []
    seen: dict[str, int] = {}

    def close_section() -> None:
        if current is not None:
            doc.sections[current] = "\n".join(body).strip()

    for n, line in enumerate(text.splitlines(), start=1):
        m = _FENCE.match(line.strip())
        if fence is not None:
            if line.strip().startswith(fence):
                doc.code.extend(_block_lines(block, lang or ""))
                fence, block = None, []
            else:
                block.append((n, line))
            body.append(line)
            continue
        if m:
            fence, lang = m.group(1), m.group(2).lower()
            body.append(line)
            continue
        h = _HEADING.match(line)
        if h:
            heading = Heading(level=len(h.group(1)), text=h.group(2), line=n)
            doc.headings.append(heading)
            slug = heading.slug
            # GitHub numbers repeated slugs: second "x" becomes "x-1".
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            doc.anchors.add(slug if count == 0 else f"{slug}-{count}")
            if heading.level == 2:
                close_section()
                current, body = heading.text, []
                continue
        doc.anchors.update(a.lower() for a in _ANCHOR.findall(line))
        for span in _SPAN.finditer(line):
            doc.code.append(Code(text=span.group(2).strip(), line=n, block_lang=None))
        body.append(line)
    close_section()
    return doc


def _block_lines(block: list[tuple[int, str]], lang: str) -> list[Code]:
    """A fenced block's logical lines (backslash continuations joined)."""
    out: list[Code] = []
    pending, start = "", 0
    for n, raw in block:
        line = raw.strip()
        if not pending:
            start = n
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            out.append(Code(text=full, line=start, block_lang=lang))
    if pending.strip():
        out.append(Code(text=pending.strip(), line=start, block_lang=lang))
    return out
