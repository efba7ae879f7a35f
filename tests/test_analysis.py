"""Analysis: headings, toc, sections, excerpt and counts, from the Markdown without rendering."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from contentapi.engine.analysis import (
    HeadingIds,
    analyse,
    atx_heading,
    build_toc,
    emphasis_depth,
    excerpt,
    heading_id,
    inline_text,
    strip_title_heading,
)
from contentapi.engine.model import Heading
from contentapi.engine.reader import read

FIXTURES = Path(__file__).parent / "fixtures"
POSTS = FIXTURES / "posts"


def fixture_body(name: str) -> str:
    body, _ = read((POSTS / name).read_bytes())
    return body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Introducción", "introduccion"),
        ("¿Por qué no letras?", "por-que-no-letras"),
        ("Año y medio después", "ano-y-medio-despues"),
        ("Paso 1: mezclar", "paso-1-mezclar"),
        ("!!!", "section"),
        ("", "section"),
    ],
)
def test_analysis_heading_id_is_unicode_aware(text: str, expected: str) -> None:
    assert heading_id(text) == expected


def test_analysis_heading_ids_repeat_with_suffixes() -> None:
    ids = HeadingIds()
    assert [ids.next(t) for t in ["Intro", "Intro", "Intro", "Otro"]] == [
        "intro",
        "intro-1",
        "intro-2",
        "otro",
    ]


def test_analysis_heading_ids_never_repeat_when_text_looks_like_suffix() -> None:
    ids = HeadingIds()
    result = [ids.next(t) for t in ["Intro", "Intro 1", "Intro", "Intro", "Intro 1"]]
    assert result[:2] == ["intro", "intro-1"]
    assert len(set(result)) == len(result)


def test_analysis_headings_from_fixture() -> None:
    analysis = analyse(fixture_body("headings.md"))
    assert [(h.id, h.text, h.level) for h in analysis.headings] == [
        ("introduccion", "Introducción", 2),
        ("que-necesitas", "Qué necesitas", 3),
        ("que-necesitas-1", "Qué necesitas", 3),
        ("introduccion-1", "Introducción", 2),
        ("ano-y-medio-despues", "Año y medio después", 1),
        ("con-codigo-y-enfasis", "Con código y énfasis", 2),
        ("nivel-cuatro", "Nivel cuatro", 4),
    ]


def test_analysis_code_block_lines_are_not_headings() -> None:
    analysis = analyse(fixture_body("headings.md"))
    texts = " ".join(h.text for h in analysis.headings)
    assert "comentario" not in texts
    assert "tampoco" not in texts
    # The code is still text of its section.
    section = next(s for s in analysis.sections if s.id == "introduccion-1")
    assert '# esto es un comentario, no un encabezado\necho "## tampoco"' in section.text


@pytest.mark.parametrize(
    "body",
    [
        "~~~\n# no\n~~~\n",
        "````md\n```\n# no\n```\n````\n",
        "```\n# no\n",  # an unclosed fence runs to the end
        "  ```\n  # no\n  ```\n",
    ],
)
def test_analysis_fenced_code_never_yields_headings(body: str) -> None:
    assert analyse(body).headings == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Título\n======\n", [("Título", 1)]),
        ("Subtítulo\n---------\n", [("Subtítulo", 2)]),
        ("Dos\nlíneas\n===\n", [("Dos líneas", 1)]),
        ("# Cerrado #\n", [("Cerrado", 1)]),
        ("   ### Sangría\n", [("Sangría", 3)]),
        ("    # Código indentado\n", []),
        ("#SinEspacio\n", []),
    ],
)
def test_analysis_atx_and_setext_headings(body: str, expected: list[tuple[str, int]]) -> None:
    assert [(h.text, h.level) for h in analyse(body).headings] == expected


@pytest.mark.parametrize(
    "body",
    [
        # CommonMark: a `---` under a list item or a quote is a thematic break, not a heading.
        "- Mezclar\n- Amasar\n---\n",
        "> Una cita\n---\n",
    ],
)
def test_analysis_rule_after_list_or_quote_is_not_heading(body: str) -> None:
    analysis = analyse(body)
    assert analysis.headings == ()
    assert all("\x00" not in section.heading for section in analysis.sections)


def test_analysis_rule_after_list_in_fixture_is_not_heading() -> None:
    analysis = analyse(fixture_body("list-then-rule.md"))
    assert [h.text for h in analysis.headings] == ["Pasos", "Horneado"]


def test_analysis_toc_nests_by_level() -> None:
    toc = [entry.as_dict() for entry in analyse(fixture_body("headings.md")).toc]

    def node(id_: str, text: str, level: int, *children: dict) -> dict:
        return {"id": id_, "text": text, "level": level, "children": list(children)}

    assert toc == [
        node(
            "introduccion",
            "Introducción",
            2,
            node("que-necesitas", "Qué necesitas", 3),
            node("que-necesitas-1", "Qué necesitas", 3),
        ),
        node("introduccion-1", "Introducción", 2),
        node(
            "ano-y-medio-despues",
            "Año y medio después",
            1,
            node(
                "con-codigo-y-enfasis",
                "Con código y énfasis",
                2,
                node("nivel-cuatro", "Nivel cuatro", 4),
            ),
        ),
    ]


def test_analysis_toc_skipped_levels_still_nest() -> None:
    toc = build_toc([Heading("a", "A", 1), Heading("b", "B", 4), Heading("c", "C", 2)])
    assert [(e.id, [c.id for c in e.children]) for e in toc] == [("a", ["b", "c"])]


def test_analysis_toc_empty_without_headings() -> None:
    assert analyse("Solo texto.\n").toc == ()


def test_analysis_sections_carry_heading_ids() -> None:
    body = (
        "Antes de todo.\n\n## Uno\n\nTexto uno.\n\nMás uno.\n\n## Uno\n\nTexto dos.\n\n### Vacía\n"
    )
    sections = analyse(body).sections
    assert [(s.id, s.heading, s.text) for s in sections] == [
        ("", "", "Antes de todo."),
        ("uno", "Uno", "Texto uno.\n\nMás uno."),
        ("uno-1", "Uno", "Texto dos."),
        ("vacia", "Vacía", ""),
    ]


def test_analysis_section_ids_match_heading_ids() -> None:
    analysis = analyse(fixture_body("real-shaped-es.md"))
    assert [s.id for s in analysis.sections if s.id] == [h.id for h in analysis.headings]


def test_analysis_excerpt_cut_at_word_boundary() -> None:
    body = "![Foto del horno](horno.png) El pan necesita tiempo, paciencia y un horno caliente.\n"
    assert analyse(body, excerpt_length=30).excerpt == "El pan necesita tiempo…"


@pytest.mark.parametrize("length", range(5, 90, 7))
def test_analysis_excerpt_ends_on_whole_word(length: int) -> None:
    paragraph = "Cada token mira a los demás para decidir qué es importante en la frase completa."
    result = analyse(paragraph + "\n", excerpt_length=length).excerpt
    if len(paragraph) <= length:
        assert result == paragraph
        return
    assert result.endswith("…")
    cut = result[:-1]
    assert len(cut) <= length
    assert paragraph.startswith(cut)
    assert paragraph[len(cut)] in " ,."


def test_analysis_excerpt_short_paragraph_not_cut() -> None:
    assert analyse("Corto.\n\nSegundo párrafo.\n").excerpt == "Corto."


def test_analysis_excerpt_has_no_images_or_alt_text() -> None:
    body = (
        "## Título\n\n![Alt de portada](portada.png)\n\n"
        'Texto <img src="x.png" alt="alt html"> con ![alt en línea](y.png) **marcas**.\n'
    )
    result = analyse(body).excerpt
    assert result == "Texto con marcas."


def test_analysis_excerpt_from_real_shaped_post_skips_image_line() -> None:
    result = analyse(fixture_body("real-shaped-es.md")).excerpt
    assert result.startswith("Un modelo de lenguaje predice la siguiente palabra")
    assert "Descripción" not in result
    assert "header.jpg" not in result


def test_analysis_excerpt_empty_without_paragraph() -> None:
    assert analyse("## Solo encabezado\n\n- una lista\n").excerpt == ""


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        ("uno dos tres", 12, "uno dos tres"),
        ("uno dos tres", 8, "uno dos…"),
        ("uno dos tres", 7, "uno…"),
        ("uno dos, tres", 9, "uno dos…"),
        ("supercalifragilístico", 5, "supe…"),
    ],
)
def test_analysis_excerpt_function(text: str, length: int, expected: str) -> None:
    """Cut at a word boundary; with the "…" the excerpt is never longer than `length`."""
    assert excerpt(text, length) == expected
    assert len(excerpt(text, length)) <= length


@pytest.mark.parametrize(
    ("words", "wpm", "reading_time"),
    [(0, 200, 0), (1, 200, 1), (200, 200, 1), (201, 200, 2), (450, 200, 3), (10, 3, 4)],
)
def test_analysis_word_count_and_reading_time(words: int, wpm: int, reading_time: int) -> None:
    body = " ".join(["palabra"] * words)
    analysis = analyse(body, words_per_minute=wpm)
    assert analysis.word_count == words
    assert analysis.reading_time == reading_time == math.ceil(words / wpm)


def test_analysis_empty_body() -> None:
    analysis = analyse("")
    assert (analysis.word_count, analysis.reading_time, analysis.excerpt) == (0, 0, "")
    assert analysis.headings == analysis.toc == analysis.sections == analysis.images == ()


def test_analysis_word_count_ignores_markup() -> None:
    body = (
        "## Dos palabras\n\n**Tres** [palabras](https://example.org) `más`.\n\n"
        "![sin contar](x.png)\n"
    )
    assert analyse(body).word_count == 5


def test_analysis_images_in_order_with_alt() -> None:
    analysis = analyse(fixture_body("images.md"))
    assert [(i.url, i.alt) for i in analysis.images] == [
        ("images/horno.png", "Horno encendido"),
        ("/images/blog/cabecera.jpg", "Cabecera"),
        ("https://cdn.example.org/foto.jpg", "Externa"),
        ("images/miga.png", "La miga"),
    ]


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**negrita** y _cursiva_", "negrita y cursiva"),
        ("[enlace](https://x.org) y <https://y.org>", "enlace y https://y.org"),
        ("`código` y 2 \\* 3", "código y 2 * 3"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("nota[^1] ~~no~~", "nota no"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_analysis_inline_text_drops_markup(markdown: str, expected: str) -> None:
    assert inline_text(markdown) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Uso de \\*args\\* en Python", "Uso de *args* en Python"),
        ("El campo \\_privado\\_ no se exporta", "El campo _privado_ no se exporta"),
        ("Usa `*args` y `**kwargs`", "Usa *args y **kwargs"),
        ("El método `__init__`", "El método __init__"),
    ],
)
def test_analysis_inline_text_keeps_escaped_and_code_markers(markdown: str, expected: str) -> None:
    # CommonMark shows `\*x\*` as `*x*`, and code spans literally: neither is emphasis.
    assert inline_text(markdown) == expected


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("# Pan de masa madre\n\nTexto.\n", "Pan de masa madre"),
        ("\n\n# pan DE masa   madre\nTexto.\n", "Pan de masa madre"),
        ("# Pan de **masa** madre\nTexto.\n", "Pan de masa madre"),
        ("Pan de masa madre\n=================\nTexto.\n", "Pan de masa madre"),
    ],
)
def test_analysis_strip_title_heading_removes_repeated_title(body: str, title: str) -> None:
    result = strip_title_heading(body, title)
    assert "Pan" not in result and "pan" not in result
    assert "Texto." in result


@pytest.mark.parametrize(
    "body",
    [
        "# Otra cosa\n\nTexto.\n",
        "## Pan de masa madre\n\nTexto.\n",
        "Intro.\n\n# Pan de masa madre\n",
    ],
)
def test_analysis_strip_title_heading_keeps_other_headings(body: str) -> None:
    assert strip_title_heading(body, "Pan de masa madre") == body


# images as WordPress and Hugo write them


@pytest.mark.parametrize(
    ("tag", "alt"),
    [
        ('<img src="a.png" alt="">', ""),  # WordPress writes this constantly
        ("<img src='a.png' alt=''>", ""),
        ('<img src="a.png">', ""),
        ("<img src=a.png alt=Horno>", "Horno"),
        ('<img alt="Horno &amp; pan" src="a.png" />', "Horno & pan"),
        ('<img data-src="lazy.png" src="a.png" alt="x">', "x"),  # the src the HTML shows
    ],
)
def test_analysis_html_image_alt_forms(tag: str, alt: str) -> None:
    (image,) = analyse(f"Texto.\n\n{tag}\n").images
    assert (image.url, image.alt) == ("a.png", alt)


def test_analysis_images_in_code_are_not_images() -> None:
    body = '```html\n<img src="ejemplo.png" alt="">\n![no](no.png)\n```\n\n![sí](si.png)\n'
    assert [image.url for image in analyse(body).images] == ["si.png"]


def test_analysis_image_url_with_parentheses() -> None:
    body = "![Foto](https://example.org/wiki/Pan_(alimento).jpg)\n"
    assert [image.url for image in analyse(body).images] == [
        "https://example.org/wiki/Pan_(alimento).jpg"
    ]


# excerpts


def test_analysis_more_marker_ends_the_excerpt() -> None:
    body = "Primer párrafo.\n\nSegundo **párrafo**.\n\n<!--more-->\n\nEl resto del post.\n"
    analysis = analyse(body, excerpt_length=10)
    assert analysis.excerpt == "Primer párrafo.\n\nSegundo párrafo."  # whole, as the author cut it
    assert "more" not in analysis.plaintext
    assert analysis.plaintext.endswith("El resto del post.")


@pytest.mark.parametrize("marker", ["<!--more-->", "<!-- more -->", "<!--More-->"])
def test_analysis_more_marker_inside_a_paragraph(marker: str) -> None:
    assert analyse(f"Antes del corte. {marker} Después.\n").excerpt == "Antes del corte."


def test_analysis_more_marker_in_code_is_code() -> None:
    analysis = analyse("Intro.\n\n```html\n<!--more-->\n```\n\nFin.\n")
    assert analysis.excerpt == "Intro."
    assert "<!--more-->" in analysis.plaintext


PODCAST = (
    '<audio controls="controls"><source src="https://cdn.example.org/ep171.mp3" '
    'type="audio/mpeg" /><a href="https://cdn.example.org/ep171.mp3">'
    "https://cdn.example.org/ep171.mp3</a></audio>\n"
    "[Descargar](https://cdn.example.org/ep171.mp3)\n\n"
    "En este episodio hablamos de fermentación.\n"
)


@pytest.mark.parametrize(
    "lead",
    [
        PODCAST.rsplit("\n\n", 1)[0],
        "[Descargar el episodio](https://cdn.example.org/ep.mp3)",
        "https://example.org/un/enlace",
        "<https://example.org/un/enlace>",
        "[![Portada](portada.png)](https://example.org)",
        '<iframe src="https://www.youtube.com/embed/x" title="Vídeo"></iframe>',
        '<video src="v.mp4" controls>Tu navegador no puede reproducirlo.</video>',
        '<p><a href="https://example.org">https://example.org</a></p>',
        "![Sólo una imagen](imagen.png)",
    ],
)
def test_analysis_excerpt_skips_paragraphs_of_only_links_or_media(lead: str) -> None:
    body = f"{lead}\n\nEn este episodio hablamos de fermentación.\n"
    assert analyse(body).excerpt == "En este episodio hablamos de fermentación."


def test_analysis_excerpt_keeps_a_paragraph_with_words_around_a_link() -> None:
    body = "Descarga el episodio: [mp3](https://cdn.example.org/ep.mp3)\n\nOtro.\n"
    assert analyse(body).excerpt == "Descarga el episodio: mp3"


def test_analysis_excerpt_of_only_links_is_the_first_of_them() -> None:
    assert analyse("[Uno](https://a.example)\n\n[Dos](https://b.example)\n").excerpt == "Uno"


def test_analysis_plaintext_leaves_out_a_players_fallback_content() -> None:
    analysis = analyse(PODCAST)
    assert "ep171.mp3" not in analysis.plaintext
    assert analysis.plaintext == "Descargar\n\nEn este episodio hablamos de fermentación."


def test_analysis_excerpt_is_plain_text_even_when_the_source_escapes_html() -> None:
    body = "Usa `<script>` con cuidado &lt;b&gt; y `<img src=x onerror=alert(1)>`.\n"
    result = analyse(body).excerpt
    # Plain text: what a reader sees, markup characters and all; feeds escape it as text.
    assert result == "Usa <script> con cuidado <b> y <img src=x onerror=alert(1)>."


# markup that never closes is text, and costs one pass


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("![a](![a](![a](", "![a](![a](![a]("),
        ("[a](b", "[a](b"),
        ("*a *a *a", "*a *a *a"),
        ("``a`", "``a`"),
        ("``a`b``", "a`b"),
        ("`a``b`", "a``b"),
        ("<img src=x", "<img src=x"),
        ("**negrita *y cursiva***", "negrita y cursiva"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        (
            "<mailto:ana@example.org> y <ana@example.org>",
            "mailto:ana@example.org y ana@example.org",
        ),
    ],
)
def test_analysis_inline_text_of_unclosed_and_nested_markup(markdown: str, expected: str) -> None:
    assert inline_text(markdown) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Antes <script>alert(1)</script> después.\n", "Antes después."),
        ("Antes <style>p{}</style><!-- nota --> después.\n", "Antes después."),
        ("El elemento <script> sin cierre.\n", "El elemento sin cierre."),
        ("Antes <!-- una nota\nen dos líneas --> después.\n", "Antes después."),
        ("Uno.\n<!-- nota -->\nDos.\n", "Uno.\n\nDos."),  # a comment block ends a paragraph
        ("Uno.\n\n<script>\nvar a = 1;\n\nvar b = 2;\n</script>\nDos.\n", "Uno.\n\nDos."),
        # As in the rendered HTML, a comment block without its end runs to the end.
        ("Uno.\n\n<!-- sin cierre\n\nTexto.\n", "Uno."),
        ("Usa `<!-- -->` o `<script>`.\n", "Usa <!-- --> o <script>."),
    ],
)
def test_analysis_scripts_styles_and_comments_are_not_text(body: str, expected: str) -> None:
    assert analyse(body).plaintext == expected


def test_analysis_script_in_fenced_code_is_code() -> None:
    body = '```html\n<script src="app.js"></script>\n<!-- nota -->\n```\n'
    assert analyse(body).plaintext == '<script src="app.js"></script>\n<!-- nota -->'


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("sin marcas", 0),
        ("*a*", 1),
        ("*a **b** c*", 2),
        ("*a " * 50 + "b*" * 50, 50),
        ("*a* *b* *c*", 1),
        ("snake_case_name", 0),
    ],
)
def test_analysis_emphasis_depth(text: str, depth: int) -> None:
    assert emphasis_depth(text) == depth


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# Título", (1, "Título")),
        ("### Cerrado ###", (3, "Cerrado")),
        ("## C# y F#", (2, "C# y F#")),
        ("# ###", (1, "")),
        ("#", (1, "")),
        ("#Pegado", None),
        ("####### Siete", None),
        ("# a" + " " * 5000 + "x", (1, "a" + " " * 5000 + "x")),
    ],
)
def test_analysis_atx_heading(line: str, expected: tuple[int, str] | None) -> None:
    assert atx_heading(line) == expected
