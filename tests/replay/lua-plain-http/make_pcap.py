"""The shipped lua/scripts/capture_plain_http.lua: port-80 flows are watched;
when a request carries "password=", an alert is raised and a host capture of
the client starts. The capture begins with the client's packets from just
before the trigger (the pre-trigger ring: its NTP packet and the handshake),
then holds everything to and from that client, and none of the other
client's packets. A port-80 flow without credentials is watched but captures
nothing; watching stops after the trigger."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p
CLI, OTHER = "10.0.0.2", "10.0.0.3"

tcp_session(tl, raw, OTHER, "198.51.100.80", 41000, 80)  # watched, harmless
tl.add(IP(src=CLI, dst="203.0.113.5") / UDP(sport=123, dport=123) / b"ntp")
tl.add(IP(src=OTHER, dst="203.0.113.5") / UDP(sport=123, dport=123) / b"ntp")
tcp_session(tl, raw, CLI, "198.51.100.80", 40000, 80,
            data_up=b"POST /login HTTP/1.0\r\n\r\nuser=a&password=hunter2")
tl.add(IP(src=OTHER, dst="203.0.113.6") / UDP(sport=5353, dport=53) / b"other")
tl.add(IP(src="203.0.113.7", dst=CLI) / UDP(sport=53, dport=5353) / b"to client")
tl.write()
