# The two entry points of kube-runbooks (see README.md): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
REPORTS := reports
# Each run also writes $(REPORTS)/<run-id>/evidence.json (SHA-256 chained), cucumber.json and junit.xml;
# EVIDENCE_KEY=<Ed25519 PEM> signs the chain (python -m runbooks.evidence keygen <path> makes one).
EVIDENCE := --evidence-dir=$(REPORTS) $(if $(EVIDENCE_KEY),--evidence-key=$(EVIDENCE_KEY))

.PHONY: demo test test-kind unit lint toolchain bench clean gate image

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Builds (first time, minutes) or checks (afterwards, about a second) the pinned upstream binaries.
toolchain: $(VENV)/.installed
	$(PY) -m runbooks.toolchain build

# The main job: every runbook against a fresh local cluster, evidence in reports/runbooks.html.
demo: toolchain
	$(PYTEST) tests/features --html=$(REPORTS)/runbooks.html --self-contained-html $(EVIDENCE)

# Everything: lint, then two tiers side by side (tests/tiers.py: the local tier leaves half the cores
# idle waiting on its clusters): unit, integration and every runbook against the real local cluster,
# and the kind tier wherever a Docker engine can be started (it says why when it cannot). Each line
# carries its tier's prefix; the end prints each tier's wall time. The kind tier keeps its scratch folders (restore
# proofs, local clusters) under a runtime root of its own, so neither tier's checks see the other's.
test: toolchain lint
	@$(PY) -m runbooks.kindenv install || true
	$(PY) -m tests.tiers \
	  "local=$(PYTEST) tests -v --durations=20 --html=$(REPORTS)/test-report.html --self-contained-html $(EVIDENCE)" \
	  "kind=if $(PY) -m runbooks.kindenv check; then KUBE_RUNBOOKS_RUNTIME=$${TMPDIR:-/tmp}/kube-runbooks-kind-tier $(MAKE) --no-print-directory test-kind; fi"

# Real kind nodes (first time: builds the node images, several minutes), one pytest session per line, each
# run even when one before it failed (every report is evidence); the tier fails if any of them did:
# 1. at the older pin, every runbook but those of 2 and 4, on the session's shared cluster or on fresh
#    clusters of their own one at a time: smoke, node maintenance (real reboots and power cuts of node
#    containers), the gate and its proofs, deployment strategies, and backup_volumes on the shared cluster;
# 2. resource backup alone (it boots two fresh clusters; beside the shared one, three kind clusters at
#    once outran kind's and kubeadm's timeouts on 2 cores);
# 3. smoke again at the newer pin;
# 4. the procedures the way an operator runs them: one kind cluster driven as --cluster existing (its
#    kubeconfig and --node-access=pod only): maintain_node with a --node-command on the node and a
#    --maintenance-command that reboots the node container, backup_etcd on the control-plane node,
#    restore_etcd (restored, rolled back, resumed after kill -9, bad inputs refused), backup_resources,
#    backup_etcd and the gate as the README writes them; and on a kind cluster of its own, upgrade_cluster
#    from the older pin to the newer with apt packages (--plan, refusals, killed with -9 mid-way and
#    resumed); then `make image` run locked down (read-only root, UID 65532), and on the shared cluster the
#    chart installed with the README's helm command, its etcd-backup and gate CronJobs run by hand, their
#    evidence locked in SeaweedFS and verified, a killed backup Job shown incomplete on the fleet page
#    (tests/integration, marker kind). These replace the etcd and upgrade drills and the
#    kind-provider runs of maintain_node, backup_etcd and backup_resources on kind: one run each.
KIND_TIER = not resource_backup and not etcd_backup and not backup_etcd and not backup_resources and not maintain_node and not upgrade and not upgrade_cluster
NEWER = $(shell $(PY) -c "from runbooks.toolchain.pins import load_pins; print(load_pins().kubernetes_newer)")
test-kind: $(VENV)/.installed
	@failed=0; \
	$(PYTEST) -v --durations=10 tests/features --cluster kind -m "$(KIND_TIER)" --html=$(REPORTS)/kind-report.html --self-contained-html || failed=1; \
	$(PYTEST) -v --durations=10 tests/features --cluster kind -m resource_backup --html=$(REPORTS)/kind-report-resource-backup.html --self-contained-html || failed=1; \
	$(PYTEST) -v --durations=10 tests/features --cluster kind --kubernetes-version $(NEWER) -m smoke --html=$(REPORTS)/kind-report-$(NEWER).html --self-contained-html || failed=1; \
	$(PYTEST) -v --durations=10 tests/integration -m kind --html=$(REPORTS)/kind-report-as-existing.html --self-contained-html || failed=1; \
	exit $$failed

# kube-runbooks:<version>, the image charts/kube-runbooks runs, built offline into the private engine (the first time
# several minutes; afterwards seconds, rebuilt only when its fingerprint changes). Prints the image reference.
# Onto a kind cluster's nodes: $(PY) -m runbooks.kindenv load-runbooks-image --kind-cluster NAME
image: toolchain
	$(PY) -m runbooks.kindenv runbooks-image

# The pre-upgrade gate: exit code 0 only when every check passes for TARGET (e.g. make gate TARGET=v1.37).
# GATE_ARGS passes the rest, e.g. GATE_ARGS="--cluster existing --snapshot-dir /backups/etcd".
gate: toolchain
	@test -n "$(TARGET)" || { echo "make gate needs TARGET=vX.Y, e.g. make gate TARGET=v1.37"; exit 2; }
	$(PYTEST) tests/features -m gate --target-version $(TARGET) $(GATE_ARGS) --html=$(REPORTS)/gate.html --self-contained-html $(EVIDENCE)

# Fast checks first (seconds): lint, formatting, strict types on the library, then the unit tier.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check runbooks tests bench
	$(VENV)/bin/ruff format --check runbooks tests bench
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(PYTEST) -m unit tests

# Benchmarks against the upstream tools in the same run (figures printed, never asserted): cluster start with
# its timeline, export of 5,000 ConfigMaps and etcd snapshots, drain plan and drain vs kubectl drain, the
# manifest scan vs pluto detect-files, on kind as --cluster existing (where an engine can start) the node-shell round trip
# vs kubectl exec, the RTO of @restore_etcd for a 50 MB snapshot and @upgrade_cluster's overhead over its own kubeadm, apt and drain work, and the gate (vs kubent and pluto)/drain plan/export at each of SIZES
# nodes (PODS_PER_NODE pods each). Each writes reports/bench/<name>.json; bench.report renders
# reports/bench.html and ends with one GOAL line per goal. About an hour on 2 cores, most of it kubectl drain
# (its client-side rate limiter) and kubectl get -A -o yaml at 1,000 nodes.
SIZES ?= 100,300,1000
PODS_PER_NODE ?= 20
RUNS ?= 5
bench: toolchain
	rm -rf $(REPORTS)/bench
	$(PY) -m bench.cluster_start --runs $(RUNS)
	$(PY) -m bench.snapshot --runs $(RUNS)
	$(PY) -m bench.drain --runs $(RUNS)
	$(PY) -m bench.manifests --runs $(RUNS)
	$(PY) -m bench.node_access
	$(PY) -m bench.upgrade
	$(PY) -m bench.scale --sizes $(SIZES) --pods-per-node $(PODS_PER_NODE) --runs $(RUNS)
	$(PY) -m bench.report

clean:
	rm -rf $(REPORTS) .pytest_cache
