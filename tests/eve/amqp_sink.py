"""A minimal AMQP 0-9-1 sink for tests: accepts one client's connection
handshake, opens channels, acknowledges exchange/queue declarations, and keeps
the body of every basic.publish (with its exchange and routing key). Enough
for fever's submitter (streadway/amqp) to publish to it; not a broker."""
import socket
import struct
import threading

FRAME_END = 0xCE


def _frame(ftype, channel, payload):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + bytes([FRAME_END])


def _method(channel, cls, mth, args=b""):
    return _frame(1, channel, struct.pack(">HH", cls, mth) + args)


def _shortstr(s):
    b = s.encode()
    return bytes([len(b)]) + b


def _longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


class AmqpSink:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.published = []  # (exchange, routing key, body bytes)
        self.lock = threading.Lock()
        self.errors = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def bodies(self, exchange=None):
        with self.lock:
            return [b for (e, _, b) in self.published if exchange is None or e == exchange]

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read(self, conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _serve(self, conn):
        try:
            header = self._read(conn, 8)
            if header[:4] != b"AMQP":
                raise ValueError(f"not AMQP: {header!r}")
            # connection.start: 0-9, no server properties, PLAIN
            conn.sendall(_method(0, 10, 10, bytes([0, 9]) + struct.pack(">I", 0) +
                                 _longstr("PLAIN") + _longstr("en_US")))
            pending = {}  # channel -> [exchange, key, size, body]
            while True:
                ftype, channel, size = struct.unpack(">BHI", self._read(conn, 7))
                payload = self._read(conn, size)
                if self._read(conn, 1)[0] != FRAME_END:
                    raise ValueError("bad frame end")
                if ftype == 8:  # heartbeat
                    continue
                if ftype in (2, 3) and channel in pending:
                    p = pending[channel]
                    if ftype == 2:  # content header: class, weight, body size, ...
                        p[2] = struct.unpack(">Q", payload[4:12])[0]
                    else:
                        p[3] += payload
                    if p[2] is not None and len(p[3]) >= p[2]:
                        del pending[channel]
                        with self.lock:
                            self.published.append((p[0], p[1], p[3]))
                    continue
                if ftype != 1:
                    continue
                cls, mth = struct.unpack(">HH", payload[:4])
                args = payload[4:]
                if (cls, mth) == (10, 11):  # start-ok -> tune
                    conn.sendall(_method(0, 10, 30, struct.pack(">HIH", 0, 131072, 0)))
                elif (cls, mth) == (10, 40):  # open -> open-ok
                    conn.sendall(_method(0, 10, 41, _shortstr("")))
                elif (cls, mth) == (10, 50):  # close -> close-ok
                    conn.sendall(_method(0, 10, 51))
                    return
                elif (cls, mth) == (20, 10):  # channel.open -> open-ok
                    conn.sendall(_method(channel, 20, 11, _longstr("")))
                elif (cls, mth) == (20, 40):  # channel.close -> close-ok
                    conn.sendall(_method(channel, 20, 41))
                elif (cls, mth) == (40, 10):  # exchange.declare -> declare-ok
                    conn.sendall(_method(channel, 40, 11))
                elif (cls, mth) == (85, 10):  # basic.qos -> qos-ok
                    conn.sendall(_method(channel, 85, 11))
                elif (cls, mth) == (60, 40):  # basic.publish: reserved, exchange, key, bits
                    at = 2
                    n = args[at]
                    exchange = args[at + 1:at + 1 + n].decode()
                    at += 1 + n
                    n = args[at]
                    key = args[at + 1:at + 1 + n].decode()
                    pending[channel] = [exchange, key, None, b""]
        except (EOFError, OSError):
            return
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))
        finally:
            conn.close()

    def close(self):
        self.sock.close()
