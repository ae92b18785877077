"""How far the failure tagger agrees with labels a person gave by eye (issue 13): per-tag precision and
recall, for "any" tags and for the primary cause, each labels file (the tuned part, the untouched part) apart.

    python bench/tag_agreement.py                       # the bundled set: tests/fixtures/tag_labels
    python bench/tag_agreement.py --runs RUN_DIR... --labels labels_tuned.jsonl --labels labels_untouched.jsonl
    python bench/tag_agreement.py --json
    python bench/tag_agreement.py --between labels_overlap_a.jsonl labels_fresh_b.jsonl [--between ...]

Labels are JSONL, one episode a line: {"episode": "<run dir name>/<task_id>", "tags": [...], "primary": "<tag>",
"why": "<one line>"}. The runs' records are re-tagged with the current tagger at its default thresholds
(config group `tags`, overridable with --tags key=value), pixel counts scaled to each run's frame size.
Precision: the share of the tagger's tags a person gave too; recall: the share of the person's tags the
tagger gave. A tag with fewer than --min-examples labelled episodes in a part is printed but marked as too few to judge.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from embrace_bench.report.runs import frame_size, load_run
from embrace_bench.scoring.failures import TAG_NAMES, TagThresholds, tag_episode
from embrace_bench.scoring.primary import primary_of

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tag_labels"

class LabelError(ValueError):
    pass


@dataclass
class Label:
    episode: str
    tags: set[str]
    primary: str
    why: str


def parse_label(line: str, where: str) -> Label:
    """One label line checked: known tag names, primary among the tags, a one-line why; one-line errors."""
    try:
        d = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(d, dict) or not isinstance(d.get("episode"), str) or "/" not in d["episode"]:
        raise LabelError(f"{where}: needs \"episode\": \"<source>/<task_id>\"")
    tags, primary, why = d.get("tags"), d.get("primary"), d.get("why")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise LabelError(f"{where}: \"tags\" must be a non-empty list of tag names")
    unknown = [t for t in tags + [primary] if t not in TAG_NAMES]
    if unknown:
        raise LabelError(f"{where}: unknown tag {unknown[0]!r}; known: {', '.join(TAG_NAMES)}")
    if primary not in tags:
        raise LabelError(f"{where}: primary {primary!r} is not among its tags")
    if not isinstance(why, str) or not why.strip() or "\n" in why:
        raise LabelError(f"{where}: \"why\" must be one non-empty line")
    return Label(d["episode"], set(tags), primary, why)


def read_labels(path: Path) -> list[Label]:
    """Every line checked (`parse_label`), each episode labelled once."""
    out, seen = [], set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        label = parse_label(line, f"{path}:{n}")
        if label.episode in seen:
            raise LabelError(f"{path}:{n}: episode {label.episode} labelled twice")
        seen.add(label.episode)
        out.append(label)
    return out


def predictions(runs: list[Path], th: TagThresholds) -> dict[str, tuple[set[str], str | None]]:
    """episode -> (tag names, primary or None) from the current tagger."""
    out = {}
    for run_dir in runs:
        run = load_run(run_dir, keep=lambda i: True)  # every full record, not only the report rows
        scaled = th.for_frame(*frame_size(run.manifest))
        for r in run.records.values():
            r.tags = tag_episode(r, scaled)
            names = {t["name"] for t in r.tags}
            out[f"{Path(run_dir).name}/{r.task_id}"] = (names, primary_of(r.tags))
    return out


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def agreement(labels: list[Label], pred: dict[str, tuple[set[str], str | None]]) -> dict:
    missing = [lb.episode for lb in labels if lb.episode not in pred]
    if missing:
        raise LabelError(f"{len(missing)} labelled episode(s) not in the runs, e.g. {missing[0]}")
    rows = {}
    for kind in ("any", "primary"):
        per = {}
        for tag in TAG_NAMES:
            if kind == "any":
                lab = {lb.episode for lb in labels if tag in lb.tags}
                got = {lb.episode for lb in labels if tag in pred[lb.episode][0]}
            else:
                lab = {lb.episode for lb in labels if lb.primary == tag}
                got = {lb.episode for lb in labels if pred[lb.episode][1] == tag}
            both = len(lab & got)
            per[tag] = {"labelled": len(lab), "tagged": len(got), "agreed": both,
                        "precision": _ratio(both, len(got)), "recall": _ratio(both, len(lab))}
        rows[kind] = per
    exact = sum(pred[lb.episode][0] == lb.tags for lb in labels)
    prim = sum(pred[lb.episode][1] == lb.primary for lb in labels)
    return {"episodes": len(labels), "rows": rows, "exact_tag_sets": exact, "primary_agreed": prim}


def between(first: list[Label], second: list[Label]) -> dict:
    """How far two people agree on the episodes both labelled: per tag, how many episodes each gave it, how
    many both did, and their positive agreement (2 x both / (first + second): 1 when they gave it to the same
    episodes; symmetric, unlike precision and recall); the share of identical primaries and tag sets."""
    other = {lb.episode: lb for lb in second}
    pairs = [(lb, other[lb.episode]) for lb in first if lb.episode in other]
    if not pairs:
        raise LabelError("the two labels files share no episode")
    per = {}
    for tag in TAG_NAMES:
        a = sum(tag in x.tags for x, _ in pairs)
        b = sum(tag in y.tags for _, y in pairs)
        both = sum(tag in x.tags and tag in y.tags for x, y in pairs)
        per[tag] = {"first": a, "second": b, "both": both, "agreement": _ratio(2 * both, a + b)}
    return {"episodes": len(pairs), "rows": per, "primary_agreed": sum(x.primary == y.primary for x, y in pairs),
            "exact_tag_sets": sum(x.tags == y.tags for x, y in pairs)}


def between_markdown(name: str, res: dict) -> str:
    n = res["episodes"]
    lines = [f"### {name}: {n} episodes labelled by both", "",
             f"Same primary cause {res['primary_agreed']}/{n}; identical tag sets {res['exact_tag_sets']}/{n}.", "",
             "| Tag | first gave it | second gave it | both | agreement |", "|---|---|---|---|---|"]
    for tag, r in res["rows"].items():
        if r["first"] or r["second"]:
            lines.append(f"| {tag} | {r['first']} | {r['second']} | {r['both']} | {_f(r['agreement'])} |")
    return "\n".join(lines)


def _between_main(pairs: list[list[Path]], as_json: bool) -> int:
    """--between: person against person, each pair apart and all pairs pooled."""
    try:
        sets = [(read_labels(a), read_labels(b), f"{a.stem} vs {b.stem}") for a, b in pairs]
        results = {name: between(a, b) for a, b, name in sets}
        if len(sets) > 1:
            results["all pairs"] = between([x for a, _, _ in sets for x in a], [y for _, b, _ in sets for y in b])
    except (LabelError, OSError) as exc:
        print(f"tag_agreement: error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(_no_nan(results), indent=1))
    else:
        print("\n\n".join(between_markdown(name, res) for name, res in results.items()))
    return 0


def _f(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}"


def markdown(name: str, res: dict, min_examples: int) -> str:
    n = res["episodes"]
    lines = [f"### {name}: {n} labelled episodes", "",
             f"Primary cause agreed on {res['primary_agreed']}/{n}; "
             f"identical tag sets {res['exact_tag_sets']}/{n}.", "",
             "| Tag | labelled (any) | tagged | precision | recall "
             "| labelled (primary) | tagged | precision | recall |",
             "|---|---|---|---|---|---|---|---|---|"]
    for tag in TAG_NAMES:
        a, p = res["rows"]["any"][tag], res["rows"]["primary"][tag]
        if not (a["labelled"] or a["tagged"]):
            continue
        few = " (few)" if a["labelled"] < min_examples else ""
        lines.append(f"| {tag}{few} | {a['labelled']} | {a['tagged']} | {_f(a['precision'])} | {_f(a['recall'])} "
                     f"| {p['labelled']} | {p['tagged']} | {_f(p['precision'])} | {_f(p['recall'])} |")
    return "\n".join(lines)


def _overrides(items: list[str]) -> dict:
    out = {}
    for kv in items:
        key, sep, value = kv.partition("=")
        try:
            out[key] = float(value) if sep else None
        except ValueError:
            out[key] = None
        if out[key] is None:
            raise ValueError(f"--tags wants KEY=NUMBER, not {kv!r}")
    return out


def _no_nan(x):
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    return None if isinstance(x, float) and math.isnan(x) else x


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", type=Path, help=f"run directories (default: {FIXTURE}/runs/*)")
    ap.add_argument("--labels", action="append", type=Path,
                    help="a labels file (repeatable; default: the bundled tuned and untouched files)")
    ap.add_argument("--min-examples", type=int, default=5, help="fewer labelled episodes: marked (few)")
    ap.add_argument("--tags", nargs="*", default=[], metavar="KEY=VALUE",
                    help="threshold overrides, e.g. seen_min_extent_px=20")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--disagreements", action="store_true",
                    help="also list each episode whose tags or primary differ "
                         "(for tuning: never on the untouched part)")
    ap.add_argument("--between", nargs=2, action="append", type=Path, metavar=("FIRST", "SECOND"),
                    help="agreement between two people's labels files on the episodes both labelled (repeatable: "
                         "each pair apart, then pooled); no tagger involved")
    a = ap.parse_args(argv)
    if a.between:
        return _between_main(a.between, a.json)
    runs = a.runs or sorted(p for p in (FIXTURE / "runs").iterdir() if p.is_dir())
    files = a.labels or [p for p in (FIXTURE / "labels_tuned.jsonl", FIXTURE / "labels_untouched.jsonl") if p.exists()]
    try:
        th = TagThresholds.from_config(_overrides(a.tags))
        pred = predictions(runs, th)
        labels = {f.stem: read_labels(f) for f in files}
        results = {name: agreement(lbs, pred) for name, lbs in labels.items()}
    except (LabelError, OSError, ValueError) as exc:
        print(f"tag_agreement: error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(_no_nan(results), indent=1))
    else:
        print("\n\n".join(markdown(name, res, a.min_examples) for name, res in results.items()))
    if a.disagreements:
        for name, lbs in labels.items():
            for lb in lbs:
                tags, primary = pred[lb.episode]
                if tags != lb.tags or primary != lb.primary:
                    print(f"{name} {lb.episode}: label {sorted(lb.tags)} primary {lb.primary} | tagger "
                          f"{sorted(tags)} primary {primary} | why: {lb.why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
