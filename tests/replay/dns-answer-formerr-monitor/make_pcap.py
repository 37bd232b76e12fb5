"""A valid 12-byte FORMERR without a question section: well-formed
(status no-question, dns_answers_no_question), opens nothing, and passes:
no mode drops it for its shape (here [egress] mode = "monitor").
The traffic: dns_answer_cases.formerr (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("formerr")
