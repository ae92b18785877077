"""Board -> Markdown, CSV and LaTeX. One set of column definitions (`cells`) feeds all three and the HTML."""
from __future__ import annotations

import math

import pandas as pd

from embrace_bench.report.leaderboard import Board, Entry, Reference
from embrace_bench.scoring.aggregate import Row, type_name
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.scoring.scan import TAG_COLUMNS
from embrace_bench.tasks.model import NAVIGATION_TYPES, TYPE_NAMES

METRICS = ("SR", "GDE", "SSPL", "Steps", "TR")
# Boards of the release's own tasks add its SPL and OS (scoring/release.py), and count what it cannot score.
RELEASE_SUITE = "embrace_release"
RELEASE_METRICS = ("SPL", "OS")
RELEASE_OVERALL_HEAD = ("SPL", "OS %", "Unscorable")
RELEASE_CSV_HEAD = ["n_unscorable", "spl", "spl_lo", "spl_hi", "os", "os_lo", "os_hi"]
RELEASE_NOTE = ("SPL: the release's success weighted by the shortest path (area.json) over the walked XY path; "
                "OS: % of episodes that reached the goal state at some step; Unscorable: episodes the release's "
                "scorer cannot score (no reference height or shortest path), excluded from every metric.")
OVERALL_HEAD = ("Model", "N", "Errors", "SR % (95% CI)", "GDE (cm)", "SSPL", "Steps", "TR %", "Cost / success",
                "Tokens / step (in / out)", "Latency p50 / p95 (s)")
FACT_KEYS = (("model", "Model"), ("snapshot", "Snapshot (adapter)"), ("prompt", "Prompt"), ("suite_hash", "Suite hash"),
             ("split", "Run split"), ("harness", "Harness"), ("git_sha", "Git SHA"), ("started", "Started (UTC)"),
             ("run", "Run dir"))


# ---- cell formatting ------------------------------------------------------------------------------
def is_release(board: Board) -> bool:
    return board.suite == RELEASE_SUITE


def board_metrics(board: Board) -> tuple[str, ...]:
    """The per-type columns of a board: the paper's five, then the release's two on its boards."""
    return METRICS + RELEASE_METRICS if is_release(board) else METRICS


def overall_head(board: Board) -> tuple[str, ...]:
    return OVERALL_HEAD + RELEASE_OVERALL_HEAD if is_release(board) else OVERALL_HEAD


def pct(x: float, digits: int = 1) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.{digits}f}"


def num(x: float, fmt: str = "{:.1f}") -> str:
    return "-" if x is None or math.isnan(x) else fmt.format(x)


def sr_ci(row: Row | None) -> str:
    if row is None or math.isnan(row.sr):
        return "-"
    return f"{100 * row.sr:.1f} ({100 * row.sr_ci[0]:.0f}–{100 * row.sr_ci[1]:.0f})"


def type_cells(row: Row | None, release: bool = False) -> list[str]:
    """SR (with its Wilson interval), GDE, SSPL, Steps, TR: the paper's five columns for one type; `release`
    adds the release's SPL and OS."""
    if row is None:
        return ["-"] * (7 if release else 5)
    extra = [num(row.spl, "{:.3f}"), pct(row.os)] if release else []
    return [sr_ci(row), num(row.gde), num(row.sspl, "{:.3f}"), num(row.steps), pct(row.tr), *extra]


def reference_cells(ref: Reference, type_: str, release: bool = False) -> list[str]:
    m = ref.by_type.get(type_)
    extra = ["-", "-"] if release else []  # the paper publishes no SPL / OS
    if not m:
        return ["-"] * 5 + extra
    return [pct(m["sr"]), num(m["gde"]), num(m["sspl"], "{:.3f}"), num(m["steps"]), pct(m["tr"]), *extra]


def money(x: float) -> str:
    return "-" if math.isnan(x) else f"${x:.4f}" if x < 1 else f"${x:.2f}"


def overall_cells(e: Entry, release: bool = False) -> list[str]:
    r = e.row("all")
    n_err = r.n_errors if r else 0
    tok = "-" if math.isnan(e.tokens_in_per_step) else f"{e.tokens_in_per_step:.0f} / {e.tokens_out_per_step:.0f}"
    lat = "-" if math.isnan(e.latency_p50) else f"{e.latency_p50:.2f} / {e.latency_p95:.2f}"
    cps = money(e.cost_per_success)
    if math.isnan(e.cost_per_success) and e.cost_usd:
        cps = f"{money(e.cost_usd)} spent, no success"
    extra = ([num(r.spl, "{:.3f}"), pct(r.os), str(r.n_unscorable)] if r else ["-", "-", "0"]) if release else []
    return [e.label, str(r.n if r else 0), str(n_err), sr_ci(r), num(r.gde) if r else "-",
            num(r.sspl, "{:.3f}") if r else "-", num(r.steps) if r else "-", pct(r.tr) if r else "-", cps, tok, lat,
            *extra]


