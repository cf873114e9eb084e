"""Saturation properties: an R-404A-like refrigerant and water vapour.

The refrigerant curve is a two-constant Clausius–Clapeyron fit in absolute kPa,
ln P = A − B / (T + 273.15): about 305 kPa at −20 °C, 605 kPa at 0 °C and 1830 kPa at
40 °C, the values of the spec's example readings.
"""

from __future__ import annotations

import numpy as np

A = 15.074
B = 2368.0
KELVIN = 273.15
ATMOSPHERE_PA = 101_325.0


def psat(t_c: np.ndarray | float) -> np.ndarray:
    """Return the refrigerant's saturation pressure (kPa absolute) at a temperature (°C)."""
    return np.exp(A - B / (np.asarray(t_c) + KELVIN))


def tsat(p_kpa: np.ndarray | float) -> np.ndarray:
    """Return the refrigerant's saturation temperature (°C) at a pressure (kPa absolute)."""
    return B / (A - np.log(np.asarray(p_kpa))) - KELVIN


def vapour_pressure_water(t_c: np.ndarray) -> np.ndarray:
    """Return the saturation vapour pressure (Pa) over liquid water (Magnus formula)."""
    return 611.2 * np.exp(17.62 * t_c / (243.12 + t_c))


def vapour_pressure_surface(t_c: np.ndarray) -> np.ndarray:
    """Return the saturation vapour pressure (Pa) over the coil surface: ice below 0 °C."""
    ice = 611.2 * np.exp(22.46 * t_c / (272.62 + t_c))
    return np.where(t_c < 0.0, ice, vapour_pressure_water(t_c))
