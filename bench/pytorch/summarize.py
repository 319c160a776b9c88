#!/usr/bin/python3
"""Print a Markdown table of results/*.json (or the files given)."""
import glob
import json
import sys

files = sys.argv[1:] or sorted(glob.glob("results/*.json"))
print("| dataset | model | order | epochs | epochs/layer | seed | test acc | best val (epoch) | last val | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for f in files:
    r = json.load(open(f))
    epl = r["epochs_per_layer"] if r["order"] not in ("float", "binary") else "-"
    quirk = " (official eval quirk)" if r.get("official_eval_quirk") else ""
    print(f"| {r['dataset']} | {r['model']} | {r['order']}{quirk} | {r['epochs']} | {epl} | {r['seed']} "
          f"| {100 * r['test_accuracy']:.2f} | {100 * r['best_val_accuracy']:.2f} ({r['best_val_epoch']}) "
          f"| {100 * r['last_val_accuracy']:.2f} | {r['seconds']:.0f} |")
