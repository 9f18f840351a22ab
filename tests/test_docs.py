"""The documentation's links: every relative link in README.md and docs/*.md leads somewhere.

A link (or image) to a file must name a file or folder of the repository; a link with an
``#anchor`` into a Markdown file (or into the page itself) must name one of that file's headings,
slugged as GitHub slugs them. Links with a scheme (https:, http:, mailto:...) are not checked.
``broken_links`` is the one helper; the last tests feed it made-up pages to show it can fail.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]\\]|\\.|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
                         r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_LINK = re.compile(r"<(?:a|img|source)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced and indented code blocks."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    previous_blank, in_list, in_indented_code = True, False, False
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
            continue
        opened = FENCE.match(line)
        if opened:
            fence = opened.group(1)
            continue
        blank = not line.strip()
        indented = line.startswith(("    ", "\t"))
        if in_indented_code and (indented or blank):
            continue
        in_indented_code = False
        if indented and previous_blank and not in_list:
            in_indented_code = True
            continue
        if LIST_ITEM.match(line):
            in_list = True
        elif not blank and not line.startswith((" ", "\t")):
            in_list = False
        previous_blank = blank
        out.append((number, line))
    return out


def plain_text(markdown: str) -> str:
    """A heading's text as GitHub renders it: links and images reduced to their text, code spans to
    their content, emphasis markers and HTML tags dropped."""
    parts = []
    for i, piece in enumerate(CODE_SPAN.split(markdown)):
        kind = i % 3                      # split keeps the span's two groups: 0 prose, 1 backticks, 2 code
        if kind == 2:
            parts.append(piece.strip())
        elif kind == 0:
            text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", piece)
            text = re.sub(r"<[^>]+>", "", text)
            text = re.sub(r"(?<![\w*])[*]{1,3}(?=\S)|(?<=\S)[*]{1,3}(?![\w*])", "", text)
            parts.append(re.sub(r"(?<!\w)_{1,3}(?=\S)|(?<=\S)_{1,3}(?!\w)", "", text))
    return "".join(parts)


def slug(heading_text: str) -> str:
    """GitHub's anchor for a heading (github-slugger): lower case, every character that is not a letter,
    digit, underscore, hyphen or space removed, each space turned into a hyphen."""
    text = plain_text(heading_text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a Markdown page: its headings' slugs (repeats numbered -1, -2... as GitHub does)
    and the names of explicit HTML anchors."""
    seen: dict[str, int] = {}
    found: set[str] = set()

    def add(heading: str) -> None:
        base = result = slug(heading)
        while result in seen:
            seen[base] += 1
            result = f"{base}-{seen[base]}"
        seen[result] = 0
        found.add(result)

    lines = prose_lines(text)
    for i, (number, line) in enumerate(lines):
        atx = ATX.match(line)
        if atx:
            add(atx.group(2) or "")
        elif SETEXT.match(line) and i > 0:
            prev_number, prev = lines[i - 1]
            if prev_number == number - 1 and prev.strip() and not ATX.match(prev) and "|" not in prev \
                    and not LIST_ITEM.match(prev):
                add(prev.strip())
        found.update(HTML_ANCHOR.findall(line))
    return found


def link_targets(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline link, image, reference definition and HTML link outside code."""
    out: list[tuple[int, str]] = []
    for number, line in prose_lines(text):
        prose = CODE_SPAN.sub("", line)
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_LINK):
            out += [(number, m.group(1)) for m in pattern.finditer(prose)]
    return out


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """One message per link of ``page`` that leads nowhere: a missing file or folder, a path outside
    ``root``, or an anchor that is not a heading of the Markdown page it points into."""
    text = page.read_text(encoding="utf-8")
    problems = []
    for number, raw in link_targets(text):
        target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
        where = f"{page.relative_to(root)}:{number}: {raw!r}"
        if SCHEME.match(target):
            continue                                   # https:, mailto: ... are not files
        if not target.strip():
            problems.append(f"{where}: empty link")
            continue
        path_part, _, fragment = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        if path_part:
            base = root if path_part.startswith("/") else page.parent
            resolved = (base / path_part.lstrip("/")).resolve()
            if not resolved.is_relative_to(root.resolve()):
                problems.append(f"{where}: outside the repository")
                continue
            if not resolved.exists():
                problems.append(f"{where}: no such file or folder")
                continue
        else:
            resolved = page
        if fragment and resolved.is_file() and resolved.suffix.lower() in (".md", ".markdown"):
            if unquote(fragment) not in anchors(resolved.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading with the anchor #{fragment} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize("page", [p for p in PAGES if p.parent.name == "docs"],
                         ids=[p.name for p in PAGES if p.parent.name == "docs"])
def test_each_page_starts_with_a_title(page: Path) -> None:
    first = page.read_text(encoding="utf-8").lstrip().splitlines()[0]
    assert first.startswith("# "), f"{page.name} should start with a '# Title' line, not {first!r}"


def test_slugs_follow_github() -> None:
    assert slug("Getting started") == "getting-started"
    assert slug("The defaults follow the data; `paper` is the paper") == "the-defaults-follow-the-data-paper-is-the-paper"
    assert slug("What SSCN does (Definition 3)") == "what-sscn-does-definition-3"
    assert slug("Q = HᵀH, trained in mini-batches") == "q--hᵀh-trained-in-mini-batches"
    assert slug("`settings_` and **fit_report()**") == "settings_-and-fit_report"
    assert slug("[Links](other.md) in a heading") == "links-in-a-heading"
    assert anchors("# Notes\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n") == {"notes", "notes-1", "notes-2"}


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    """The same helper on made-up pages: good links pass, each kind of bad one is reported."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## A section: with `code`\n", encoding="utf-8")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    page = tmp_path / "docs" / "page.md"
    page.write_text("\n".join([
        "# Page",
        "",
        "Good: [other](other.md), [its section](other.md#a-section-with-code), [here](#page),",
        "![a picture](../picture.png), [the folder](../docs/), [the web](https://example.org/nowhere.md).",
        "Bad: [made up](made-up-page.md), [no such heading](other.md#no-such-heading),",
        "[no anchor here](#nothing), ![missing picture](missing.png), [outside](../../elsewhere.md).",
        "`[in code](not-checked.md)` is code, and so is this block:",
        "",
        "```",
        "[also code](not-checked-either.md)",
        "```",
    ]), encoding="utf-8")
    problems = broken_links(page, root=tmp_path)
    reported = [p.split(": ", 2)[1] for p in problems]
    assert reported == ["'made-up-page.md'", "'other.md#no-such-heading'", "'#nothing'", "'missing.png'",
                        "'../../elsewhere.md'"], problems
    assert "no such file" in problems[0] and "#no-such-heading" in problems[1] and "outside" in problems[4]
