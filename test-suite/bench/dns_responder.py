#!/usr/bin/env python3
"""dns_responder.py - the routing bench's own tiny authoritative DNS server.

Answers UDP queries for the synthetic zone "bench." after a fixed delay
(default 5 ms), the way a real resolver that has to go out to the network
would; each reply is scheduled with loop.call_later, so any number of
queries wait concurrently and a client that sends queries in parallel
gets them all back after one delay.

Zone (names are matched case-insensitively):
    dNNNN.bench      MX    10 mx.dNNNN.bench
    mx.dNNNN.bench   A     PREFIX.(N % 250 + 1)   (PREFIX: --ip-prefix,
                           default 198.51.100, TEST-NET-2; not 192.0.2,
                           which the bench machines use for their own eth0)
    either name, any other type      NOERROR, no answer (NODATA)
    NAME given with --txt NAME=TEXT  TXT "TEXT" (other types: NODATA); the
                                     anti-spam accept load publishes the
                                     bench sender's SPF record this way
    anything else                    NXDOMAIN (so DNS list queries such as
                                     1.0.0.127.bl.bench say "not listed")
Negative answers carry the SOA of "bench." in the authority section.
TTL 300 everywhere; answer names are compression pointers to the question.

Usage:
    dns_responder.py --listen 127.0.0.153:53 --stats FILE [--delay-ms 5]
                     [--ip-prefix 198.51.100] [--txt NAME=TEXT ...]
It writes FILE ("queries=N", "drops=N" -- datagrams the kernel dropped
because our receive buffer was full -- and per-type counts) once bound, again on
SIGUSR1, and a last time on SIGTERM/SIGINT before exiting, so a caller
can wait for FILE to appear (ready) and read the total at the end.
Python 3 standard library only.
"""
import argparse
import asyncio
import os
import re
import signal
import socket
import struct
import sys

TTL = 300
RCVBUF = 8 << 20
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
QTYPE_A, QTYPE_NS, QTYPE_SOA, QTYPE_MX, QTYPE_AAAA = 1, 2, 6, 15, 28
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX",
              16: "TXT", 28: "AAAA", 33: "SRV", 52: "TLSA", 255: "ANY"}
RCODE_OK, RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_NOTIMP = 0, 1, 3, 4
DOMAIN_RE = re.compile(r"^d([0-9]{4})\.bench$")
MXHOST_RE = re.compile(r"^mx\.d([0-9]{4})\.bench$")
QNAME_PTR = b"\xc0\x0c"          # the question name always starts at offset 12
QTYPE_TXT = 16
TXT = {}                         # --txt: lower-case name -> text


def encode_name(name):
    """Uncompressed wire form of a dotted name."""
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\x00"


def rr(name_wire, rtype, rdata):
    """One resource record in class IN with the bench TTL."""
    return name_wire + struct.pack("!HHIH", rtype, 1, TTL, len(rdata)) + rdata


SOA_RR = rr(encode_name("bench"), QTYPE_SOA,
            encode_name("ns.bench") + encode_name("hostmaster.bench")
            + struct.pack("!IIIII", 1, 3600, 600, 86400, 300))


def parse_question(msg):
    """Return (end offset of the question, lower-case qname, qtype) or None."""
    pos, labels = 12, []
    while True:
        if pos >= len(msg):
            return None
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 or pos + 1 + n > len(msg):   # no compression in a question
            return None
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 4 > len(msg):
        return None
    qtype, _qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return pos + 4, ".".join(labels).lower(), qtype


def txt_rdata(text):
    """TXT rdata: the text in character-strings of at most 255 bytes."""
    raw = text.encode("utf-8")
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


def answer_for(qname, qtype, ip_prefix):
    """(rcode, list of answer RRs, authority RRs) for one question."""
    if qname in TXT:
        if qtype == QTYPE_TXT:
            return RCODE_OK, [rr(QNAME_PTR, QTYPE_TXT, txt_rdata(TXT[qname]))], []
        return RCODE_OK, [], [SOA_RR]
    m = DOMAIN_RE.match(qname)
    if m:
        if qtype == QTYPE_MX:
            rdata = struct.pack("!H", 10) + b"\x02mx" + QNAME_PTR
            return RCODE_OK, [rr(QNAME_PTR, QTYPE_MX, rdata)], []
        return RCODE_OK, [], [SOA_RR]
    m = MXHOST_RE.match(qname)
    if m:
        if qtype == QTYPE_A:
            n = int(m.group(1))
            rdata = bytes(ip_prefix + [n % 250 + 1])
            return RCODE_OK, [rr(QNAME_PTR, QTYPE_A, rdata)], []
        return RCODE_OK, [], [SOA_RR]
    return RCODE_NXDOMAIN, [], [SOA_RR]


