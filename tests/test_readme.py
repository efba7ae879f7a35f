"""The README as a newcomer reads it: examples that are real output, a table of contents that
leads to every section."""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest
from conftest import ROOT

README = ROOT / "README.md"


@pytest.fixture(scope="module")
def examples() -> ModuleType:
    """scripts/readme_examples.py, imported as a module (scripts/ is not a package)."""
    path = ROOT / "scripts" / "readme_examples.py"
    spec = importlib.util.spec_from_file_location("readme_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def fresh(examples, readme) -> str:
    """The README with its example blocks as the bundled content answers today."""
    return examples.generated(readme)


def test_readme_examples_are_what_the_bundled_content_answers(examples, readme, fresh):
    diff = examples.differences(readme, fresh)
    assert not diff, (
        "README examples are stale; run `.venv/bin/python scripts/readme_examples.py` and "
        f"review the change:\n{diff}"
    )


def test_readme_examples_changed_output_is_caught(examples, readme, fresh):
    stale = readme.replace('"total":14,', '"total":15,', 1)
    assert stale != readme
    assert '-{"data":' in examples.differences(stale, fresh)


def test_readme_examples_volatile_values_are_placeholders(examples, readme, fresh):
    etag = re.search(r'ETag: "([0-9a-f]+)"', readme)
    assert etag, "the curl session shows an ETag"
    rehashed = readme.replace(etag.group(1), "0" * 40)
    assert rehashed != readme
    assert examples.differences(rehashed, fresh) == ""


def test_readme_examples_every_block_is_generated(examples, readme):
    names = re.findall(r"<!-- example: ([\w-]+) -->", readme)
    assert sorted(names) == sorted(examples.EXAMPLES)
    assert readme.count("<!-- /example -->") == len(names)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_contents_lists_every_section_and_every_link_leads_somewhere(readme):
    body = re.sub(r"```.*?```", "", readme, flags=re.S)  # a `#` in a code block is no heading
    headings = re.findall(r"^(#{2,3}) (.+)$", body, re.M)
    anchors = {anchor(text) for _, text in headings}
    contents = body.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\]\(#([^)]+)\)", contents)
    sections = [anchor(text) for level, text in headings if level == "##" and text != "Contents"]
    missing = [section for section in sections if section not in listed]
    assert not missing, f"sections missing from the README's Contents: {missing}"
    assert [item for item in listed if item in sections] == sections, "Contents out of order"
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", body)) - anchors)
    assert not broken, f"README links to headings that do not exist: {broken}"


def test_readme_first_screen_says_what_it_is_and_how_to_start(readme):
    first_screen = "\n".join(readme.splitlines()[:40])
    assert "headless content API" in first_screen
    assert "make run" in first_screen and "make test" in first_screen
    for section in ("#running-in-production", "#writing-posts-the-front-matter"):
        assert section in first_screen, section
