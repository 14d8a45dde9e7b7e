"""The machine's load while a benchmark timed itself, as the Java bench's MachineLoad
computes it: the shares of all CPUs' time that other processes were busy and that the
hypervisor stole, from /proc/stat and this process's own CPU time.

    python3 bench/machine_load.py BEFORE AFTER OWN_SECONDS WALL_SECONDS
prints the load between two saved copies of /proc/stat as one JSON line (for the test
that holds this twin to the Java one).
"""
import json
import sys


def parse(lines):
    """/proc/stat's summed CPU ticks (busy, steal, total) and its CPU count."""
    first = lines[0].split() if lines else []
    if len(first) < 9 or first[0] != "cpu":
        raise ValueError("/proc/stat: the first line is not the CPUs' sum: %r" % (lines[0] if lines else ""))
    v = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return busy, v[7], busy + v[3] + v[4] + v[7], max(1, cpus)


def cpu_ticks(path="/proc/stat"):
    """parse() of the machine's /proc/stat now, or None where it cannot be read (not Linux)."""
    try:
        with open(path) as f:
            return parse(f.read().splitlines())
    except (OSError, ValueError):
        return None


def machine_load(before, after, own_seconds, wall_seconds):
    """The JSON fields other_cpu_share and steal_share between two cpu_ticks() readings, own
    CPU time and wall time in seconds; None where either reading is missing."""
    if before is None or after is None:
        return {"other_cpu_share": None, "steal_share": None}
    if after[2] <= before[2] or wall_seconds <= 0:
        return {"other_cpu_share": 0.0, "steal_share": 0.0}
    ticks = after[2] - before[2]
    own = own_seconds / (wall_seconds * after[3])
    return {"other_cpu_share": min(1.0, max(0.0, (after[0] - before[0]) / ticks - own)),
            "steal_share": max(0.0, (after[1] - before[1]) / ticks)}


if __name__ == "__main__":
    before, after = (cpu_ticks(p) for p in sys.argv[1:3])
    print(json.dumps(machine_load(before, after, float(sys.argv[3]), float(sys.argv[4]))))
