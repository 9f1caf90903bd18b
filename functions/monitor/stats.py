"""Critical values and reference buckets: pure, stdlib only (the monitor Lambda ships no scipy).

- `normal_critical(alpha)`: the z a standard normal exceeds with probability alpha (one-sided).
- `t_critical(alpha, df)`: Student's t by the Cornish-Fisher expansion of the normal quantile (Abramowitz &
  Stegun 26.7.5); within 1 % of the exact value for df >= 30 and 3 % for df >= 10 at the alphas used here.
- `ks_critical(alpha, n, m)`: the two-sample Kolmogorov-Smirnov distance exceeded with probability ~alpha under
  no drift, sqrt(-ln(alpha / 2) / 2) * sqrt((n + m) / (n * m)) (Smirnov's asymptotic limit; it includes the
  reference sample's size m, so a small training set widens the critical distance instead of raising alarms).
- `reference_buckets(values)`: cut points at the training deciles plus min and max, with the exact share of
  training values strictly below each cut, so ties (discrete features) fall on the same side in training and
  in the window and the distance is unbiased.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from statistics import NormalDist

_NORMAL = NormalDist()
DECILES = tuple(i / 10 for i in range(1, 10))


def normal_critical(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return _NORMAL.inv_cdf(1.0 - alpha)


def t_critical(alpha: float, df: float) -> float:
    """One-sided Student t quantile; infinite df gives the normal quantile."""
    z = normal_critical(alpha)
    if not math.isfinite(df) or df > 1e6:
        return z
    df = max(df, 1.0)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def ks_coefficient(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return math.sqrt(-math.log(alpha / 2.0) / 2.0)


def ks_critical(alpha: float, n: int, m: int) -> float:
    return ks_coefficient(alpha) * math.sqrt((n + m) / (n * m))


def bonferroni(alpha: float, tests: int) -> float:
    """Family-wise error alpha spread over `tests` comparisons."""
    return alpha / max(tests, 1)


def reference_buckets(values: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(cuts, share of values strictly below each cut): min, the distinct deciles, and max."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("no values")
    count = len(ordered)

    def quantile(level: float) -> float:  # numpy's default (linear) quantile
        position = level * (count - 1)
        low = math.floor(position)
        high = min(low + 1, count - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    # 10 significant digits: short query text; the shares below are computed for the rounded cuts themselves.
    cuts = sorted({float(f"{c:.10g}") for c in (ordered[0], *(quantile(level) for level in DECILES), ordered[-1])})
    shares = []
    for cut in cuts:
        lo, hi = 0, count  # first index with ordered[i] >= cut
        while lo < hi:
            mid = (lo + hi) // 2
            if ordered[mid] < cut:
                lo = mid + 1
            else:
                hi = mid
        shares.append(lo / count)
    return tuple(cuts), tuple(shares)


def ks_from_shares(window_below: Sequence[int], n: int, reference_shares: Sequence[float]) -> float:
    """Largest gap between the window's and the reference's share below each cut."""
    if n <= 0:
        raise ValueError("empty window")
    return max(abs(count / n - share) for count, share in zip(window_below, reference_shares, strict=True))


def smoothed_shares(counts: Sequence[float], total: float) -> list[float]:
    """Bucket shares with half a row added to each bucket (Jeffreys): an empty bucket has a finite log."""
    return [(count + 0.5) / (total + 0.5 * len(counts)) for count in counts]


def psi(window_counts: Sequence[float], reference_shares: Sequence[float], reference_rows: int) -> float:
    """Population stability index, sum (w - r) ln(w / r), over the same buckets; both sides smoothed by half a row."""
    n = sum(window_counts)
    if n <= 0:
        raise ValueError("empty window")
    w = smoothed_shares(window_counts, n)
    r = smoothed_shares([share * reference_rows for share in reference_shares], reference_rows)
    return sum((a - b) * math.log(a / b) for a, b in zip(w, r, strict=True))


def buckets_from_below(below: Sequence[float], total: float) -> list[float]:
    """Counts per bucket from counts below each cut: (-inf, c0), [c0, c1), ..., [c_last, inf)."""
    edges = [0.0, *below, total]
    return [high - low for low, high in pairwise(edges)]


def log_variance_ratio_se(n: int, m: int, kurtosis: float) -> float:
    """Standard error of ln(s_w^2 / s_t^2) for two independent samples of one population with this kurtosis.

    Var(ln s^2) ~ (kurtosis - 3) / n + 2 / (n - 1) (the delta method on the sample variance), so the test does
    not assume normality: heavy tails widen it, and the reference's own size m is in it like the window's.
    """
    kurtosis = max(kurtosis, 1.0)
    return math.sqrt((kurtosis - 3.0) * (1.0 / n + 1.0 / m) + 2.0 / max(n - 1, 1) + 2.0 / max(m - 1, 1))


# --- categorical features: binomial tails without scipy (Numerical Recipes' incomplete beta continued fraction) ---

Z_CAP = 40.0  # the z of a tail probability too small for a float (p < ~1e-300): beyond any critical value used here


def z_of_tail(p: float) -> float:
    """The standard normal z whose upper tail is p: a p-value on the same scale as the other checks' scores."""
    if p >= 1.0:
        return -Z_CAP
    if p <= 0.0:
        return Z_CAP
    return min(-_NORMAL.inv_cdf(p), Z_CAP)


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (tiny if abs(d) < tiny else d)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (tiny if abs(d) < tiny else d)
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (tiny if abs(d) < tiny else d)
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _regularized_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): I_p(k, n - k + 1). Exact at any n, for the thin windows a normal z misjudges."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    return _regularized_beta(float(k), float(n - k + 1), p)


def binomial_lower_tail(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p): I_(1-p)(n - k, k + 1), without the cancellation of 1 - P(X >= k + 1)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return _regularized_beta(float(n - k), float(k + 1), 1.0 - p)


MIN_EXPECTED_ROWS = 5.0  # the normal approximation's rule of thumb: every bucket expects at least this many rows


def pooled_buckets(reference_shares: Sequence[float], n: int, m: int) -> list[list[int]]:
    """Buckets (lists of category indices) whose expected window and reference rows are >= MIN_EXPECTED_ROWS: the
    rare ones are pooled, rarest first, so a two-proportion z holds (it fails on near-empty cells). The pooling
    depends on the training shares and the sizes only, never on what the window shows."""
    size = min(n, m)
    order = sorted(range(len(reference_shares)), key=lambda j: reference_shares[j])
    kept = [[j] for j in order if reference_shares[j] * size >= MIN_EXPECTED_ROWS]
    rare = [j for j in order if reference_shares[j] * size < MIN_EXPECTED_ROWS]
    if rare:
        if sum(reference_shares[j] for j in rare) * size >= MIN_EXPECTED_ROWS or not kept:
            kept.insert(0, rare)
        else:
            kept[0] = rare + kept[0]  # still too thin: joins the smallest bucket that stands alone
    return kept
