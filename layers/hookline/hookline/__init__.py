"""hookline: hook + link posts for an organisation's corporate X account, approved by a person."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "weighted_length"]


def weighted_length(text: str) -> int:
    """X's weighted length of `text` (URLs count 23, emoji and CJK count 2)."""
    # Imported on first use: twitter-text compiles large regexes, which a cold start
    # that never measures text should not pay for.
    from hookline.compose.measure import weighted_length as measure

    return measure(text)
