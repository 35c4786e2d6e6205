"""eventledger: hand-verified event records, checked against the exact words of their sources."""

__version__ = "0.1.0"
