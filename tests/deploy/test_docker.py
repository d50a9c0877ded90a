"""deploy/docker/Dockerfile: built from the repository root for each service, every path it
copies exists and reaches the build context, the locked dependencies go in a layer before
the sources, and the final stage is slim, non-root, health-checked on /livez and runs the
service's CLI (`serve`, or `migrate`)."""

from __future__ import annotations

import fnmatch
import http.server
import re
import runpy
import shlex
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_support import DEPLOY, DOCKERFILE, ROOT, SERVICES

from baton_runtime.health import health_router

DOCKERIGNORE = ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def build_args() -> dict[str, str]:
    """The global ARG defaults (before the first FROM)."""
    args = {}
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args[name] = value
    return args


def copy_sources(stage: list[tuple[str, str]], service: str) -> Iterator[str]:
    for keyword, rest in stage:
        if keyword == "COPY" and "--from=" not in rest:
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            for source in parts[:-1]:
                yield source.replace("${SERVICE}", service)


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last match wins; a
    pattern matching a parent directory covers what is inside)."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!")
        if any(fnmatch.fnmatchcase(c, glob) or glob == "**" for c in candidates):
            result = not negate
    return result


@pytest.mark.parametrize("service", SERVICES)
def test_every_copied_path_exists_and_is_in_the_build_context(service: str) -> None:
    copied = [
        source
        for stage in stages(DOCKERFILE.read_text())
        for source in copy_sources(stage, service)
    ]
    assert copied
    for source in copied:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: no such path (SERVICE={service})"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        kept = [f for f in files if not ignored(str(f.relative_to(ROOT)))]
        assert kept, f"COPY {source}: .dockerignore keeps it out of the context"
    # The workspace needs every member's project file to resolve the lock.
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    for member in members:
        assert f"{member}/pyproject.toml" in copied
    assert ignored(".venv/lib/site.py") and ignored(".baton/pgdata/x") and ignored(".git/HEAD")


def test_the_dockerignore_check_can_fail() -> None:
    assert ignored("bench/results/latest.json")
    assert not ignored("services/router/src/baton_router/main.py")
    assert ignored("services/router/src/baton_router/__pycache__/main.cpython-312.pyc")


def test_dependencies_are_a_layer_before_the_sources() -> None:
    build = stages(DOCKERFILE.read_text())[1]
    steps = [(k, r) for k, r in build if k in {"COPY", "RUN"}]
    syncs = [i for i, (k, r) in enumerate(steps) if k == "RUN" and "uv sync" in r]
    assert len(syncs) == 2
    first, second = (steps[i][1] for i in syncs)
    for sync in (first, second):
        assert "--frozen" in sync and "--no-dev" in sync and '--package "baton-${SERVICE}"' in sync
    assert "--no-install-workspace" in first and "--no-editable" in second
    before = [r for k, r in steps[: syncs[0]] if k == "COPY" and "--from=" not in r]
    assert before and all(re.search(r"(pyproject\.toml|uv\.lock)", r) for r in before)
    assert all("src" not in r.split()[0] for r in before)
    between = [r for k, r in steps[syncs[0] : syncs[1]] if k == "COPY"]
    assert between and all("/src" in r for r in between)


def test_final_stage_is_slim_non_root_and_health_checked() -> None:
    final = stages(DOCKERFILE.read_text())[-1]
    keywords = dict(final)
    base = keywords["FROM"].split()[0]
    assert base == "${PYTHON_IMAGE}" and "slim" in build_args()["PYTHON_IMAGE"]
    text = " ".join(rest for _, rest in final)
    for compiler in ("gcc", "build-essential", "apt-get install", "uv sync"):
        assert compiler not in text
    assert re.fullmatch(r"10001(:10001)?", keywords["USER"])
    health = keywords["HEALTHCHECK"]
    assert '"python", "/app/healthcheck.py"' in health
    assert keywords["ENTRYPOINT"] == '["baton-service"]' and keywords["CMD"] == '["serve"]'
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert uv_version and build_args()["UV_IMAGE"].endswith(f":{uv_version[1]}")


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoint_is_the_services_cli_with_serve_and_migrate(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The image links `baton-${SERVICE}` (the service's console script) as its entrypoint;
    that script has the `serve` and `migrate` commands the compose file and Jobs run."""
    project = tomllib.loads((ROOT / f"services/{service}/pyproject.toml").read_text())
    target = project["project"]["scripts"][f"baton-{service}"]
    module, _, function = target.partition(":")
    main = getattr(__import__(module, fromlist=[function]), function)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert "serve" in usage and "migrate" in usage
    assert (
        'ln -s "/app/.venv/bin/baton-${SERVICE}" /usr/local/bin/baton-service'
        in DOCKERFILE.read_text()
    )


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/livez" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_healthcheck_script_gets_livez_on_the_services_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "/livez" in {route.path for route in health_router().routes}  # type: ignore[attr-defined]
    main = runpy.run_path(str(DEPLOY / "docker/healthcheck.py"))["main"]
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("BATON_SERVICE", "sla-monitor")
        monkeypatch.setenv("SLA_MONITOR_HTTP_PORT", str(server.server_port))
        assert main() == 0
        _Health.status = 503
        assert main() == 1
    finally:
        _Health.status = 200
        server.shutdown()
        server.server_close()
    assert main() == 1  # nothing listening
