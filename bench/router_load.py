#!/usr/bin/env python3
"""The log router's CPU and memory per MB/s of logs: a real Fluent Bit with
the shipped include, fed the labelled corpus over the forward protocol (as
FireLens feeds it) at fixed rates, its http output answered by a stand-in
for sink-proxy. Run by bench/fluent-bit-router-load.sh.

    router_load.py FLUENT_BIT INCLUDE MODULE REPO CORPUS_DIR RATES SECONDS

CPU is Fluent Bit's user+sys time (from /proc) from the first record sent
until the last one is delivered, so it includes the flushes of the tail;
memory is its peak resident set (VmHWM).
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import multiline as m  # noqa: E402


def proc_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    binary, include, module, repo, corpus, rates, seconds = sys.argv[1:8]
    seconds = float(seconds)
    records = [json.loads(line) for line in open(os.path.join(corpus, "records.jsonl"))]
    tag = "web-firelens-1"
    # Pre-encoded forward messages, so the sender keeps up.
    encoded = [(m.pack([tag, m.EventTime(time.time()), r]), len(json.dumps(r))) for r in records]
    print("| MB/s in | records/s | Fluent Bit CPU, % of a vCPU | CPU s per GB | peak memory MiB |")
    print("|---:|---:|---:|---:|---:|")
    for rate in [float(r) for r in rates.split(",")]:
        rx = m.Receiver()
        with tempfile.TemporaryDirectory() as work:
            fb = m.FluentBit(binary, include, module, repo, rx.port, work)
            pid = fb.proc.pid
            cpu0 = proc_cpu_seconds(pid)
            t0 = time.time()
            sent = sent_bytes = i = 0
            tick = 0.05
            while time.time() - t0 < seconds:
                budget = rate * 1e6 * tick
                batch = []
                while budget > 0:
                    msg, size = encoded[i % len(encoded)]
                    batch.append(msg)
                    budget -= size
                    sent_bytes += size
                    i += 1
                fb.sock.sendall(b"".join(batch))
                sent += len(batch)
                # Paced to the rate: sleep the rest of the tick.
                ahead = t0 + sent_bytes / (rate * 1e6) - time.time()
                if ahead > 0:
                    time.sleep(ahead)
            # Until every kept record has reached the receiver (health checks
            # are dropped: count against what the filter keeps).
            deadline = time.time() + 120
            while time.time() < deadline:
                c = fb.metrics()["filter"]["firelens_classify"]
                if c["records"] >= sent and len(rx.records) >= c["records"] - c["drop_records"]:
                    break
                time.sleep(0.1)
            elapsed = time.time() - t0
            cpu = proc_cpu_seconds(pid) - cpu0
            rss = peak_rss_mib(pid)
            fb.stop()
        mb = sent_bytes / 1e6
        print(f"| {mb / seconds:.1f} | {sent / seconds:,.0f} | {100 * cpu / seconds:.1f} | {cpu / mb * 1000:.1f} | {rss:.0f} |")
        if len(rx.records) == 0:
            sys.exit("nothing delivered")


if __name__ == "__main__":
    main()