def build_reply(msg, ip_prefix):
    """The reply datagram for query msg, or None to drop it."""
    if len(msg) < 12:
        return None, None
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000:                       # a response: never answer those
        return None, None
    opcode = (flags >> 11) & 0xF
    rd = flags & 0x0100
    base = 0x8000 | (opcode << 11) | 0x0400 | rd | 0x0080   # QR AA RD? RA
    q = parse_question(msg) if qdcount == 1 else None
    if opcode != 0 or q is None:
        rcode = RCODE_NOTIMP if opcode != 0 else RCODE_FORMERR
        return struct.pack("!HHHHHH", qid, base | rcode, 0, 0, 0, 0), None
    qend, qname, qtype = q
    rcode, answers, auth = answer_for(qname, qtype, ip_prefix)
    head = struct.pack("!HHHHHH", qid, base | rcode, 1, len(answers), len(auth), 0)
    return head + msg[12:qend] + b"".join(answers) + b"".join(auth), qtype


class Responder(asyncio.DatagramProtocol):
    def __init__(self, delay, ip_prefix):
        self.delay = delay
        self.ip_prefix = ip_prefix
        self.transport = None
        self.loop = None
        self.queries = 0
        self.by_type = {}

    def connection_made(self, transport):
        self.transport = transport
        self.loop = asyncio.get_running_loop()

    def datagram_received(self, data, addr):
        reply, qtype = build_reply(data, self.ip_prefix)
        if reply is None:
            return
        self.queries += 1
        if qtype is not None:
            name = TYPE_NAMES.get(qtype, str(qtype))
            self.by_type[name] = self.by_type.get(name, 0) + 1
        self.loop.call_later(self.delay, self.send, reply, addr)

    def send(self, reply, addr):
        if not self.transport.is_closing():
            self.transport.sendto(reply, addr)


def udp_drops(host, port):
    """Datagrams the kernel dropped on our socket (receive buffer full)."""
    local = "%08X:%04X" % (struct.unpack("<I", bytes(map(int, host.split("."))))[0], port)
    try:
        with open("/proc/net/udp") as f:
            for line in f:
                cols = line.split()
                if len(cols) > 12 and cols[1] == local:
                    return int(cols[-1])
    except OSError:
        pass
    return -1


def write_stats(path, proto, host, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("queries=%d\n" % proto.queries)
        f.write("drops=%d\n" % udp_drops(host, port))
        for name in sorted(proto.by_type):
            f.write("%s=%d\n" % (name, proto.by_type[name]))
    os.replace(tmp, path)


def make_socket(host, port):
    """A UDP socket with a receive buffer big enough for a burst of
    thousands of queries (a client that resolves 1,000 domains at once
    must not lose queries in our socket buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)   # root
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RCVBUF)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


async def serve(host, port, delay, ip_prefix, stats):
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: Responder(delay, ip_prefix), sock=make_socket(host, port))
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    loop.add_signal_handler(signal.SIGUSR1, write_stats, stats, proto, host, port)
    write_stats(stats, proto, host, port)            # "ready"
    try:
        await done.wait()
    finally:
        write_stats(stats, proto, host, port)
        transport.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.153:53", help="IP:PORT (loopback only)")
    ap.add_argument("--delay-ms", type=float, default=5.0)
    ap.add_argument("--ip-prefix", default="198.51.100", help="first 3 octets of the MX hosts' A records")
    ap.add_argument("--stats", required=True, help="file for the query counts")
    ap.add_argument("--txt", action="append", default=[], metavar="NAME=TEXT",
                    help="also answer TXT \"TEXT\" for NAME (repeatable)")
    args = ap.parse_args()
    for item in args.txt:
        name, eq, text = item.partition("=")
        if not eq or not name:
            sys.exit("dns_responder: --txt wants NAME=TEXT, got %r" % item)
        TXT[name.strip(".").lower()] = text
    host, _, port = args.listen.rpartition(":")
    if not host.startswith("127."):
        sys.exit("dns_responder: refusing to listen outside 127.0.0.0/8")
    prefix = [int(x) for x in args.ip_prefix.split(".")]
    if len(prefix) != 3 or not all(0 <= x <= 255 for x in prefix):
        sys.exit("dns_responder: --ip-prefix wants three octets, e.g. 198.51.100")
    asyncio.run(serve(host, int(port), args.delay_ms / 1000.0, prefix, args.stats))


if __name__ == "__main__":
    main()
