"""From a composed Hydra config to a finished run: suite, agent, engines, records, the end-of-run table."""
from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from embrace_bench.env.engines import engine_factory, env_config
from embrace_bench.episode import EpisodeSettings
from embrace_bench.models.registry import UnknownAdapter, check_model, make_agent
from embrace_bench.prompts import PromptConfig
from embrace_bench.scoring.failures import TagThresholds
from embrace_bench.tasks.suite import EMBEDDED_DIR, Suite, SuiteError, load_embedded, select, split_names


def load_suite(cfg: DictConfig) -> Suite:
    splits = split_names(cfg.split.name)
    if OmegaConf.is_missing(cfg.suite, "path"):
        raise SuiteError(f"suite={cfg.suite.name} needs suite.path=<the folder holding its tasks>")
    if cfg.suite.name == "embedded":
        suite = load_embedded(splits, Path(cfg.suite.path) if cfg.suite.path else EMBEDDED_DIR)
    elif cfg.suite.name == "embrace_v1":
        from embrace_bench.tasks.embrace_v1 import load_v1

        if len(splits) != 1:
            raise SuiteError("suite=embrace_v1 reads one folder: pick split=id or split=ood")
        suite = load_v1(Path(cfg.suite.path), splits[0])
    elif cfg.suite.name == "embrace_release":
        from embrace_bench.tasks.embrace_release import SPLIT, load_release

        if SPLIT not in splits:
            raise SuiteError(f"suite=embrace_release holds only held-out maps: use split={SPLIT} (or all)")
        suite = load_release(Path(cfg.suite.path), cfg.suite.get("z_tolerance_cm"))
    else:
        raise SuiteError(f"unknown suite {cfg.suite.name!r}")
    suite.tasks = [t for t in suite.tasks if t.split in splits]
    suite.tasks = select(suite.tasks, limit=cfg.suite.limit, types=cfg.suite.types,
                         ids=list(cfg.suite.ids) if cfg.suite.ids else None)
    if not suite.tasks:
        raise SuiteError("the suite selection is empty (check suite.types / suite.ids / split)")
    return suite


def check_maps(suite: Suite, env_kind: str) -> None:
    """The embedded world has only its own maps: a suite on UnrealZoo's maps needs env=unrealzoo."""
    if env_kind != "embedded":
        return
    from embrace_bench.world.engine import MAPS_DIR

    missing = sorted({t.map for t in suite.tasks} - {p.stem for p in MAPS_DIR.glob("*.json")})
    if missing:
        raise SuiteError(f"the embedded world has no map {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}; "
                         "run this suite with env=unrealzoo")


def check_runner(r) -> None:
    """Values Hydra accepts but a run cannot use: one line naming the setting."""
    for key, lo in (("max_steps", 1), ("workers", 1), ("reask", 0), ("seed", 0)):
        v = r[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise SuiteError(f"runner.{key} must be an integer >= {lo}, not {v!r}")
    if r.backend != "local":
        raise SuiteError(f"runner.backend={r.backend} is not available yet; use local")


def run_from_config(cfg: DictConfig) -> int:
    from hydra.core.hydra_config import HydraConfig

    from embrace_bench.runner import RunSpec, run
    from embrace_bench.scoring.metrics import aggregate
    from embrace_bench.scoring.rescore import format_table
    from embrace_bench.records import read_records

    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 110)  # logs and CI: keep the end-of-run table on one line per row
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        check_runner(cfg.runner)
        make_engine = engine_factory(cfg.env, run_dir, workers=cfg.runner.workers)
        suite = load_suite(cfg)
        check_maps(suite, cfg.env.kind)
        model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        problem = check_model(model_cfg)  # unknown adapter, missing SDK or key: before any engine starts
        if problem:
            raise SuiteError(problem)
        prompt_cfg = dict(OmegaConf.to_container(cfg.prompt, resolve=True))
        if model_cfg.get("image_format"):
            prompt_cfg["image_format"] = model_cfg["image_format"]
        prompt = PromptConfig(**prompt_cfg)
        tags = TagThresholds.from_config(OmegaConf.to_container(cfg.tags, resolve=True))
    except (SuiteError, UnknownAdapter, ValueError, TypeError, OSError) as exc:
        print(f"embrace-bench: error: {exc}", file=sys.stderr)
        return 2
    r = cfg.runner
    settings = EpisodeSettings(max_steps=r.max_steps, reask=r.reask, success_radius_cm=r.success_radius_cm,
                               frames_dir=run_dir / "frames" if r.save_frames else None, tags=tags)
    spec = RunSpec(run_dir=run_dir, tasks=suite.tasks, model_name=cfg.model.name,
                   make_agent=lambda: make_agent(model_cfg, seed=r.seed, prompt=prompt,
                                                 cache_path=run_dir / "cache.sqlite"),
                   make_engine=make_engine, workers=r.workers, settings=settings,
                   env_cfg=env_config(cfg.env), request_timeout_s=cfg.env.timeout_s, max_cost_usd=r.max_cost_usd,
                   manifest={"suite": suite.name, "suite_hash": suite.content_hash, "split": cfg.split.name,
                             "model": model_cfg, "prompt": OmegaConf.to_container(cfg.prompt),
                             "seed": r.seed, "env": OmegaConf.to_container(cfg.env), "tags": tags.to_json(),
                             "config": OmegaConf.to_container(cfg, resolve=True)})
    for note in suite.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"run dir: {run_dir}  ({len(suite.tasks)} tasks, model {cfg.model.name}, {r.workers} worker(s))")
    from embrace_bench.models.vllm_server import serve_model

    try:
        with serve_model(model_cfg, run_dir, console):  # model.launch=true: a `vllm serve` for this run only
            run(spec, console)
    except KeyboardInterrupt:
        console.print(f"\ninterrupted: finished episodes are saved in {run_dir}. Resume with the same command "
                      f"plus hydra.run.dir={run_dir}")
        return 130
    except Exception as exc:  # an engine that never started, a model that cannot be built, ...
        print(f"embrace-bench: error: {exc}", file=sys.stderr)
        return 1
    records, _ = read_records(run_dir / "episodes.jsonl")
    console.print(format_table(aggregate(records)))
    console.print(f"records: {run_dir / 'episodes.jsonl'}")
    return 0
