"""The browser test's web server (server namespace): one dual-stack listener
on [::]:80 for every name and literal address. Serves the page (/), images
(/img?id=ID) and a script that answers after ?ms= milliseconds (/slow.js),
and logs "ID FAMILY CLIENT" per image request to the file in argv[2], so the
test sees over which address family each resource came."""
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGE, LOG = sys.argv[1], sys.argv[2]
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path == "/":
            with open(PAGE, "rb") as f:
                self.send(f.read(), "text/html")
        elif u.path == "/img":
            client = self.client_address[0]
            family = "4" if client.startswith("::ffff:") else "6"
            with lock, open(LOG, "a") as f:
                f.write("%s %s %s\n" % (q.get("id", ["?"])[0], family, client))
            self.send(GIF, "image/gif")
        elif u.path == "/slow.js":
            time.sleep(int(q.get("ms", ["0"])[0]) / 1000)
            self.send(b"/* late */", "application/javascript")
        else:
            self.send_error(404)


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


Server(("::", 80), Handler).serve_forever()
