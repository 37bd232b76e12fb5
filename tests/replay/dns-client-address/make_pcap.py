"""dns-client-host's packets with client_identity = "address": every address
is a client of its own, as before hosts were told apart, so the laptop's IPv6
connections to the address it resolved over IPv4 are dropped "other-client";
only its IPv4 connection passes."""
import os
import runpy
import sys

runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "dns-client-host", "make_pcap.py"),
               run_name="__main__")
