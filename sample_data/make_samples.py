"""Generate the bundled sample tables for Loss Advisor.

Every table here is synthetic. Each comes from a small, seeded generative
model whose effects are written out below, so a reader can see exactly what
drives the target. No real patient, customer, insurance or e-mail data is
involved anywhere.

Tables written next to this script (one fixed seed per table):

    diagnosis.csv     imbalanced binary   (target ``diagnosis``: positive/negative, ~6% positive)
    land_cover.csv    long-tailed 6-class (target ``land_cover``)
    house_prices.csv  regression with Student-t noise and x10 / /10 entry errors (target ``price_k``)
    claims.csv        over-dispersed counts with an exposure column (target ``n_claims``)
    tags.csv          multilabel, three correlated 0/1 targets (``is_spam``, ``is_promo``, ``is_urgent``)

Run from the repository root:

    python sample_data/make_samples.py

``--out-dir DIR`` writes the tables somewhere else (useful for checking that two
runs are byte-identical). The script uses only numpy, pandas and the standard
library. Output is deterministic: fixed seeds, fixed column order, every float
column formatted with a fixed number of decimals, ``\\n`` line endings, no index.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

SEEDS = {
    "diagnosis": 20240101,
    "land_cover": 20240202,
    "house_prices": 20240303,
    "claims": 20240404,
    "tags": 20240505,
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _fixed(values, decimals: int) -> pd.Series:
    """Format floats with a fixed number of decimals; NaN becomes an empty cell."""
    values = np.asarray(values, dtype=float)
    out = [None if np.isnan(v) else f"{v:.{decimals}f}" for v in values]
    return pd.Series(out, dtype=object)


def _ints(values) -> pd.Series:
    """Integers; NaN becomes an empty cell (nullable Int64, never '3.0')."""
    values = np.asarray(values, dtype=float)
    return pd.Series(pd.array(np.where(np.isnan(values), None, np.round(values)), dtype="Int64"))


def _with_missing(rng, values, rate):
    """Blank out exactly ``rate`` of the cells, chosen completely at random."""
    values = np.asarray(values, dtype=float).copy()
    values[rng.choice(values.size, size=round(rate * values.size), replace=False)] = np.nan
    return values


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


# --------------------------------------------------------------------------
# 1. diagnosis.csv -- imbalanced binary screening data
# --------------------------------------------------------------------------
def make_diagnosis(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    """Screening for a diabetes-like metabolic disorder.

    Demographics and lifestyle -> a latent insulin-resistance score ->
    fasting glucose (right-skewed) and HbA1c -> logistic model for the
    diagnosis:

        logit P(positive) = -4.55 + 0.045 (glucose - 95) + 1.40 (hba1c - 5.5)
                            + 0.045 (age - 50) + 0.07 (bmi - 27)
                            + 0.90 family_history + 0.35 log(crp / 1.8)
                            + 0.35 current_smoker

    Missing cells are added only after the target is drawn.
    """
    age = np.clip(np.round(rng.normal(52, 15, n)), 18, 90)
    male = rng.random(n) < 0.48
    family_history = rng.random(n) < 0.22
    smoker = rng.choice(["never", "former", "current"], size=n, p=[0.55, 0.27, 0.18])
    current_smoker = smoker == "current"

    # BMI: right-skewed, creeps up with age.
    bmi = np.clip(18.0 + rng.gamma(4.5, 2.0, n) + 0.05 * (age - 50), 15.5, 60.0)

    # Latent insulin resistance (not written out).
    insulin_resistance = (
        0.09 * (bmi - 27) + 0.02 * (age - 50) + 0.5 * family_history + rng.normal(0, 1, n)
    )
    # Fasting glucose in mg/dL: floor of ~62 plus a log-normal excess -> long right tail.
    fasting_glucose = 62 + 30 * np.exp(0.35 * insulin_resistance + rng.normal(0, 0.20, n))
    # HbA1c in %: tracks glucose (roughly the ADAG relation) plus lab noise.
    hba1c = 3.3 + 0.022 * fasting_glucose + rng.normal(0, 0.30, n)

    systolic_bp = np.clip(105 + 0.45 * age + 0.7 * (bmi - 27) + 4 * male + rng.normal(0, 13, n), 85, 220)
    cholesterol = np.clip(195 + 0.4 * (age - 50) + 2.0 * (bmi - 27) + rng.normal(0, 35, n), 100, 380)
    # C-reactive protein in mg/L: log-normal, higher with BMI and smoking; assay floor 0.1.
    crp_mg_l = np.maximum(
        0.1, np.exp(np.log(1.8) + 0.06 * (bmi - 27) + 0.4 * current_smoker + rng.normal(0, 0.9, n))
    )

    # True model: logistic in glucose, HbA1c, age, BMI, family history, CRP, smoking.
    logit = (
        -4.55
        + 0.045 * (fasting_glucose - 95)
        + 1.40 * (hba1c - 5.5)
        + 0.045 * (age - 50)
        + 0.07 * (bmi - 27)
        + 0.90 * family_history
        + 0.35 * np.log(crp_mg_l / 1.8)
        + 0.35 * current_smoker
    )
    positive = rng.random(n) < _sigmoid(logit)

    # Missing cells (after the target is drawn):
    #   crp_mg_l ~15%, more often for patients under 45 (test not ordered);
    #   bmi and cholesterol exactly 2% each, completely at random.
    crp_missing = rng.random(n) < (0.12 + 0.10 * (age < 45))
    crp_mg_l = np.where(crp_missing, np.nan, crp_mg_l)
    bmi = _with_missing(rng, bmi, 0.02)
    cholesterol = _with_missing(rng, cholesterol, 0.02)

    return pd.DataFrame(
        {
            "age": _ints(age),
            "sex": np.where(male, "M", "F"),
            "bmi": _fixed(bmi, 1),
            "systolic_bp": _ints(systolic_bp),
            "fasting_glucose": _ints(fasting_glucose),
            "hba1c": _fixed(hba1c, 1),
            "cholesterol": _ints(cholesterol),
            "smoker": smoker,
            "family_history": np.where(family_history, "yes", "no"),
            "crp_mg_l": _fixed(crp_mg_l, 1),
            "diagnosis": np.where(positive, "positive", "negative"),
        }
    )


# --------------------------------------------------------------------------
# 2. land_cover.csv -- long-tailed multiclass
# --------------------------------------------------------------------------
LAND_CLASSES = ["forest", "cropland", "grassland", "urban", "water", "wetland"]
LAND_PRIOR = [0.45, 0.25, 0.14, 0.09, 0.05, 0.02]
REGIONS = [
    "alpine_north", "eastern_hills", "southern_plateau", "central_plains",
    "river_valley", "lake_district", "coastal_west", "metro_area",
]  # fmt: skip
REGION_BASE_ELEVATION_M = np.array([1500, 700, 950, 320, 180, 260, 30, 90], dtype=float)
REGION_SLOPE_FACTOR = np.array([2.2, 1.5, 1.0, 0.6, 0.7, 0.9, 0.6, 0.6])
# P(region | class), unnormalised; rows follow LAND_CLASSES, columns REGIONS.
REGION_GIVEN_CLASS = np.array(
    [
        [3.0, 3.0, 2.0, 1.0, 1.0, 2.0, 1.0, 0.3],  # forest
        [0.2, 1.0, 2.0, 4.0, 3.0, 1.0, 1.5, 0.5],  # cropland
        [2.0, 2.0, 3.0, 1.5, 1.0, 1.0, 1.0, 0.3],  # grassland
        [0.2, 0.5, 0.5, 1.0, 1.0, 0.5, 1.5, 6.0],  # urban
        [1.0, 0.5, 0.3, 0.5, 2.0, 5.0, 2.0, 0.5],  # water
        [0.2, 0.3, 0.2, 0.5, 3.0, 3.0, 4.0, 0.2],  # wetland
    ]
)
# Mean surface reflectance per class: blue, green, red, nir, swir1.
CLASS_SPECTRUM = np.array(
    [
        [0.030, 0.060, 0.040, 0.300, 0.150],  # forest
        [0.050, 0.090, 0.080, 0.280, 0.200],  # cropland
        [0.050, 0.080, 0.090, 0.220, 0.240],  # grassland
        [0.090, 0.110, 0.130, 0.180, 0.220],  # urban
        [0.060, 0.070, 0.050, 0.030, 0.010],  # water
        [0.040, 0.070, 0.050, 0.150, 0.080],  # wetland
    ]
)
CLASS_ELEVATION_OFFSET_M = np.array([120, -40, 60, -30, -60, -80], dtype=float)
CLASS_MEAN_SLOPE_DEG = np.array([9.0, 3.0, 7.0, 3.0, 0.5, 0.8])


def make_land_cover(rng: np.random.Generator, n: int = 2500) -> pd.DataFrame:
    """30 m pixels labelled with a land-cover class.

    class ~ prior  ->  region ~ P(region | class)  ->  spectrum = mixed pixel
    (a Beta(4, 2) share of its own class's spectrum, the rest from a random
    neighbouring class) times brightness and per-band noise; NDVI and NDWI are
    computed from the noisy bands; elevation and slope from region and class.
    """
    k = rng.choice(len(LAND_CLASSES), size=n, p=LAND_PRIOR)
    region_p = REGION_GIVEN_CLASS / REGION_GIVEN_CLASS.sum(axis=1, keepdims=True)
    r = np.array([rng.choice(len(REGIONS), p=region_p[c]) for c in k])

    # Mixed pixels: purity share of the true class, remainder from another class.
    purity = rng.beta(4.0, 2.0, n)
    neighbour = rng.choice(len(LAND_CLASSES), size=n, p=LAND_PRIOR)
    spectrum = purity[:, None] * CLASS_SPECTRUM[k] + (1 - purity[:, None]) * CLASS_SPECTRUM[neighbour]
    brightness = np.exp(rng.normal(0, 0.15, n))  # illumination / view angle
    bands = spectrum * brightness[:, None] * np.exp(rng.normal(0, 0.15, (n, 5)))
    bands = np.clip(bands, 0.001, 1.0)
    blue, green, red, nir, swir1 = bands.T
    ndvi = (nir - red) / (nir + red)
    ndwi = (green - nir) / (green + nir)  # McFeeters NDWI: high over open water

    elevation_m = np.maximum(
        0.0,
        REGION_BASE_ELEVATION_M[r] * np.exp(rng.normal(0, 0.15, n))
        + CLASS_ELEVATION_OFFSET_M[k]
        + rng.normal(0, 40, n),
    )
    mean_slope = CLASS_MEAN_SLOPE_DEG[k] * REGION_SLOPE_FACTOR[r]
    slope_deg = np.clip(rng.gamma(2.0, mean_slope / 2.0), 0.0, 60.0)

    return pd.DataFrame(
        {
            "region": np.array(REGIONS)[r],
            "elevation_m": _ints(elevation_m),
            "slope_deg": _fixed(slope_deg, 1),
            "blue": _fixed(blue, 4),
            "green": _fixed(green, 4),
            "red": _fixed(red, 4),
            "nir": _fixed(nir, 4),
            "swir1": _fixed(swir1, 4),
            "ndvi": _fixed(ndvi, 3),
            "ndwi": _fixed(ndwi, 3),
            "land_cover": np.array(LAND_CLASSES)[k],
        }
    )


# --------------------------------------------------------------------------
# 3. house_prices.csv -- regression, heavy tails and gross outliers
# --------------------------------------------------------------------------
# name: (share of listings, typical distance to centre in km, log-price premium, typical age in years)
NEIGHBOURHOODS = {
    "old_town": (0.06, 1.0, 0.35, 90),
    "riverside": (0.09, 2.5, 0.25, 45),
    "university_quarter": (0.08, 2.0, 0.10, 60),
    "harbour": (0.08, 3.5, 0.15, 35),
    "hillcrest": (0.09, 6.0, 0.20, 30),
    "northgate": (0.13, 5.0, -0.05, 40),
    "eastfield": (0.14, 7.0, -0.15, 25),
    "millbrook": (0.12, 9.0, -0.10, 20),
    "brickworks": (0.09, 8.0, -0.30, 50),
    "southpark": (0.12, 11.0, -0.25, 15),
}


def make_house_prices(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    """Sold-house listings in a mid-sized city (prices in thousands).

    log(price_k) = log(310) + 0.85 log(area/90) + 0.04 (rooms - 3)
                   - 0.0035 age - 0.035 distance + neighbourhood premium
                   + 0.07 garden + 0.10 * t(3)
    then exactly 2% of prices are data-entry errors (40 rows: 20 x10, 20 /10)
    and exactly 3% of age_years cells are blank (build year unknown).
    """
    names = list(NEIGHBOURHOODS)
    share, centre_km, premium, typical_age = (np.array(v, dtype=float) for v in zip(*NEIGHBOURHOODS.values()))
    nb = rng.choice(len(names), size=n, p=share / share.sum())

    distance_km = np.clip(centre_km[nb] * np.exp(rng.normal(0, 0.30, n)), 0.2, 30.0)
    floor_area_m2 = np.clip(np.exp(rng.normal(np.log(90) + 0.03 * (distance_km - 5), 0.35, n)), 20, 450)
    rooms = np.clip(np.round(floor_area_m2 / 28 + rng.normal(0, 0.7, n)), 1, 10)
    age_years = np.clip(np.round(rng.gamma(2.0, typical_age[nb] / 2.0)), 0, 150)
    has_garden = rng.random(n) < _sigmoid(-1.5 + 0.35 * distance_km)

    log_price = (
        np.log(310)
        + 0.85 * np.log(floor_area_m2 / 90)
        + 0.04 * (rooms - 3)
        - 0.0035 * age_years
        - 0.035 * distance_km
        + premium[nb]
        + 0.07 * has_garden
        + 0.10 * rng.standard_t(3, n)  # heavy-tailed noise on the log scale
    )
    price_k = np.exp(log_price)

    # Gross outliers: a misplaced decimal point when the price was typed in.
    # Exactly 2% of rows: the first half of the picked rows x10, the second half /10.
    error_rows = rng.choice(n, size=round(0.02 * n), replace=False)
    times_ten, divided_by_ten = np.array_split(error_rows, 2)
    price_k[times_ten] *= 10
    price_k[divided_by_ten] /= 10

    age_years = _with_missing(rng, age_years, 0.03)

    return pd.DataFrame(
        {
            "neighbourhood": np.array(names)[nb],
            "distance_to_centre_km": _fixed(distance_km, 1),
            "floor_area_m2": _ints(floor_area_m2),
            "rooms": _ints(rooms),
            "age_years": _ints(age_years),
            "has_garden": has_garden.astype(int),
            "price_k": _fixed(price_k, 1),
        }
    )


# --------------------------------------------------------------------------
# 4. claims.csv -- over-dispersed counts with exposure
# --------------------------------------------------------------------------
# region: (share of policies, share urban, log-frequency effect)
CLAIM_REGIONS = {
    "capital": (0.18, 0.95, 0.35),
    "north": (0.16, 0.60, 0.05),
    "east": (0.14, 0.55, 0.00),
    "west": (0.15, 0.50, -0.15),
    "south": (0.17, 0.65, 0.20),
    "central": (0.12, 0.45, -0.05),
    "mountain": (0.08, 0.25, -0.30),
}
CLAIMS_GAMMA_SHAPE = 1.5  # negative-binomial size k: Var = mu + mu^2 / k


def make_claims(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    """Motor-insurance claim counts per policy-year.

    log mu = log(exposure) + log(0.25) + 1.2 exp(-(driver_age - 18) / 7)
             + 0.08 (vehicle_power - 6) - 0.04 vehicle_age + region effect
             + 0.40 urban + 0.020 (bonus_malus - 50)
    n_claims ~ Poisson(mu * G), G ~ Gamma(k=1.5, mean 1)  => negative binomial
    with Var = mu + mu^2 / 1.5 (G is the unobserved driver risk).
    """
    names = list(CLAIM_REGIONS)
    share, urban_share, region_effect = (np.array(v, dtype=float) for v in zip(*CLAIM_REGIONS.values()))
    reg = rng.choice(len(names), size=n, p=share / share.sum())
    urban = rng.random(n) < urban_share[reg]

    driver_age = np.round(18 + rng.beta(2.0, 2.6, n) * 67)
    vehicle_age = np.clip(np.round(rng.gamma(2.0, 3.5, n)), 0, 25)
    vehicle_power = np.clip(4 + rng.poisson(2.5, n), 4, 15)
    # Bonus-malus (French-style, 50 = best, 100 = entry): 5% discount per
    # year of driving, +25 points per past at-fault claim.
    past_claims = rng.poisson(0.35, n)
    bonus_malus = np.clip(np.round(100 * 0.95 ** (driver_age - 18) + 25 * past_claims), 50, 230)

    # Exposure: 65% of policies cover the full year, the rest a random number of days.
    days = np.where(rng.random(n) < 0.65, 365, rng.integers(1, 365, n))
    exposure = np.round(days / 365, 4)

    log_mu = (
        np.log(exposure)
        + np.log(0.25)
        + 1.2 * np.exp(-(driver_age - 18) / 7)  # young-driver effect
        + 0.08 * (vehicle_power - 6)
        - 0.04 * vehicle_age
        + region_effect[reg]
        + 0.40 * urban
        + 0.020 * (bonus_malus - 50)
    )
    frailty = rng.gamma(CLAIMS_GAMMA_SHAPE, 1 / CLAIMS_GAMMA_SHAPE, n)  # unobserved driver risk
    n_claims = rng.poisson(np.exp(log_mu) * frailty)

    return pd.DataFrame(
        {
            "exposure": _fixed(exposure, 4),
            "driver_age": _ints(driver_age),
            "vehicle_age": _ints(vehicle_age),
            "vehicle_power": _ints(vehicle_power),
            "region": np.array(names)[reg],
            "urban": urban.astype(int),
            "bonus_malus": _ints(bonus_malus),
            "n_claims": n_claims.astype(int),
        }
    )


# --------------------------------------------------------------------------
# 5. tags.csv -- multilabel, correlated labels
# --------------------------------------------------------------------------
def make_tags(rng: np.random.Generator, n: int = 1500) -> pd.DataFrame:
    """Incoming e-mails tagged spam / promo / urgent (any combination).

    Three latent traits per message -- bulk (mass mailing), scam and urgency,
    each N(0, 1) -- drive both the observable features and the labels:
        is_promo  = logistic(-1.7 + 1.8 bulk + 0.8 scam)
        is_spam   = logistic(-3.7 + 2.0 scam + 1.0 bulk)
        is_urgent = logistic(-4.6 + 1.8 urgency + 1.4 scam)
    Shared latents make the labels correlated (spam overlaps promo and urgent).
    """
    bulk = rng.normal(0, 1, n)
    scam = rng.normal(0, 1, n)
    urgency = rng.normal(0, 1, n)

    n_links = rng.poisson(np.exp(0.2 + 0.9 * bulk + 0.3 * scam))
    n_exclamations = rng.poisson(np.exp(-0.6 + 0.3 * bulk + 0.6 * scam + 0.5 * urgency))
    length_chars = np.clip(np.exp(rng.normal(np.log(900) + 0.3 * bulk - 0.3 * urgency, 0.6)), 20, 20000)
    has_attachment = rng.random(n) < _sigmoid(-1.2 - 0.6 * bulk + 0.6 * urgency)
    n_recipients = 1 + rng.poisson(np.exp(-0.5 + 1.0 * bulk))
    # Scam senders use freshly registered domains; capped at 11000 days (~30 years).
    sender_domain_age_days = np.clip(np.exp(rng.normal(np.log(1200) - 0.7 * scam, 0.6)), 1, 11000)
    subject_caps_ratio = np.clip(
        rng.beta(1.5, 12.0, n) + 0.08 * np.maximum(scam, 0) + 0.05 * np.maximum(urgency, 0), 0, 1
    )
    # Legitimate mail is sent in office hours; scam mail any time of day.
    any_hour = rng.random(n) < _sigmoid(-1.5 + 1.2 * scam)
    hour_sent = np.where(any_hour, rng.integers(0, 24, n), np.round(rng.normal(12.5, 3.0, n)) % 24)

    is_promo = rng.random(n) < _sigmoid(-1.7 + 1.8 * bulk + 0.8 * scam)
    is_spam = rng.random(n) < _sigmoid(-3.7 + 2.0 * scam + 1.0 * bulk)
    is_urgent = rng.random(n) < _sigmoid(-4.6 + 1.8 * urgency + 1.4 * scam)

    return pd.DataFrame(
        {
            "length_chars": _ints(length_chars),
            "n_links": n_links.astype(int),
            "n_exclamations": n_exclamations.astype(int),
            "subject_caps_ratio": _fixed(subject_caps_ratio, 3),
            "has_attachment": has_attachment.astype(int),
            "n_recipients": n_recipients.astype(int),
            "sender_domain_age_days": _ints(sender_domain_age_days),
            "hour_sent": _ints(hour_sent),
            "is_spam": is_spam.astype(int),
            "is_promo": is_promo.astype(int),
            "is_urgent": is_urgent.astype(int),
        }
    )


BUILDERS = {
    "diagnosis": make_diagnosis,
    "land_cover": make_land_cover,
    "house_prices": make_house_prices,
    "claims": make_claims,
    "tags": make_tags,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where to write the CSVs (default: this folder)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        df = build(np.random.default_rng(SEEDS[name]))
        path = args.out_dir / f"{name}.csv"
        _write(df, path)
        print(f"wrote {path} ({len(df)} rows, {path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
