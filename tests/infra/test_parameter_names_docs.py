"""What the docs and the example config tell an operator to set names a parameter the template has."""

from __future__ import annotations

import re

import yaml

from tests.support.paths import ROOT

DOCUMENTS = [
    "README.md",
    "config/hookline.example.yaml",
    *sorted(p.name for p in (ROOT / "docs").glob("*.md")),
]


def _template_parameters() -> set[str]:
    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short forms (!Ref, !Sub, ...) are irrelevant here: read them as plain values.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506
    return set(template["Parameters"])


def test_every_secret_name_parameter_the_docs_mention_is_one_the_template_takes():
    # Given the template's parameters
    parameters = _template_parameters()
    assert {"XCredentialsSecretName", "BlueskyAppPasswordSecretName", "MastodonTokenSecretName"} <= parameters

    # Then every ...SecretName the README, the docs and the example config tell an operator to set
    # is one of them (a wrong name is a deploy that silently grants no secret)
    unknown = []
    for name in DOCUMENTS:
        path = ROOT / name if (ROOT / name).exists() else ROOT / "docs" / name
        for mentioned in sorted(
            set(re.findall(r"\b[A-Z][A-Za-z]*SecretName\b", path.read_text(encoding="utf-8")))
        ):
            if mentioned not in parameters:
                unknown.append(f"{name}: {mentioned}")
    assert unknown == []
