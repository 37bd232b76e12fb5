"""An answer from the trusted resolver that no query asked for (unmatched).
In off mode DNS is only observed: the answer passes, its DNS event says
what it was (status), nothing would-drop, no egress alerts.
The traffic: dns_answer_cases.unsolicited (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("unsolicited")
