#!/usr/bin/python3
"""Checks EVE JSON lines against tripline's schema (tripline-schema.json:
Suricata's schema, suricata-schema.json, extended only by one top-level
`tripline` object). Needs python3-jsonschema (Debian 12: 4.10).

usage: validate-eve.py [--schema-only] FILE...   (FILE "-" reads stdin)

Prints one line per invalid event (file:line: where: what) and exits 1 if
any; exits 0 with a count otherwise. Also checks that the extension lists
exactly Suricata's top-level properties plus `tripline`, so it stays an
extension of the Suricata schema shipped beside it.
"""
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))


def load_validator():
    with open(os.path.join(HERE, "tripline-schema.json")) as f:
        ours = json.load(f)
    with open(os.path.join(HERE, "suricata-schema.json")) as f:
        suricata = json.load(f)
    want = set(suricata["properties"]) | {"tripline"}
    if set(ours["properties"]) != want or ours["required"] != suricata["required"]:
        sys.exit("tripline-schema.json: properties differ from suricata-schema.json's plus "
                 f"'tripline': missing {sorted(want - set(ours['properties']))}, "
                 f"extra {sorted(set(ours['properties']) - want)}")
    base = "file://" + os.path.join(HERE, "tripline-schema.json")
    sur_uri = "file://" + os.path.join(HERE, "suricata-schema.json")
    cls = jsonschema.validators.validator_for(ours)
    cls.check_schema(ours)
    try:  # jsonschema >= 4.18
        import referencing
        from referencing.jsonschema import DRAFT202012
        registry = referencing.Registry().with_resources([
            (base, DRAFT202012.create_resource(ours)),
            (sur_uri, DRAFT202012.create_resource(suricata)),
        ])
        return cls({"$ref": base}, registry=registry)
    except ImportError:  # Debian 12's 4.10
        resolver = jsonschema.RefResolver(base, ours, store={base: ours, sur_uri: suricata})
        return cls(ours, resolver=resolver)


def main(argv):
    schema_only = "--schema-only" in argv
    files = [a for a in argv if a != "--schema-only"]
    validator = load_validator()
    if schema_only:
        print("tripline-schema.json: OK")
        return 0
    if not files:
        sys.exit(__doc__)
    bad = total = 0
    for path in files:
        f = sys.stdin if path == "-" else open(path)
        with f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                total += 1
                try:
                    event = json.loads(line)
                except ValueError as e:
                    bad += 1
                    print(f"{path}:{n}: not JSON: {e}")
                    continue
                for err in sorted(validator.iter_errors(event), key=lambda e: list(e.path)):
                    bad += 1
                    where = "/".join(str(p) for p in err.absolute_path) or "(event)"
                    print(f"{path}:{n}: {where}: {err.message}")
    if bad:
        print(f"{bad} errors in {total} events")
        return 1
    print(f"{total} events valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
