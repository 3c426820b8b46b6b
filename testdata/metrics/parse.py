"""Reads an OpenMetrics exposition on stdin with the Prometheus project's
own parser and prints its samples as JSON: {"name{label=value,...}": value}.
The parser refuses what is not valid OpenMetrics (cmd/tests/replica.rs)."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        samples[f"{sample.name}{{{labels}}}"] = sample.value
print(json.dumps(samples, sort_keys=True))
