"""kubeadm's etcd found from its static pod (flags, members, endpoint, client certificate), and the restore
run on its node: job name, new data dir, manifest rewrite, time without an API, and the generated script,
checked as text and run with /bin/sh against a temp folder standing in for the node."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from runbooks.cluster import node_jobs
from runbooks.etcd import node_restore as nr
from runbooks.etcd import on_node
from runbooks.etcd import snapshot as snap
from runbooks.kube.etcd_access import EtcdAccess
from runbooks.versions import Version
from tests.unit.fake_cluster import FakeCluster

# kubeadm's etcd static pod on a kind control plane (v1.3x), as /etc/kubernetes/manifests/etcd.yaml holds it.
KUBEADM_ETCD_COMMAND = [
    "etcd",
    "--advertise-client-urls=https://172.18.0.2:2379",
    "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
    "--client-cert-auth=true",
    "--data-dir=/var/lib/etcd",
    "--feature-gates=InitialCorruptCheck=true",
    "--initial-advertise-peer-urls=https://172.18.0.2:2380",
    "--initial-cluster=kind-control-plane=https://172.18.0.2:2380",
    "--key-file=/etc/kubernetes/pki/etcd/server.key",
    "--listen-client-urls=https://127.0.0.1:2379,https://172.18.0.2:2379",
    "--listen-metrics-urls=http://127.0.0.1:2381",
    "--listen-peer-urls=https://172.18.0.2:2380",
    "--name=kind-control-plane",
    "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
    "--peer-client-cert-auth=true",
    "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
    "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
    "--snapshot-count=10000",
    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
]
KUBEADM_ETCD_YAML = (
    """\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://172.18.0.2:2379
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
"""
    + "".join(f"    - {arg}\n" for arg in KUBEADM_ETCD_COMMAND)
    + """\
    image: registry.k8s.io/etcd:3.6.4-0
    livenessProbe:
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: 2381
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
"""
)
DEFAULT_CERTS = on_node.KUBEADM_ETCD_CLIENT


# -- flags, members, endpoint ---------------------------------------------------------------------------
def test_flags_of_kubeadms_command_line() -> None:
    found = on_node.flags([*KUBEADM_ETCD_COMMAND, "--name=last-wins", "-v=2", "--bare", "positional"])
    assert found["data-dir"] == "/var/lib/etcd"
    assert found["feature-gates"] == "InitialCorruptCheck=true"  # split at the first `=` only
    assert found["name"] == "last-wins"
    assert not {"v", "bare", "positional"} & found.keys()


@pytest.mark.parametrize(
    ("text", "members"),
    [
        ("kind-control-plane=https://172.18.0.2:2380", {"kind-control-plane": ("https://172.18.0.2:2380",)}),
        (
            "a=https://10.0.0.1:2380,b=https://10.0.0.2:2380,c=https://10.0.0.3:2380",
            {"a": ("https://10.0.0.1:2380",), "b": ("https://10.0.0.2:2380",), "c": ("https://10.0.0.3:2380",)},
        ),
        ("a=https://10.0.0.1:2380,a=https://[fd00::1]:2380", {"a": ("https://10.0.0.1:2380", "https://[fd00::1]:2380")}),  # a member with two peer URLs
        ("", {}),
    ],
)
def test_initial_cluster_as_members_and_their_peer_urls(text: str, members: dict[str, tuple[str, ...]]) -> None:
    assert on_node.parse_initial_cluster(text) == members


@pytest.mark.parametrize(
    ("listen", "advertise", "endpoint"),
    [
        ("https://127.0.0.1:2379,https://172.18.0.2:2379", "https://172.18.0.2:2379", "https://127.0.0.1:2379"),  # kubeadm's: loopback first
        ("https://172.18.0.2:2379,https://127.0.0.1:2379", "https://172.18.0.2:2379", "https://127.0.0.1:2379"),  # loopback wherever it is
        ("https://172.18.0.2:2379", "https://etcd.example:2379", "https://etcd.example:2379"),  # no loopback: the advertised URL
        ("", "", "https://127.0.0.1:2379"),
    ],
)
def test_the_client_endpoint_on_the_node_prefers_the_loopback_listener(listen: str, advertise: str, endpoint: str) -> None:
    assert on_node.client_endpoint({"listen-client-urls": listen, "advertise-client-urls": advertise}) == endpoint


# -- find_static_etcd against the fake API --------------------------------------------------------------
def static_pod(component: str, node: str, command: list[str], ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{component}-{node}", "namespace": "kube-system", "labels": {"component": component, "tier": "control-plane"}},
        "spec": {"nodeName": node, "containers": [{"name": component, "image": f"registry.k8s.io/{component}:x", "command": command}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


def cluster_of(*pods: dict[str, Any]) -> FakeCluster:
    cluster = FakeCluster()
    for pod in pods:
        cluster.fake.add(pod)
    return cluster


CUSTOM = ("/srv/pki/etcd-ca.crt", "/srv/pki/api-etcd.crt", "/srv/pki/api-etcd.key")
CUSTOM_FLAGS = ["kube-apiserver", f"--etcd-cafile={CUSTOM[0]}", f"--etcd-certfile={CUSTOM[1]}", f"--etcd-keyfile={CUSTOM[2]}"]


def test_kubeadms_single_member_etcd_is_found_with_its_node_side_access() -> None:
    found = on_node.find_static_etcd(cluster_of(static_pod("etcd", "kind-control-plane", KUBEADM_ETCD_COMMAND)))
    assert (found.node, found.pod, found.single_member) == ("kind-control-plane", "etcd-kind-control-plane", True)
    assert found.member == snap.EtcdMember("kind-control-plane", ("https://172.18.0.2:2380",))
    assert found.data_dir == PurePosixPath("/var/lib/etcd")
    assert found.access.endpoint == "https://127.0.0.1:2379"


@pytest.mark.parametrize(
    ("apiservers", "certificate"),
    [
        ([static_pod("kube-apiserver", "cp-1", CUSTOM_FLAGS)], CUSTOM),
        ([static_pod("kube-apiserver", "cp-1", CUSTOM_FLAGS[:-1])], DEFAULT_CERTS),  # no --etcd-keyfile: all three are kubeadm's
        ([static_pod("kube-apiserver", "cp-2", CUSTOM_FLAGS)], DEFAULT_CERTS),  # another node's API server is not asked
        ([], DEFAULT_CERTS),
    ],
)
def test_the_client_certificate_is_the_api_servers_on_that_node_else_kubeadms(apiservers: list[dict[str, Any]], certificate: tuple[str, str, str]) -> None:
    found = on_node.find_static_etcd(cluster_of(static_pod("etcd", "cp-1", KUBEADM_ETCD_COMMAND), *apiservers))
    assert tuple(str(p) for p in (found.access.cacert, found.access.cert, found.access.key)) == certificate


def test_two_etcd_pods_are_not_a_single_member_and_the_ready_one_is_read() -> None:
    three = [arg for arg in KUBEADM_ETCD_COMMAND if not arg.startswith("--initial-cluster=")]
    found = on_node.find_static_etcd(cluster_of(static_pod("etcd", "cp-a", three, ready=False), static_pod("etcd", "cp-b", three)))
    assert (found.node, found.static_pods, found.single_member) == ("cp-b", 2, False)


def test_a_second_member_in_initial_cluster_is_not_a_single_member_either() -> None:
    command = [*KUBEADM_ETCD_COMMAND, "--initial-cluster=kind-control-plane=https://172.18.0.2:2380,cp-2=https://172.18.0.3:2380"]
    assert on_node.find_static_etcd(cluster_of(static_pod("etcd", "kind-control-plane", command))).single_member is False


def test_a_cluster_without_an_etcd_static_pod_is_refused_naming_the_direct_options() -> None:
    unscheduled = static_pod("etcd", "cp-1", KUBEADM_ETCD_COMMAND)
    del unscheduled["spec"]["nodeName"]
    with pytest.raises(on_node.EtcdNotFoundError, match="--etcd-endpoint"):
        on_node.find_static_etcd(cluster_of(unscheduled, static_pod("kube-apiserver", "cp-1", CUSTOM_FLAGS)))


# -- the restore's plan ---------------------------------------------------------------------------------
SHA = "0123456789abcdef" * 4


def test_the_job_name_is_the_same_restore_for_the_same_snapshot_and_change_only() -> None:
    name = nr.job_name(SHA, "CHG-2026-1130")
    assert name == nr.job_name(SHA, "CHG-2026-1130")
    assert name.startswith("etcd-restore-0123456789ab-chg-2026-1130-")
    assert nr.job_name(SHA, "CHG-2026-1131") != name
    assert nr.job_name("f" * 64, "CHG-2026-1130") != name


@pytest.mark.parametrize(("one", "other"), [("CHG-1", "chg-1"), ("CHG 1", "CHG-1"), ("x" * 40 + "a", "x" * 40 + "b")])
def test_change_ids_that_differ_only_in_case_punctuation_or_past_the_shortened_part_are_different_restores(one: str, other: str) -> None:
    assert nr.job_name(SHA, one) != nr.job_name(SHA, other)


@pytest.mark.parametrize("change", ["CHG-2026-1130", "incident #4711: etcd ate my pods!", "x" * 200, "---", ""])
def test_every_job_name_is_a_folder_name_node_jobs_accepts(change: str) -> None:
    assert node_jobs.folder(nr.job_name(SHA, change)).name == nr.job_name(SHA, change)


def test_the_new_data_dir_is_a_sibling_named_after_the_restores_time() -> None:
    when = datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC)
    assert nr.new_data_dir(PurePosixPath("/var/lib/etcd"), when) == PurePosixPath("/var/lib/etcd-from-backup-20261130T235958Z")


@pytest.mark.parametrize(
    ("times", "seconds"),
    [
        (["10:00:00", "10:00:02", "10:04:30"], 270),
        (["23:59:50", "23:59:59", "00:01:05"], 75),  # across midnight, by the node's clock
        (["10:00:00"], None),
        ([], None),
    ],
)
def test_the_api_is_down_from_the_first_phase_to_the_last(times: list[str], seconds: int | None) -> None:
    assert nr.api_down_seconds([nr.Phase(at, "step") for at in times]) == seconds


def plan_for(data_dir: PurePosixPath, bin_dir: PurePosixPath, api_check: str = "true", bound: int = 300) -> nr.RestorePlan:
    static = on_node.StaticEtcd(
        node="kind-control-plane",
        pod="etcd-kind-control-plane",
        image="registry.k8s.io/etcd:3.6.4-0",
        members=("kind-control-plane",),
        static_pods=1,
        data_dir=data_dir,
        member=snap.EtcdMember("kind-control-plane", ("https://172.18.0.2:2380",)),
        access=EtcdAccess("https://127.0.0.1:2379", *(Path(p) for p in DEFAULT_CERTS)),
    )
    tools = snap.EtcdTools(Version(3, 6, 4), Path(str(bin_dir / "etcdctl")), Path(str(bin_dir / "etcdutl")))
    when = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    return nr.RestorePlan(static, nr.job_name(SHA, "CHG-1"), nr.new_data_dir(data_dir, when), tools, api_check, bound)


PLAN = plan_for(PurePosixPath("/var/lib/etcd"), PurePosixPath("/var/lib/kube-runbooks/bin"))


def test_the_restored_manifest_moves_the_flag_the_mount_and_the_host_path_and_nothing_else() -> None:
    original = KUBEADM_ETCD_YAML + "# /var/lib/etcd-old and /var/lib/etcd/member stay\n"
    restored = nr.restored_manifest(original, PLAN)
    new = str(PLAN.new_dir)
    assert f"--data-dir={new}\n" in restored and f"- mountPath: {new}\n" in restored and f"path: {new}\n" in restored
    assert "# /var/lib/etcd-old and /var/lib/etcd/member stay\n" in restored
    assert restored.replace(new, "/var/lib/etcd") == original


def test_the_script_is_valid_sh() -> None:
    done = subprocess.run(["/bin/sh", "-n"], input=nr.script(PLAN), capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")


def test_the_script_parks_the_manifests_before_it_restores_and_rolls_back_to_the_original() -> None:
    text = nr.script(PLAN)
    main = text[text.index('phase "stop the control plane') :].splitlines()
    restore = next(i for i, line in enumerate(main) if " snapshot restore " in line)
    assert main.index("park") < restore
    assert main[restore].startswith(f"/var/lib/kube-runbooks/bin/etcdutl snapshot restore /var/lib/kube-runbooks/jobs/{PLAN.job}/snapshot.db ")
    assert "--bump-revision=1000000000" in main[restore].split() and "--mark-compacted" in main[restore].split()
    rollback = text[text.index("rollback() {") :].split("\n}\n")[0].splitlines()
    original = next(i for i, line in enumerate(rollback) if line.startswith('  cp "$J/etcd.yaml.original" "$PARK/etcd.yaml" ||'))
    assert rollback.index("  park") < original < rollback.index("  unpark")
    # An API server left running on the restored data would keep its revisions in its watch cache.
    assert rollback.index("  park") < rollback.index('  gone_within kube-apiserver "$GONE"') < original


@pytest.mark.parametrize("bound", [1, 60, 300, 900])
def test_the_operator_side_waits_longer_than_the_script_can_run(bound: int) -> None:
    """Every wait the script makes (counted in its text) at its bound, a rollback's included: the runner must not give up
    on a job that is still within them."""
    text = nr.script(replace(PLAN, bound_seconds=bound))
    seconds = {"$GONE": nr.GONE_BOUND, "$BOUND": bound, "$ROLLBACK_BOUND": max(bound, nr.DEFAULT_BOUND)}
    waits = re.findall(r'(?:gone_within|until_within) \S+ "(\$[A-Z_]+)"', text)
    assert sorted(set(waits)) == sorted(seconds)
    assert nr.worst_case_seconds(bound) >= sum(seconds[w] for w in waits)
    assert f"BOUND={bound}\n" in text and f"GONE={nr.GONE_BOUND}\n" in text


# -- the script run against a stand-in node -------------------------------------------------------------
OTHERS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def run_on_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_check: str, bound: int, prove_rollback: bool = False) -> tuple[int, Path, str, str]:
    """Run the generated script with the node's folders, CLIs and systemctl under `tmp_path`; its exit
    code, the manifests folder, and the original and restored etcd.yaml."""
    manifests, jobs, bin_dir = tmp_path / "manifests", tmp_path / "jobs", tmp_path / "bin"
    monkeypatch.setattr(nr, "MANIFESTS", PurePosixPath(manifests))
    monkeypatch.setattr(node_jobs, "JOBS", PurePosixPath(jobs))
    # The script waits for processes named etcd and kube-apiserver to exit: the stand-in node runs none,
    # whatever runs on this machine (a kind cluster's control plane shows in its /proc).
    (tmp_path / "proc").mkdir(exist_ok=True)
    monkeypatch.setattr(nr, "PROC", PurePosixPath(tmp_path / "proc"))
    plan = plan_for(PurePosixPath(tmp_path / "etcd"), PurePosixPath(bin_dir), api_check.replace("MANIFESTS", shlex.quote(str(manifests))), bound)
    plan = replace(plan, prove_rollback=prove_rollback)
    for folder in (manifests, Path(str(plan.folder)), bin_dir):
        folder.mkdir(parents=True)
    fakes = {
        "etcdctl": "exit 0",  # etcd is healthy whenever asked
        "etcdutl": 'echo "$@" > "$(dirname "$0")/etcdutl.args"; for a; do case "$a" in --data-dir=*) mkdir -p "${a#--data-dir=}";; esac; done',
        "systemctl": 'echo "$@" >> "$(dirname "$0")/systemctl.calls"',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    original = KUBEADM_ETCD_YAML.replace("/var/lib/etcd", str(plan.etcd.data_dir))
    restored = nr.restored_manifest(original, plan)
    (manifests / "etcd.yaml").write_text(original)
    for name in OTHERS:
        (manifests / f"{name}.yaml").write_text(f"# {name}\n")
    for name, text in (("etcd.yaml.original", original), ("etcd.yaml.restored", restored), ("snapshot.db", "db"), ("script", nr.script(plan))):
        (Path(str(plan.folder)) / name).write_text(text)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}  # our systemctl before this machine's
    done = subprocess.run(["/bin/sh", "script"], cwd=str(plan.folder), env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, manifests, original, restored


def test_a_restore_that_comes_up_exits_0_with_the_restored_manifest_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rc, manifests, _, restored = run_on_stand_in(tmp_path, monkeypatch, "true", bound=5)
    assert rc == nr.RESTORED
    assert (manifests / "etcd.yaml").read_text() == restored
    assert sorted(p.name for p in manifests.iterdir()) == ["etcd.yaml", *(f"{c}.yaml" for c in OTHERS)]
    assert "--mark-compacted" in (tmp_path / "bin" / "etcdutl.args").read_text()
    assert (tmp_path / "bin" / "systemctl.calls").read_text() == "restart kubelet\n"


def test_a_restore_whose_api_never_comes_up_rolls_back_to_the_original_manifest_and_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The API server answers only on the old data: never while etcd.yaml names the restored data dir.
    rc, manifests, original, _ = run_on_stand_in(tmp_path, monkeypatch, "! grep -q etcd-from-backup MANIFESTS/etcd.yaml", bound=1)
    assert rc == nr.ROLLED_BACK
    assert (manifests / "etcd.yaml").read_text() == original
    assert sorted(p.name for p in manifests.iterdir()) == ["etcd.yaml", *(f"{c}.yaml" for c in OTHERS)]


def test_an_api_server_that_does_not_stop_is_never_restored_under(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kube-apiserver still running after its manifest left must not see its etcd swapped: the script rolls back
    before the snapshot is touched, and puts the original manifest back."""
    (tmp_path / "proc" / "4242").mkdir(parents=True)
    (tmp_path / "proc" / "4242" / "comm").write_text("kube-apiserver\n")
    monkeypatch.setattr(nr, "GONE_BOUND", 1)
    rc, manifests, original, _ = run_on_stand_in(tmp_path, monkeypatch, "true", bound=1)
    assert rc == nr.ROLLED_BACK
    assert not (tmp_path / "bin" / "etcdutl.args").exists()
    assert (manifests / "etcd.yaml").read_text() == original


def test_a_rollback_drill_restores_then_puts_the_original_back_and_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--prove-rollback: the restore runs and comes up, then the rollback runs as it would for a restore that did not."""
    rc, manifests, original, _ = run_on_stand_in(tmp_path, monkeypatch, "true", bound=5, prove_rollback=True)
    assert rc == nr.ROLLED_BACK
    assert "--mark-compacted" in (tmp_path / "bin" / "etcdutl.args").read_text()
    assert (manifests / "etcd.yaml").read_text() == original
    assert (tmp_path / "bin" / "systemctl.calls").read_text() == "restart kubelet\nrestart kubelet\n"
