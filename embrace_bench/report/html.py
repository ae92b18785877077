"""Board -> one offline HTML file: the same tables as the Markdown, plus the plots as inline SVG."""
from __future__ import annotations

from html import escape

from embrace_bench.report import plots
from embrace_bench.report.leaderboard import Board
from embrace_bench.report.tables import (
    FACT_KEYS,
    RELEASE_NOTE,
    board_metrics,
    is_release,
    overall_cells,
    overall_head,
    reference_cells,
    tag_rows,
    type_cells,
    type_groups,
)
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.tasks.model import TYPE_NAMES

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1400px;
color:#1d232b;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e3e6ea;padding-bottom:4px}
p.lead{color:#4a5562;margin:0 0 12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:12.5px}
th,td{padding:4px 8px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
th{background:#f6f7f9;font-weight:600;position:sticky;top:0}
td:first-child,th:first-child,table.t2 td:nth-child(2),table.t2 th:nth-child(2),table.t9 td,table.t9 th{text-align:left}
table.tags th{white-space:normal;min-width:64px;vertical-align:bottom}
tr.ref td{color:#66707c;font-style:italic;background:#fbfbfc}
th.grp{text-align:center;border-left:2px solid #dfe3e8}td.g0{border-left:2px solid #dfe3e8}
td.hot{background:#fde3e1}
.plot svg{max-width:100%;height:auto}
ul.notes li{color:#7a4b00}
code{background:#f3f4f6;padding:1px 4px;border-radius:3px}
"""


def _table(head: list[str], rows: list[list[str]], ref_from: int | None = None, group_cols: int = 0,
           group_head: list[str] | None = None, text_cols: int = 1) -> str:
    """`text_cols` leading columns hold text (left-aligned); the rest numbers."""
    out = [f'<div class="scroll"><table class="t{text_cols}">']
    if group_head:
        out.append("<tr><th></th>" + "".join(f'<th class="grp" colspan="{group_cols}">{escape(g)}</th>'
                                              for g in group_head) + "</tr>")
    out.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
    for i, row in enumerate(rows):
        cls = ' class="ref"' if ref_from is not None and i >= ref_from else ""
        cells = []
        for j, c in enumerate(row):
            klass = ' class="g0"' if group_cols and j >= 1 and (j - 1) % group_cols == 0 else ""
            cells.append(f"<td{klass}>{escape(str(c))}</td>")
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table></div>"


def _tag_table(board: Board, primary: bool = False) -> str:
    rows = tag_rows(board, primary)
    head = ["Model", "Type", "N", *TAG_NAMES]  # tag names may break after an underscore
    out = ['<div class="scroll"><table class="t2 tags"><tr>'
           + "".join(f"<th>{escape(h).replace('_', '_<wbr>')}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [f"<td>{escape(c)}</td>" for c in row[:3]]
        for c in row[3:]:
            hot = c not in ("-", "0") and float(c) >= 25
            cells.append(f'<td{" class=hot" if hot else ""}>{escape(c)}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table></div>"


def _plots(board: Board) -> tuple[str, str]:
    try:
        return plots.sr_per_type(board), plots.tag_rates(board)
    except plots.PlotsUnavailable as exc:
        note = f"<p><em>{escape(str(exc))}</em></p>"
        return note, note


def to_html(board: Board) -> str:
    sr_svg, tags_svg = _plots(board)
    parts = [f"<h1>Leaderboard: {escape(board.title)}</h1>",
             '<p class="lead">SR: success rate in %, with its 95% Wilson interval; GDE: final distance to the goal '
             "(cm); SSPL: success weighted by the demo length; Steps: mean actions; TR: % of episodes that hit the "
             "step limit. Episodes with errors are counted apart and excluded from every metric; metrics and tags "
             "are recomputed from the records.</p>",
             *([f"<p>{RELEASE_NOTE}</p>"] if is_release(board) else []),  # no < or &: unescaped, as always
             "<h2>Overall</h2>",
             _table(list(overall_head(board)), [overall_cells(e, is_release(board)) for e in board.entries]),
             f'<div class="plot">{sr_svg}</div>']
    for group in type_groups(board):
        names = [TYPE_NAMES.get(t, t) for t in group]
        rel, cols = is_release(board), board_metrics(board)
        rows = [[e.label] + [c for t in group for c in type_cells(e.row(t), rel)] for e in board.entries]
        rows += [[r.label] + [c for t in group for c in reference_cells(r, t, rel)] for r in board.references]
        parts += [f"<h2>{escape(' / '.join(names))}</h2>",
                  _table(["Model"] + list(cols) * len(group), rows, ref_from=len(board.entries), group_cols=len(cols),
                         group_head=names)]
    if board.references:
        parts.append(f"<p><em>Italic rows: {escape(board.reference_note)}</em></p>")
    parts += ["<h2>Failure tags (% of episodes)</h2>", _tag_table(board),
              "<h2>Primary cause of failure (% of episodes)</h2>", _tag_table(board, primary=True),
              f'<div class="plot">{tags_svg}</div>',
              f"<p>{escape(plots.type_legend())}</p>",
              "<h2>Runs</h2>",
              _table([h for _, h in FACT_KEYS], [[e.run.facts()[k] for k, _ in FACT_KEYS] for e in board.entries],
                     text_cols=len(FACT_KEYS))]
    if board.notes:
        parts += ["<h2>Notes</h2>", '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in board.notes)
                  + "</ul>"]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(board.name)} leaderboard</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
