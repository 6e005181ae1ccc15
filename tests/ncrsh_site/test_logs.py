from __future__ import annotations

import json
import logging

from ncrsh_site.logs import JsonFormatter


def test_json_logs_are_one_object_per_line() -> None:
    record = logging.LogRecord("ncrsh.test", logging.WARNING, __file__, 1, "node %s left", ("node_1",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "node node_1 left"
    assert entry["level"] == "WARNING"
    assert entry["timestamp"].endswith("Z")
