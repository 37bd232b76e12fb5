"""A second answer to a query already answered (unmatched, counted as
dns_answers_duplicate).
In off mode DNS is only observed: the answer passes, its DNS event says
what it was (status), nothing would-drop, no egress alerts.
The traffic: dns_answer_cases.duplicate (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("duplicate")
