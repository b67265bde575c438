"""Results as files a person can open: `<stem>.json` beside `<stem>.md`."""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)


def write_report(stem: str, result: dict, markdown: str) -> None:
    """Writes `result` to `<stem>.json` and `markdown` to `<stem>.md`, creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(markdown)
    log.info("wrote %s.json and %s.md", stem, stem)
