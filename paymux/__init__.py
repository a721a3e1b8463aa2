"""paymux: a self-hosted payment platform speaking five merchant API dialects over one core."""

__version__ = "0.1.0"
