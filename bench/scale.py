"""Lookup latency and server memory against the number of residents: p50/p99 at each scale, ratio to the smallest.

For each scale N (default 10,000 and 100,000; the full run is `--scales 10000,1000000,5000000`) a data directory is
built: PSB registration and permit records (`jzdj`) for all N synthetic residents, and every other bureau's files
(hrss, housing, market, agri, education) for a sample of them only (`--sample`, default 10,000: the first residents,
the same people at every scale), so that the database of millions fits these machines' disks. The residents are made
by gateway/synth in chunks (`--chunk`, each with its own seed) in a helper process while the previous chunk is
imported through gateway/service/importer.py, so memory stays bounded; an identity number already given in an
earlier chunk is re-drawn (same home region, birth date and sex, another sequence number, valid check digit) and
permit numbers are numbered across the whole population, so both stay unique.
Then one `permitgw serve` per scale is started on its directory ([server] calls_per_principal and max_calls raised
to 128 as in bench/server_vs_echo.py; the school quota raised to 100,000,000 people an hour and a day, so random
lookups are counted but not refused) and the servers take turns, round after round: GetPermitStatus about residents
drawn at random across the whole population (`--pool` different people, in random order), and CheckEnrollment about
school-age children drawn likewise with their PSB guardian, at each concurrency. Servers are pinned to core 0, the
load client (bench/load_client.py) to core 1. Reported: build time and rows, database size, p50/p99 per round and
their ratio to the smallest scale, the server's VmRSS / VmHWM (/proc/PID/status) at start and after the rounds, and
the access-log entries the directory held at start (the server reads its log's last 24 hours at start, so a kept
directory's earlier runs show in its RSS), and store.permits() timed alone in this process.
`--keep DIR` keeps the data directories in DIR and reuses the ones already built there.
Run: .venv/bin/python bench/scale.py [--scales 10000,100000] [--rounds 2] [--seconds 5] [--concurrency 1,16]
     [--keep DIR] [--build-only]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime as _dt
import json
import math
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import grpc
from load_client import Result, credentials, run
from server_vs_echo import BIN, CLIENT_CORE, ENROL, PERMIT, SERVER_CORE, _of_age, raise_limits, start

from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain.idnumber import IdNumber
from gateway.identity.ca import issue_client
from gateway.identity.principal import Principal
from gateway.service.importer import import_files
from gateway.synth import psb
from gateway.synth.people import SynthPerson, make_id, residents
from gateway.synth.write import BUREAU_FILES, write_bureaus
from permitgw.v1 import common_pb2, entitlement_pb2, permit_pb2

CTX = common_pb2.RequestContext(purpose="compulsory-education", case_id="B-1", operator_id="B")
SCHOOL_DISTRICT = "330212"
BUILT = "built.json"  # written last: a directory without it was not finished and is built again


# --- building (the generator runs in one helper process; its state carries from chunk to chunk) -----------------

_SEEN: set[int] = set()  # the first 17 digits of every identity number given so far (the 18th follows from them)


def _unique(p: SynthPerson) -> bool:
    """Give p an identity number not given before in this population (re-drawing the sequence number); True if
    it had to be changed."""
    first17 = int(p.id_number[:17])
    if first17 not in _SEEN:
        _SEEN.add(first17)
        return False
    parity = int(p.id_number[16]) % 2
    for seq in range(parity, 1000, 2):
        new = make_id(p.id_number[:6], p.birth, seq)
        if int(new[:17]) not in _SEEN:
            _SEEN.add(int(new[:17]))
            p.id_number = new
            return True
    raise SystemExit(f"no free identity number left for a birth date {p.birth} in region {p.id_number[:6]}")


@dataclass
class Chunk:
    path: Path
    residents: int
    renumbered: int
    adults: list[str]  # identity numbers drawn for GetPermitStatus
    children: list[tuple[str, str]]  # (child, guardian) drawn for CheckEnrollment
    sample_dir: Path | None  # the other bureaus' files, for the chunk holding the sample


def make_chunk(out: Path, index: int, start_at: int, count: int, seed: int, pick: float, sample: int) -> Chunk:
    """Residents start_at .. start_at+count-1: their PSB file, and the people drawn for lookups."""
    people = residents(count, seed=seed * 1000 + index)
    renumbered = 0
    for i, p in enumerate(people):
        renumbered += _unique(p)
        if p.permit_number:  # 33 + district + year + serial: the serial numbered across the population
            p.permit_number = f"{p.permit_number[:10]}{start_at + i:07d}"
    path = out / f"jzdj_{index:04d}.csv"
    psb.write(path, people, seed=seed * 1000 + index)
    rng = random.Random(seed * 7919 + index)
    adults = [p.id_number for p in people if rng.random() < pick]
    children = [(p.id_number, p.guardian.id_number) for p in people
                if p.guardian is not None and _of_age(p) and rng.random() < 4 * pick]
    sample_dir = None
    if index == 0 and sample:  # the first residents, untouched by renumbering: their lives are consistent
        sample_dir = out / "sample"
        sample_dir.mkdir()
        write_bureaus(sample_dir, people[:sample], seed=seed)
    return Chunk(path, count, renumbered, adults, children, sample_dir)


def _fresh_generator() -> None:
    _SEEN.clear()


def db_bytes(data: DataDir) -> int:
    return sum(p.stat().st_size for p in data.root.glob("gateway.db*"))


def build(where: Path, n: int, *, seed: int, chunk: int, sample: int, pool: int) -> dict[str, object]:
    """Make the data directory `where`/data for n residents; what was built (also saved as `where`/built.json)."""
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    data = DataDir(where / "data")
    datadir.init(data.root)
    raise_limits(data)
    quotas = (data.policies / "quotas.toml").read_text()
    quotas, k = re.subn(r"(\[school\]\nper_hour = )\d+(\nper_day = )\d+", r"\g<1>100000000\g<2>100000000", quotas)
    if k != 1:
        raise SystemExit("policies/quotas.toml: no [school] per_hour / per_day lines to raise")
    (data.policies / "quotas.toml").write_text(quotas)
    issue_client(data.keys, Principal("school", f"{SCHOOL_DISTRICT}0001", "bench school", SCHOOL_DISTRICT),
                 where / "school")
    tmp = where / "files"
    tmp.mkdir()
    pick = min(1.0, pool / n)
    rows = {"psb": 0}
    adults: list[str] = []
    children: list[tuple[str, str]] = []
    renumbered = 0
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    store = data.open_store()
    starts = list(range(0, n, chunk))
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                                initializer=_fresh_generator) as gen:
        def submit(i: int) -> concurrent.futures.Future[Chunk]:
            return gen.submit(make_chunk, tmp, i, starts[i], min(chunk, n - starts[i]), seed, pick,
                              min(sample, n))
        pending = submit(0)
        for i in range(len(starts)):
            part = pending.result()
            if i + 1 < len(starts):
                pending = submit(i + 1)  # made while this one is imported
            summary = import_files(store, "psb", [part.path], data.rejects)
            if summary.rejected or summary.accepted != summary.read:
                raise SystemExit(f"{part.path.name}: {summary.as_dict()}")
            rows["psb"] += summary.read
            part.path.unlink()
            renumbered += part.renumbered
            adults += part.adults
            children += part.children
            if part.sample_dir is not None:
                for bureau, files in BUREAU_FILES.items():
                    if bureau != "psb":  # the sample's PSB rows are in the chunk's file
                        s = import_files(store, bureau, [part.sample_dir / name for name, _ in files],
                                         data.rejects)
                        rows[bureau] = s.read
                shutil.rmtree(part.sample_dir)
            print(f"  {n:,}: {starts[i] + part.residents:,} residents imported, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    counts = store.counts()
    store.close()
    shutil.rmtree(tmp)
    info: dict[str, object] = {
        "residents": n, "seed": seed, "chunk": chunk, "sample": min(sample, n), "rows_read": rows,
        "renumbered": renumbered, "table_rows": counts, "seconds": round(time.perf_counter() - t0, 1),
        "main_cpu_seconds": round(time.process_time() - cpu0, 1), "db_bytes": db_bytes(data),
        "adults": adults, "children": children, "built_at": f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC"}
    (where / BUILT).write_text(json.dumps(info))
    return info


def built(where: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads((where / BUILT).read_text()))
    except FileNotFoundError:
        return None


# --- measuring -------------------------------------------------------------------------------------------------

def memory_kb(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (kB) of the process, from /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def store_lookups(data: DataDir, ids: list[str], passes: int) -> list[float]:
    """The store alone, in this process: the median seconds of store.permits() (what GetPermitStatus reads) over
    `ids`, once per pass (no gRPC, TLS, policy or access log: whether the database itself slows with its size)."""
    store = data.open_store(read_only=True)
    who = [IdNumber.parse(i) for i in ids]
    medians = []
    try:
        for _ in range(passes):
            took = []
            for w in who:
                t = time.perf_counter()
                store.permits(w)
                took.append(time.perf_counter() - t)
            medians.append(statistics.median(took))
    finally:
        store.close()
    return medians


def requests_of(info: dict[str, object], pool: int, seed: int) -> dict[str, list[bytes]]:
    adults = list(info["adults"])  # type: ignore[call-overload]
    children = list(info["children"])  # type: ignore[call-overload]
    rng = random.Random(seed)
    rng.shuffle(adults)
    rng.shuffle(children)
    return {
        PERMIT: [permit_pb2.GetPermitStatusRequest(context=CTX, id_number=a).SerializeToString()
                 for a in adults[:pool]],
        ENROL: [entitlement_pb2.CheckEnrollmentRequest(context=CTX, child_id_number=c, guardian_id_numbers=[g])
                .SerializeToString() for c, g in children[:pool]],
    }


def check_answers(address: str, school: Path, requests: dict[str, list[bytes]]) -> Counter[str]:
    """Every request once, decoded: GetPermitStatus must answer, CheckEnrollment must decide; the decisions."""
    decisions: Counter[str] = Counter()
    with grpc.secure_channel(address, credentials(school),
                             options=[("grpc.ssl_target_name_override", "localhost")]) as ch:
        permit = ch.unary_unary(PERMIT)
        enrol = ch.unary_unary(ENROL)
        for r in requests[PERMIT][:50]:
            if not permit_pb2.GetPermitStatusResponse.FromString(permit(r, timeout=30)).ByteSize():
                raise SystemExit("GetPermitStatus answered an empty message")
        for r in requests[ENROL][:50]:
            answer = entitlement_pb2.CheckEnrollmentResponse.FromString(enrol(r, timeout=30))
            if answer.decision == entitlement_pb2.ENROLLMENT_DECISION_UNSPECIFIED:
                raise SystemExit(f"CheckEnrollment answered no decision: {answer}")
            decisions[entitlement_pb2.EnrollmentDecision.Name(answer.decision)] += 1
    return decisions


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{platform.node()}, nproc {len(os.sched_getaffinity(0))}, {model}, {mem:.0f} GB"


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="10000,100000", help="residents, comma-separated; the first is the baseline")
    ap.add_argument("--sample", type=int, default=10_000, help="residents whose other bureaus' files are imported")
    ap.add_argument("--chunk", type=int, default=200_000, help="residents made and imported at a time")
    ap.add_argument("--pool", type=int, default=5000, help="different people drawn for each method's lookups")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="each figure is measured this many times, interleaved")
    ap.add_argument("--seconds", type=float, default=5.0, help="measured window of each figure")
    ap.add_argument("--warmup", type=float, default=1.0, help="calls before each window, not counted")
    ap.add_argument("--concurrency", default="1,16", help="calls in flight, comma-separated")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--keep", type=Path, help="build the data directories here and keep them; reuse finished ones")
    ap.add_argument("--build-only", action="store_true", help="build (or find) the data directories, measure nothing")
    args = ap.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    concurrency = [int(c) for c in args.concurrency.split(",")]
    root = args.keep or Path(tempfile.mkdtemp(prefix="permitgw-bench-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    command = " ".join([Path(sys.executable).name, *sys.argv])
    load_start = os.getloadavg()
    infos: dict[int, dict[str, object]] = {}
    fresh: set[int] = set()
    procs: dict[int, tuple[subprocess.Popen[str], str]] = {}
    own_cores = os.sched_getaffinity(0)
    try:
        for n in scales:
            where = root / str(n)
            found = built(where) if args.keep else None
            if found is None or found.get("seed") != args.seed or found.get("sample") != min(args.sample, n):
                print(f"building {n:,} residents in {where} ...", file=sys.stderr, flush=True)
                found = build(where, n, seed=args.seed, chunk=args.chunk, sample=args.sample, pool=args.pool)
                fresh.add(n)
            infos[n] = found
        print(f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
        print(f"command: {command}")
        print("built: PSB registrations and permits (jzdj) for every resident; hrss (sbjf, ldht), housing (bdc, czfw), "
              "market (yyzz), agri (tdcb) and education (xj) files for the first --sample residents only")
        print("| residents | other bureaus for | build s (main CPU s) | rows read by file kind | persons | permits "
              "| facts | ids re-drawn | database MB | built |")
        print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for n, info in infos.items():
            t = info["table_rows"]
            assert isinstance(t, dict)
            when = "this run" if n in fresh else f"kept, {info['built_at']}"
            print(f"| {n:,} | {info['sample']:,} | {info['seconds']} ({info['main_cpu_seconds']}) | "
                  f"{info['rows_read']} | {t['persons']:,} | {t['permits']:,} | {t['facts']:,} | "
                  f"{info['renumbered']:,} | {db_bytes(DataDir(root / str(n) / 'data')) / 1e6:,.0f} | {when} |")
        if args.build_only:
            return

        pinned = len(own_cores) >= 2 and {SERVER_CORE, CLIENT_CORE} <= own_cores
        reqs = {n: requests_of(infos[n], args.pool, args.seed) for n in scales}
        alone = {}
        for n in scales:
            adults = list(infos[n]["adults"])  # type: ignore[call-overload]
            alone[n] = store_lookups(DataDir(root / str(n) / "data"),
                                     random.Random(args.seed).sample(adults, min(2000, len(adults))), args.rounds)
        print("\nthe store alone (store.permits() in this process, up to 2,000 random residents, median "
              "per pass): " + "; ".join(f"{n:,}: {', '.join(f'{x * 1e6:.0f}' for x in alone[n])} µs "
                                        f"(ratio {med(alone[n]) / med(alone[scales[0]]):.2f})" for n in scales))
        logged = {}  # the server reads the last 24 hours of its access log at start (quotas, anomalies)
        for n in scales:
            store = DataDir(root / str(n) / "data").open_store(read_only=True)
            logged[n] = store.counts()["access_log"]
            store.close()
        rss_start: dict[int, tuple[int, int]] = {}
        decisions: dict[int, Counter[str]] = {}
        for n in scales:
            data = root / str(n) / "data"
            procs[n] = start([str(BIN / "permitgw"), "serve", "--data", str(data), "--listen", "127.0.0.1:0"], pinned)
            rss_start[n] = memory_kb(procs[n][0].pid)
        if pinned:
            os.sched_setaffinity(0, {CLIENT_CORE})
        for n in scales:
            decisions[n] = check_answers(procs[n][1], root / str(n) / "school", reqs[n])
        before = os.getloadavg()
        results: dict[tuple[int, str, int], list[Result]] = {}
        for r in range(args.rounds):
            for c in concurrency:
                for method in (PERMIT, ENROL):
                    for n in scales:
                        proc, address = procs[n]
                        todo = reqs[n][method]
                        offset = (r * 997) % len(todo)  # each round starts elsewhere in the random order
                        results.setdefault((n, method, c), []).append(run(
                            address, root / str(n) / "school", method, todo[offset:] + todo[:offset],
                            channels=args.channels, concurrency=c, warmup=args.warmup, seconds=args.seconds,
                            server_pid=proc.pid))
        after = os.getloadavg()
        rss_end = {n: memory_kb(procs[n][0].pid) for n in scales}

        base = scales[0]
        print(f"\nlookups: {args.rounds} rounds x ({args.warmup:g} s warm-up + {args.seconds:g} s) per figure, "
              f"scales taking turns; {args.channels} channels; "
              f"{'server on core 0, load client on core 1' if pinned else 'NOT pinned'}")
        print(f"| method | concurrency | residents | different people asked | calls (rounds) | p50 ms (rounds) "
              f"| p50 / p50({base:,}) | p99 ms (rounds) | p99 / p99({base:,}) | non-OK |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for method in (PERMIT, ENROL):
            for c in concurrency:
                p50_base = med([x.p50 for x in results[(base, method, c)]])
                p99_base = med([x.p99 for x in results[(base, method, c)]])
                for n in scales:
                    rs = results[(n, method, c)]
                    p50, p99 = med([x.p50 for x in rs]), med([x.p99 for x in rs])
                    errors: dict[str, int] = {}
                    for x in rs:
                        for k, v in x.errors.items():
                            errors[k] = errors.get(k, 0) + v
                    print(f"| {method.rsplit('/', 1)[1]} | {c} | {n:,} | {len(reqs[n][method]):,} "
                          f"| {sum(x.calls for x in rs):,} ({', '.join(str(x.calls) for x in rs)}) "
                          f"| {p50 * 1e3:.2f} ({', '.join(f'{x.p50 * 1e3:.2f}' for x in rs)}) | {p50 / p50_base:.2f} "
                          f"| {p99 * 1e3:.2f} ({', '.join(f'{x.p99 * 1e3:.2f}' for x in rs)}) | {p99 / p99_base:.2f} "
                          f"| {errors or 0} |")
        print("\n| residents | access-log entries at start (earlier runs of a kept directory) | server VmRSS MB at "
              "start | VmRSS MB after the lookups | VmHWM MB | first 50 CheckEnrollment decisions |")
        print("| ---: | ---: | ---: | ---: | ---: | --- |")
        for n in scales:
            print(f"| {n:,} | {logged[n]:,} | {rss_start[n][0] / 1024:.0f} | {rss_end[n][0] / 1024:.0f} "
                  f"| {rss_end[n][1] / 1024:.0f} | {dict(decisions[n])} |")
        print(f"load average (1, 5, 15 min): at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
              f"before the lookups {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
              f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    finally:
        os.sched_setaffinity(0, own_cores)  # make bench runs the next benchmark in this process
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
