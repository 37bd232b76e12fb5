"""An answer cut short by the capture's snaplen: status truncated-by-capture,
counted as dns_truncated_by_capture (not a parse error), not dropped even in
enforce; it opens nothing, so the connect to its address is dropped.
[egress] mode = "enforce".
The traffic: dns_answer_cases.snaplen_cut (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("snaplen_cut")
