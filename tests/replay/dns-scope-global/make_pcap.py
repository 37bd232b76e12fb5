"""Scope "global": the same traffic as dns-scope-client (client A resolves
shared.example.test A 203.0.113.40, client B connects to it without asking):
here B's connect is accepted, "dns", by the name A resolved; B connecting to
the never-answered address is still dropped "unresolved". Only the config differs."""
import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dns-scope-client",
                            "make_pcap.py"), run_name="__main__")
