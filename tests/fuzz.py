"""Long fuzzing runs: the suite's hypothesis properties again and again, each round with a new seed.

    python -m tests.fuzz --minutes 60

CI runs each property a few hundred times; this runs them for as long as it is given, each round
drawing new examples (``--hypothesis-seed``), and stops at the first failure with the example
hypothesis shrank it to and the seed that reproduces it.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time

from tests.conftest import ROOT

PROPERTIES = [
    "tests/unit/test_fuzz_readers.py",
    "tests/unit/test_json_input.py",
    "tests/unit/test_order_event_time.py",
    "tests/integration/test_webhooks_http.py::test_any_signed_body_is_refused_with_a_reason_or_stored_never_a_server_error",
    "tests/integration/test_record_then_flag.py",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="how long to keep fuzzing")
    options = parser.parse_args()
    deadline = time.monotonic() + options.minutes * 60
    rounds = 0
    while time.monotonic() < deadline:
        seed = random.randrange(2**32)
        rounds += 1
        print(f"round {rounds}, seed {seed}", flush=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                f"--hypothesis-seed={seed}",
                *PROPERTIES,
            ],
            cwd=ROOT,
        )
        if result.returncode != 0:
            print(f"failed in round {rounds}: reproduce with --hypothesis-seed={seed}", flush=True)
            return 1
    print(f"{rounds} rounds, no failure", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
