"""`python -m runbooks ARGS...` is `kube-runbooks ARGS...`: the bundled runbooks through pytest."""

from runbooks.plugin.cli import main

raise SystemExit(main())