def type_groups(board: Board) -> list[list[str]]:
    """The paper's two tables: Basic / Exploration / Dyn. Spatial-Semantic, then Multi-stage / Door / P&D."""
    types = board.types()
    nav = [t for t in types if t in NAVIGATION_TYPES]
    return [g for g in (nav, [t for t in types if t not in NAVIGATION_TYPES]) if g]


PRIMARY_COLUMNS = tuple(f"primary_{t}" for t in TAG_NAMES)


def tag_frame(board: Board) -> pd.DataFrame:
    """Tag rates of every run on the board, long: one row per run x type present (then "all"), with the
    episodes counted (N), per tag the share of episodes carrying it (tag_<name>) and the share whose primary
    failure cause it is (primary_<name>)."""
    types = [*board.types(), "all"]
    cols = ["model", "type", "n", *TAG_COLUMNS, *PRIMARY_COLUMNS]
    parts = [e.tag_rates.reindex([t for t in types if e.n_by_type.get(t)])
             .assign(model=e.label, n=lambda f, e=e: [e.n_by_type[t] for t in f.index]) for e in board.entries]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts).rename_axis("type").reset_index()[cols]


def tag_rows(board: Board, primary: bool = False) -> list[list[str]]:
    """Per run and type, the share of episodes carrying each tag (primary: whose primary cause it is)."""
    f = tag_frame(board)
    cells = f[list(PRIMARY_COLUMNS if primary else TAG_COLUMNS)].map(lambda x: pct(x, 0))
    names = f["type"].map(type_name)
    return pd.concat([f["model"], names, f["n"].astype(str), cells], axis=1).values.tolist()


