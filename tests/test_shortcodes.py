"""Shortcodes: Hugo and Liquid template code expanded to what the author meant, or removed and
reported, never shown to readers as text."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import cpu_seconds
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contentapi import create_app
from contentapi.engine.assets import AssetMap
from contentapi.engine.model import SourceFile
from contentapi.engine.reader import read
from contentapi.engine.render import RenderOptions, render_html
from contentapi.engine.shortcodes import NO_TEMPLATES, Templates, embed_html, expand, load_templates
from tests.conftest import ContractClient

SITE = Path(__file__).parent / "fixtures" / "shortcodes"
YOUTUBE = ("www.youtube-nocookie.com",)
# Fixtures that show template code on purpose: a tutorial about Hugo, one about Liquid.
SHOWS_TEMPLATES = {"hugo-tutorial", "jekyll-raw"}
TEMPLATE_TEXT = re.compile(r"\{\{[<%]|[>%]\}\}|\{%|%\}|\{\{ ")


def markdown(body: str, templates: Mapping[str, str] = NO_TEMPLATES, **options: Any) -> str:
    return expand(body, templates, **options).markdown


def rendered(body: str, **options: Any) -> str:
    options.setdefault("iframe_hosts", (*YOUTUBE, "player.vimeo.com", "open.spotify.com"))
    return render_html(body, "", RenderOptions(**options))


def messages(body: str, templates: Templates = NO_TEMPLATES) -> list[tuple[int, str]]:
    return [(issue.line, issue.message) for issue in expand(body, templates).issues]


def fixture_body(name: str) -> str:
    body, _ = read((SITE / name).read_bytes())
    return body


# Embeds: exactly the contract's shape (CONTRACT-embeds.md)

EMBED = re.compile(
    r'<div class="embed embed-(?P<p>[\w-]+)" data-embed-provider="(?P=p)" '
    r'data-embed-id="(?P<id>[^"]*)" data-embed-url="(?P<url>[^"]*)" '
    r'data-embed-title="(?P<title>[^"]*)">(?P<inner>.*?)</div>'
)


def embeds(text: str) -> list[dict[str, str]]:
    return [match.groupdict() for match in EMBED.finditer(text)]


@pytest.mark.parametrize(
    "body",
    [
        "{{< youtube w7Ft2ymGmfc >}}",
        '{{< youtube id="w7Ft2ymGmfc" >}}',
        "{{< youtube id=w7Ft2ymGmfc >}}",
        "{{% youtube w7Ft2ymGmfc %}}",
        '{{< youtube "https://www.youtube.com/watch?v=w7Ft2ymGmfc" >}}',
        "{{< youtube https://youtu.be/w7Ft2ymGmfc >}}",
        "{% youtube w7Ft2ymGmfc %}",
        "{%- youtube w7Ft2ymGmfc -%}",
    ],
)
def test_shortcodes_youtube_in_every_form_is_one_nocookie_lazy_embed(body: str) -> None:
    text = markdown(f"Antes.\n\n{body}\n\nDespués.\n")
    [embed] = embeds(text)
    assert embed["p"] == "youtube"
    assert embed["id"] == "w7Ft2ymGmfc"
    assert embed["url"] == "https://www.youtube.com/watch?v=w7Ft2ymGmfc"
    assert embed["title"] == "YouTube video"
    assert '<iframe src="https://www.youtube-nocookie.com/embed/w7Ft2ymGmfc"' in embed["inner"]
    assert 'loading="lazy"' in embed["inner"]
    assert 'title="YouTube video"' in embed["inner"]
    # one raw HTML block on a line of its own, between blank lines
    assert re.search(r"\n\n<div class=\"embed [^\n]*</div>\n\n", text)


def test_shortcodes_youtube_title_and_start_time() -> None:
    [embed] = embeds(markdown('{{< youtube id="dQw4w9WgXcQ" title="La bajada" start="120" >}}'))
    assert embed["title"] == "La bajada"
    assert 'src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?start=120"' in embed["inner"]


def test_shortcodes_embed_attribute_values_are_escaped() -> None:
    [embed] = embeds(markdown('{{< youtube id="w7Ft2ymGmfc" title="A \\"b\\" <c> & d" >}}'))
    assert embed["title"] == "A &quot;b&quot; &lt;c&gt; &amp; d"


@pytest.mark.parametrize(
    ("body", "provider", "ident", "url", "iframe"),
    [
        (
            "{{< vimeo 146022717 >}}",
            "vimeo",
            "146022717",
            "https://vimeo.com/146022717",
            "https://player.vimeo.com/video/146022717?dnt=1",
        ),
        (
            "{% vimeo 76979871 %}",
            "vimeo",
            "76979871",
            "https://vimeo.com/76979871",
            "https://player.vimeo.com/video/76979871?dnt=1",
        ),
        (
            '{{< spotify type="track" id="5Z2MiIZ5I3jJvvmeWMLbOQ" >}}',
            "spotify",
            "5Z2MiIZ5I3jJvvmeWMLbOQ",
            "https://open.spotify.com/track/5Z2MiIZ5I3jJvvmeWMLbOQ",
            "https://open.spotify.com/embed/track/5Z2MiIZ5I3jJvvmeWMLbOQ",
        ),
        (
            "{{< spotify spotify:playlist:37i9dQZF1DXcBWIGoYBM5M >}}",
            "spotify",
            "37i9dQZF1DXcBWIGoYBM5M",
            "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M",
            "https://open.spotify.com/embed/playlist/37i9dQZF1DXcBWIGoYBM5M",
        ),
        (
            '{{< codepen user="marinera" id="YzObPmg" >}}',
            "codepen",
            "YzObPmg",
            "https://codepen.io/marinera/pen/YzObPmg",
            "https://codepen.io/marinera/embed/YzObPmg?default-tab=result",
        ),
        (
            "{{< pen https://codepen.io/marinera/pen/YzObPmg >}}",
            "codepen",
            "YzObPmg",
            "https://codepen.io/marinera/pen/YzObPmg",
            "https://codepen.io/marinera/embed/YzObPmg?default-tab=result",
        ),
    ],
)
def test_shortcodes_iframe_embeds(
    body: str, provider: str, ident: str, url: str, iframe: str
) -> None:
    [embed] = embeds(markdown(body))
    assert (embed["p"], embed["id"], embed["url"]) == (provider, ident, url)
    assert f'<iframe src="{html.escape(iframe)}"' in embed["inner"]
    assert 'loading="lazy"' in embed["inner"]


@pytest.mark.parametrize(
    ("body", "provider", "ident", "url"),
    [
        (
            '{{< tweet user="faroscantabria" id="1453110110599868418" >}}',
            "x",
            "1453110110599868418",
            "https://x.com/faroscantabria/status/1453110110599868418",
        ),
        (
            "{{< tweet 877500564405444608 >}}",
            "x",
            "877500564405444608",
            "https://x.com/i/status/877500564405444608",
        ),
        (
            '{{< x user="faroscantabria" id="1453110110599868418" >}}',
            "x",
            "1453110110599868418",
            "https://x.com/faroscantabria/status/1453110110599868418",
        ),
        (
            "{% twitter https://twitter.com/faroscantabria/status/20 %}",
            "x",
            "20",
            "https://x.com/faroscantabria/status/20",
        ),
        (
            '{{< gist marinera 7896402 "faro.py" >}}',
            "gist",
            "7896402",
            "https://gist.github.com/marinera/7896402#file-faro-py",
        ),
        (
            "{% gist 1234567 olas.rb %}",
            "gist",
            "1234567",
            "https://gist.github.com/1234567#file-olas-rb",
        ),
        (
            "{{< instagram CxYzAbCdEfG >}}",
            "instagram",
            "CxYzAbCdEfG",
            "https://www.instagram.com/p/CxYzAbCdEfG/",
        ),
    ],
)
def test_shortcodes_embeds_without_iframe_link_to_the_original(
    body: str, provider: str, ident: str, url: str
) -> None:
    [embed] = embeds(markdown(body))
    assert (embed["p"], embed["id"], embed["url"]) == (provider, ident, url)
    assert "<iframe" not in embed["inner"]
    assert embed["inner"].startswith(f'<a href="{url}">')


def test_shortcodes_embed_html_is_the_one_shape_for_every_provider() -> None:
    text = embed_html(
        "podcast", "https://p.example/1", id="1", title="Uno", src="https://p.example/e/1"
    )
    [embed] = embeds(text)
    assert embed == {
        "p": "podcast",
        "id": "1",
        "url": "https://p.example/1",
        "title": "Uno",
        "inner": embed["inner"],
    }
    assert 'loading="lazy"' in embed["inner"]


def test_shortcodes_embeds_are_links_when_raw_html_is_escaped() -> None:
    text = markdown("{{< youtube w7Ft2ymGmfc >}}", embeds=False)
    assert "<" not in text
    assert "[YouTube video](https://www.youtube.com/watch?v=w7Ft2ymGmfc)" in text


def test_shortcodes_embed_with_a_bad_id_is_removed_with_a_warning() -> None:
    body = 'Texto.\n\n{{< youtube "javascript:alert(1)" >}}\n'
    assert "javascript" not in markdown(body)
    [(line, message)] = messages(body)
    assert line == 3
    assert "youtube" in message


# Images


def test_shortcodes_figure_is_a_markdown_image_with_caption_and_link() -> None:
    body = (
        '{{< figure src="images/faro.png" alt="El faro" caption="Desde la playa" '
        'link="https://example.org/faro" >}}'
    )
    text = markdown(body)
    assert "[![El faro](images/faro.png)](https://example.org/faro)" in text
    assert "\n\n*Desde la playa*\n" in text


def test_shortcodes_figure_alt_falls_back_to_caption() -> None:
    assert "![Desde la playa](x.png)" in markdown(
        '{{< figure src="x.png" caption="Desde la playa" >}}'
    )


@pytest.mark.parametrize(
    ("body", "image"),
    [
        ('{{< img src="/images/mapa.png" alt="Mapa" >}}', "![Mapa](/images/mapa.png)"),
        ('{{< image src="m.png" alt="Mapa" title="La costa" >}}', '![Mapa](m.png "La costa")'),
        (
            '{% img center /images/mapa.png 300 200 "Mapa de la costa" "Mapa a mano" %}',
            '![Mapa a mano](/images/mapa.png "Mapa de la costa")',
        ),
        ("{% img left https://example.org/barco.jpg Barco en el puerto %}",
         "![Barco en el puerto](https://example.org/barco.jpg)"),
        ('{{< img src="/images/sin título.png" alt="x" >}}', "![x](</images/sin título.png>)"),
    ],
)  # fmt: skip
def test_shortcodes_image_shortcodes_are_markdown_images(body: str, image: str) -> None:
    assert markdown(body).strip() == image


def test_shortcodes_images_count_in_analysis_and_html() -> None:
    html_text = rendered('Texto.\n\n{% img center /images/mapa.png 300 200 "T" "Alt" %}\n')
    assert '<img src="/images/mapa.png" alt="Alt" title="T">' in html_text


# Code


def test_shortcodes_highlight_renders_exactly_like_the_fenced_block() -> None:
    code = 'export function Saludo() {\n  return <p>{"hola"}</p>;\n}'
    fenced = rendered(f"Texto.\n\n```jsx\n{code}\n```\n")
    for body in (
        f"Texto.\n\n{{{{< highlight jsx >}}}}\n{code}\n{{{{< /highlight >}}}}\n",
        f'Texto.\n\n{{{{< highlight jsx "linenos=table" >}}}}\n{code}\n{{{{< /highlight >}}}}\n',
        f"Texto.\n\n{{% highlight jsx linenos %}}\n{code}\n{{% endhighlight %}}\n",
        f'Texto.\n\n{{{{< code lang="jsx" >}}}}\n{code}\n{{{{< /code >}}}}\n',
        f"Texto.\n\n{{% codeblock lang:jsx %}}\n{code}\n{{% endcodeblock %}}\n",
    ):
        assert rendered(body) == fenced
    assert '<span class="k">export</span>' in fenced


def test_shortcodes_code_content_is_never_expanded() -> None:
    text = markdown("{{< highlight html >}}\n{{< youtube x >}}\n{% if a %}\n{{< /highlight >}}\n")
    assert "```html\n{{< youtube x >}}\n{% if a %}\n```" in text


def test_shortcodes_code_with_backtick_fences_inside_gets_a_longer_fence() -> None:
    text = markdown("{{< highlight md >}}\n```js\nx\n```\n{{< /highlight >}}")
    assert "````md\n```js\nx\n```\n````" in text


def test_shortcodes_octopress_codeblock_title_names_the_language() -> None:
    text = markdown("{% codeblock Contar olas - olas.rb %}\nputs 1\n{% endcodeblock %}")
    assert "*Contar olas - olas.rb*\n\n```ruby\nputs 1\n```" in text


def test_shortcodes_highlight_without_its_end_is_a_warning() -> None:
    body = "Texto.\n\n{{< highlight go >}}\nfunc main() {}\n"
    assert "highlight" not in markdown(body)
    assert [line for line, _ in messages(body)] == [3]


# Quotes


@pytest.mark.parametrize(
    ("body", "attribution"),
    [
        ("{% blockquote Concepción Arenal, Cartas a un obrero %}\nCita.\n{% endblockquote %}",
         "> — Concepción Arenal, Cartas a un obrero"),
        ("{% blockquote Lucía https://example.org/diario El diario %}\nCita.\n{% endblockquote %}",
         "> — Lucía, [El diario](https://example.org/diario)"),
        ("{% blockquote Lucía %}\nCita.\n{% endblockquote %}", "> — Lucía"),
        ('{{< blockquote author="Lucía" source="El diario" >}}\nCita.\n{{< /blockquote >}}',
         "> — Lucía, El diario"),
        ('{{< pullquote author="Lucía" link="https://example.org/d" >}}Cita.{{< /pullquote >}}',
         "> — Lucía, [example.org/d](https://example.org/d)"),
    ],
)  # fmt: skip
def test_shortcodes_quotes_are_blockquotes_with_attribution(body: str, attribution: str) -> None:
    text = markdown(body)
    assert "> Cita.\n>\n" + attribution in text


def test_shortcodes_octopress_pullquote_keeps_the_paragraph_once() -> None:
    body = '{% pullquote %}\nPaciencia: {" limpiar la lente "} cada día.\n{% endpullquote %}'
    assert markdown(body).strip() == "Paciencia: limpiar la lente cada día."


def test_shortcodes_blockquote_inner_markdown_is_expanded_too() -> None:
    body = '{% blockquote Ana %}\nMira {{< ref "b.md" >}}.\n{% endblockquote %}'
    assert "> Mira b.md." in markdown(body)


# raw, ref, details


def test_shortcodes_raw_content_is_kept_as_written() -> None:
    assert (
        markdown("{% raw %}{{ page.title }} {% if x %}{% endraw %}")
        == "{{ page.title }} {% if x %}"
    )
    assert markdown("{{< rawhtml >}}<b>{{< x >}}</b>{{< /rawhtml >}}") == "<b>{{< x >}}</b>"


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ('[a]({{< ref "otro.md" >}})', "otro.md"),
        ('[a]({{< relref "/posts/otro.md#seccion" >}})', "/posts/otro.md#seccion"),
        ('[a]({{< ref path="otro" >}})', "otro"),
        ("[a]({% post_url 2013-03-10-citas %})", "2013-03-10-citas.md"),
        ("[a]({% link _posts/2013-03-10-citas.md %})", "_posts/2013-03-10-citas.md"),
    ],
)
def test_shortcodes_post_links_become_link_targets(body: str, target: str) -> None:
    expanded = expand(body)
    assert expanded.markdown == f"[a]({target})"
    assert expanded.refs == ((1, target),)


def test_shortcodes_details_is_html_details_around_markdown() -> None:
    text = markdown('{{< details summary="Ver más" >}}\n**Dentro**\n{{< /details >}}')
    assert "<details><summary>Ver más</summary>\n\n**Dentro**\n\n</details>" in text


# Unknown shortcodes and template logic


def test_shortcodes_unknown_standalone_is_removed_with_its_line() -> None:
    body = 'Uno.\n\n{{< newsletter list="faros" >}}\n\nDos.\n'
    assert markdown(body) == "Uno.\n\n\n\nDos.\n"
    [(line, message)] = messages(body)
    assert line == 3
    assert "newsletter" in message and "_shortcodes/newsletter.html" in message


def test_shortcodes_unknown_paired_keeps_the_authors_text() -> None:
    body = "{{% notice warning %}}\nNo subas con viento.\n{{% /notice %}}\n"
    assert markdown(body).strip() == "No subas con viento."
    assert [line for line, _ in messages(body)] == [1]


def test_shortcodes_liquid_logic_blocks_go_with_their_content() -> None:
    body = (
        "Antes.\n"
        "{% assign tags = page.tags | sort %}\n"
        "{% for tag in tags %}\n"
        '  {% if tag %}<a href="/t/{{ tag }}">{{ tag }}</a>{% endif %}\n'
        "{% endfor %}\n"
        "Después.\n"
    )
    text = markdown(body)
    assert text.split() == ["Antes.", "Después."]
    assert [line for line, _ in messages(body)] == [2, 3]  # the loop is one warning


@pytest.mark.parametrize(
    "tag",
    [
        "{% include cabecera.html %}",
        "{% include_relative x.md %}",
        "{% increment n %}",
        "{% endif %}",
        "{{ page.title }}",
        "{{ site.data.menu | first }}",
        "{{- page.author -}}",
        "{{ .Params.title }}",
        "{% unknowntag a b %}",
    ],
)
def test_shortcodes_template_code_is_removed_and_reported(tag: str) -> None:
    body = f"Uno {tag} dos.\n"
    assert markdown(body) == "Uno  dos.\n"
    assert len(messages(body)) == 1


def test_shortcodes_site_root_expressions_resolve_to_the_root() -> None:
    body = "![a]({{ site.baseurl }}/i/a.png) ![b]({{ root_url }}/i/b.png) {{ '/c' | relative_url }}"
    assert markdown(body) == "![a](/i/a.png) ![b](/i/b.png) /c"
    assert messages(body) == []


def test_shortcodes_braces_that_are_not_template_code_stay() -> None:
    for body in (
        "Vue muestra {{ mensaje }} en la plantilla.",
        "Un diccionario {% no cerrado.",
        "Llaves {{ sueltas\n\nen otro párrafo }}.",
        "{{}} y {%%}",
    ):
        assert markdown(body) == body


def test_shortcodes_comments_are_dropped_silently() -> None:
    body = "A{% comment %}nota {{< youtube x >}}{% endcomment %}B {{< comment >}}x{{< /comment >}}"
    assert markdown(body) == "AB "
    assert messages(body) == []


def test_shortcodes_orphan_closing_tag_is_removed() -> None:
    body = "Texto {{< /nada >}} fin."
    assert markdown(body) == "Texto  fin."
    assert len(messages(body)) == 1


# Code stays literal


def test_shortcodes_in_code_stay_literal() -> None:
    body = (
        "Usa `{{< youtube x >}}` o ``{% if %}``.\n\n"
        "```go-html-template\n{{< youtube y >}}\n{{ .Get 0 }}\n```\n\n"
        "~~~\n{% for x in y %}\n~~~\n"
    )
    assert markdown(body) == body
    assert messages(body) == []


def test_shortcodes_hugo_escape_shows_the_shortcode() -> None:
    body = (
        'Prosa {{</* youtube x */>}} y {{%/* nota */%}}.\n\n```\n{{</* figure src="a" */>}}\n```\n'
    )
    text = markdown(body)
    assert "Prosa {{\\< youtube x >}} y {{% nota %}}." in text
    assert '```\n{{< figure src="a" >}}\n```' in text
    assert "Prosa {{&lt; youtube x &gt;}}" in rendered(body)


def test_shortcodes_liquid_raw_marks_inside_code_are_dropped() -> None:
    body = "```liquid\n{% raw %}{{ page.title }}{% endraw %}\n```\n"
    assert markdown(body) == "```liquid\n{{ page.title }}\n```\n"


def test_shortcodes_unclosed_fence_keeps_the_rest_literal() -> None:
    body = "```\n{{< youtube x >}}\n"
    assert markdown(body) == body


def test_shortcodes_backticks_not_closed_in_the_paragraph_are_not_code() -> None:
    body = "Un ` suelto.\n\n{{< youtube w7Ft2ymGmfc >}}\n\nOtro ` aquí."
    assert len(embeds(markdown(body))) == 1


# Where blocks land


def test_shortcodes_embed_in_a_list_item_stays_in_the_item() -> None:
    body = "- Primero:\n  {{< youtube w7Ft2ymGmfc >}}\n- Segundo\n"
    html_text = rendered(body)
    item = re.search(r"<li>(.*?)</li>", html_text, re.S)
    assert item is not None and "youtube-nocookie.com/embed/w7Ft2ymGmfc" in item.group(1)
    assert html_text.count("<li>") == 2


def test_shortcodes_embed_in_a_blockquote_stays_in_the_quote() -> None:
    html_text = rendered("> Mira:\n> {{< youtube w7Ft2ymGmfc >}}\n")
    quote = re.search(r"<blockquote>(.*?)</blockquote>", html_text, re.S)
    assert quote is not None and "<iframe" in quote.group(1)


def test_shortcodes_code_in_a_list_item_is_dedented_into_the_item() -> None:
    body = "1. Ejecuta:\n   {{< highlight bash >}}\n   echo hola\n   {{< /highlight >}}\n"
    html_text = rendered(body)
    assert re.search(r"<li>.*<pre[^>]*><code[^>]*>.*echo.*hola", html_text, re.S)


def test_shortcodes_deep_nesting_does_not_recurse_or_lose_text() -> None:
    depth = 500
    body = "".join(f"{{{{< n{i} >}}}}" for i in range(depth)) + "centro"
    body += "".join(f"{{{{< /n{i} >}}}}" for i in reversed(range(depth)))
    assert markdown(body) == "centro"


def test_shortcodes_body_without_template_syntax_is_returned_as_is() -> None:
    body = "# Título\n\nTexto con {llaves} y `código`.\n"
    assert expand(body).markdown is body


# Site templates (_shortcodes/NAME.html)


def templates(**sources: str) -> Templates:
    return Templates(sources)


def test_shortcodes_site_template_gets_positional_named_and_inner() -> None:
    site = templates(
        nota='<aside class="{{ params.tipo }}">{{ args[0] }}|{{ get(1) }}|{{ get("tipo") }}|'
        "{{ inner }}</aside>"
    )
    text = markdown('{{< nota "uno" dos tipo="aviso" >}}Hola **ya**{{< /nota >}}', site)
    assert '<aside class="aviso">uno|dos|aviso|Hola **ya**</aside>' in text


def test_shortcodes_site_template_values_are_escaped() -> None:
    site = templates(eco="<span>{{ args[0] }}</span>")
    assert "<span>&lt;script&gt;x&lt;/script&gt;</span>" in markdown(
        '{{< eco "<script>x</script>" >}}', site
    )


def test_shortcodes_site_template_output_is_sanitized_like_raw_html() -> None:
    site = templates(malo='<div onclick="x()"><script>alert(1)</script>ok</div>')
    html_text = render_html("{{< malo >}}", "", RenderOptions(shortcodes=site))
    assert "<script" not in html_text and "onclick" not in html_text
    assert "ok" in html_text


def test_shortcodes_site_template_runs_in_the_sandbox() -> None:
    site = templates(fuga="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    body = "Texto.\n\n{{< fuga >}}\n"
    assert "class" not in markdown(body, site)
    [(line, message)] = messages(body, site)
    assert line == 3 and "_shortcodes/fuga.html" in message


def test_shortcodes_site_template_can_declare_an_embed() -> None:
    call = '{{ embed("podcast", "https://p.example/e/" ~ args[0], id=args[0], title=args[1]) }}'
    site = templates(podcast=call)
    [embed] = embeds(markdown('{{< podcast 42 "Faros" >}}', site))
    assert (embed["p"], embed["id"], embed["title"]) == ("podcast", "42", "Faros")


def test_shortcodes_expand_takes_templates_as_any_mapping() -> None:
    assert markdown("{{< caja >}}", {"caja": "<b>{{ name }}</b>"}).strip() == "<b>caja</b>"


def test_shortcodes_site_template_overrides_a_built_in() -> None:
    site = templates(youtube='<p class="mio">{{ args[0] }}</p>')
    assert markdown("{{< youtube abc >}}", site).strip() == '<p class="mio">abc</p>'


def test_shortcodes_load_templates_reports_unusable_files() -> None:
    loaded, issues = load_templates(
        [
            SourceFile("_shortcodes/bien.html", b"<b>{{ args[0] }}</b>"),
            SourceFile("_shortcodes/roto.html", b"<b>\n{% if %}</b>"),
            SourceFile("_shortcodes/Mal Nombre.html", b"x"),
            SourceFile("_shortcodes/latin1.html", "año".encode("latin-1")),
        ]
    )
    assert sorted(loaded) == ["bien", "roto"]
    found = {(issue.path, issue.line) for issue in issues}
    assert ("_shortcodes/roto.html", 2) in found
    assert {issue.path for issue in issues} == {
        "_shortcodes/roto.html",
        "_shortcodes/Mal Nombre.html",
        "_shortcodes/latin1.html",
    }
    assert all(issue.severity == "warning" for issue in issues)


def test_shortcodes_templates_are_equal_by_content_and_hashable() -> None:
    a, b = templates(x="uno"), templates(x="uno")
    assert a == b and hash(a) == hash(b)
    assert a != templates(x="dos")
    assert {RenderOptions(shortcodes=a): 1}[RenderOptions(shortcodes=b)] == 1


# Linear time: no input makes the scanner backtrack (growth, not an absolute time)

HOSTILE = [
    "{{<", "{{%", "{%", "{{", ">}}", "%}}", "%}", "}}", "`", "``", "```", "~~~", "\n", "\n\n",
    "{{</*", "*/>}}", "{% raw %}", "{% endraw %}", "{{< highlight go >}}", "{{< /highlight >}}",
    "{% for x in y %}", "{% endfor %}", "{{< x >}}", "{{< /x >}}", "{{ page.x }}", " ", "a",
    '"', "'", "=", "\\", "> ", "- ", "    ", "{% blockquote a %}", "{{< youtube ",
]  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=8))
def test_shortcodes_scanner_time_grows_linearly_with_the_body(unit: list[str]) -> None:
    piece = "".join(unit)
    small = piece * max(1, 4_000 // len(piece))
    large = small * 16  # ~64 KB: linear is ~16x the time, quadratic ~256x
    ratio = cpu_seconds(expand, large) / max(cpu_seconds(expand, small), 1e-4)
    assert ratio < 48, f"16x the input took {ratio:.0f}x the time for {piece!r}"


# The site as readers get it: the fixture tree, served


@pytest.fixture(scope="module")
def site_app() -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "CONTENTAPI_CONTENT_DIR": str(SITE),
            "CONTENTAPI_PARSE_CACHE": "off",
            "CONTENTAPI_CACHE_TYPE": "NullCache",
        }
    )
    app.test_client_class = ContractClient
    return app


@pytest.fixture
def site(site_app: Flask) -> Any:
    return site_app.test_client()


def _slugs() -> list[str]:
    return sorted(path.stem for path in SITE.glob("*.md"))


@pytest.mark.parametrize("slug", _slugs())
def test_shortcodes_no_template_text_reaches_readers(site: Any, slug: str) -> None:
    post = site.get(f"/api/v1/posts/{slug}?formats=html,plaintext,markdown").get_json()
    if slug not in SHOWS_TEMPLATES:
        for key in ("html", "plaintext", "excerpt"):
            assert not TEMPLATE_TEXT.search(html.unescape(post[key])), (key, post[key])
    assert post["markdown"] == fixture_body(f"{slug}.md").strip("\n") + "\n"


def test_shortcodes_no_template_text_in_lists_feeds_or_search(site: Any) -> None:
    shown = [slug for slug in _slugs() if slug not in SHOWS_TEMPLATES]
    listing = site.get("/api/v1/posts?per_page=100").get_json()["data"]
    for item in listing:
        if item["slug"] in shown:
            assert not TEMPLATE_TEXT.search(item["excerpt"]), item
    for feed in ("/feeds/rss.xml", "/feeds/atom.xml", "/feeds/feed.json"):
        text = html.unescape(html.unescape(site.get(feed).get_data(as_text=True)))
        for slug in SHOWS_TEMPLATES:  # these two show template code on purpose
            text = re.sub(rf"{slug}.*?(?=</item>|</entry>|\"id\"|$)", "", text, flags=re.S)
        assert not TEMPLATE_TEXT.search(text), feed


@pytest.mark.parametrize(
    "word",
    ["youtube", "etiquetas", "cabecera", "newsletter", "endblockquote", "highlight", "assign"],
)
def test_shortcodes_search_never_finds_template_code(site: Any, word: str) -> None:
    hits = site.get(f"/api/v1/search?q={word}").get_json()["data"]
    assert [hit["slug"] for hit in hits if hit["slug"] not in SHOWS_TEMPLATES] == []


def test_shortcodes_search_finds_text_inside_shortcodes(site: Any) -> None:
    hits = site.get("/api/v1/search?q=escuelas").get_json()["data"]
    assert [hit["slug"] for hit in hits] == ["liquid-blockquote"]
    snippets = " ".join(snippet["html"] for hit in hits for snippet in hit["snippets"])
    assert "<mark>escuelas</mark>" in snippets
    assert not TEMPLATE_TEXT.search(snippets)


def test_shortcodes_built_ins_render_what_the_author_meant(site: Any) -> None:
    def html_of(slug: str) -> str:
        return site.get(f"/api/v1/posts/{slug}").get_json()["html"]

    youtube = html_of("hugo-youtube")
    assert youtube.count('<iframe src="https://www.youtube-nocookie.com/embed/') == 3
    assert 'data-embed-provider="youtube"' in youtube
    assert "<pre" in html_of("hugo-highlight") and "language-jsx" in html_of("hugo-highlight")
    assert html_of("liquid-blockquote").count("<blockquote>") == 2
    assert '<iframe src="https://player.vimeo.com/video/76979871?dnt=1"' in html_of("liquid-video")
    embedded = html_of("hugo-embeds")
    for provider in ("x", "gist", "instagram", "vimeo", "spotify", "codepen"):
        assert f'data-embed-provider="{provider}"' in embedded
    assert '<aside class="nota nota-aviso">' in html_of("site-template")


def test_shortcodes_images_count_in_images_and_cover(site: Any) -> None:
    post = site.get("/api/v1/posts/hugo-figure").get_json()
    urls = [image["url"] for image in post["images"]]
    assert urls[:2] == [
        "http://localhost/media/images/hugo/faro.png",
        "http://localhost/media/images/octopress-mapa.png",
    ]
    assert post["cover"] == "http://localhost/media/images/hugo/faro.png"
    octopress = site.get("/api/v1/posts/liquid-img").get_json()
    image = octopress["images"][0]
    assert {key: image[key] for key in ("url", "alt", "width", "height")} == {
        "url": "http://localhost/media/images/octopress-mapa.png",
        "alt": "Mapa dibujado a mano de la costa",
        "width": 1,  # the fixture is a 1x1 PNG: its facts come with it
        "height": 1,
    }


def test_shortcodes_ref_links_reach_the_post(site: Any) -> None:
    page = site.get("/api/v1/posts/hugo-ref").get_json()["html"]
    assert 'href="http://localhost/api/v1/posts/hugo-youtube"' in page
    assert 'href="http://localhost/api/v1/posts/liquid-blockquote#la-cita"' in page
    assert 'href="http://localhost/api/v1/posts/hugo-figure"' in page


def test_shortcodes_content_check_lists_each_removal_with_file_and_line(site_app: Flask) -> None:
    result = site_app.test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    expected = [
        "hugo-unknown.md:9: warning: body: unknown shortcode {{% notice warning %}}",
        "hugo-unknown.md:13: warning: body: unknown shortcode {{< newsletter-signup",
        "liquid-theme-leftovers.md:8: warning: body: Liquid template logic {% assign",
        "liquid-theme-leftovers.md:9: warning: body: Liquid template logic {% include",
        "liquid-theme-leftovers.md:13: warning: body: Liquid template logic {% for %}",
        "liquid-theme-leftovers.md:17: warning: body: Liquid template logic {% if %}",
        "liquid-theme-leftovers.md:23: warning: body: template expression {{ page.author }}",
        "hugo-ref.md:12: warning: body: 'no-existe.md' names no post",
        "site-template.md:13: warning: body: {{< roto >}} removed",
        "_shortcodes/roto.html:1: warning: shortcode template cannot be used",
        "hugo-figure.md: warning: body: image '/images/no-existe.jpg' is not in the content",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), start


def test_shortcodes_edited_template_changes_the_version_and_the_html(
    tmp_path: Path, make_client: Callable[..., Any]
) -> None:
    del make_client  # the app below has its own folder
    folder = tmp_path / "site"
    (folder / "_shortcodes").mkdir(parents=True)
    (folder / "post.md").write_text("---\ntitle: T\ndate: 2024-01-01\n---\n\n{{< caja >}}\n")
    (folder / "_shortcodes" / "caja.html").write_text("<div>uno</div>")
    app = create_app(
        {"TESTING": True, "CONTENTAPI_CONTENT_DIR": str(folder), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    store = app.extensions["contentapi"]
    client = app.test_client()
    before = store.index.version
    assert "<div>uno</div>" in client.get("/api/v1/posts/post").get_json()["html"]
    (folder / "_shortcodes" / "caja.html").write_text("<div>dos</div>")
    store.reload()
    assert store.index.version != before
    assert "<div>dos</div>" in client.get("/api/v1/posts/post").get_json()["html"]


def test_shortcodes_render_resolves_local_image_from_a_shortcode() -> None:
    assets = AssetMap(frozenset({"posts/img/a.png"}))
    html_text = render_html(
        '{{< figure src="img/a.png" alt="A" >}}', "posts", RenderOptions(assets=assets)
    )
    assert 'src="/media/posts/img/a.png"' in html_text


# Argument shapes seen in real posts


@pytest.mark.parametrize(
    ("body", "ident"),
    [
        ("{{< youtube https://www.youtube.com/embed/w7Ft2ymGmfc >}}", "w7Ft2ymGmfc"),
        ("{{< youtube https://youtube.com/shorts/w7Ft2ymGmfc >}}", "w7Ft2ymGmfc"),
        ("{{< vimeo https://vimeo.com/146022717 >}}", "146022717"),
        ("{{< instagram https://www.instagram.com/p/CxYzAbCdEfG/ >}}", "CxYzAbCdEfG"),
        ("{{< gist https://gist.github.com/marinera/7896402 >}}", "7896402"),
        ("{% gist marinera/7896402 faro.py %}", "7896402"),
        ("{{< spotify https://open.spotify.com/embed/album/1DFixLWuPkv3KT3TnV35m3 >}}",
         "1DFixLWuPkv3KT3TnV35m3"),
        ("{{< spotify episode/7makk4oTQel546B0PZlDM5 >}}", "7makk4oTQel546B0PZlDM5"),
        ("{{< spotify show 5CfCWKI5pZ28U0uOzXkDHe >}}", "5CfCWKI5pZ28U0uOzXkDHe"),
        ("{{< codepen marinera YzObPmg >}}", "YzObPmg"),
        ("{% codepen YzObPmg marinera %}", "YzObPmg"),
        ("{{< codepen YzObPmg >}}", "YzObPmg"),
        ("{{< tweet faroscantabria 1453110110599868418 >}}", "1453110110599868418"),
    ],
)  # fmt: skip
def test_shortcodes_embed_argument_shapes(body: str, ident: str) -> None:
    [embed] = embeds(markdown(body))
    assert embed["id"] == ident


def test_shortcodes_youtube_time_from_the_url() -> None:
    [embed] = embeds(markdown("{{< youtube https://www.youtube.com/watch?v=w7Ft2ymGmfc&t=95s >}}"))
    assert "embed/w7Ft2ymGmfc?start=95" in embed["inner"]


@pytest.mark.parametrize(
    "body",
    [
        "{{< youtube https://example.org/watch >}}",
        "{{< vimeo abc >}}",
        "{{< spotify type=podcast id=abc >}}",
        "{{< tweet >}}",
        "{{< figure >}}",
        "{{< ref >}}",
        "{% post_url %}",
        "{% video %}",
        "{{< gist >}}",
    ],
)
def test_shortcodes_built_in_without_usable_arguments_is_reported(body: str) -> None:
    assert markdown(body) == ""
    assert len(messages(body)) == 1


def test_shortcodes_figure_attribution_and_title() -> None:
    body = '{{< figure src="a.png" caption="Faro" attr="Ana" attrlink="https://example.org/ana" >}}'
    assert "*Faro* — [Ana](https://example.org/ana)" in markdown(body)
    assert "\n\nAna\n" in markdown('{{< figure src="a.png" attr="Ana" >}}')
    assert "![Faro](a.png)\n\n*Faro*" in markdown('{{< figure src="a.png" title="Faro" >}}')
    assert markdown('{{< img "/a.png" "Faro" >}}') == "![Faro](/a.png)"


def test_shortcodes_hugo_positional_blockquote_and_codeblock_link() -> None:
    assert "> — Ana, Diario" in markdown(
        '{{< blockquote "Ana" "Diario" >}}Cita.{{< /blockquote >}}'
    )
    body = (
        "{% codeblock olas.rb https://example.org/olas.rb ver fuente %}\nputs 1\n{% endcodeblock %}"
    )
    assert "*olas.rb* [ver fuente](https://example.org/olas.rb)\n\n```ruby" in markdown(body)


def test_shortcodes_octopress_video() -> None:
    body = "{% video https://example.org/ola.mp4 640 360 https://example.org/ola.jpg %}"
    assert (
        '<video controls preload="metadata" src="https://example.org/ola.mp4" width="640" '
        'height="360" poster="https://example.org/ola.jpg"></video>'
    ) in markdown(body)


def test_shortcodes_self_closing_and_single_quoted_arguments() -> None:
    site = templates(eco="<i>{{ args|join(',') }}</i>")
    assert markdown("{{< eco 'a b' `c d` />}}", site).strip() == "<i>a b,c d</i>"


def test_shortcodes_site_template_output_is_bounded() -> None:
    site = templates(enorme="{% for i in range(90000) %}xxxx{% endfor %}")
    assert markdown("{{< enorme >}}", site) == ""
    assert "too large" in messages("{{< enorme >}}", site)[0][1]
