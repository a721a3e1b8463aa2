"""Every signature paymux computes or checks lives here, one module per scheme.

Each module is pinned by the openssl-computed vectors of shared/specs/VECTORS.md.
Comparisons are constant-time (`hmac.compare_digest`).
"""
