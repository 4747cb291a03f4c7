"""The one configuration file, validated before anything runs.

Every field is documented in config/hookline.example.yaml. A broken file is a
ConfigError whose lines each name a field path, so nobody has to guess which of
forty feeds has the typo.

This is the door: callers import from `hookline.config`. The sections live in
base (shared model, errors, types), accounts (organisation, accounts, approvers),
content (feeds, rules, composing), operations (pacing, approval, notifications,
polling) and loading (the root Config and reading the file).
"""

from hookline.config.accounts import (
    DOMAIN_HANDLE,
    Account,
    Accounts,
    Approver,
    BlueskyAccount,
    MastodonAccount,
    Organisation,
)
from hookline.config.base import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    FEED_ID,
    WEEKDAYS,
    ConfigError,
    ConfigModel,
    ConfigNotFound,
    EmailStr,
    Kind,
    RequiredField,
    Source,
    Weekday,
    default_config_path,
)
from hookline.config.content import (
    TEMPLATE_FIELDS,
    Compose,
    FeedConfig,
    NetworkCompose,
    NetworkTemplates,
    RuleSet,
    Templates,
    Utm,
    check_template,
)
from hookline.config.loading import Config, NoXAccount, load_config, parse_config, problems_of
from hookline.config.operations import (
    Approval,
    Notifications,
    Pacing,
    Polling,
    PublishWindow,
    Webhook,
    Window,
    cents,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "DOMAIN_HANDLE",
    "FEED_ID",
    "TEMPLATE_FIELDS",
    "WEEKDAYS",
    "Account",
    "Accounts",
    "Approval",
    "Approver",
    "BlueskyAccount",
    "Compose",
    "Config",
    "ConfigError",
    "ConfigModel",
    "ConfigNotFound",
    "EmailStr",
    "FeedConfig",
    "Kind",
    "MastodonAccount",
    "NetworkCompose",
    "NetworkTemplates",
    "NoXAccount",
    "Notifications",
    "Organisation",
    "Pacing",
    "Polling",
    "PublishWindow",
    "RequiredField",
    "RuleSet",
    "Source",
    "Templates",
    "Utm",
    "Webhook",
    "Weekday",
    "Window",
    "cents",
    "check_template",
    "default_config_path",
    "load_config",
    "parse_config",
    "problems_of",
]
