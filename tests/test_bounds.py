"""Bounds: analysing and rendering any body takes time linear in its length.

The growth test compares the time of one shape of body at 4 KB and at 64 KB (16 times the
text): linear work takes about 16 times as long (cache effects and a machine shared with
other test runs make it up to ~40), quadratic work 256 times. It measures growth, never an
absolute time, so a slow or busy machine does not fail it; absolute figures are in bench/.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contentapi.engine.analysis import analyse
from contentapi.engine.bounds import EMPHASIS_DEPTH, HTML_DEPTH, cap_html_depth
from contentapi.engine.render import RenderOptions, render_html

SMALL, LARGE = 4 * 1024, 64 * 1024
GROWTH_LIMIT = 64  # 4 x the 16 x that linear work takes; quadratic work takes 256 x
FLOOR = 0.001  # seconds: below this the small timing is mostly noise


def render(body: str) -> str:
    return render_html(body, "", RenderOptions())


# cap_html_depth


def test_bounds_cap_html_depth_keeps_ordinary_markup() -> None:
    markup = "<div><p>Uno <b>dos</b><br>tres<img src=x></p></div>" * 200
    assert cap_html_depth(markup, limit=8) == markup


def test_bounds_cap_html_depth_drops_tags_past_the_limit_and_keeps_text() -> None:
    markup = "<div>" * 10 + "texto" + "</div>" * 10
    assert cap_html_depth(markup, limit=3) == "<div><div><div>texto</div></div></div>"


def test_bounds_cap_html_depth_unclosed_elements_close_with_their_parent() -> None:
    markup = "<ul>" + "<li><p>a" * 5 + "</ul><p>después</p>" + "<i>" * 4
    capped = cap_html_depth(markup, limit=4)
    assert "después" in capped
    assert capped.startswith("<ul><li><p>a<li>a")
    assert capped.count("<i>") == 4  # the `</ul>` closed everything inside it


def test_bounds_cap_html_depth_of_the_rendered_html() -> None:
    html = render("<div>" * (HTML_DEPTH + 50) + "\n\nTexto al fondo.\n")
    assert "Texto al fondo." in html
    assert html.count("<div>") <= HTML_DEPTH


# emphasis nesting


def test_bounds_ordinary_emphasis_still_renders() -> None:
    html = render("Un *poco* de **todo** y ***más***, ~~nada~~.\n")
    assert "<em>poco</em>" in html and "<strong>todo</strong>" in html
    assert "<del>nada</del>" in html


def test_bounds_emphasis_nested_past_the_limit_is_text() -> None:
    depth = EMPHASIS_DEPTH + 5
    html = render("*a " * depth + "b" + "*" * depth + "\n\nDespués *sí*.\n")
    assert "<em>" not in html.split("Después")[0]
    assert "<em>sí</em>" in html


# growth


def _seconds(work: Callable[[str], object], body: str) -> float:
    """The best of two runs, with the garbage collector paused (its passes are noise here)."""
    gc.collect()
    gc.disable()
    try:
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            work(body)
            best = min(best, time.perf_counter() - started)
        return best
    finally:
        gc.enable()


def _body(unit: str, closer: str, size: int) -> str:
    count = max(1, size // (len(unit) + len(closer)))
    return unit * count + closer * count


def _growth(work: Callable[[str], object], unit: str, closer: str) -> float:
    small = max(_seconds(work, _body(unit, closer, SMALL)), FLOOR)
    return _seconds(work, _body(unit, closer, LARGE)) / small


MARKUP = "*_~`[]()!<>#-=|:\\&;/\"' \n\tax1"


@pytest.mark.parametrize("work", [analyse, render], ids=["analysis", "rendering"])
@settings(
    max_examples=4,  # plus the ten known shapes below: 64 KB renders are costly
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    unit=st.text(alphabet=MARKUP, min_size=1, max_size=8),
    closer=st.text(alphabet=MARKUP, max_size=6),
)
@example(unit="![a](", closer="")  # issue 12: 60 KB of this stalled a worker
@example(unit="*a ", closer="")
@example(unit="<script>", closer="")
@example(unit="*a ", closer="b*")  # nested emphasis: quadratic inside mistune
@example(unit="*a _a ", closer="b_ b*")
@example(unit="[*a ", closer="b*](u)")
@example(unit="<div>", closer="")  # nested elements: quadratic inside html5ever
@example(unit="<!--", closer="")
@example(unit="``a", closer="")
@example(unit="# a" + " " * 20, closer="")
def test_bounds_analysis_and_rendering_time_grow_linearly(
    work: Callable[[str], object], unit: str, closer: str
) -> None:
    growth = _growth(work, unit, closer)
    if growth >= GROWTH_LIMIT:  # once more before failing: another test run may have been busy
        growth = _growth(work, unit, closer)
    assert growth < GROWTH_LIMIT, f"16x the text took {growth:.0f}x the time"
