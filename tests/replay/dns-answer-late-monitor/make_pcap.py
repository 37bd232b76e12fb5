"""An answer after query_timeout (unmatched, counted as dns_answers_late).
In monitor mode the answer passes; its DNS event has would_drop: true (the
status says why) and dns_would_drop counts it; the connect to an address it
did not open is accepted with a would_block alert.
The traffic: dns_answer_cases.late (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("late")
