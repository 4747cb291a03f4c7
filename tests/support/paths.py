"""Where things are: the repository, and the public reference data its tests read."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The feedparser corpus, twitter-text's conformance data and tweepy's recorded X responses
# (each with its LICENSE and SOURCE-COMMIT) ship in the repository, so a fresh clone tests;
# HOOKLINE_SHARED points at another copy (its reference/ directory) instead.
SHARED = Path(os.environ["HOOKLINE_SHARED"]) if os.environ.get("HOOKLINE_SHARED") else None
REFERENCE = SHARED / "reference" if SHARED else ROOT / "tests" / "reference"
EVENTS = ROOT / "events"
ARTIFACTS = ROOT / "test-artifacts"
