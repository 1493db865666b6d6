"""Cut the measured irradiance in bench/realistic/irradiance/ out of the files pvlib ships.

Run once by hand, not at bench time (the CSVs it writes are committed, with their sources in
bench/realistic/README.md):

    pip download --no-deps --no-binary :all: pvlib==0.16.1   # its sdist carries tests/data/
    pip download --no-deps pvanalytics==0.2.2
    pip install pvlib==0.16.1
    python -m bench.realistic.extract_irradiance PVLIB_SDIST_DIR PVANALYTICS_WHEEL_DIR

Each output row is one measured minute while the sun stood more than 3 degrees up at the station:
its apparent solar time (minutes after solar midnight, so a day can be moved to another longitude
without moving the sun) and the clear-sky index of the global horizontal irradiance, the minute's
mean over the clear sky (pvlib's Ineichen model with its Linke turbidity climatology for the
station), and, where the station also recorded them (BSRN), the minute's lowest and highest 1 s
sample as clear-sky indices too. The clear-sky index carries the clouds and not the site: the
generator puts it under a Belgian sky (bench/realistic/solar.py).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pandas as pd  # only here: the generator itself needs no pandas
import pvlib

OUT = Path(__file__).resolve().parent / "irradiance"
MIN_ELEVATION_DEG = 3.0


def _bsrn(sdist: Path) -> pd.DataFrame:
    df, _ = pvlib.iotools.read_bsrn(sdist / "tests/data/bsrn-pay0616.dat.gz")
    return df.rename(columns={"ghi_min": "lo", "ghi_max": "hi"})


def _surfrad(sdist: Path) -> pd.DataFrame:
    df, _ = pvlib.iotools.read_surfrad(sdist / "tests/data/surfrad-slv16001.dat")
    return df[["ghi"]]


def _midc_tucson(sdist: Path) -> pd.DataFrame:
    raw = pd.read_csv(sdist / "tests/data/midc_raw_20181018.txt")
    minutes = raw["MST"] // 100 * 60 + raw["MST"] % 100
    idx = (
        pd.Timestamp("2018-01-01")
        + pd.to_timedelta(raw["DOY"] - 1, unit="D")
        + pd.to_timedelta(minutes, unit="min")
    )
    ghi = raw["Global Horiz (platform) [W/m^2]"].to_numpy()
    return pd.DataFrame({"ghi": ghi}, index=pd.DatetimeIndex(idx).tz_localize("Etc/GMT+7"))


def _midc_nwtc(sdist: Path) -> pd.DataFrame:
    df = pvlib.iotools.read_midc(sdist / "tests/data/midc_20181014.txt")
    return pd.DataFrame({"ghi": df["Global PSP [W/m^2]"].astype(float)})


def _bms(wheel: Path) -> pd.DataFrame:
    df = pd.read_csv(wheel / "pvanalytics/data/midc_bms_ghi_20220120.csv", index_col=0)
    df.index = pd.to_datetime(df.index, utc=True)
    return pd.DataFrame({"ghi": df.iloc[:, 0].astype(float)})


#: name: (reader, which tree, latitude, longitude, altitude m, day)
SOURCES = {
    "payerne": (_bsrn, "sdist", 46.815, 6.944, 491.0, None),
    "alamosa": (_surfrad, "sdist", 37.70, -105.92, 2317.0, "2016-01-01"),
    "tucson": (_midc_tucson, "sdist", 32.2297, -110.9553, 786.0, "2018-10-18"),
    "nwtc": (_midc_nwtc, "sdist", 39.9106, -105.2347, 1855.0, "2018-10-14"),
    "golden": (_bms, "wheel", 39.742, -105.18, 1828.8, "2022-01-20"),
}

#: Output file: (source, local date at the station).
DAYS = {
    "payerne-2016-06-03": ("payerne", "2016-06-03"),
    "payerne-2016-06-15": ("payerne", "2016-06-15"),
    "payerne-2016-06-17": ("payerne", "2016-06-17"),
    "payerne-2016-06-19": ("payerne", "2016-06-19"),
    "payerne-2016-06-23": ("payerne", "2016-06-23"),
    "payerne-2016-06-26": ("payerne", "2016-06-26"),
    "alamosa-2016-01-01": ("alamosa", "2016-01-01"),
    "tucson-2018-10-18": ("tucson", "2018-10-18"),
    "nwtc-2018-10-14": ("nwtc", "2018-10-14"),
    "golden-2022-01-20": ("golden", "2022-01-20"),
}


def extract(df: pd.DataFrame, lat: float, lon: float, alt: float) -> list[list[str]]:
    loc = pvlib.location.Location(lat, lon, altitude=alt)
    times = df.index
    sun = loc.get_solarposition(times)
    cs = loc.get_clearsky(times, model="ineichen", solar_position=sun)["ghi"]
    eot = pvlib.solarposition.equation_of_time_spencer71(times.dayofyear.to_numpy())
    hour_angle = pvlib.solarposition.hour_angle(times, lon, eot)
    rows = []
    for i in range(len(times)):
        if sun["apparent_elevation"].iloc[i] <= MIN_ELEVATION_DEG or cs.iloc[i] <= 0:
            continue
        solar_min = (720.0 + 4.0 * hour_angle[i]) % 1440.0

        def kc(col: str, i: int = i) -> str:
            if col not in df.columns or pd.isna(df[col].iloc[i]):
                return ""
            return f"{min(max(df[col].iloc[i] / cs.iloc[i], 0.0), 2.0):.3f}"

        rows.append([f"{solar_min:.1f}", kc("ghi"), kc("lo"), kc("hi")])
    return rows


def main(argv: list[str]) -> int:
    trees = {"sdist": Path(argv[1]), "wheel": Path(argv[2])}
    cache: dict[str, pd.DataFrame] = {}
    OUT.mkdir(exist_ok=True)
    for name, (source, day) in DAYS.items():
        reader, tree, lat, lon, alt, _ = SOURCES[source]
        if source not in cache:
            cache[source] = reader(trees[tree])
        df = cache[source]
        local = df.index.tz_convert(f"Etc/GMT{-round(lon / 15):+d}")
        part = df[(local.strftime("%Y-%m-%d") == day)]
        rows = extract(part, lat, lon, alt)
        with (OUT / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["solar_min", "kc", "kc_min", "kc_max"])
            w.writerows(rows)
        print(f"{name}: {len(rows)} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
