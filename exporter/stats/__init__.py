"""Pure drift statistics: arrays in, floats and NamedTuples out.

Depends only on numpy, scipy and the standard library, so every statistic can be tested
against scipy or a closed form and timed on its own. Inputs are validated in
:mod:`exporter.stats.validation`; invalid input raises ``ValueError`` naming the argument.
"""

from exporter.stats.binning import bin_counts, quantile_edges
from exporter.stats.bridges import BrownianBridges, brownian_bridges
from exporter.stats.calibration import (
    BinPooling,
    jensen_shannon_critical,
    pool_sparse_bins,
    pooled,
    psi_critical,
    wasserstein_critical,
)
from exporter.stats.correction import CorrectionMethod, adjust_pvalues
from exporter.stats.distance import wasserstein_normalized
from exporter.stats.divergence import jensen_shannon, psi
from exporter.stats.two_sample import (
    Chi2Result,
    EcdfComparison,
    chi2,
    compare_ecdfs,
)
from exporter.stats.validation import as_counts, as_sample, as_sorted_sample, check_same_length

__all__ = [
    "BinPooling",
    "BrownianBridges",
    "Chi2Result",
    "CorrectionMethod",
    "EcdfComparison",
    "adjust_pvalues",
    "as_counts",
    "as_sample",
    "as_sorted_sample",
    "bin_counts",
    "brownian_bridges",
    "check_same_length",
    "chi2",
    "compare_ecdfs",
    "jensen_shannon",
    "jensen_shannon_critical",
    "pool_sparse_bins",
    "pooled",
    "psi",
    "psi_critical",
    "quantile_edges",
    "wasserstein_critical",
    "wasserstein_normalized",
]
