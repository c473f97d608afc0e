"""zone_dns - a small authoritative test DNS responder (Python stdlib).

dnsmasq cannot leave one name unanswered or serve several versions of a
zone at once; the SPF tests need both. A ZoneServer answers UDP and TCP on
127.0.0.1 from a zone given as a dict in the RFC 7208 test suite's form:

    {"example.com": [{"TXT": "v=spf1 -all"}, {"A": "192.0.2.1"},
                     {"MX": [10, "mx.example.com"]}, "TIMEOUT"], ...}

Types: A, AAAA, MX, PTR, TXT, SPF (type 99), CNAME (followed, at most 8
steps). A TXT or SPF value is one string or a list of strings (one
record). As the suite's drivers do, a name with SPF records and no TXT
entry also answers its SPF records as TXT; "TXT: NONE" means no TXT.
"TIMEOUT" in a name's list: a query for a type with no records listed
before it is never answered. Names not in the zone are NXDOMAIN. A UDP
answer larger than the client's limit (512, or its EDNS size) is sent
truncated with TC set; the client then asks again over TCP.

    z = ZoneServer(zone); z.start(); z.address  -> "127.0.0.1:PORT"
    z.asked("example.com", "TXT")   -> how many such queries came in
    z.stop()
"""
import socket
import socketserver
import struct
import threading

TYPES = {"A": 1, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
         "SPF": 99}


def _bytes(s):
    if isinstance(s, bytes):
        return s
    s = str(s)
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def _name(n):
    out = b""
    for label in _bytes(n).rstrip(b".").split(b"."):
        if label:
            out += bytes([min(len(label), 63)]) + label[:63]
    return out + b"\0"


def _strings(v):
    parts = v if isinstance(v, list) else [v]
    out = b""
    for p in parts:
        b = _bytes(p)
        if not b and not isinstance(v, list):
            out += b"\0"
        for i in range(0, len(b), 255):
            out += bytes([len(b[i:i + 255])]) + b[i:i + 255]
    return out


def _rdata(t, v):
    if t == "A":
        return socket.inet_pton(socket.AF_INET, v)
    if t == "AAAA":
        return socket.inet_pton(socket.AF_INET6, v)
    if t == "MX":
        return struct.pack("!H", int(v[0])) + _name(v[1])
    if t in ("PTR", "CNAME"):
        return _name(v)
    return _strings(v)


class Zone:
    """name -> list of (type, value) or "TIMEOUT", keys lowercased."""

    def __init__(self, data):
        self.names = {}
        self.log = []
        self.lock = threading.Lock()
        for name, entries in (data or {}).items():
            lst = []
            for ent in entries or []:
                if isinstance(ent, str):
                    lst.append(ent.upper())
                    continue
                for t, v in ent.items():
                    lst.append((t.upper(), v))
            has_txt = any(isinstance(e, tuple) and e[0] == "TXT" for e in lst)
            if not has_txt:
                copy = []
                for e in lst:
                    copy.append(e)
                    if isinstance(e, tuple) and e[0] == "SPF":
                        copy.append(("TXT", e[1]))
                lst = copy
            self.names[_bytes(name).rstrip(b".").lower()] = lst

    def lookup(self, name, qtype):
        """(rcode, [(name, type, rdata)]) or None: never answer"""
        out, seen = [], 0
        while True:
            lst = self.names.get(name.lower())
            if lst is None:
                return (3 if not out else 0), out
            recs = []
            for e in lst:
                if e == "TIMEOUT":
                    if not recs and not out:
                        return None
                    break
                t, v = e
                if t == "TXT" and v == "NONE":
                    continue
                if TYPES.get(t) == qtype or (t == "CNAME" and qtype != 5):
                    recs.append((name, t, v))
            out += [(n, TYPES[t], _rdata(t, v)) for n, t, v in recs]
            cname = [v for n, t, v in recs if t == "CNAME"]
            if not cname or seen >= 8:
                return 0, out
            seen += 1
            name = _bytes(cname[0]).rstrip(b".")


def _parse_query(msg):
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    pos, labels = 12, []
    while pos < len(msg) and msg[pos] != 0:
        n = msg[pos]
        labels.append(msg[pos + 1:pos + 1 + n])
        pos += 1 + n
    pos += 1
    if qd != 1 or pos + 4 > len(msg):
        return None
    qtype, = struct.unpack("!H", msg[pos:pos + 2])
    question = msg[12:pos + 4]
    limit = 512
    rest = msg[pos + 4:]
    # an EDNS OPT record in the additional section: root name, type 41
    if len(rest) >= 11 and rest[0] == 0 and rest[1:3] == b"\0\x29":
        limit = max(512, struct.unpack("!H", rest[3:5])[0])
    return qid, flags, b".".join(labels), qtype, question, limit


def respond(zone, msg, tcp):
    q = _parse_query(msg)
    if q is None:
        return None
    qid, flags, name, qtype, question, limit = q
    if not tcp:
        with zone.lock:
            zone.log.append((name.lower(), qtype))
    res = zone.lookup(name, qtype)
    if res is None:
        return None
    rcode, recs = res
    body = b""
    for n, t, rd in recs:
        body += _name(n) + struct.pack("!HHIH", t, 1, 60, len(rd)) + rd
    rflags = 0x8400 | (flags & 0x0100) | rcode
    head = struct.pack("!HHHHHH", qid, rflags, 1, len(recs), 0, 0)
    if not tcp and len(head) + len(question) + len(body) > limit:
        head = struct.pack("!HHHHHH", qid, rflags | 0x0200, 1, 0, 0, 0)
        return head + question
    return head + question + body


class _UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = respond(self.server.zone, data, False)
        if out is not None:
            sock.sendto(out, self.client_address)


class _TCP(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        try:
            while True:
                hdr = self._read(2)
                if hdr is None:
                    return
                msg = self._read(struct.unpack("!H", hdr)[0])
                out = respond(self.server.zone, msg or b"", True)
                if out is not None:
                    self.request.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            return

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


class _ThreadedUDP(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _ThreadedTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ZoneServer:
    def __init__(self, zone_data):
        self.zone = Zone(zone_data)
        self.udp = self.tcp = None

    def start(self):
        for _ in range(20):
            udp = _ThreadedUDP(("127.0.0.1", 0), _UDP)
            port = udp.server_address[1]
            try:
                tcp = _ThreadedTCP(("127.0.0.1", port), _TCP)
            except OSError:
                udp.server_close()
                continue
            self.udp, self.tcp = udp, tcp
            break
        else:
            raise OSError("no free port for the zone server")
        for s in (self.udp, self.tcp):
            s.zone = self.zone
            threading.Thread(target=s.serve_forever, args=(0.05,),
                             daemon=True).start()
        self.address = "127.0.0.1:%d" % self.udp.server_address[1]
        return self.address

    def asked(self, name, qtype):
        want = (_bytes(name).rstrip(b".").lower(), TYPES[qtype])
        with self.zone.lock:
            return sum(1 for q in self.zone.log if q == want)

    def stop(self):
        for s in (self.udp, self.tcp):
            if s is not None:
                s.shutdown()
                s.server_close()
