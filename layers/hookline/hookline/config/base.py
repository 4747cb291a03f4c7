"""What every part of the configuration shares: its strict base model, its errors, and
the small types several sections use."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONFIG_PATH = Path("config/hookline.yaml")
CONFIG_ENV = "HOOKLINE_CONFIG"

Kind = Literal["publication", "event"]
Source = Literal["own", "partner"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RequiredField = Literal["title", "link", "published", "summary", "event_start", "venue"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A plain shape check: SES verifies the address for real, and email-validator would
# pull dnspython into every cold start.
EmailStr = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one line per field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class ConfigNotFound(ConfigError):
    """No file at the config path: the commonest first mistake, so it gets its own sentence."""

    def sentence(self) -> str:
        return (
            f"no config file at {self.source}: pass --config FILE (or set {CONFIG_ENV}), or run from the "
            f"repository's root, where {DEFAULT_CONFIG_PATH} is"
        )


class ConfigModel(BaseModel):
    # A misspelt key is the commonest config mistake; never ignore one silently.
    # defer_build: the schemas are built once, with Config's, when the first config is read,
    # rather than once per model at import and again inside Config's (~10 ms less per cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
