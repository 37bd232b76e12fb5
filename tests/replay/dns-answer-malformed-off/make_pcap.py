"""A malformed answer (A record with a 3-byte rdata) for an outstanding query;
the genuine answer after it still matches.
In off mode DNS is only observed: the answer passes, its DNS event says
what it was (status), nothing would-drop, no egress alerts.
The traffic: dns_answer_cases.malformed (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("malformed")
