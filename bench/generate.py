"""Generate a synthetic blog corpus for benchmarks: Markdown posts with YAML front matter.

Usage: `python bench/generate.py OUTDIR --count N [--seed S]`

The posts look like the ones in `content/`: mixed Spanish and English, accented words, titles
with colons, dates written in several ways, a few drafts, and bodies with headings, lists, code,
tables, footnotes, images and links. Output is deterministic for a seed, and post `i` is the same
whatever the count. Files go in subfolders of at most 500 (`OUTDIR/0000/`, `OUTDIR/0001/`, ...).
Standard library only, so it runs before the project is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import random
import sys
import time
import unicodedata
from collections.abc import Sequence

FILES_PER_FOLDER = 500


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ES_WORDS: tuple[str, ...] = _split(
    """
    búsqueda respiración modelos año canción datos sistema proceso método ejemplo resultado
    información función página código servidor usuario equipo proyecto versión archivo memoria
    índice consulta respuesta petición caché rendimiento prueba error análisis diseño módulo
    biblioteca lenguaje máquina aprendizaje red neuronal vector texto palabra frase párrafo
    artículo lectura escritura música ritmo melodía guitarra piano voz cocina receta harina agua
    sal pan masa fermentación horno tiempo temperatura minuto hora día semana mes mañana tarde
    noche ciudad viaje montaña río mar camino tren avión salud cuerpo ejercicio sueño corazón
    mente calma atención hábito práctica técnica herramienta idea problema solución pregunta
    razón forma manera parte lugar mundo vida historia persona gente niño familia casa trabajo
    empresa cliente producto mercado precio valor número cantidad grupo serie lista tabla campo
    fecha título etiqueta categoría autor borrador publicación enlace imagen fuente nota
    es son fue era está están hay tiene tienen puede pueden hace hacen usa usan sirve permite
    cambia mejora reduce aumenta guarda lee escribe busca encuentra compara devuelve
    el la los las un una unos unas de del al en con sin por para sobre entre desde hasta
    que como cuando donde porque aunque si pero y o ni también además después antes luego
    muy más menos poco mucho bastante siempre nunca casi todo cada otro mismo nuevo viejo
    grande pequeño rápido lento fácil difícil útil común simple claro último primero segundo
    así aquí allí ahora todavía quizá según través tras
    """
)

EN_WORDS: tuple[str, ...] = _split(
    """
    search breathing models year song data system process method example result information
    function page code server user team project version file memory index query response
    request cache performance test error analysis design module library language machine
    learning network vector text word sentence paragraph article reading writing music rhythm
    melody guitar piano voice kitchen recipe flour water salt bread dough oven time minute hour
    day week month morning evening night city travel mountain river sea road train plane health
    body exercise sleep heart mind focus habit practice tool idea problem solution question
    reason way part place world life story people family home work company customer product
    market price value number group list table field date title tag category author draft
    link image source note pipeline build deploy release feature branch commit review
    is are was were has have can could does makes uses helps allows changes improves reduces
    keeps reads writes finds compares returns runs loads stores
    the a an of to in on with without for from by about between over under after before
    that which when where because although if but and or also then still already
    very more less few many often always never almost every other same new old large small
    fast slow easy hard useful common simple clear last first second here there now maybe
    """
)

# Uniform draws from these give about 85% words of the post's language and 15% of the other.
_POOLS: dict[str, tuple[str, ...]] = {
    "es": ES_WORDS * 6 + EN_WORDS,
    "en": EN_WORDS * 6 + ES_WORDS,
}

TITLE_WORDS: dict[str, tuple[str, ...]] = {
    "es": _split(
        """
        búsqueda respiración modelos año canción datos caché índice rendimiento diseño
        aprendizaje fermentación receta montaña viaje música guitarra hábitos técnica
        herramientas servidor consultas memoria lenguaje máquina redes vectores pan masa
        sueño corazón atención ciudad tren código pruebas errores análisis módulos
        """
    ),
    "en": _split(
        """
        search breathing models year song data cache index performance design learning
        recipe mountain travel music guitar habits technique tools server queries memory
        language machine networks vectors bread dough sleep focus city train code tests
        errors analysis modules pipelines deploys releases
        """
    ),
}

TITLE_OPENERS: dict[str, tuple[str, ...]] = {
    "es": (
        "Cómo mejorar",
        "Guía de",
        "Notas sobre",
        "Qué aprendí de",
        "Por qué importa",
        "Introducción a",
        "Diez ideas sobre",
        "El año de",
        "Más allá de",
        "Errores comunes con",
    ),
    "en": (
        "How to improve",
        "A guide to",
        "Notes on",
        "What I learned from",
        "Why it matters:",
        "Getting started with",
        "Ten ideas about",
        "The year of",
        "Beyond",
        "Common mistakes with",
    ),
}

TITLE_SUBTITLES: dict[str, tuple[str, ...]] = {
    "es": (
        "guía práctica",
        "paso a paso",
        "lo que nadie te cuenta",
        "una introducción",
        "parte 2",
        "notas de campo",
        "mi experiencia",
    ),
    "en": (
        "a practical guide",
        "step by step",
        "what nobody tells you",
        "an introduction",
        "part 2",
        "field notes",
        "lessons learned",
    ),
}

CATEGORIES: tuple[str, ...] = (
    "Tecnología",
    "Cocina",
    "Inteligencia Artificial",
    "Desarrollo Web",
    "Ciencia",
    "Música",
    "Viajes",
    "Salud",
    "Diseño",
    "Data Engineering",
    "Open Source",
    "Productividad",
)

TAGS: tuple[str, ...] = _split(
    """
    python flask django fastapi javascript typescript rust go sql postgres sqlite redis docker
    kubernetes linux git testing performance caching search búsqueda embeddings llm
    machine-learning nlp datos visualización api rest graphql markdown yaml seguridad
    despliegue devops cloud diseño ux accesibilidad css html pan fermentación recetas cocina
    música guitarra piano canción viajes montaña senderismo salud respiración meditación
    sueño productividad hábitos escritura lectura libros open-source tutorial opinión
    """
)

AUTHORS: tuple[str, ...] = (
    "Lucía Fernández",
    "Javier Ortega",
    "María José Núñez",
    "Ana Beltrán",
    "Íñigo Martínez",
    "Carmen Ruiz",
    "Tom Baker",
    "Sarah O'Connor",
    "Priya Raman",
    "Ben Carter",
)

SECTION_HEADINGS: dict[str, tuple[str, ...]] = {
    "es": (
        "Introducción",
        "Contexto",
        "El problema",
        "Una solución sencilla",
        "Cómo funciona",
        "Ejemplos",
        "Detalles de implementación",
        "Rendimiento",
        "Errores comunes",
        "Qué sigue",
        "Conclusión",
        "Referencias",
    ),
    "en": (
        "Introduction",
        "Background",
        "The problem",
        "A simple solution",
        "How it works",
        "Examples",
        "Implementation details",
        "Performance",
        "Common mistakes",
        "What's next",
        "Conclusion",
        "References",
    ),
}

CODE_SNIPPETS: tuple[tuple[str, str], ...] = (
    (
        "python",
        "from pathlib import Path\n\n"
        "def load(root: Path) -> list[str]:\n"
        '    """Read every post under root."""\n'
        '    return [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.md"))]\n\n'
        'posts = load(Path("content"))\nprint(len(posts), "posts")',
    ),
    (
        "javascript",
        "async function fetchPosts(page = 1) {\n"
        "  const res = await fetch(`/api/posts?page=${page}&lang=es`);\n"
        "  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n"
        "  return res.json();\n}\n\n"
        "fetchPosts().then((data) => console.log(data.items.length));",
    ),
    (
        "bash",
        "python -m venv .venv\n. .venv/bin/activate\npip install -e '.[dev]'\n"
        "curl -s \"http://127.0.0.1:5000/api/posts?tag=python\" | jq '.items[].title'",
    ),
    (
        "json",
        '{\n  "slug": "modelos-de-busqueda",\n  "title": "Modelos de búsqueda",\n'
        '  "tags": ["search", "búsqueda"],\n  "lang": "es",\n  "draft": false\n}',
    ),
    (
        "yaml",
        "server:\n  host: 127.0.0.1\n  port: 5000\ncache:\n  enabled: true\n  ttl: 300\n"
        "languages: [es, en]",
    ),
    (
        "sql",
        "SELECT category, COUNT(*) AS posts\nFROM posts\nWHERE draft = 0 AND date >= '2023-01-01'\n"
        "GROUP BY category\nORDER BY posts DESC\nLIMIT 10;",
    ),
    (
        "go",
        'package main\n\nimport "fmt"\n\nfunc main() {\n'
        '\tfor i, w := range []string{"año", "canción", "búsqueda"} {\n'
        "\t\tfmt.Println(i, w)\n\t}\n}",
    ),
    (
        "rust",
        "fn word_count(text: &str) -> usize {\n    text.split_whitespace().count()\n}\n\n"
        'fn main() {\n    println!("{}", word_count("respiración y modelos"));\n}',
    ),
    (
        "html",
        '<figure>\n  <img src="/images/bench/diagram.png" alt="Diagrama">\n'
        "  <figcaption>Arquitectura del índice</figcaption>\n</figure>",
    ),
)

LINK_HOSTS: tuple[str, ...] = (
    "https://docs.python.org/3/library/",
    "https://developer.mozilla.org/es/docs/Web/",
    "https://en.wikipedia.org/wiki/",
    "https://es.wikipedia.org/wiki/",
    "https://example.org/blog/",
)

_STREAM_WORDS = 1 << 18
_START = dt.date(2015, 1, 1).toordinal()
_END = dt.date(2024, 12, 31).toordinal()


def _ascii_slug(text: str) -> str:
    """Lowercase ASCII words joined by hyphens (`Cómo año` -> `como-ano`)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    words = "".join(c if c.isalnum() else " " for c in plain).split()
    return "-".join(words)


