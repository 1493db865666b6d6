"""PV on a Belgian roof, second by second, under clouds that were measured elsewhere.

The measured files (bench/realistic/irradiance/) hold the clear-sky index ``kc`` of each minute:
measured global irradiance over the clear sky at the station, which describes the clouds and not
the site. Here the same clouds pass over a roof in Brussels on the same day of the year at the
same solar time:

1. ``upsample``: 1 s values inside each measured minute (see its docstring for the model);
2. the Belgian clear sky (Ineichen-Perez, a monthly Linke turbidity for Brussels) times ``kc``
   gives the global horizontal irradiance;
3. Erbs splits it into beam and diffuse, an isotropic sky puts them on a 35 degree south roof;
4. an 8 kWp array (temperature -0.37 %/K, 4 % wiring and soiling, 96 % inverter) behind a 7 kW
   inverter turns it into AC watts.

Everything is plain arithmetic on a seeded ``random.Random``: the same day gives the same watts on
every machine (the CSV is rounded to whole watts).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

LAT_DEG = 50.85  # Brussels
LON_DEG = 4.35
ALTITUDE_M = 100.0
TILT_DEG = 35.0
AZIMUTH_DEG = 180.0  # south
ALBEDO = 0.2
PEAK_W = 8000.0
INVERTER_AC_W = 7000.0
#: Linke turbidity by month for the Brussels area (a climatological mean; hazier in summer).
LINKE = (3.0, 3.2, 3.5, 3.8, 3.9, 3.9, 4.0, 3.9, 3.6, 3.3, 3.1, 3.0)
#: A sun this low carries no trustworthy index (cosine response, horizon): capped there.
LOW_SUN_COSZ = math.sin(math.radians(10.0))
KC_MAX = 1.6


@dataclass(frozen=True, slots=True)
class Minute:
    """One measured minute: mean clear-sky index and, when measured, its 1 s extremes."""

    solar_min: float
    kc: float
    lo: float | None = None
    hi: float | None = None


def utc_offset_h(doy: int) -> int:
    """Belgian clock: CEST from the end of March to the end of October (approximate days)."""
    return 2 if 87 <= doy <= 300 else 1


def _declination(doy: int) -> float:
    g = 2 * math.pi * (doy - 1) / 365
    return (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )


def equation_of_time_min(doy: int) -> float:
    g = 2 * math.pi * (doy - 1) / 365
    return 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )


def solar_offset_s(doy: int) -> float:
    """Apparent solar time minus Belgian clock time, in seconds."""
    return 60.0 * (4.0 * (LON_DEG - 15.0 * utc_offset_h(doy)) + equation_of_time_min(doy))


def sun(doy: int, solar_s: float) -> tuple[float, float, float]:
    """(cos zenith, sin zenith, cos of the angle between the sun and the roof's normal)."""
    decl = _declination(doy)
    lat = math.radians(LAT_DEG)
    omega = math.radians(15.0 * (solar_s / 3600.0 - 12.0))
    cosz = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(omega)
    cosz = min(max(cosz, -1.0), 1.0)
    sinz = math.sqrt(max(0.0, 1.0 - cosz * cosz))
    beta = math.radians(TILT_DEG)
    # cos(AOI) written with the hour angle directly, for a surface facing AZIMUTH_DEG (south).
    gamma = math.radians(AZIMUTH_DEG - 180.0)
    cos_aoi = (
        math.sin(decl) * math.sin(lat) * math.cos(beta)
        - math.sin(decl) * math.cos(lat) * math.sin(beta) * math.cos(gamma)
        + math.cos(decl) * math.cos(lat) * math.cos(beta) * math.cos(omega)
        + math.cos(decl) * math.sin(lat) * math.sin(beta) * math.cos(gamma) * math.cos(omega)
        + math.cos(decl) * math.sin(beta) * math.sin(gamma) * math.sin(omega)
    )
    return cosz, sinz, cos_aoi


def extraterrestrial_w_m2(doy: int) -> float:
    return 1361.0 * (1.0 + 0.033 * math.cos(2 * math.pi * doy / 365.0))


def clear_sky_ghi(doy: int, cosz: float) -> float:
    """Ineichen-Perez global horizontal clear-sky irradiance (W/m2)."""
    if cosz <= 0.0:
        return 0.0
    zen_deg = math.degrees(math.acos(cosz))
    am = 1.0 / (cosz + 0.50572 * (96.07995 - zen_deg) ** -1.6364)
    am *= math.exp(-ALTITUDE_M / 8434.5)  # absolute air mass
    tl = LINKE[min(int((doy - 1) / 30.5), 11)]
    fh1, fh2 = math.exp(-ALTITUDE_M / 8000.0), math.exp(-ALTITUDE_M / 1250.0)
    cg1, cg2 = 5.09e-5 * ALTITUDE_M + 0.868, 3.92e-5 * ALTITUDE_M + 0.0387
    i0 = extraterrestrial_w_m2(doy)
    ghi = (
        cg1 * i0 * cosz * math.exp(-cg2 * am * (fh1 + fh2 * (tl - 1.0))) * math.exp(0.01 * am**1.8)
    )
    return max(ghi, 0.0)


def _erbs_diffuse_fraction(kt: float) -> float:
    if kt <= 0.22:
        return 1.0 - 0.09 * kt
    if kt <= 0.8:
        return 0.9511 - 0.1604 * kt + 4.388 * kt**2 - 16.638 * kt**3 + 12.336 * kt**4
    return 0.165


def plane_of_array(doy: int, ghi: float, cosz: float, cos_aoi: float) -> float:
    """Global irradiance on the roof (W/m2) from the horizontal one."""
    if ghi <= 0.0 or cosz <= 0.0:
        return 0.0
    kt = min(ghi / (extraterrestrial_w_m2(doy) * max(cosz, 0.065)), 1.2)
    dhi = _erbs_diffuse_fraction(kt) * ghi
    dni = (ghi - dhi) / max(cosz, 0.065)
    beta = math.radians(TILT_DEG)
    return (
        dni * max(cos_aoi, 0.0)
        + dhi * (1.0 + math.cos(beta)) / 2.0
        + ghi * ALBEDO * (1.0 - math.cos(beta)) / 2.0
    )


def ac_power_w(poa: float, air_temp_c: float) -> float:
    cell_c = air_temp_c + poa / 800.0 * 25.0
    dc = PEAK_W * poa / 1000.0 * (1.0 - 0.0037 * (cell_c - 25.0)) * 0.96
    return min(max(dc * 0.96, 0.0), INVERTER_AC_W)


# -- sub-minute variability ----------------------------------------------------------------------

#: A cloud edge takes a few seconds to cross an 8 kWp roof and the inverter's tracker follows
#: within a second or two: transitions are smoothed over this many seconds.
EDGE_RAMP_S = 5
#: A minute whose range stays below this is steady (haze, overcast, clear sky).
STEADY_SPAN = 0.04


def _ranges(minutes: Sequence[Minute]) -> list[tuple[float, float]]:
    """Each minute's lowest and highest 1 s index: measured (BSRN), else spanned by the means of
    the minute and its neighbours (a minute between different ones holds an edge)."""
    out = []
    for j, m in enumerate(minutes):
        if m.lo is not None and m.hi is not None:
            out.append((min(m.lo, m.kc), max(m.hi, m.kc)))
            continue
        near = [minutes[k].kc for k in (j - 1, j, j + 1) if 0 <= k < len(minutes)]
        out.append((min(near), max(near)))
    return out


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` seconds in ``parts`` runs of at least one second each (fewer if too short)."""
    parts = max(1, min(parts, total))
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges)]


def _two_state(lo: float, hi: float, mean: float, start_hi: bool, runs: int, rng: random.Random):
    """60 values at ``lo`` or ``hi`` in alternating runs whose average is ``mean``."""
    n_hi = round(60 * (mean - lo) / (hi - lo))
    n_hi = min(max(n_hi, 0), 60)
    if n_hi in (0, 60):
        return [hi if n_hi else lo] * 60, n_hi == 60
    first, second = (n_hi, 60 - n_hi) if start_hi else (60 - n_hi, n_hi)
    a = _split(first, runs, rng)
    b = _split(second, max(1, len(a) - rng.randrange(2)), rng)
    levels = (hi, lo) if start_hi else (lo, hi)
    out: list[float] = []
    for i in range(max(len(a), len(b))):
        if i < len(a):
            out += [levels[0]] * a[i]
        if i < len(b):
            out += [levels[1]] * b[i]
    return out, out[-1] == hi


def upsample(minutes: Sequence[Minute], seed: str) -> list[float]:
    """1 s clear-sky indices, 60 per measured minute, each minute keeping its measured mean.

    A sky is either steady over a minute or the sun is going in and out of clouds. Steady minutes
    get their mean with a faint shimmer. In the others the light is two-state, as under a cumulus
    edge: the sun is out (the minute's highest index) or behind cloud (its lowest), alternating in
    1-3 runs (more when the neighbouring minutes are broken too), each run's share set so that the
    minute's mean is the measured one, starting from the state the previous minute ended in. A
    5 s moving average then turns each switch into a ramp, and a last shift puts every minute
    back on its measured mean. So the day has the measured energy minute by minute, never leaves
    the measured 1 s range where it is known, and has cloud-edge ramps of the full range within
    seconds, which a 1-minute interpolation would smear over a minute.
    """
    rng = random.Random(seed)
    ranges = _ranges(minutes)
    raw: list[float] = []
    state_hi = True
    for j, m in enumerate(minutes):
        lo, hi = ranges[j]
        if hi - lo < STEADY_SPAN:
            raw += [m.kc + rng.gauss(0.0, 0.003) for _ in range(60)]
            continue
        broken = all(
            ranges[k][1] - ranges[k][0] >= STEADY_SPAN
            for k in (j - 1, j + 1)
            if 0 <= k < len(minutes)
        )
        runs = 1 + rng.randrange(3) if broken else 1
        values, state_hi = _two_state(lo, hi, m.kc, state_hi, runs, rng)
        raw += values
    smooth = _moving_average(raw, EDGE_RAMP_S)
    out: list[float] = []
    for j, m in enumerate(minutes):
        chunk = smooth[60 * j : 60 * j + 60]
        shift = m.kc - sum(chunk) / 60.0
        out += [max(v + shift, 0.0) for v in chunk]
    return out


def _moving_average(xs: Sequence[float], width: int) -> list[float]:
    half = width // 2
    n = len(xs)
    prefix = [0.0]
    for x in xs:
        prefix.append(prefix[-1] + x)
    out = []
    for i in range(n):
        a, b = max(0, i - half), min(n, i + half + 1)
        out.append((prefix[b] - prefix[a]) / (b - a))
    return out


def pv_day_w(minutes: Sequence[Minute], doy: int, air_temp_c: float, seed: str) -> list[float]:
    """AC watts for each second of the Belgian clock day (86 400 values)."""
    kc_1s = upsample(minutes, seed)
    first_s = round(minutes[0].solar_min * 60.0) if minutes else 0
    offset = solar_offset_s(doy)
    out = []
    for t in range(86_400):
        solar_s = t + offset
        cosz, _, cos_aoi = sun(doy, solar_s)
        if cosz <= 0.0 or not kc_1s:
            out.append(0.0)
            continue
        i = min(max(int(solar_s) - first_s, 0), len(kc_1s) - 1)
        kc = min(kc_1s[i], KC_MAX if cosz > LOW_SUN_COSZ else 1.0)
        ghi = kc * clear_sky_ghi(doy, cosz)
        out.append(ac_power_w(plane_of_array(doy, ghi, cosz, cos_aoi), air_temp_c))
    return out
