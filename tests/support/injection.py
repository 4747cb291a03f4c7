"""Links a hostile partner feed could send to put a mention, cashtag, hashtag or second link
into the corporate post: every way we know of to smuggle feed text out of the link.

Each form is a template with HOST where the partner's real host goes. The forms attack the
authority (user names, spaces, look-alike at signs, controls, direction marks), and the
path, query and fragment (spaces, at signs, dollar and hash signs that X would read as an
entity were the link cut short).
"""

from __future__ import annotations

from itertools import product

# What an attacker wants X to parse out of the post.
_PAYLOADS = ["@someone", "$TSLA", "#breaking", "@someone/list"]
# Ways to let a payload out of the authority.
_AUTHORITY = [
    "http://{p} HOST/report",
    "http://@someone @HOST/report",
    "https://HOST {p}/report",
    "https://HOST\t{p}/report",
    "https://HOST\u00a0{p}/report",
    "https://HOST\u3000{p}/report",
    "https://user@HOST/report",
    "https://user:pass@HOST/report",
    "https://{p}@HOST/report",
    "https://HOST＠someone/report",
    "https://HOST\u202e{p}/report",
    "https://HOST\u2066{p}\u2069/report",
    "https://HOST\u200b{p}/report",
    "https://HOST\x0b{p}/report",
    "https://HOST\x00{p}/report",
    "https://HOST%20{p}/report",
]
# Ways to let a payload out of the rest of the link.
_REST = [
    "https://HOST/report {p}",
    "https://HOST/report/{p}",
    "https://HOST/report?who={p}",
    "https://HOST/report?q= {p}",
    "https://HOST/report#{p}",
    "https://HOST/report# {p}",
    "https://HOST/report/\u202e{p}",
    "https://HOST/report/\u3000{p}",
    "https://HOST/report.{p}",
    "https://HOST/report){p}",
]


def injected_links(host: str) -> list[str]:
    """Every form with every payload, each distinct; more than 100 in all."""
    forms = []
    for form, payload in product(_AUTHORITY + _REST, _PAYLOADS):
        link = form.replace("{p}", payload).replace("HOST", host)
        forms.append(link)
    return list(dict.fromkeys(forms))
