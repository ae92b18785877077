"""Facts the EmbRACE release (github mxlin043/EmbRACE at 9f54184) uses to drive UnrealZoo UE5.6 v3.0.2, written
down in our own form: per-map exposure, warm-up captures and the character's map-load pose (its configs/maps.json),
the maps whose post-process volumes and sharpening it changes and the actors it removes or freezes per map (its
core/character_plus.py `load_map`), the door poses it restores (configs/door_closed_rotations.json) and where a
dropped Pick & Drop object is put back (configs/pd_config.json). env/release_env.py sends the commands; these are
only the numbers and names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# name, exposure offset, warm-up captures, character pose at map load (x y z pitch yaw roll)
_MAPS = """
AbandonedDistrict 0.5 1 277.769 391.877 208.594 0 0 0
AsianMedivalCity 0.5 1 -20080 3540 1234.462 0 0 0
asianTemple 0 1 12820 -3900 3176 0 0 0
brass_palace -0.5 1 -2610 2620 506.284 0 0 0
Brass_Streets 0 1 -1810 2620 299.901 0 0 0
chineseWaterTown_Ver1 0.5 1 -540 11260 198.15 0 0 0
colosseum_desert 0.5 1 -4540 15520 -6299.828 0 0 0
CommandCenter 0 1 -710 470 98.275 0 0 0
containeryard_day -1 1 -3400 320 98.275 0 0 0
Containeryard_Night -1.5 1 -3400 320 98.275 0 0 0
CourtYard 0.5 1 1440 6600 118.4 0 0 0
Demo_Roof 0 1 830 -55830 2598.275 0 0 0
Demonstration_Bunker 0 1 2746.164 1100 658.275 0 0 0
Demonstration_Castle -1 1 -45360.337 16220 -22522.577 0 0 0
desert_ruins -0.5 1 -1140 -290 198.14 0 0 0
Downtownwest 0.5 1 -11470 -30 82.097 0 0 0
eastern_Garden 1 1 -340 -4130 1416.337 0 60 0
ef_grounds 1 1 13898.196 -13707.207 1644.809 0 0 0
ef_gus 0 1 517.787 -29364.55 -1096.412 0 0 0
ef_lewis_2 0 1 -2320 -2310 279.436 0 0 0
EnglishCollege -0.5 15 -7940.498 5860.291 6950.462 0 0 0
forestGasStation 0.5 1 -29703.675 -46980 3692.246 0 0 0
Greek_Island 0 1 -2439.221 -9398.691 282.266 0 0 0
hospital 0.5 1 40 -1540 138.4 0 0 0
Hotel_Corridor 0.5 1 320 -1840 101.826 0 0 0
IndustrialArea 0 1 1110 -1580 211.15 0 0 0
JapanTrainStation_Optimised 0 1 -950 -1450 -931.85 0 0 0
Lv_Bazaar 0 1 -761.134 -969.692 209.23 0 0 0
Map_ChemicalPlant_1 -1 1 3500 -1299.796 -12712.923 0 0 0
Medieval_Castle 0 1 -27498.134 14848.134 10379.938 0 0 0
Medieval_Daytime -0.5 1 145.193 -161.988 224.888 0 180 0
medieval_Nighttime 1 1 224.673 -449.758 229.926 0 0 0
MiddleEast 0 1 -1070 -1250 262.907 0 0 0
modularBuilding 0.5 1 800 2510 68.15 0 0 0
ModularNeighborhood 0 1 -590 3430.001 200.086 0 0 0
Museum 0.5 1 580 -410 98.275 0 0 0
Old_Factory_01 0.5 1 -2330 130 118.099 0 0 0
Old_Town 0.5 1 1045.767 19755 26802.335 0 0 0
operaHouse 0 1 372.662 -317.914 197.595 0 0 0
postSoviet_Village -0.5 1 -154752.968 -114220.031 4885.471 0 0 0
Pyramid 0 1 6836.045 -2566.342 73.647 0 0 0
qa_Holding_Cells_A 0 1 600 140 98.275 0 0 0
racing_track -0.5 1 -18913.302 90381.775 -14083.42 0 0 0
ruralAustralia_Example_01 0.5 1 3812.564 -20738.044 194.648 0 0 0
ruralAustralia_Example_02 -0.5 1 3613.846 2376.646 4349.093 0 0 0
ruralAustralia_Example_03 -0.5 1 6800 -4719.073 111.732 0 0 0
RussianWinterTownDemo01 0.5 1 -5070 1400 228.525 0 0 0
science_Fiction_valley_town 0.2 1 -14515.837 16593.647 210.102 0 0 0
stadium 0.2 1 300 3090 103.151 0 0 0
Storagehouse 1 1 40 -4180 98.275 0 0 0
SuburbNeighborhood_Day 0 1 -131.114 -477.473 113.642 0 0 0
suburbNeighborhood_Night 0 1 760 240.016 98.15 0 0 0
Supermarket 0 1 -909 1185 142 0 0 0
SwimmingPool 0 1 -870 -900 108.332 0 0 0
TemplePlaza 0 1 -1490 830 104.15 0 0 0
Tokyo -0.5 1 -2730 1710 128.149 0 0 0
ultimateFarming 0 1 -42.963 502.112 170.805 0 0 0
UndergroundParking 0 1 850 1900 -202.751 0 0 0
Venice -1 1 3320 1440 118.275 0 0 0
VictorianTrainStation 1.5 1 770 -3070 143.15 0 0 0
watermills 0.5 1 -764.222 1271.612 22.487 0 0 0
western_Garden 0 1 -660.123 -4880.226 -6692.534 0 0 0
"""

# Maps whose post-process volumes wash out or blur UE5.6's LDR captures: the release sets their blend weight to 0.
POSTPROCESS_OFF = frozenset("""asiantemple colosseum_desert commandcenter containeryard_night demonstration_bunker
demonstration_castle ef_grounds forestgasstation hotel_corridor industrialarea japantrainstation_optimised lv_bazaar
map_chemicalplant_1 medieval_castle middleeast modularbuilding modularneighborhood museum old_town operahouse
postsoviet_village storagehouse suburbneighborhood_day suburbneighborhood_night tokyo ultimatefarming
venice""".split())
SHARPEN = {"victoriantrainstation": 1.5, "russianwintertowndemo01": 0.5, "swimmingpool": 0.5}  # others: 0

# Actor classes removed from every map at load (vehicles, animals, drones, pre-placed grab objects), and the
# pre-placed character the release would reuse (UE5.6 v3 maps have none: it spawns one).
REMOVED_CLASSES = re.compile(r"^(bp_animal|bp_basecar|bp_basebike|bp_grabmovedrop|bp_hatchback_child_base|sport|"
                             r"motorbike|bp_drone|drone)", re.I)
PLACED_CHARACTER = re.compile(r"^bp_character", re.I)


@dataclass(frozen=True)
class Fix:
    """One per-map clean-up step. kind: destroy (named actors, or `prefix` for a family; `wait_s` > 0: wait until
    they are gone from `vget /objects`), overlap_off (an automatic door's trigger), freeze (physics off, collision
    kept), rotate (a door put back to its closed rotation `rotation`, read back to check), destroy_light."""

    kind: str
    names: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    wait_s: float = 0.0
    required: bool = False  # the release stops when these actors are missing
    count: int | None = None  # ... or when there are not exactly this many
    rotation: tuple[float, float, float] | None = None


def _emitters(numbers: str) -> tuple[str, ...]:
    return tuple(f"emitter_{n}" for n in numbers.split())


_DOORS = (("BP_Door_main_industria2_0", -90.0), ("BP_Door_main_industria3_1", -90.0),
          ("BP_Door_main_industria4_2", 90.0), ("BP_Door_main_industria5_3", 90.0), ("BP_Door_main_industria6_4", 90.0))

FIXES: dict[str, tuple[Fix, ...]] = {
    "suburbneighborhood_day": (Fix("destroy_light", ("DirectionalLight",)),),
    "industrialarea": tuple(Fix("rotate", (name,), rotation=(0.0, yaw, 0.0)) for name, yaw in _DOORS),
    "old_factory_01": (Fix("destroy", prefix=("of_junk_01_",), wait_s=5.0),),
    "japantrainstation_optimised": (Fix("destroy", ("p_manholesmoke_2",), wait_s=3.0),),
    "swimmingpool": (Fix("destroy", ("sm_poolladder_25",), wait_s=3.0, required=True),),
    "modularneighborhood": (
        Fix("overlap_off", prefix=("bp_garage_single", "garage_door_half_bp"), count=12),
        Fix("freeze", tuple(f"garden_chair_{n}" for n in range(882, 887)), required=True),
        Fix("freeze", ("sm_trash_bin_01_3160", "sm_trash_bin_02b_3161", "sm_trash_bin_03_3162"), required=True)),
    "lv_bazaar": (Fix("destroy", _emitters("0 3 4 5 6 7 8 9 10 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 30 "
                                           "31 32")),),
    "science_fiction_valley_town": (Fix("destroy", ("bp_rails2", "bp_rails_5")),
                                    Fix("overlap_off", ("bp_house_3",), required=True)),
    "tokyo": (Fix("destroy", ("staticmeshactor_1754", "staticmeshactor_1755", "staticmeshactor_1899",
                              "staticmeshactor_1932", "staticmeshactor_1941", "staticmeshactor_1944")),),
}


@dataclass(frozen=True)
class MapFacts:
    exposure: float
    warm_up_frames: int
    init_pose: tuple[float, ...]


def _parse_maps() -> dict[str, MapFacts]:
    out = {}
    for line in _MAPS.strip().splitlines():
        name, exposure, frames, *pose = line.split()
        out[name.casefold()] = MapFacts(float(exposure), int(frames), tuple(float(v) for v in pose))
    return out


MAPS = _parse_maps()


def map_facts(name: str) -> MapFacts | None:
    return MAPS.get(name.casefold())


# Drop by reset: the object goes back `forward` cm in front of the character, `height` cm below its centre,
# turned by `rotation` (pitch, yaw, roll) relative to it. Per appearance id (the release task's PD_ID).
DROP_DEFAULT = (70.0, 50.0, (0.0, 0.0, 0.0))
_DROP = {0: (-15, (0, 0, 0)), 2: (10, (0, 0, 0)), 7: (35, (90, 0, 0)), 8: (20, (0, 0, 0)), 14: (60, (0, 0, 0)),
         16: (30, (90, 0, 0)), 17: (30, (0, -70, 0)), 18: (40, (0, 0, 0)), 20: (40, (0, 0, 0))}


def drop_params(appearance: int | None) -> tuple[float, float, tuple[float, float, float]]:
    if appearance not in _DROP:
        return DROP_DEFAULT
    height, rot = _DROP[appearance]
    return 70.0, float(height), (float(rot[0]), float(rot[1]), float(rot[2]))
