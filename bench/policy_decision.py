"""PolicyEngine.decide() at 100, 10,000 and 100,000 policy lines, against a dict lookup and casbin's enforce().

Shows that a decision's cost does not grow with the policy (goal: ≤ 20 µs median), and that reload swaps without races.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import casbin

from gateway.policy.decisions import (
    CATALOGUE_FILE,
    DISTRICT_CODES,
    IDENTITY_GROUPS,
    IN,
    MODEL_FILE,
    POLICY_FILE,
    SCOPES,
    Key,
    PolicyEngine,
    PolicyTable,
    build_table,
)

SHIPPED = Path(__file__).resolve().parent.parent / "policies"
Line = tuple[str, str, str, str, str, str, str]
Stem = tuple[str, str, str, str, str, str]  # a line without its effect


def line_universe(catalogue: dict) -> list[Stem]:
    """Every valid (role, district, purpose, method, group, scope), wildcards included."""
    methods: list[str] = catalogue["methods"]
    fields: dict[str, dict[str, list[str]]] = catalogue["fields"]
    pairs = [(m, g) for m in methods for g in (*fields[m], "*")]
    pairs += [("*", g) for g in sorted({g for m in methods for g in fields[m]})] + [("*", "*")]
    return [(r, d, p, m, g, s) for r in catalogue["roles"] for d in (*DISTRICT_CODES, "*")
            for p in catalogue["purposes"] for m, g in pairs for s in ("*", IN)]


def policy_lines(universe: list[Stem], n: int, seed: int, deny_share: float = 0.1) -> list[Line]:
    """n distinct lines: shuffled stems, mostly allow; past the universe, the same stems with the other effect."""
    if n > 2 * len(universe):
        raise SystemExit(f"only {2 * len(universe)} distinct lines exist; asked for {n}")
    rng = random.Random(seed)
    stems = universe[:]
    rng.shuffle(stems)
    first = [(*s, "deny" if rng.random() < deny_share else "allow") for s in stems]
    second = [(*ln[:6], "allow" if ln[6] == "deny" else "deny") for ln in first]
    return (first + second)[:n]


def write_policy(directory: Path, lines: list[Line]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, CATALOGUE_FILE):
        shutil.copy(SHIPPED / name, directory / name)
    tmp = directory / (POLICY_FILE + ".tmp")
    tmp.write_text("".join("p, " + ", ".join(ln) + "\n" for ln in lines), "utf-8")
    os.replace(tmp, directory / POLICY_FILE)


def sample_keys(table: PolicyTable, catalogue: dict, per_side: int, seed: int) -> tuple[list[Key], list[Key]]:
    """Distinct allowed keys (in the table) and refused keys (not in it; unknown purpose if the table is full)."""
    rng = random.Random(seed)
    allowed = list(table.groups)
    rng.shuffle(allowed)
    space = [(r, d, p, m, s) for r in catalogue["roles"] for d in DISTRICT_CODES for p in catalogue["purposes"]
             for m in catalogue["methods"] for s in SCOPES]
    refused = [k for k in space if k not in table.groups]
    refused += [(r, d, "no-such-purpose", m, s) for r, d, _, m, s in rng.sample(space, per_side)]
    rng.shuffle(refused)
    return allowed[:per_side], refused[:per_side]


def batch_times(fns: dict[str, Callable[..., object]], stream: list[Key], calls: int,
                batch: int) -> dict[str, list[float]]:
    """Per-call ns of each batch of `batch` calls; the functions take turns batch by batch so noise hits them alike."""
    chunks = [stream[i:i + batch] for i in range(0, len(stream) - batch + 1, batch)]
    out: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm up
        for chunk in chunks[:20]:
            for k in chunk:
                fn(*k)
    perf = time.perf_counter_ns
    for b in range(calls // batch):
        chunk = chunks[b % len(chunks)]
        for name, fn in fns.items():
            t0 = perf()
            for k in chunk:
                fn(*k)
            out[name].append((perf() - t0) / len(chunk))
    return out


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


def casbin_times(directory: Path, table: PolicyTable, allowed: list[Key], refused: list[Key], n: int,
                 seed: int) -> list[float]:
    """Seconds per enforce() for n requests (half allowed, half refused); each answer checked against the table."""
    enforcer = casbin.Enforcer(str(directory / MODEL_FILE), str(directory / POLICY_FILE))
    rng = random.Random(seed)
    fields = table.catalogue.fields
    out = []
    for i in range(n):
        key = rng.choice(allowed if i % 2 == 0 else refused)
        granted = table.groups.get(key, frozenset())
        group = rng.choice(sorted(granted or fields[key[3]]))
        t0 = time.perf_counter()
        ok = enforcer.enforce(key[0], key[1], key[2], key[3], group, key[4])
        out.append(time.perf_counter() - t0)
        if ok != (group in granted) and not (not granted and group in IDENTITY_GROUPS):  # identity alone: nothing
            raise AssertionError(f"casbin and the table disagree on {key} {group}")
    return out


def measure(root: Path, universe: list[Stem], catalogue: dict, n: int, calls: int, batch: int,
            casbin_calls: int) -> dict[str, float]:
    directory = root / f"p{n}"
    write_policy(directory, policy_lines(universe, n, seed=n))
    t0 = time.perf_counter()
    table = build_table(directory)
    build_s = time.perf_counter() - t0
    engine = PolicyEngine(directory)  # builds again; only decide() is timed below
    allowed, refused = sample_keys(table, catalogue, per_side=min(5000, max(50, n // 2)), seed=n + 1)
    rng = random.Random(n + 2)
    stream = [rng.choice(allowed) if rng.random() < 0.5 else rng.choice(refused) for _ in range(20_000)]
    floor = dict.fromkeys(allowed, frozenset({"x"}))  # the floor: a dict of n tuple keys, the same lookups
    i = 0
    while len(floor) < n:
        floor[("filler", str(i), "p", "m", IN)] = frozenset({"x"})
        i += 1
    get = floor.get

    def dict_lookup(role: str, district: str, purpose: str, method: str, scope: str) -> object:
        return get((role, district, purpose, method, scope))

    times = batch_times({"decide": engine.decide, "dict": dict_lookup}, stream, calls, batch)
    enforce = casbin_times(directory, table, allowed, refused, casbin_calls, seed=n + 3)
    deny = sum(1 for ln in table.lines if ln[6] == "deny")
    return {"lines": n, "deny_lines": deny, "table_keys": len(table.groups), "build_s": build_s,
            "decide_med": statistics.median(times["decide"]), "decide_p99": p99(times["decide"]),
            "dict_med": statistics.median(times["dict"]), "dict_size": len(floor),
            "casbin_med": statistics.median(enforce) * 1e9, "casbin_n": casbin_calls,
            "allowed_share": sum(1 for k in stream if k in table.groups) / len(stream)}


def race(root: Path, universe: list[Stem], n: int, seconds: float, threads: int) -> None:
    """4 threads decide while the main thread reloads, alternating two policies; each answer must match its version."""
    lines_a = policy_lines(universe, n, seed=n)
    flip = set(random.Random(7).sample(range(n), n // 10))
    lines_b = [(*ln[:6], ("deny" if ln[6] == "allow" else "allow") if i in flip else ln[6])
               for i, ln in enumerate(lines_a)]
    directory = root / "race"
    expected: dict[str, dict[Key, tuple[bool, str, frozenset[str]]]] = {}
    keys: set[Key] = set()
    for lines in (lines_b, lines_a):
        write_policy(directory, lines)
        t = build_table(directory)
        space = [(r, d, p, m, s) for r in t.catalogue.roles for d in DISTRICT_CODES for p in t.catalogue.purposes
                 for m in t.catalogue.methods for s in SCOPES]
        expected[t.version] = {k: (d.allowed, d.reason, d.groups) for k in space for d in (t.decide(*k),)}
        keys.update(space)
    a, b = expected.values()
    differ = sum(1 for k in keys if a[k] != b[k])
    engine = PolicyEngine(directory)  # starts on policy A
    stream = list(keys)
    stop = threading.Event()
    reloading = threading.Event()
    made, during, mismatches, errors = [0] * threads, [0] * threads, [], []

    def worker(i: int) -> None:
        rng = random.Random(i)
        local = stream[:]
        rng.shuffle(local)
        try:
            while not stop.is_set():
                for k in local[:2000]:
                    d = engine.decide(*k)
                    if (d.allowed, d.reason, d.groups) != expected[d.policy_version][k]:
                        mismatches.append((k, d))
                    made[i] += 1
                    if reloading.is_set():
                        during[i] += 1
                rng.shuffle(local)
        except Exception as exc:  # any exception fails the run below
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    t0 = time.monotonic()
    reloads, versions = 0, set()
    while time.monotonic() - t0 < seconds or reloads < 2:
        write_policy(directory, lines_b if reloads % 2 == 0 else lines_a)
        reloading.set()
        versions.add(engine.reload().version)
        reloading.clear()
        reloads += 1
    elapsed = time.monotonic() - t0
    stop.set()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    assert not mismatches, mismatches[:3]
    assert versions == set(expected), (versions, set(expected))
    print(f"\nreload race, {n:,} lines, two policies differing on {differ:,} of {len(keys):,} keys:")
    print(f"  {reloads} reloads in {elapsed:.1f} s ({elapsed / reloads:.1f} s each) while {threads} threads decided;")
    print(f"  {sum(made):,} decisions, {sum(during):,} of them while a reload was running; "
          f"0 exceptions, 0 wrong answers (each checked against the table of its policy_version)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,10000,100000")
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--casbin-calls", default="200,50,10", help="enforce() calls per size (it is linear in lines)")
    ap.add_argument("--race-lines", type=int, default=10_000)
    ap.add_argument("--race-seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    casbin_calls = [int(s) for s in args.casbin_calls.split(",")]
    catalogue = tomllib.loads((SHIPPED / CATALOGUE_FILE).read_text("utf-8"))
    universe = line_universe(catalogue)
    root = Path(tempfile.mkdtemp(prefix="permitgw-policy-bench-"))
    try:
        rows = [measure(root, universe, catalogue, n, args.calls, args.batch,
                        casbin_calls[min(i, len(casbin_calls) - 1)]) for i, n in enumerate(sizes)]
        print(f"decide(): median / p99 of per-call means over batches of {args.batch} ({args.calls:,} calls), "
              f"interleaved with the dict floor; casbin: median of single enforce() calls")
        print(f"{'lines':>8} | {'build s':>7} | {'decide med µs':>13} | {'p99 µs':>6} | {'dict med µs':>11} | "
              f"{'decide/dict':>11} | {'casbin med µs':>13} | {'casbin/decide':>13}")
        for r in rows:
            print(f"{r['lines']:>8,} | {r['build_s']:>7.1f} | {r['decide_med'] / 1e3:>13.2f} | "
                  f"{r['decide_p99'] / 1e3:>6.2f} | {r['dict_med'] / 1e3:>11.3f} | "
                  f"{r['decide_med'] / r['dict_med']:>11.1f} | "
                  f"{r['casbin_med'] / 1e3:>13,.0f} | {r['casbin_med'] / r['decide_med']:>13,.0f}")
        for r in rows:
            print(f"  {r['lines']:,} lines: {r['deny_lines']:,} deny; table {r['table_keys']:,} keys; dict floor "
                  f"{r['dict_size']:,} keys; {r['allowed_share']:.0%} of decided keys allowed; "
                  f"casbin over {r['casbin_n']} calls")
        goal = [r for r in rows if r["decide_med"] > 20_000]
        print("goal ≤ 20 µs median: " + ("met at every size" if not goal else
                                          "NOT met at " + ", ".join(f"{r['lines']:,}" for r in goal)))
        race(root, universe, args.race_lines, args.race_seconds, args.threads)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
