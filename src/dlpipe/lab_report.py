"""The lab report: one HTML page over everything a run left in reports/, readable offline.

Every figure is a relative link to a PNG the stages wrote beside it, so the page opens from disk
with no network and never goes out of date against the files it shows; nothing is fetched from
elsewhere (no script, font or style sheet from a CDN). Markdown the stages wrote (diagnoses, the
claims table) is rendered with markdown-it, HTML in it escaped. The page holds no time stamp:
the same reports make the same page, so DVC sees nothing new in a rerun that changed nothing.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable
from pathlib import Path

from dlpipe import disk, paths
from dlpipe.tasks import FAMILIES

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td { text-align: right; } td:first-child, td.text { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 560px; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: bold; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
"""
# figures first in a model's section, in this order; the family's other PNGs follow by name
FIRST_FIGURES = ("history.png", "confusion.png", "boxes.png", "points.png", "roc.png")


def _figure(file: Path, caption: str | None = None) -> str:
    link = html.escape(file.relative_to(paths.REPORTS).as_posix())  # the page lies in reports/
    text = html.escape(caption or file.name)
    return f'<figure><img src="{link}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _folded(title: str, text: str) -> str:
    """A file's text, shown on a click."""
    return f"<details><summary>{html.escape(title)}</summary><pre>{html.escape(text)}</pre></details>"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    """Cells are HTML already (escaped, or a link)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(column: str, text: str) -> str:
    """A CSV cell as leaderboard.md shows it."""
    from dlpipe.stages.leaderboard import cell

    if column in ("model", "architecture") or not text:
        return html.escape(text or "–")
    whole = column in ("rank", "parameters", "macs_per_image")
    return html.escape(cell(column, int(text) if whole else float(text)))


def _leaderboard(family: str, links: dict[str, str]) -> str:
    path = paths.leaderboard_csv(family)
    if not path.exists():
        return f"<p>No leaderboard yet ({html.escape(str(path))} is missing).</p>"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0]) if rows else []

    def cells(row: dict[str, str]) -> list[str]:
        shown = []
        for column in header:
            value = row[column]
            if column == "model" and value in links:
                shown.append(f'<a href="{html.escape(links[value])}">{html.escape(value)}</a>')
            else:
                shown.append(_cell(column, value))
        return shown

    return _table(header, (cells(row) for row in rows))


def _model_section(name: str, links: dict[str, str]) -> str:
    folder = paths.report_dir(name)
    order = {name: rank for rank, name in enumerate(FIRST_FIGURES)}
    figures = sorted(folder.glob("*.png"), key=lambda f: (order.get(f.name, len(order)), f.name))
    parts = [f"<details><summary>{html.escape(name)}</summary>"]
    if name in links:
        parts.append(f'<p><a href="{html.escape(links[name])}">its MLflow run</a></p>')
    diagnosis = folder / paths.DIAGNOSIS_MD
    if diagnosis.exists():
        parts.append(_markdown(diagnosis.read_text()))
    parts += [_figure(figure) for figure in figures]
    parts.append("</details>")
    return "\n".join(parts)


def _family_section(family: str, models: list[str], links: dict[str, str]) -> str:
    title = FAMILIES[family].title
    parts = [f'<section id="{family}"><h2>{html.escape(title)}</h2>', _leaderboard(family, links)]
    figures = [paths.leaderboard_png(family), paths.augment_preview(family)]
    parts += [_figure(figure) for figure in figures if figure.exists()]
    split = paths.split_report(family)
    if split.exists():
        parts.append(_folded("the split", split.read_text()))
    parts += [_model_section(name, links) for name in models]
    parts.append("</section>")
    return "\n".join(parts)


def _folder_section(anchor: str, title: str, folder: Path, texts: tuple[str, ...]) -> str | None:
    """A stage's own folder (transfer, style, a tuning study, the claims): its texts, its PNGs."""
    if not folder.exists():
        return None
    parts = [f'<section id="{anchor}"><h2>{html.escape(title)}</h2>']
    for name in texts:
        file = folder / name
        if not file.exists():
            continue
        if file.suffix == ".md":
            parts.append(_markdown(file.read_text()))
        else:
            parts.append(_folded(name, file.read_text()))
    parts += [_figure(figure) for figure in sorted(folder.glob("*.png"))]
    for page in sorted(folder.glob("*.html")):  # plotly's (a tuning study's), beside their script
        link = html.escape(page.relative_to(paths.REPORTS).as_posix())
        parts.append(f'<p><a href="{link}">{html.escape(page.name)}</a> (interactive)</p>')
    parts.append("</section>")
    return "\n".join(parts)


def page(models: dict[str, list[str]], links: dict[str, str], mlflow_ui: str, how: str) -> str:
    """The page for ``models`` (family -> model names) with each model's MLflow link; ``how``:
    what serves ``mlflow_ui`` (a command, or the tracking server)."""
    sections: list[tuple[str, str, str]] = []  # (anchor, title, html)
    for family, names in models.items():
        if names:
            sections.append((family, FAMILIES[family].title, _family_section(family, names, links)))
    extras = [
        ("transfer", "Transfer learning", paths.TRANSFER_METRICS.parent, (paths.METRICS,)),
        ("style", "Neural style transfer", paths.STYLE, (paths.METRICS,)),
        ("claims", "The course's claims, measured", paths.CLAIMS, (paths.CLAIMS_TABLE.name,)),
    ]
    extras += [
        (f"tune-{folder.name}", f"Tuning study: {folder.name}", folder, ("best_params.yaml", "study.json"))
        for folder in sorted(paths.TUNE_REPORTS.glob("*"))
        if folder.is_dir()
    ]
    for anchor, title, folder, texts in extras:
        made = _folder_section(anchor, title, folder, texts)
        if made is not None:
            sections.append((anchor, title, made))
    contents = "".join(f'<a href="#{anchor}">{html.escape(title)}</a>' for anchor, title, _ in sections)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            "<title>dlpipe lab report</title>",
            f"<style>{STYLE}</style></head><body>",
            "<h1>dlpipe lab report</h1>",
            "<p>Written by the <code>lab_report</code> stage from the files in this folder. The model "
            "links open each model's run in the MLflow UI at "
            f"<code>{html.escape(mlflow_ui)}</code> (<code>{html.escape(how)}</code>).</p>",
            f"<nav>{contents}</nav>",
            *(made for _, _, made in sections),
            "</body></html>",
        ]
    )


def write(models: dict[str, list[str]], links: dict[str, str], mlflow_ui: str, how: str) -> None:
    disk.write_text(paths.LAB_REPORT, page(models, links, mlflow_ui, how))
