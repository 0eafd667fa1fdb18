"""The served index page: one card per registered dashboard, no CDN.

Panel's own index pulls web fonts and a logo from the internet; a classroom
server may have none, so this page is plain HTML and CSS. It is written as a
Tornado template (Bokeh's server renders the index with ``prefix``), with the
registry's titles and descriptions already filled in.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from attnviz import __version__

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>attnviz · lessons</title>
<style>
  body {{ font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
         margin: 0; color: #1d1d1f; background: #fafafa; }}
  header {{ background: #1f2a44; color: #fff; padding: 1.6rem 2rem; }}
  header h1 {{ margin: 0 0 .3rem 0; font-size: 1.6rem; }}
  header p {{ margin: 0; opacity: .85; }}
  main {{ max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }}
  ul {{ list-style: none; padding: 0; display: grid; gap: 1rem;
        grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); }}
  li a {{ display: block; padding: 1rem 1.2rem; background: #fff; border-radius: 8px;
          border: 1px solid #d8dbe2; color: inherit; text-decoration: none; height: 100%;
          box-sizing: border-box; }}
  li a:hover, li a:focus {{ border-color: #0072b2; box-shadow: 0 2px 8px rgba(0,0,0,.08); }}
  li h2 {{ font-size: 1.05rem; margin: 0 0 .4rem 0; color: #0072b2; }}
  li p {{ margin: 0; font-size: .92rem; line-height: 1.35; }}
  li .lesson {{ font-size: .78rem; color: #6b6f78; margin-top: .6rem; overflow-wrap: anywhere; }}
  footer {{ text-align: center; color: #6b6f78; font-size: .8rem; margin: 2rem 0; }}
</style>
</head>
<body>
<header>
  <h1>attnviz</h1>
  <p>Interactive lessons that make attention visible. Pick a dashboard.</p>
</header>
<main>
<ul id="dashboards">
{cards}
</ul>
</main>
<footer>attnviz {version} · every figure is computed live on this server</footer>
</body>
</html>
"""

_CARD = """<li><a href="{{{{ prefix }}}}/{slug}" id="link-{slug}">
  <h2>{title}</h2>
  <p>{description}</p>
  <p class="lesson">notebook: lessons/{lesson}.ipynb</p>
</a></li>"""


def _escape(text: str) -> str:
    # html-escape, then keep Tornado from reading template syntax in our text
    return html.escape(text).replace("{", "&#123;").replace("}", "&#125;")


def render_index_template(entries: Iterable) -> str:
    """The index page as a Tornado template; ``{{ prefix }}`` is the server's URL prefix."""
    cards = "\n".join(
        _CARD.format(
            slug=entry.slug,
            title=_escape(entry.title),
            description=_escape(entry.description),
            lesson=_escape(entry.lesson),
        )
        for entry in entries
    )
    return _PAGE.format(cards=cards, version=__version__)
