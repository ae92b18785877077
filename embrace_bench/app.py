"""From a composed Hydra config to a finished run: suite, agent, engines, records, the end-of-run table."""
from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from embrace_bench.config_checks import check_config
from embrace_bench.config_schema import group_dict
from embrace_bench.env.engines import engine_factory, env_config
from embrace_bench.episode import EpisodeSettings
from embrace_bench.models.prompts import PromptConfig
from embrace_bench.models.registry import UnknownAdapter, check_model, make_agent, skipped_up_front
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
    from embrace_bench.tasks.maps import map_names

    missing = sorted({t.map for t in suite.tasks} - map_names())
    if missing:
        raise SuiteError(f"the embedded world has no map {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}; "
                         "run this suite with env=unrealzoo")


def ray_settings(cfg) -> dict:
    """The ray group with its defaults filled in: a UnrealZoo engine needs a GPU, the embedded world none."""
    ray = group_dict(cfg.ray)
    if ray.get("num_gpus_per_worker") is None:
        ray["num_gpus_per_worker"] = 1 if cfg.env.kind == "unrealzoo" else 0
    return ray


def resume_command(run_dir: Path) -> str:
    """The command that continues this run: the same overrides, pointed at the same run dir."""
    import shlex

    from hydra.core.hydra_config import HydraConfig

    try:
        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:
        overrides = []
    args = [o for o in overrides if not o.startswith("hydra.run.dir=")] + [f"hydra.run.dir={run_dir}"]
    return "python -m embrace_bench " + " ".join(shlex.quote(a) for a in args)


def run_from_config(cfg: DictConfig) -> int:
    from hydra.core.hydra_config import HydraConfig

    from embrace_bench.manifest import Manifest
    from embrace_bench.records import read_records
    from embrace_bench.redact import install_log_redaction
    from embrace_bench.resume import resume_key
    from embrace_bench.run_dir import RunDir
    from embrace_bench.runner import RunError, RunSpec, run
    from embrace_bench.scoring.aggregate import aggregate
    from embrace_bench.scoring.rescore import format_table

    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 110)  # logs and CI: keep the end-of-run table on one line per row
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    install_log_redaction()  # Hydra's job log file is in the run dir
    try:
        check_config(cfg)  # ranges and cross-field rules; the schemas checked keys and types
        engine_factory(cfg.env, run_dir, workers=cfg.runner.workers)  # validates the env group before anything starts
        suite = load_suite(cfg)
        check_maps(suite, cfg.env.kind)
        model_cfg = group_dict(cfg.model)
        problem = check_model(model_cfg)  # unknown adapter, missing SDK or key: before any engine starts
        if problem:
            raise SuiteError(problem)
        suite.tasks, note = skipped_up_front(model_cfg, suite.tasks)  # e.g. the oracle without a map
        if note:
            suite.notes.append(note)
        if not suite.tasks:
            raise SuiteError(note)
        prompt_cfg = group_dict(cfg.prompt)
        if model_cfg.get("image_format"):
            prompt_cfg["image_format"] = model_cfg["image_format"]
        prompt = PromptConfig(**prompt_cfg)
        tags = TagThresholds.from_config(group_dict(cfg.tags))
    except (SuiteError, UnknownAdapter, ValueError, TypeError, OSError) as exc:
        print(f"embrace-bench: error: {exc}", file=sys.stderr)
        return 2
    r = cfg.runner
    settings = EpisodeSettings(max_steps=r.max_steps, reask=r.reask, success_radius_cm=r.success_radius_cm,
                               frames_dir=RunDir(run_dir).frames if r.save_frames else None, tags=tags)
    # Plain data and partials (no lambdas): the Ray backend ships these to its actors.
    env_group = OmegaConf.create(OmegaConf.to_container(cfg.env, resolve=True))
    env_cfg = env_config(cfg.env)
    spec = RunSpec(run_dir=run_dir, tasks=suite.tasks, model_name=cfg.model.name,
                   make_agent=functools.partial(make_agent, model_cfg, seed=r.seed, prompt=prompt,
                                                mags=env_cfg.mags),
                   make_engines=functools.partial(engine_factory, env_group, workers=r.workers),
                   workers=r.workers, settings=settings, env_cfg=env_cfg,
                   request_timeout_s=cfg.env.timeout_s, max_restarts=cfg.env.max_restarts,
                   max_cost_usd=r.max_cost_usd, api_concurrency=r.api_concurrency,
                   rate_limit_wait_s=r.rate_limit_wait_s, backend=r.backend,
                   ray=ray_settings(cfg), resume=r.resume,
                   manifest=Manifest(suite=suite.name, suite_hash=suite.content_hash, split=cfg.split.name,
                                     model=model_cfg, prompt=group_dict(cfg.prompt, resolve=False), seed=r.seed,
                                     env=group_dict(cfg.env, resolve=False), tags=tags.to_json(),
                                     resume_key=resume_key(cfg, model_cfg, suite),
                                     config=group_dict(cfg)))
    for note in suite.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"run dir: {run_dir}  ({len(suite.tasks)} tasks, model {cfg.model.name}, {r.workers} worker(s), "
                  f"backend {r.backend})")
    from embrace_bench.models.vllm_server import serve_model

    session: contextlib.AbstractContextManager[str] = contextlib.nullcontext("127.0.0.1")
    if r.backend == "ray" and model_cfg.get("launch"):  # Ray first: the server listens where every node reaches
        from embrace_bench.ray_backend import ray_session

        session = ray_session(spec.ray, r.workers)
    try:
        # model.launch=true: a `vllm serve` for this run only
        with session as host, serve_model(model_cfg, run_dir, console, host=host):
            run(spec, console)
    except KeyboardInterrupt:
        console.print(f"\ninterrupted: every finished episode is saved in {RunDir(run_dir).episodes}; "
                      f"episodes in flight will be re-run. Resume with:\n  {resume_command(run_dir)}", soft_wrap=True)
        return 130
    except RunError as exc:
        print(f"embrace-bench: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an engine that never started, a model that cannot be built, ...
        print(f"embrace-bench: error: {exc}", file=sys.stderr)
        return 1
    records, _ = read_records(RunDir(run_dir).episodes)
    console.print(format_table(aggregate(records)))
    console.print(f"records: {RunDir(run_dir).episodes}")
    return 0
