"""Draws the Terraform example's dashboard (terraform/modules/firelens-router/main.tf,
aws_cloudwatch_dashboard.logging) from EMF lines: the same panels, the
same metrics, one point per EMF interval.

    python3 bench/dashboard.py emf.jsonl docs/dashboard.png OUTAGE_FROM OUTAGE_TO
"""
import json
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t0 = min(l["_aws"]["Timestamp"] for l in lines)


GAUGES = {"SpoolBytes", "DeliveryLagSeconds"}


def series(name, dim=None, value=None):
    """One point per second: counters' gains summed, gauges' largest value
    (the last interval's line and the line written at exit can share one)."""
    points = defaultdict(float)
    for l in lines:
        if name not in l:
            continue
        if dim is None and ("Destination" in l or "AlertDestination" in l):
            continue
        if dim is not None and l.get(dim) != value:
            continue
        x = round((l["_aws"]["Timestamp"] - t0) / 1000)
        points[x] = max(points[x], l[name]) if name in GAUGES else points[x] + l[name]
    xs = sorted(points)
    return xs, [points[x] for x in xs]


panels = [
    ("Errors per second", [("ErrorsMarked", None, None, "errors (marked)"), ("AlertErrors", None, None, "errors that alert")]),
    ("Delivery lag (oldest undelivered record, s)", [("DeliveryLagSeconds", "Destination", d, d) for d in ["firehose", "cloudwatch_logs", "dead_letter"]]),
    ("Records in and delivered per second", [("RecordsIn", None, None, "in")] + [("DeliveredRecords", "Destination", d, d) for d in ["firehose", "cloudwatch_logs"]]),
    ("Retries, failures, dead letters per second", [("Retries", "Destination", "firehose", "retries (firehose)"), ("Failures", "Destination", "firehose", "failures (firehose)"), ("DeadLetters", None, None, "dead letters")]),
    ("Spool on disk (MiB; a segment is deleted once delivered and past 32 MiB)", [("SpoolBytes", None, None, "spool")]),
    ("Alerts sent and dropped", [("AlertsSent", "AlertDestination", "webhook", "sent (webhook)"), ("AlertsDropped", "AlertDestination", "webhook", "dropped (webhook)")]),
]
fig, axes = plt.subplots(3, 2, figsize=(13, 10))
for ax, (title, metrics) in zip(axes.flat, panels):
    for name, dim, value, label in metrics:
        xs, ys = series(name, dim, value)
        if name == "SpoolBytes":
            ys = [y / (1 << 20) for y in ys]
        ax.plot(xs, ys, label=label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("seconds", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
outage = f"a Firehose outage from {sys.argv[3]} s to {sys.argv[4]} s" if len(sys.argv) > 4 else "one run"
fig.suptitle(f"shop-web-logging (FireLens/shop-web), sink-proxy's EMF metrics: {outage}", fontsize=12)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=80)
print(f"dashboard: {sys.argv[2]}")
