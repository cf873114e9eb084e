"""Counter-based randomness: every random number is a hash of (seed, device key, stream, step).

Nothing here keeps a sequential RNG state, so a value never depends on how time was cut
into chunks or which minute a simulation started from.
"""

from __future__ import annotations

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MASK64 = (1 << 64) - 1
_STREAM_STEP = 0xD1B54A32D192ED03


def mix64(x: np.ndarray) -> np.ndarray:
    """Scramble 64-bit integers with the splitmix64 finaliser (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def device_keys(noise_keys: list[int] | np.ndarray, seed: int) -> np.ndarray:
    """Combine each device's noise key with a generator seed into 64-bit keys."""
    keys = np.array([int(k) & MASK64 for k in noise_keys], dtype=np.uint64)
    seed_key = mix64(np.array([seed & MASK64], dtype=np.uint64) + GOLDEN)
    return mix64(keys ^ seed_key)


def stream_key(keys: np.ndarray, stream: int) -> np.ndarray:
    """Derive per-device keys for one numbered random stream."""
    # Python ints: numpy warns on (intended) wrap-around in scalar arithmetic.
    return mix64(keys + np.uint64((stream * _STREAM_STEP) & MASK64))


def hash_grid(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Return a (counter, device) grid of hashes: a splitmix64 sequence per device key."""
    return mix64(keys[None, :] + counters.astype(np.uint64)[:, None] * GOLDEN)


def hash_row(keys: np.ndarray, counter: int) -> np.ndarray:
    """Return one hash per device for a single counter value."""
    return mix64(keys + np.uint64((counter * int(GOLDEN)) & MASK64))


def uniform(h: np.ndarray) -> np.ndarray:
    """Map hashes to uniforms in [0, 1) with 53-bit resolution."""
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def uniform_parts(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each hash into three independent uniforms in [0, 1) of 21 bits each."""
    mask = np.uint64((1 << 21) - 1)
    scale = 2.0**-21
    return (
        (h & mask).astype(np.float64) * scale,
        ((h >> np.uint64(21)) & mask).astype(np.float64) * scale,
        ((h >> np.uint64(42)) & mask).astype(np.float64) * scale,
    )


def normal_pair(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map each hash to two independent standard normals (Box–Muller on its 32-bit halves)."""
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) * 2.0**-32
    u2 = (h & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return radius * np.cos(angle), radius * np.sin(angle)


def smooth_noise(keys: np.ndarray, minutes: np.ndarray, knot_min: int) -> np.ndarray:
    """Return (minute, key) unit-variance value noise: a cubic B-spline through hashed knots.

    Knots sit every `knot_min` minutes of epoch time, so the curve is the same whatever
    window of minutes is asked for.
    """
    knot = minutes // knot_min
    u = (minutes - knot * knot_min) / knot_min
    first = int(knot[0]) - 1
    counters = np.arange(first, int(knot[-1]) + 3, dtype=np.int64)
    knots, _ = normal_pair(hash_grid(keys, counters))
    weights = (
        (1.0 - u) ** 3 / 6.0,
        (3.0 * u**3 - 6.0 * u**2 + 4.0) / 6.0,
        (-3.0 * u**3 + 3.0 * u**2 + 3.0 * u + 1.0) / 6.0,
        u**3 / 6.0,
    )
    # The spline's variance dips between knots; dividing by its norm keeps it at 1.
    norm = np.sqrt(weights[0] ** 2 + weights[1] ** 2 + weights[2] ** 2 + weights[3] ** 2)
    index = knot - first - 1
    out = (weights[0] / norm)[:, None] * knots[index]
    for tap in range(1, 4):
        out += (weights[tap] / norm)[:, None] * knots[index + tap]
    return out
