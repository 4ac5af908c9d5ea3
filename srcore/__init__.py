"""SR Lab core: upscalers, degradation, metrics and the comparison pipeline (no UI code here)."""

__version__ = "0.1.0"
