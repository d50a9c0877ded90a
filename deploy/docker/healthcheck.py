"""The image's HEALTHCHECK: GET /livez on the service's own port, with the stdlib only.

The service is named by BATON_SERVICE (set in the image); its port is the service's own
`<PREFIX>_HTTP_PORT` when set, else the service's default. Exit 0 when alive, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_PORTS = {"router": 8001, "sla-monitor": 8002, "feedback": 8003}


def main() -> int:
    service = os.environ.get("BATON_SERVICE", "")
    if service not in DEFAULT_PORTS:
        print(f"healthcheck: unknown BATON_SERVICE {service!r}", file=sys.stderr)
        return 1
    prefix = service.upper().replace("-", "_")
    port = os.environ.get(f"{prefix}_HTTP_PORT") or str(DEFAULT_PORTS[service])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:  # a refused connection, a 503, a timeout: all unhealthy
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
