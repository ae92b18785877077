"""The engine settings a UnrealZoo build runs the benchmark under, as the EmbRACE release pins them (its
scripts/run_ue_server.sh replaces `<Project>/Saved/Config/Linux` with its ue_config/*.ini before every start).

Written here from the facts, in our own files: game time in fixed 20 Hz frames (whatever the GPU manages), physics
sub-stepped (at most 12 steps of 1/120 s), deterministic rendering, no auto-exposure (the harness sets the exposure
per map and task), no Lumen global illumination or reflections, no screen-space reflections, FXAA, no motion blur,
full scalability except the render resolution scale, no frame-rate cap, no dynamic resolution, and the console
input section left empty (the release ships it empty, so no key binding of the package's own survives).
"""
from __future__ import annotations

import shutil
from pathlib import Path

SETTINGS: dict[str, str] = {
    "Engine.ini": """[SystemSettings]
r.Determinism=1
r.RHICmdBypass=0
r.RHICmdAsyncRHIThread=True
r.DefaultFeature.AutoExposure=0
r.DynamicGlobalIlluminationMethod=0
r.Lumen.DiffuseIndirect.Allow=0
r.ReflectionMethod=0
r.Lumen.Reflections.Allow=0
r.SSR.Quality=0
r.AntiAliasingMethod=1

[/Script/Engine.Engine]
bUseFixedFrameRate=True
FixedFrameRate=20.0
bEnablePhysicsOnDedicatedServer=True
MinSmoothedFrameRate=0
MaxSmoothedFrameRate=0

[/Script/Engine.PhysicsSettings]
bSubstepping=True
MaxSubsteps=12
MaxSubstepDeltaTime=0.0083333
bEnablePCM=True

[/Script/VulkanRHI.VulkanSettings]
bUseVulkan=True
bAllowPresent=False
DeviceIndex=0

[/Script/Engine.RendererSettings]
r.DefaultFeature.MotionBlur=False
r.GPUCrashDebugging=0
""",
    "GameUserSettings.ini": """[/Script/Engine.GameUserSettings]
bUseDynamicResolution=False
FrameRateLimit=0.000000
bUseHDRDisplayOutput=False
AudioQualityLevel=0
PreferredFullscreenMode=1

[ScalabilityGroups]
sg.ResolutionQuality=0
sg.ViewDistanceQuality=3
sg.AntiAliasingQuality=3
sg.ShadowQuality=3
sg.GlobalIlluminationQuality=3
sg.ReflectionQuality=3
sg.PostProcessQuality=3
sg.TextureQuality=3
sg.EffectsQuality=3
sg.FoliageQuality=3
sg.ShadingQuality=3
sg.LandscapeQuality=3
""",
    "Input.ini": "[/Script/Engine.Console]\n",
}


def saved_config_dir(unrealcv_ini: Path) -> Path:
    """`<Project>/Saved/Config/Linux` for the UnrealCV config at `<Project>/Binaries/Linux/unrealcv.ini`."""
    return Path(unrealcv_ini).parent.parent.parent / "Saved" / "Config" / "Linux"


def write_engine_settings(config_dir: Path) -> list[Path]:
    """Replace the folder with exactly our settings (a previous run's or the player's edits never leak in)."""
    config_dir = Path(config_dir)
    shutil.rmtree(config_dir, ignore_errors=True)
    config_dir.mkdir(parents=True)
    out = []
    for name, text in SETTINGS.items():
        (config_dir / name).write_text(text)
        out.append(config_dir / name)
    return out
