"""Leaderboard plots with matplotlib, as inline SVG (text drawn as paths: no fonts, no external assets,
and no label can inject markup). matplotlib is imported only here, only when a plot is made."""
from __future__ import annotations

import io
import math

from embrace_bench.extras import install_hint
from embrace_bench.report.leaderboard import Board
from embrace_bench.scoring.failures import TAG_NAMES
from embrace_bench.tasks.model import TYPE_NAMES, TaskType

SHORT = {TaskType.BASIC: "Basic", TaskType.EXPLORATION: "Explor.", TaskType.SPATIAL_SEMANTIC: "Dyn. S-S",
         TaskType.MULTI_STAGE: "Multi-st.", TaskType.OPEN_DOOR: "Door", TaskType.PICK_DROP: "Pick&Drop",
         "all": "All"}


class PlotsUnavailable(RuntimeError):
    pass


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailable(f"plots need matplotlib: {install_hint('report')}") from None
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "embrace-bench", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def unavailable() -> str | None:
    """Why the plots cannot be drawn (the install that fixes it), or None when they can."""
    try:
        _plt()
    except PlotsUnavailable as exc:
        return str(exc)
    return None


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    fig.clf()
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML


def sr_per_type(board: Board) -> str:
    """Grouped bars: SR per type and overall for every run, 95% Wilson intervals as error bars; the
    published rows (if any) as grey markers."""
    plt = _plt()
    types = [*board.types(), "all"]
    n = max(1, len(board.entries))
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(types) + 0.4 * n), 3.4))
    for i, e in enumerate(board.entries):
        xs, ys, lo, hi = [], [], [], []
        for j, t in enumerate(types):
            r = e.row(t)
            if r is None or math.isnan(r.sr):
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(100 * r.sr)
            lo.append(max(0.0, 100 * (r.sr - r.sr_ci[0])))  # rounding can put a bound a hair past SR
            hi.append(max(0.0, 100 * (r.sr_ci[1] - r.sr)))
        ax.bar(xs, ys, width * 0.92, yerr=[lo, hi], capsize=2, label=e.label, error_kw={"lw": 0.8})
    for k, ref in enumerate(board.references):
        pts = [(j, 100 * ref.by_type[t]["sr"]) for j, t in enumerate(types) if t in ref.by_type]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="_", s=120, color="0.35", zorder=3,
                       label="published rows (Unreal maps)" if k == 0 else None)
    ax.set_xticks(range(len(types)), [SHORT.get(t, t) for t in types])
    ax.set_ylabel("SR (%)")
    ax.set_ylim(0, 105)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=7, ncol=min(4, n + bool(board.references)), loc="upper center", bbox_to_anchor=(0.5, -0.12),
              frameon=False)
    ax.set_title(f"Success rate per type, {board.title} (bars: 95% Wilson interval)", fontsize=9)
    return _svg(fig)


def tag_rates(board: Board) -> str:
    """One heat map per run: tag (rows) x type (columns), the share of episodes carrying the tag."""
    plt = _plt()
    types = [*board.types(), "all"]
    n = max(1, len(board.entries))
    fig, axes = plt.subplots(1, n, figsize=(0.55 * len(types) * n + 2.2, 3.6), squeeze=False, sharey=True)
    for ax, e in zip(axes[0], board.entries):
        grid = [[e.tag_rate(t, tag) for t in types] for tag in TAG_NAMES]
        vals = [[0.0 if math.isnan(v) else v for v in row] for row in grid]
        ax.imshow(vals, cmap="Reds", vmin=0, vmax=1, aspect="auto")
        for y, row in enumerate(grid):
            for x, v in enumerate(row):
                if not math.isnan(v) and v > 0:
                    ax.text(x, y, f"{100 * v:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if v > 0.6 else "black")
        ax.set_xticks(range(len(types)), [SHORT.get(t, t) for t in types], rotation=60, ha="right", fontsize=7)
        ax.set_title(e.label, fontsize=8)
    axes[0][0].set_yticks(range(len(TAG_NAMES)), TAG_NAMES, fontsize=7)
    fig.suptitle(f"Failure tags (% of episodes), {board.title}", fontsize=9)
    return _svg(fig)


def type_legend() -> str:
    return ", ".join(f"{SHORT[t]} = {name}" for t, name in TYPE_NAMES.items() if SHORT.get(t) != name)
