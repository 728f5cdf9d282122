"""Load and convert one spec in a fresh interpreter; print ``{"seconds", "tools", "peak_rss_mb"}``.

Run by the ``openapi`` suite as ``python -m bench._openapi_convert SPEC`` so that the peak RSS is
the conversion's own (this process's high-water mark, not the suite's).
"""

from __future__ import annotations

import json
import resource
import sys
import time

from openapi_tools.loader import load_spec


def main() -> None:
    started = time.perf_counter()
    spec = load_spec(sys.argv[1])
    seconds = time.perf_counter() - started
    # Linux reports ru_maxrss in KiB.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "tools": len(spec.operations), "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