# ---- Markdown ---------------------------------------------------------------------------------------
def md_cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(md_cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return out


def to_markdown(board: Board) -> str:
    lines = [f"# Leaderboard: {board.title}", "",
             "SR: success rate in %, with its 95% Wilson interval; GDE: final distance to the goal (cm); SSPL: "
             "success weighted by the demo length; Steps: mean actions; TR: % of episodes that hit the step limit. "
             "Episodes with errors are counted apart and excluded from every metric. Generated by "
             "`embrace-bench leaderboard` from the runs' records (metrics and tags recomputed offline).", "",
             "## Overall", ""]
    rel = is_release(board)
    if rel:
        lines[2] += " " + RELEASE_NOTE
    lines += _md_table(list(overall_head(board)), [overall_cells(e, rel) for e in board.entries])
    for group in type_groups(board):
        lines += ["", "## " + " / ".join(TYPE_NAMES.get(t, t) for t in group), ""]
        head = ["Model"] + [f"{TYPE_NAMES.get(t, t)} {m}" if m == "SR" else m
                            for t in group for m in board_metrics(board)]
        rows = [[e.label] + [c for t in group for c in type_cells(e.row(t), rel)] for e in board.entries]
        rows += [[f"*{r.label}*"] + [c for t in group for c in reference_cells(r, t, rel)] for r in board.references]
        lines += _md_table(head, rows)
    if board.references:
        lines += ["", f"*Italic rows:* {board.reference_note}"]
    lines += ["", "## Failure tags (% of episodes)", ""]
    lines += _md_table(["Model", "Type", "N", *TAG_NAMES], tag_rows(board))
    lines += ["", "## Primary cause of failure (% of episodes; one per failed episode)", ""]
    lines += _md_table(["Model", "Type", "N", *TAG_NAMES], tag_rows(board, primary=True))
    lines += ["", "## Runs", ""]
    lines += _md_table([h for _, h in FACT_KEYS], [[e.run.facts()[k] for k, _ in FACT_KEYS] for e in board.entries])
    if board.notes:
        lines += ["", "## Notes", ""] + [f"- {md_cell(n)}" for n in board.notes]
    return "\n".join(lines) + "\n"


# ---- CSV (long: one row per run or reference x type) ------------------------------------------------
CSV_HEAD = ["suite", "split", "model", "reference", "type", "type_name", "n", "n_errors", "n_success",
            "sr", "sr_lo", "sr_hi", "gde", "gde_lo", "gde_hi", "sspl", "sspl_lo", "sspl_hi", "steps", "steps_lo",
            "steps_hi", "tr", "tr_lo", "tr_hi", *TAG_COLUMNS, *PRIMARY_COLUMNS, "cost_usd", "cost_per_success",
            "tokens_in_per_step", "tokens_out_per_step", "latency_p50_s", "latency_p95_s",
            *[k for k, _ in FACT_KEYS if k != "model"]]


def board_frame(board: Board) -> pd.DataFrame:
    """The board as numbers, long: one row per run x type (then "all"), then the published references; the
    columns of CSV_HEAD, and RELEASE_CSV_HEAD on a release board (nan where a value does not apply)."""
    nan = math.nan
    rel = is_release(board)
    rows = []
    for e in board.entries:
        facts = e.run.facts()
        spend = [e.cost_usd, e.cost_per_success, e.tokens_in_per_step, e.tokens_out_per_step, e.latency_p50,
                 e.latency_p95]
        for t in [*board.types(), "all"]:
            r = e.row(t)
            if r is not None:
                rows.append([board.suite, board.split, e.label, 0, t, r.type_name, r.n, r.n_errors, r.n_success,
                             r.sr, *r.sr_ci, r.gde, *r.gde_ci, r.sspl, *r.sspl_ci, r.steps, *r.steps_ci, r.tr,
                             *r.tr_ci, *[e.tag_rate(t, tag) for tag in TAG_NAMES],
                             *[e.primary_rate(t, tag) for tag in TAG_NAMES],
                             *(spend if t == "all" else [nan] * 6), *[facts[k] for k, _ in FACT_KEYS if k != "model"],
                             *([r.n_unscorable, r.spl, *r.spl_ci, r.os, *r.os_ci] if rel else [])])
    for ref in board.references:
        for t, m in ref.by_type.items():
            rows.append([board.suite, board.split, ref.label, 1, t, TYPE_NAMES.get(t, t), None, None, None,
                         m["sr"], nan, nan, m["gde"], nan, nan, m["sspl"], nan, nan, m["steps"], nan, nan, m["tr"],
                         nan, nan, *[nan] * (2 * len(TAG_NAMES)), *[nan] * 6, *[""] * (len(FACT_KEYS) - 1),
                         *([None] + [nan] * 6 if rel else [])])
    frame = pd.DataFrame(rows, columns=CSV_HEAD + (RELEASE_CSV_HEAD if rel else []))
    return frame.astype({c: "Int64" for c in ("n", "n_errors", "n_success", "n_unscorable") if c in frame})


def to_csv(board: Board) -> str:
    return board_frame(board).to_csv(index=False, lineterminator="\n", float_format="%.6g")


# ---- LaTeX (booktabs) ---------------------------------------------------------------------------------
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--"}


def tex(text: str) -> str:
    return "".join(_TEX.get(c, c) for c in str(text))


def _tex_table(caption: str, label: str, colspec: str, head: list[str], rows: list[list[str]]) -> list[str]:
    out = [r"\begin{table}[t]", r"\centering", r"\scriptsize", rf"\caption{{{caption}}}", rf"\label{{{label}}}",
           rf"\begin{{tabular}}{{{colspec}}}", r"\toprule"] + head + [r"\midrule"]
    out += [" & ".join(row) + r" \\" for row in rows]
    return out + [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]


def to_latex(board: Board) -> str:
    """Requires \\usepackage{booktabs}. Reference rows are in italics."""
    name = tex(board.title)
    out = [f"% {board.name}: generated by embrace-bench leaderboard; needs \\usepackage{{booktabs}}", ""]
    rel, k_m = is_release(board), len(board_metrics(board))
    keep = [*range(9), *range(len(OVERALL_HEAD), len(overall_head(board)))]  # no tokens / latency columns
    head = [" & ".join(tex(overall_head(board)[j]) for j in keep) + r" \\"]
    rows = [[tex(overall_cells(e, rel)[j]) for j in keep] for e in board.entries]
    out += _tex_table(f"Overall results, {name}. SR in \\% with 95\\% Wilson interval.",
                      f"tab:{board.name}-overall", "l" + "r" * (len(keep) - 1), head, rows)
    for i, group in enumerate(type_groups(board)):
        head = [" & " + " & ".join(rf"\multicolumn{{{k_m}}}{{c}}{{{tex(TYPE_NAMES.get(t, t))}}}" for t in group)
                + r" \\",
                "".join(rf"\cmidrule(lr){{{2 + k_m * k}-{1 + k_m * (k + 1)}}}" for k in range(len(group))),
                "Model & " + " & ".join(board_metrics(board) * len(group)).replace("SR", "SR (\\%)") + r" \\"]
        rows = [[tex(e.label)] + [tex(c) for t in group for c in type_cells(e.row(t), rel)] for e in board.entries]
        rows += [[rf"\textit{{{tex(r.label)}}}"] + [rf"\textit{{{tex(c)}}}" for t in group
                                                     for c in reference_cells(r, t, rel)] for r in board.references]
        caption = f"Per type, {name}." + (f" Italic rows: {tex(board.reference_note)}" if board.references else "")
        out += _tex_table(caption, f"tab:{board.name}-types{i + 1}", "l" + "r" * (k_m * len(group)), head, rows)
    head = ["Model & Type & N & " + " & ".join(tex(t.replace("_", " ")) for t in TAG_NAMES) + r" \\"]
    rows = [[tex(c) for c in row] for row in tag_rows(board)]
    out += _tex_table(f"Failure tags (\\% of episodes), {name}.", f"tab:{board.name}-tags",
                      "llr" + "r" * len(TAG_NAMES), head, rows)
    rows = [[tex(c) for c in row] for row in tag_rows(board, primary=True)]
    out += _tex_table(f"Primary cause of failure (\\% of episodes), {name}.", f"tab:{board.name}-primary",
                      "llr" + "r" * len(TAG_NAMES), head, rows)
    return "\n".join(out)
