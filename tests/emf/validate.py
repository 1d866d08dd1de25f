"""Validates EMF lines (one JSON object per line, on stdin) against
emf-schema.json, plus the rules a schema cannot say: every dimension key and
metric name a directive lists is a member of the root object, a dimension's
value a string, a metric's value a number. Exit 1 with the first error."""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "emf-schema.json").read_text())
n = 0
for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    doc = json.loads(line)
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        sys.exit(f"line {number}: {e.message}")
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dims in directive["Dimensions"]:
            for key in dims:
                if not isinstance(doc.get(key), str):
                    sys.exit(f"line {number}: dimension {key} has no string value")
        for metric in directive["Metrics"]:
            value = doc.get(metric["Name"])
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                sys.exit(f"line {number}: metric {metric['Name']} has no number value")
    n += 1
print(f"{n} EMF lines valid")
