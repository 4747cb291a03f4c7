"""The README's sizing table says what template.yaml deploys: each function's memory, as set."""

from __future__ import annotations

import re

from tests.support.aws import load_template
from tests.support.paths import ROOT

FUNCTIONS = {"approvals": "ApprovalsFunction", "poll": "PollFeedsFunction", "publish": "PublishFunction"}


def deployed_memory() -> dict[str, int]:
    doc = load_template()
    default = doc["Globals"]["Function"]["MemorySize"]
    return {
        name: int(doc["Resources"][logical]["Properties"].get("MemorySize", default))
        for name, logical in FUNCTIONS.items()
    }


def test_the_readme_sizing_table_states_the_memory_each_function_is_deployed_with():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    costs = readme[
        readme.index("## What it costs\n") : readme.index("\n## ", readme.index("## What it costs\n") + 1)
    ]
    stated = {
        name: int(mb.replace(",", ""))
        for name, mb in re.findall(r"^\| (approvals|poll|publish) \| ([\d,]+) MB \|", costs, flags=re.M)
    }
    assert stated == deployed_memory()


def test_the_function_a_person_waits_on_gets_a_full_vcpu():
    # Lambda gives one full vCPU at 1,769 MB; the approver's page is CPU-bound Python
    assert deployed_memory()["approvals"] >= 1769
