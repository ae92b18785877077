"""`embrace-bench fetch-data [--dest DIR] [--part benchmark|dataset|all] [--env NAME ...]`: the EmbRACE release.

Downloads the public dataset from the Hugging Face Hub (huggingface_hub, the `[data]` extra) the way the
release's own scripts/download_data.sh does: one archive per environment under `packed/<part>/`, plus
SHA256SUMS, environments.json and pd_objects.json; unpacks the archives into DEST (`DEST/benchmark/task/...`,
`DEST/benchmark/success_region/...`, `DEST/benchmark/trajectory/...`, and `DEST/dataset/...`) and checks every
unpacked file listed in SHA256SUMS. Archives stay in DEST/.hf, so a second run downloads nothing new.
HF_ENDPOINT and HF_TOKEN are honoured as huggingface_hub reads them.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tarfile
from pathlib import Path

from embrace_bench.cli_args import OneLineParser, parse
from embrace_bench.extras import install_hint

PROG = "embrace-bench fetch-data"
REPO = "mxlin043/EmbRACE"
PARTS = ("benchmark", "dataset")
EXTRAS = ("SHA256SUMS", "environments.json", "pd_objects.json")


def patterns(parts: list[str], envs: list[str]) -> list[str]:
    return list(EXTRAS) + [f"packed/{p}/{e}.tar" for p in parts for e in (envs or ["*"])]


def download(repo: str, cache: Path, allow: list[str], endpoint: str | None) -> Path:
    from huggingface_hub import snapshot_download  # optional dependency: imported only here

    return Path(snapshot_download(repo_id=repo, repo_type="dataset", local_dir=cache, allow_patterns=allow,
                                  endpoint=endpoint))


def _safe_members(tar: tarfile.TarFile, dest: Path):
    """Refuse archive entries that would land outside DEST (absolute paths, .., links)."""
    root = dest.resolve()
    for m in tar.getmembers():
        target = (root / m.name).resolve()
        if not (target == root or root in target.parents) or m.issym() or m.islnk() or m.isdev():
            raise ValueError(f"{str(tar.name)}: unsafe entry {m.name!r}")
        yield m


def unpack(cache: Path, dest: Path, parts: list[str], envs: list[str]) -> list[Path]:
    archives = []
    for part in parts:
        found = sorted((cache / "packed" / part).glob("*.tar"))
        if envs:
            found = [a for a in found if a.stem in envs]
            absent = sorted(set(envs) - {a.stem for a in found})
            if absent and len(parts) == 1:
                raise ValueError(f"no environment {', '.join(absent)} in the {part} part "
                                 f"(see {cache}/environments.json)")
        archives += found
    if not archives:
        raise ValueError(f"nothing to unpack: no archives under {cache / 'packed'}")
    dest.mkdir(parents=True, exist_ok=True)
    for a in archives:
        with tarfile.open(a) as tar:
            tar.extractall(dest, members=list(_safe_members(tar, dest)))
    return archives


def verify(sums: Path, dest: Path) -> tuple[int, list[str]]:
    """(files checked, files whose SHA-256 differs) for the SHA256SUMS entries present under dest."""
    checked, bad = 0, []
    for line in sums.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        path = dest / name.lstrip("*")
        if not digest or not path.is_file():
            continue  # entries for parts or environments not fetched
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        checked += 1
        if h.hexdigest() != digest.lower():
            bad.append(name)
    return checked, bad


def main(argv: list[str]) -> int:
    ap = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", type=Path, default=Path("datas"), help="where to unpack (default ./datas)")
    ap.add_argument("--part", choices=("benchmark", "dataset", "all"), default="benchmark",
                    help="benchmark (the 686 scored tasks, ~1.6 GB; default), dataset (~5.8 GB) or all")
    ap.add_argument("--env", nargs="*", default=[], metavar="NAME", help="only these environments")
    ap.add_argument("--repo", default=REPO, help=f"Hugging Face dataset id (default {REPO})")
    ap.add_argument("--endpoint", default=None, help="Hub URL (default: $HF_ENDPOINT or huggingface.co)")
    args, code = parse(ap, argv)
    if args is None:
        return code
    parts = list(PARTS) if args.part == "all" else [args.part]
    cache = args.dest / ".hf"
    endpoint = args.endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    try:
        download(args.repo, cache, patterns(parts, args.env), args.endpoint)
    except ImportError:
        print(f"{PROG}: error: huggingface_hub is not installed; {install_hint('data')}", file=sys.stderr)
        return 2
    except Exception as exc:  # offline, unknown repo, rate limit...: one line, whatever the Hub library raised
        reason = " ".join(str(exc).split())[:200] or exc.__class__.__name__
        print(f"{PROG}: error: cannot download {args.repo} from {endpoint} ({exc.__class__.__name__}: {reason})",
              file=sys.stderr)
        return 1
    try:
        archives = unpack(cache, args.dest, parts, args.env)
    except (ValueError, OSError, tarfile.TarError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    checked, bad = verify(cache / "SHA256SUMS", args.dest) if (cache / "SHA256SUMS").exists() else (0, [])
    if bad:
        print(f"{PROG}: error: {len(bad)} file(s) differ from SHA256SUMS: {', '.join(bad[:5])}", file=sys.stderr)
        return 1
    print(f"unpacked {len(archives)} archive(s) into {args.dest}; {checked} file(s) match SHA256SUMS")
    if "benchmark" in parts:
        print(f"run it: python -m embrace_bench suite=embrace_release suite.path={args.dest / 'benchmark'} split=ood "
              "runner=embrace_release prompt=embrace_release env=unrealzoo env.binary=<UnrealZoo .sh> model=...")
    return 0
