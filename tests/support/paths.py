"""Where things are: the repo, and ../shared beside it (as the developers' machines and CI lay it out)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(__import__("os").environ.get("HOOKLINE_SHARED") or ROOT.parent / "shared")
REFERENCE = SHARED / "reference"
EVENTS = ROOT / "events"
ARTIFACTS = ROOT / "test-artifacts"
