"""A two-question query with a forward compression pointer: parsed, its
answer matched and its address opened (the connect is accepted).
[egress] mode = "enforce".
The traffic: dns_answer_cases.two_questions (shared by the modes' cases)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dns_answer_cases import write_case  # noqa: E402

write_case("two_questions")
