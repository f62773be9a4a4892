"""plansok: search and analyse Norwegian municipal plans."""

__version__ = "0.1.0"