# ASCII forms of the vocabulary, for inline code and link targets.
_ASCII = {word: _ascii_slug(word) or "x" for word in ES_WORDS + EN_WORDS}


def _quote(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Writer:
    """Builds one post's text from a shared random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Drawing every word is the slow part: text is sliced from one long stream per language.
        self.streams = {lang: rng.choices(pool, k=_STREAM_WORDS) for lang, pool in _POOLS.items()}

    def ri(self, low: int, high: int) -> int:
        """A random integer in [low, high]; much faster than `randint`."""
        return low + int(self.rng.random() * (high - low + 1))

    def words(self, lang: str, n: int) -> list[str]:
        """`n` random words, about 85% in `lang`.

        A slice of the language's stream at a random start and stride (1-8), so runs of words
        rarely repeat across posts while costing one C-level slice instead of `n` draws.
        """
        rand = self.rng.random
        step = 1 + int(rand() * 8)
        span = n * step
        if span > _STREAM_WORDS:
            return self.rng.choices(_POOLS[lang], k=n)
        start = int(rand() * (_STREAM_WORDS - span))
        return self.streams[lang][start : start + span : step]

    def paragraph(self, lang: str, slugs: Sequence[str], limit: int = 1000) -> tuple[str, int]:
        """2-6 sentences of 6-18 words, stopping early once `limit` words are reached."""
        rand = self.rng.random
        lengths: list[int] = []
        total = 0
        for _ in range(2 + int(rand() * 5)):
            n = 6 + int(rand() * 13)
            lengths.append(n)
            total += n
            if total >= limit:
                break
        words = self.words(lang, total)
        first = 0
        for n in lengths:
            last = first + n - 1
            words[first] = words[first].capitalize()
            roll = rand()
            if roll < 0.26:
                self._decorate(words, first, last, roll, slugs)
            if rand() < 0.07:
                words[last] += "?"
                if lang == "es":
                    words[first] = "¿" + words[first]
            else:
                words[last] += "."
            first = last + 1
        return " ".join(words), total

    def _decorate(
        self, words: list[str], first: int, last: int, roll: float, slugs: Sequence[str]
    ) -> None:
        """Emphasis, strong, inline code or a link on a word (or two) of `words[first:last+1]`."""
        if roll < 0.08:
            i = self.ri(first, last)
            words[i] = f"*{words[i]}*"
        elif roll < 0.13:
            i = self.ri(first, last)
            words[i] = f"**{words[i]}**"
        elif roll < 0.18:
            i = self.ri(first, last)
            words[i] = f"`{_ASCII.get(words[i].lower(), 'x')}()`"
        else:
            i = self.ri(first, last - 1)
            if slugs and self.rng.random() < 0.5:
                target = f"/posts/{slugs[self.ri(0, len(slugs) - 1)]}/"
            else:
                path = f"{_ASCII.get(words[i].lower(), 'x')}_{_ASCII.get(words[i + 1], 'x')}"
                target = LINK_HOSTS[self.ri(0, len(LINK_HOSTS) - 1)] + path
            words[i] = f"[{words[i]}"
            words[i + 1] = f"{words[i + 1]}]({target})"

    def heading(self, lang: str) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return rng.choice(SECTION_HEADINGS[lang])
        return _cap(" ".join(self.words(lang, self.ri(2, 6))))

    def bullet_list(self, lang: str, numbered: bool) -> tuple[str, int]:
        rng = self.rng
        lines: list[str] = []
        total = 0
        for k in range(1, self.ri(3, 7) + 1):
            n = self.ri(3, 12)
            item = _cap(" ".join(self.words(lang, n)))
            if rng.random() < 0.3:
                item = f"**{_cap(rng.choice(_POOLS[lang]))}**: {item}"
                n += 1
            marker = f"{k}." if numbered else "-"
            lines.append(f"{marker} {item}")
            total += n
        return "\n".join(lines), total

    def table(self, lang: str) -> str:
        rng = self.rng
        cols = self.ri(3, 4)
        header = [_cap(w) for w in self.words(lang, cols)]
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * cols) + "|"]
        for _ in range(self.ri(3, 6)):
            row = [_cap(rng.choice(_POOLS[lang]))]
            row += [str(self.ri(1, 999)) for _ in range(cols - 1)]
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)

    def code(self) -> str:
        language, snippet = self.rng.choice(CODE_SNIPPETS)
        return f"```{language}\n{snippet}\n```"

    def image(self, lang: str, slug: str) -> str:
        alt = _cap(" ".join(self.words(lang, self.ri(3, 7))))
        ext = self.rng.choice(("png", "jpg", "webp"))
        return f"![{alt}](/images/bench/{slug}-{self.ri(1, 9)}.{ext})"


def _title(rng: random.Random, lang: str) -> str:
    words = TITLE_WORDS[lang]
    other = TITLE_WORDS["en" if lang == "es" else "es"]
    picked = rng.sample(words, rng.randint(1, 3))
    if rng.random() < 0.3:
        picked.append(rng.choice(other))
    join = " y " if lang == "es" else " and "
    core = join.join([", ".join(picked[:-1]), picked[-1]]) if len(picked) > 1 else picked[0]
    roll = rng.random()
    if roll < 0.5:
        title = f"{rng.choice(TITLE_OPENERS[lang])} {core}"
    elif roll < 0.8:
        title = _cap(core)
    else:
        title = f"{_cap(core)}: {rng.choice(TITLE_SUBTITLES[lang])}"
    if ":" not in title and rng.random() < 0.15:
        title = f"{title}: {rng.choice(TITLE_SUBTITLES[lang])}"
    if lang == "es" and rng.random() < 0.05:
        title = f"¿{title}?"
    return title


def _date_field(rng: random.Random, day: dt.date) -> str:
    iso = day.isoformat()
    roll = rng.random()
    if roll < 0.35:
        return f'"{iso}"'
    if roll < 0.7:
        return iso
    if roll < 0.9:
        return f'"{iso} {rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}"'
    if roll < 0.95:
        return f"'{day.year}-{day.month}-{day.day}'"
    return f"{iso}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+01:00"


def _front_matter(
    rng: random.Random, w: _Writer, title: str, day: dt.date, lang: str, draft: bool
) -> str:
    lines = ["---", f"title: {_quote(title)}", f"date: {_date_field(rng, day)}"]
    category = rng.choice(CATEGORIES)
    lines.append(f"category: {_quote(category) if rng.random() < 0.3 else category}")
    tags = rng.sample(TAGS, rng.randint(1, 5))
    if rng.random() < 0.5:
        lines.append(f"tags: [{', '.join(tags)}]")
    else:
        lines.append("tags:")
        lines.extend(f"  - {tag}" for tag in tags)
    if rng.random() < 0.85:
        desc = _cap(" ".join(w.words(lang, rng.randint(10, 28)))) + "."
        lines.append(f"description: {_quote(desc) if rng.random() < 0.6 else desc}")
    lines.append(f"lang: {lang}")
    lines.append(f"author: {rng.choice(AUTHORS)}")
    if draft:
        lines.append("draft: true")
    lines.append("---")
    return "\n".join(lines)


def _body(
    rng: random.Random, w: _Writer, title: str, slug: str, lang: str, slugs: list[str]
) -> str:
    # Prose words; headings, code, tables and list markers add roughly 10% on top.
    budget = int(rng.triangular(270, 1090, 590))
    blocks: list[str] = []
    if rng.random() < 0.4:
        blocks.append(f"# {title}")
    used = 0
    for _ in range(w.ri(1, 2)):
        text, n = w.paragraph(lang, slugs, budget - used)
        blocks.append(text)
        used += n
    planned = max(2, (budget - used) // 150)
    code_at = w.ri(0, planned - 1) if rng.random() < 0.5 else -1
    table_at = w.ri(0, planned - 1) if rng.random() < 0.2 else -1
    image_at = w.ri(0, planned - 1) if rng.random() < 0.33 else -1
    note_at = w.ri(0, planned - 1) if rng.random() < 0.1 else -1
    has_note = note_at >= 0
    last_prose = len(blocks) - 1
    s = 0
    while s < 2 or used < budget:
        blocks.append(f"## {w.heading(lang)}")
        if s == image_at:
            blocks.append(w.image(lang, slug))
            image_at = -1
        for p in range(w.ri(1, 3)):
            if p and used >= budget:
                break
            text, n = w.paragraph(lang, slugs, max(1, budget - used))
            if s == note_at:
                text += "[^1]"
                note_at = -1
            blocks.append(text)
            last_prose = len(blocks) - 1
            used += n
        roll = rng.random()
        if roll < 0.45 and used < budget:
            text, n = w.bullet_list(lang, numbered=roll >= 0.3)
            blocks.append(text)
            used += n
        if s == code_at:
            blocks.append(w.code())
            code_at = -1
        if s == table_at:
            blocks.append(w.table(lang))
            table_at = -1
        if used < budget and rng.random() < 0.35:
            blocks.append(f"### {w.heading(lang)}")
            text, n = w.paragraph(lang, slugs, budget - used)
            blocks.append(text)
            last_prose = len(blocks) - 1
            used += n
        s += 1
    # Features planned for a section the post never reached go at the end.
    if image_at >= 0:
        blocks.append(w.image(lang, slug))
    if code_at >= 0:
        blocks.append(w.code())
    if table_at >= 0:
        blocks.append(w.table(lang))
    if note_at >= 0:
        blocks[last_prose] += "[^1]"
    if has_note:
        note = _cap(" ".join(w.words(lang, w.ri(6, 14))))
        see = "Ver" if lang == "es" else "See"
        blocks.append(f"[^1]: {note}. {see} {rng.choice(LINK_HOSTS)}")
    return "\n\n".join(blocks) + "\n"


def _write(root: pathlib.Path, count: int, seed: int) -> int:
    """Write the corpus and return the number of bytes written."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    root.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    slugs: list[str] = []
    total = 0
    folder = root
    for i in range(count):
        if i % FILES_PER_FOLDER == 0:
            folder = root / f"{i // FILES_PER_FOLDER:04d}"
            folder.mkdir(exist_ok=True)
        lang = "es" if rng.random() < 0.6 else "en"
        title = _title(rng, lang)
        base = "-".join(_ascii_slug(title).split("-")[:8]) or "post"
        slug = base
        n = 2
        while slug in seen:
            slug = f"{base}-{n}"
            n += 1
        seen.add(slug)
        day = dt.date.fromordinal(rng.randint(_START, _END))
        draft = rng.random() < 0.02
        front = _front_matter(rng, writer, title, day, lang, draft)
        body = _body(rng, writer, title, slug, lang, slugs[-200:])
        slugs.append(slug)
        data = f"{front}\n\n{body}".encode()
        (folder / f"{day.isoformat()}-{slug}.md").write_bytes(data)
        total += len(data)
    return total


def generate_corpus(root: pathlib.Path, count: int, seed: int = 1) -> None:
    """Write `count` posts under `root`, deterministic for `seed`, at most 500 per subfolder."""
    _write(root, count, seed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic Markdown blog corpus.")
    parser.add_argument("outdir", type=pathlib.Path, help="folder to write posts into")
    parser.add_argument("--count", type=int, required=True, help="number of posts")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    started = time.perf_counter()
    written = _write(args.outdir, args.count, args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {args.count} files, {written} bytes to {args.outdir} in {elapsed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
