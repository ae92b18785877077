"""Loading a Hugging Face vision-language model once per process: device and dtype choice, the processor
(with an image-only fallback when torchvision is missing), one shared copy for every worker thread.

Everything heavy (torch, transformers) is imported inside functions: `check()` runs before any engine
starts and imports neither, and never downloads anything.
"""
from __future__ import annotations

import importlib.util
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embrace_bench.config_schema import TransformersModelSchema, with_defaults
from embrace_bench.extras import install_hint
from embrace_bench.models.base import AgentUnusable

DTYPES = ("auto", "float32", "bfloat16", "float16")


class ModelLoadError(AgentUnusable):
    """The weights or processor could not be loaded: the run stops (every episode would fail alike)."""


_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def is_local_path(path: str) -> bool:
    """A path the user means as a folder (hub ids look like `org/name`)."""
    return path.startswith(("/", ".", "~")) or path.count("/") > 1 or "\\" in path or Path(path).exists()


def check(cfg: dict) -> str | None:
    """What stops this config from loading, in one line (packages, path, device, dtype); else None."""
    cfg = with_defaults(TransformersModelSchema, cfg)
    name = cfg.get("name") or "the transformers model"
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        return (f"model={name} runs in-process and needs {' and '.join(missing)}: "
                f"{install_hint('qwen')}")
    path = str(cfg.get("path") or "")
    if not path:
        return "set model.path to a local model folder or a Hugging Face model id"
    if is_local_path(path) and not Path(path).expanduser().is_dir():
        return f"model.path={path} is not a folder (give a local model folder or a Hugging Face model id)"
    device = str(cfg["device"])
    if not _DEVICE_RE.match(device):
        return f"model.device must be auto, cpu, mps, cuda or cuda:N, not {device!r}"
    dtype = str(cfg["dtype"])
    if dtype not in DTYPES:
        return f"model.dtype must be one of {', '.join(DTYPES)}, not {dtype!r}"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return f"model.device={device} but torch sees no CUDA device (use model.device=cpu or auto)"
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            return f"model.device={device} but torch sees {torch.cuda.device_count()} CUDA device(s)"
    return None


@dataclass
class LoadedModel:
    # from_pretrained's products (a PreTrainedModel; a processor class picked at run time): typed as Any
    model: Any
    processor: Any
    device: str  # where inputs go
    dtype: str
    lock: threading.Lock = field(default_factory=threading.Lock)  # one generate() at a time per model
    constraints: dict = field(default_factory=dict)  # think flag -> compiled constraint (built on first use)

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def image_token_id(self) -> int | None:
        tok = getattr(self.processor, "image_token", None) or "<|image_pad|>"
        tid = self.tokenizer.convert_tokens_to_ids(tok)
        return tid if isinstance(tid, int) and tid != self.tokenizer.unk_token_id else None


_LOADED: dict[tuple, LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def _resolve(device: str, dtype: str) -> tuple[str, object, object]:
    """(input device, torch dtype, device_map for from_pretrained)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
        device_map = "auto" if device == "cuda" and importlib.util.find_spec("accelerate") else None
    else:
        device_map = None
    if dtype == "auto":
        # Half precision on accelerators (the checkpoint's own dtype); float32 on CPU, where bf16 is slow.
        torch_dtype = "auto" if device != "cpu" else torch.float32
    else:
        torch_dtype = getattr(torch, dtype)
    return device, torch_dtype, device_map


def _image_only_processor(path: str, processor_kwargs: dict):
    """The model's processor class without its video processor, which needs torchvision (frames are
    images; nothing here sends video)."""
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

    cls: Any = PROCESSOR_MAPPING[type(AutoConfig.from_pretrained(path))]

    class ImageOnly(cls):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    try:
        images = AutoImageProcessor.from_pretrained(path, backend="pil", **processor_kwargs)
    except TypeError:  # transformers 4.x has no backend choice; its slow processor is the PIL one
        images = AutoImageProcessor.from_pretrained(path, use_fast=False, **processor_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return ImageOnly(image_processor=images, tokenizer=tokenizer,
                     chat_template=getattr(tokenizer, "chat_template", None))


def load_processor(path: str, min_pixels: int | None = None, max_pixels: int | None = None):
    from transformers import AutoProcessor

    kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v}
    try:
        return AutoProcessor.from_pretrained(path, **kwargs)
    except ImportError as exc:
        if "torchvision" not in str(exc).lower():
            raise
        return _image_only_processor(path, kwargs)


def load(cfg: dict) -> LoadedModel:
    """The model and processor for this config, loaded once per process and shared by every worker."""
    cfg = with_defaults(TransformersModelSchema, cfg)
    path = str(Path(cfg["path"]).expanduser()) if is_local_path(str(cfg["path"])) else str(cfg["path"])
    device, dtype = str(cfg["device"]), str(cfg["dtype"])
    key = (path, device, dtype, cfg.get("attn_implementation"), cfg.get("min_pixels"), cfg.get("max_pixels"))
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        import transformers

        in_device, torch_dtype, device_map = _resolve(device, dtype)
        # AutoModelForVision2Seq: its name before AutoModelForImageTextToText (older transformers have only that)
        name = ("AutoModelForImageTextToText" if hasattr(transformers, "AutoModelForImageTextToText")
                else "AutoModelForVision2Seq")
        auto = getattr(transformers, name)
        from packaging.version import Version

        # `torch_dtype` was renamed `dtype` in transformers 4.56
        kwargs = {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": torch_dtype}
        if device_map:
            kwargs["device_map"] = device_map
        if cfg.get("attn_implementation"):
            kwargs["attn_implementation"] = cfg["attn_implementation"]
        model = auto.from_pretrained(path, **kwargs).eval()
        if not device_map:
            model.to(in_device)
        else:
            in_device = str(next(model.parameters()).device)
        processor = load_processor(path, cfg.get("min_pixels"), cfg.get("max_pixels"))
        loaded = _LOADED[key] = LoadedModel(model, processor, in_device, str(next(model.parameters()).dtype))
        return loaded
