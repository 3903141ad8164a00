"""The repository explains itself: every document a file refers to is in the repository, every
``docs/X.md#section`` reference names an existing heading, and nothing points at folders or briefing
files outside it (docs/architecture.md#habits)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".js", ".md", ".json", ".toml", ".html", ".css", ".ini", ".mako", ".cfg", ".txt", ".yml"}

OUTSIDE = [
    # the folder names are built from parts, so that this file does not itself name them
    (
        re.compile("|".join([r"\.\./" + "shared", "/" + "work/", "shared" + "/docs", r"\bseeds?/"])),
        "a folder outside the repository",
    ),
    (re.compile(r"\b\d{3}_[0-9a-f]{16}\.txt\b"), "a source file that is not part of the repository"),
    (re.compile(r"\bseeds? \d{3}\b|\bseed trial\b", re.IGNORECASE), "a source known by a private number"),
]
"""References that only make sense with material this repository does not hold."""

MD_REFERENCE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w.-]+\.md)(?:#([\w-]+))?")
"""A path to a Markdown document, with an optional ``#section``."""
MD_LINK = re.compile(r"\]\(([^)\s#]*)(?:#([^)\s]+))?\)")
"""The target of a Markdown link: ``[text](path#section)``."""


def tracked_files() -> list[Path]:
    """The repository's text files: git's tracked files, or every file outside hidden and build folders."""
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        paths = [ROOT / line for line in listed.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            p
            for p in ROOT.rglob("*")
            if not any(part.startswith(".") or part.endswith(".egg-info") for part in p.relative_to(ROOT).parts)
        ]
    return sorted(p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name == "run"))


def anchors(document: Path) -> set[str]:
    """The section anchors of a Markdown document, as GitHub derives them from the headings."""
    found = set()
    for line in document.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\s-]", "", heading.group(1).strip().lower())
            found.add(re.sub(r"\s", "-", text))
    return found


def problems_in(text: str, where: Path) -> list[str]:
    """Every reference in ``text``, the content of the repository file ``where``, that does not
    resolve inside the repository."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, why in OUTSIDE:
            for match in pattern.finditer(line):
                problems.append(f"{where}:{number}: {match.group(0)!r} names {why}")
        references = [(m.group(1), m.group(2)) for m in MD_REFERENCE.finditer(line)]
        if where.suffix == ".md":
            references += [(m.group(1), m.group(2)) for m in MD_LINK.finditer(line) if m.group(1)]
        for target, section in references:
            if re.match(r"[a-z]+:", target):
                continue
            candidates = [ROOT / target] + ([ROOT / where.parent / target] if where.suffix == ".md" else [])
            document = next((c for c in candidates if c.is_file()), None)
            if document is None:
                problems.append(f"{where}:{number}: {target!r} is not a document of the repository")
            elif section and section not in anchors(document):
                problems.append(f"{where}:{number}: {target}#{section}: no such section in {target}")
    return problems


def test_every_reference_resolves_inside_the_repository() -> None:
    this = Path(__file__).resolve()  # its examples of bad references are meant not to resolve
    problems = [
        problem
        for path in tracked_files()
        if path != this
        for problem in problems_in(path.read_text(encoding="utf-8"), path.relative_to(ROOT))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("See docs/nordic.md#sizes.", []),  # an existing document and section
        ("See docs/nordic.md#colours.", ["no such section"]),  # the section does not exist
        ("See docs/domain.md §1.", ["not a document"]),  # a document the repository does not hold
        ("See ../" + "sha" + "red/" + "do" + "cs/imaging.md.", ["outside"]),  # a folder next to the clone
        ("Figure 1 of seed " + "000.", ["private number"]),  # a numbered briefing file
        ("Read README.md first.", []),  # the repository's own read-me
        ("See docs/nordic.md#sizes and nordic.md.", ["not a document"]),  # outside docs/, say docs/
    ],
)
def test_the_check_finds_what_it_should(line: str, found: list[str]) -> None:
    problems = problems_in(f"# {line}\n", Path("tests/probe.py"))
    assert len(problems) == len(found), problems
    for problem, expected in zip(problems, found, strict=True):
        assert expected in problem
