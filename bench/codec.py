"""`fixvenue bench codec`: parse and encode throughput of our FIX codec vs simplefix.

Workload: a FIX.4.4 NewOrderSingle and an ExecutionReport (typical venue traffic).
Measured on one core, in the same run, for both libraries:

* parse          - one complete frame (bytes) -> message object with tag/value fields,
                   BodyLength and CheckSum verified (ours: `fix.codec.decode`;
                   simplefix: `FixParser.append_buffer` + `get_message`, one parser reused).
* parse-stream   - the same from a byte stream, framing included (ours: `FrameReader.feed`
                   + `next_frame` + `decode`; simplefix: the same calls as for parse, since
                   its parser always frames). This is the like-with-like parse comparison:
                   the speedup quoted against simplefix for parsing is this row's.
* parse+read     - parse-stream, then read MsgType and six body fields (ours: `msg_type`
                   + `get`, which builds the message's tag index on first use; simplefix:
                   `get`). Shows what the lazily built index costs a reader.
* encode         - a message whose fields are already set -> wire bytes with a fresh
                   MsgSeqNum and SendingTime, BodyLength and CheckSum (ours:
                   `Encoder.encode`; simplefix: `FixMessage.encode` after replacing 34/52).
* build+encode   - build the message from Python values, then encode it.

Every figure is the median of several repeats (ops/s); the repeats of the two libraries
alternate, so both see the same machine load. No result is carried from one iteration to
the next: every parse gets the frame bytes and builds a new message, every encode writes
a new frame (the encoder keeps only per-millisecond SendingTime text and the per-length
"8=..|9=n|" prefix, as it does in a session). `--json FILE` also writes the document that
bench/record.py stores under bench/results/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.record import Progress, record

BEGIN = "FIX.4.4"
SENDER, TARGET = "VENUE", "CLIENT01"
NOW = 1_700_000_000.123

NOS_BODY = [
    (11, "ORD-20231114-000001"), (1, "ACC-7781"), (21, "1"), (55, "EUR/USD"), (54, "1"),
    (60, "20231114-22:13:20.123"), (38, "1000000"), (40, "2"), (44, "1.08345"), (59, "0"),
    (15, "EUR"), (207, "XFX"),
]
ER_BODY = [
    (37, "V-000000042"), (11, "ORD-20231114-000001"), (17, "E-000000077"), (150, "F"), (39, "1"),
    (55, "EUR/USD"), (54, "1"), (38, "1000000"), (44, "1.08345"), (32, "250000"), (31, "1.08345"),
    (151, "750000"), (14, "250000"), (6, "1.08345"), (60, "20231114-22:13:20.123"), (1, "ACC-7781"),
]
MESSAGES = {"NewOrderSingle": ("D", NOS_BODY), "ExecutionReport": ("8", ER_BODY)}


def _timed(fn, n: int) -> float:
    """ops/s of calling fn() n times (the loop is in `fn`'s closure-free caller)."""
    t0 = time.perf_counter()
    fn(n)
    dt = time.perf_counter() - t0
    return n / dt if dt > 0 else float("inf")


def _ours(msg_type: str, body: list[tuple[int, str]]):
    from fix.codec import Encoder, FrameReader, Message, decode
    from fix.dictionary import load

    enc = Encoder(BEGIN, SENDER, TARGET, load(BEGIN).header_tags, 3)
    bbody = [(t, v.encode()) for t, v in body]
    prebuilt = Message(msg_type)
    for t, v in bbody:
        prebuilt.append(t, v)
    frame = enc.encode(prebuilt, 1234, NOW)
    mt = msg_type.encode()

    def parse(n: int) -> None:
        for _ in range(n):
            decode(frame)

    def parse_stream(n: int) -> None:
        reader = FrameReader()
        feed, next_frame = reader.feed, reader.next_frame
        for _ in range(n):
            feed(frame)
            decode(next_frame())

    read_tags = [t for t, _ in bbody[:6]]

    def parse_read(n: int) -> None:
        reader = FrameReader()
        feed, next_frame = reader.feed, reader.next_frame
        for _ in range(n):
            feed(frame)
            m = decode(next_frame())
            m.msg_type
            for t in read_tags:
                m.get(t)

    def encode(n: int) -> None:
        e = enc.encode
        clock = time.time
        for i in range(n):
            e(prebuilt, i, clock())

    def build_encode(n: int) -> None:
        e = enc.encode
        clock = time.time
        for i in range(n):
            e(Message(mt, bbody), i, clock())

    # sanity: round trip
    back = decode(frame)
    assert back.get(35) == mt and all(back.get(t) == v for t, v in bbody), "round trip failed"
    return frame, {"parse": parse, "parse-stream": parse_stream, "parse+read": parse_read,
                   "encode": encode, "build+encode": build_encode}


def _simplefix(frame: bytes, msg_type: str, body: list[tuple[int, str]]):
    import simplefix

    ts = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(NOW)) + ".123"

    def make(seq: int) -> "simplefix.FixMessage":
        m = simplefix.FixMessage()
        m.append_pair(8, BEGIN, header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(34, seq, header=True)
        m.append_pair(49, SENDER, header=True)
        m.append_pair(52, ts, header=True)
        m.append_pair(56, TARGET, header=True)
        for t, v in body:
            m.append_pair(t, v)
        return m

    prebuilt = make(1)

    def parse(n: int) -> None:
        p = simplefix.FixParser()
        for _ in range(n):
            p.append_buffer(frame)
            p.get_message()

    read_tags = [t for t, _ in body[:6]]

    def parse_read(n: int) -> None:
        p = simplefix.FixParser()
        for _ in range(n):
            p.append_buffer(frame)
            m = p.get_message()
            m.get(35)
            for t in read_tags:
                m.get(t)

    def encode(n: int) -> None:
        m = prebuilt
        for i in range(n):
            m.remove(34)
            m.append_pair(34, i, header=True)
            m.remove(52)
            m.append_pair(52, ts, header=True)
            m.encode()

    def build_encode(n: int) -> None:
        for i in range(n):
            make(i).encode()

    p = simplefix.FixParser()
    p.append_buffer(frame)
    parsed = p.get_message()
    assert parsed is not None and parsed.get(35) == msg_type.encode(), "simplefix could not parse our frame"
    return {"parse": parse, "parse-stream": parse, "parse+read": parse_read, "encode": encode, "build+encode": build_encode}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fixvenue bench codec", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="repeats per measurement (median reported)")
    ap.add_argument("--n", type=int, default=20000, help="operations per repeat for our codec")
    ap.add_argument("--n-simplefix", type=int, default=2000, help="operations per repeat for simplefix")
    ap.add_argument("--json", metavar="FILE", help="also write the result document to FILE ('-' = stdout)")
    args = ap.parse_args(argv)

    ops = ("parse", "parse-stream", "parse+read", "encode", "build+encode")
    plan = [(name, lib, op) for name in MESSAGES for op in ops for lib in ("fixvenue", "simplefix")]
    progress = Progress(len(plan) * args.repeats, "bench codec")
    done = 0
    results: dict[str, dict] = {}
    for name, (mt, body) in MESSAGES.items():
        frame, ours = _ours(mt, body)
        theirs = _simplefix(frame, mt, body)
        entry: dict = {"frame_bytes": len(frame), "fields": len(body) + 7}
        for op in ops:
            libs = (("fixvenue", ours, args.n), ("simplefix", theirs, args.n_simplefix))
            samples: dict[str, list[float]] = {lib: [] for lib, _, _ in libs}
            for _lib, fns, n in libs:
                fns[op](min(n, 200))  # warm-up
            for _ in range(args.repeats):
                for lib, fns, n in libs:  # alternate, so a burst of load hits both
                    samples[lib].append(_timed(fns[op], n))
                    done += 1
                    progress.update(done)
            row = {lib: {"median_ops_per_s": round(statistics.median(samples[lib])),
                         "samples_ops_per_s": [round(x) for x in samples[lib]]} for lib, _, _ in libs}
            row["speedup_vs_simplefix"] = round(row["fixvenue"]["median_ops_per_s"] / row["simplefix"]["median_ops_per_s"], 1)
            entry[op] = row
        results[name] = entry
    progress.close()

    targets = {"parse_ops_per_s": 500_000, "encode_ops_per_s": 300_000, "speedup_vs_simplefix": 20}
    summary = {}
    for name, entry in results.items():
        s = summary[name] = {
            "parse_ops_per_s": entry["parse"]["fixvenue"]["median_ops_per_s"],
            "parse_stream_ops_per_s": entry["parse-stream"]["fixvenue"]["median_ops_per_s"],
            "parse_read_ops_per_s": entry["parse+read"]["fixvenue"]["median_ops_per_s"],
            "encode_ops_per_s": entry["encode"]["fixvenue"]["median_ops_per_s"],
            "build_encode_ops_per_s": entry["build+encode"]["fixvenue"]["median_ops_per_s"],
            "parse_speedup": entry["parse"]["speedup_vs_simplefix"],
            "parse_stream_speedup": entry["parse-stream"]["speedup_vs_simplefix"],
            "parse_read_speedup": entry["parse+read"]["speedup_vs_simplefix"],
            "encode_speedup": entry["encode"]["speedup_vs_simplefix"],
            "build_encode_speedup": entry["build+encode"]["speedup_vs_simplefix"],
        }
        # the quoted comparisons: parse-stream (both sides frame) and encode
        s["targets_met"] = {
            "parse_ops_per_s": s["parse_ops_per_s"] >= targets["parse_ops_per_s"],
            "encode_ops_per_s": s["encode_ops_per_s"] >= targets["encode_ops_per_s"],
            "parse_speedup": s["parse_stream_speedup"] >= targets["speedup_vs_simplefix"],
            "encode_speedup": s["encode_speedup"] >= targets["speedup_vs_simplefix"],
        }
    import timeit

    # how fast this interpreter/machine is, to compare runs across machines (~7 us on a
    # current desktop CPU with CPython 3.11)
    calib = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    doc = {"workload": "FIX.4.4 NewOrderSingle and ExecutionReport, one core",
           "calibration_sum_range_1000_us": round(calib, 2),
           "repeats": args.repeats, "targets": targets, "summary": summary, "results": results}
    path = record("codec", doc, args.json)

    print(f"{'message':<16} {'op':<13} {'fixvenue ops/s':>15} {'simplefix ops/s':>16} {'speedup':>8}")
    for name, entry in results.items():
        for op in ops:
            row = entry[op]
            print(f"{name:<16} {op:<13} {row['fixvenue']['median_ops_per_s']:>15,} "
                  f"{row['simplefix']['median_ops_per_s']:>16,} {row['speedup_vs_simplefix']:>7}x")
    print(f"machine calibration: sum(range(1000)) = {calib:.1f} us")
    print(f"targets: parse >= {targets['parse_ops_per_s']:,}/s, encode >= {targets['encode_ops_per_s']:,}/s, "
          f">= {targets['speedup_vs_simplefix']}x simplefix (parse-stream and encode rows); recorded {path}")
    for name, s in summary.items():
        met = s["targets_met"]
        print(f"{name}: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
