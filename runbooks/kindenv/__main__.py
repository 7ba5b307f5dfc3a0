"""`python -m runbooks.kindenv up|down|status|image|runbooks-image|load-runbooks-image|install|check`: the Docker engine and images kind uses.

up/down start and stop the private engine (down also removes its containers and bridge);
image builds the node image and the workload image; runbooks-image builds kube-runbooks:<version>, the
image the chart runs (`make image`), and load-runbooks-image --kind-cluster NAME puts it on that kind
cluster's nodes; install apt-installs missing host packages; check exits 0 when the kind tier can run here
and otherwise prints why (make test uses it).
"""

from __future__ import annotations

import argparse
import sys

from runbooks.errors import RunbookError
from runbooks.kindenv import engine, runbooks_image
from runbooks.kindenv.nodeimage import ensure_node_image
from runbooks.kindenv.workload import ensure_workload_image
from runbooks.toolchain.pins import load_pins


def progress(message: str) -> None:
    print(f"[kindenv] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbooks.kindenv", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "image", "runbooks-image", "load-runbooks-image", "install", "check"])
    parser.add_argument("--kind-cluster", metavar="NAME", help="load-runbooks-image: the kind cluster whose nodes get the image")
    parser.add_argument(
        "--kubernetes-version",
        action="append",
        metavar="VERSION",
        help="image: the pinned version to build the node image for (repeatable; default: every pinned version)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            started = engine.up(progress)
            print(f"DOCKER_HOST={started.host or ''}")
        elif args.command == "image":
            running = engine.up(progress)
            for version in args.kubernetes_version or load_pins().kubernetes_versions:
                built = ensure_node_image(running, progress, version=version)
                print(built.tag)
                if built.seconds:
                    progress(f"node image {built.tag} built in {built.seconds:.0f} s")
            print(ensure_workload_image(running, progress).archive)
        elif args.command in ("runbooks-image", "load-runbooks-image"):
            image = runbooks_image.ensure_image(engine.up(progress), progress)
            progress(f"{image.pinned_ref} built in {image.seconds:.0f} s" if image.seconds else f"{image.pinned_ref} was built already")
            if args.command == "load-runbooks-image":
                if not args.kind_cluster:
                    parser.error("load-runbooks-image needs --kind-cluster NAME")
                runbooks_image.load_into_kind(engine.up(progress), image.ref, args.kind_cluster)
            print(image.ref)
        elif args.command == "install":
            engine.install_host_packages(progress)
        elif args.command == "check":
            reason = engine.why_not()
            if reason:
                print(f"kind tier skipped: {reason}")
                return 1
            print("kind tier: an engine can be started here")
        elif args.command == "down":
            engine.down(progress)
        else:
            found = engine.current_engine()
            print("no engine answers" if found is None else f"{'private' if found.private else 'existing'} engine at {found.host or 'the default socket'}")
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
