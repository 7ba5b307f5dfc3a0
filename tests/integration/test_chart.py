"""charts/kube-runbooks with the pinned helm (built from its Go module on first use): `helm lint` passes, `helm
template` renders the properties the chart promises (one CronJob per procedure that never overlaps or retries,
non-root on a read-only root filesystem, each with a ServiceAccount of its own, the gate read-only and blind to
Secrets, values reaching the CLI), the API server of a real local cluster accepts every object, and its RBAC
authorizer gives each ServiceAccount exactly what README.md says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbooks.cluster import in_cluster
from runbooks.cluster.local.provider import LocalCluster
from runbooks.toolchain import cache
from runbooks.toolchain.builder import ensure_helm, ensure_toolchain

CHART = Path(__file__).resolve().parents[2] / "charts" / "kube-runbooks"
NAMESPACE = "ops"
RELEASE = "nightly"
PREFIX = f"{RELEASE}-kube-runbooks"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*", "escalate", "bind", "impersonate"}
BASE = ["--set", "jobs.gate.targetVersion=v1.37"]


@pytest.fixture(scope="module")
def helm() -> Path:
    return ensure_helm()


def helm_run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, check=False, timeout=120)


def render(helm: Path, *values: str) -> list[dict[str, Any]]:
    result = helm_run(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *BASE, *values)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod


def test_helm_lint_passes(helm: Path) -> None:
    result = helm_run(helm, "lint", str(CHART), "--strict", *BASE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gate_refuses_to_render_without_its_target_version(helm: Path) -> None:
    result = helm_run(helm, "template", RELEASE, str(CHART))
    assert result.returncode != 0 and "jobs.gate.targetVersion is required" in result.stderr


def test_each_procedure_is_a_cronjob_that_never_overlaps_never_retries_and_ends_by_its_deadline(helm: Path) -> None:
    cronjobs = of_kind(render(helm), "CronJob")
    assert set(cronjobs) == {f"{PREFIX}-etcd-backup", f"{PREFIX}-resource-backup", f"{PREFIX}-gate"}
    for name, cronjob in cronjobs.items():
        spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["startingDeadlineSeconds"] > 0 and job["activeDeadlineSeconds"] > 0, name
        assert job["backoffLimit"] == 0 and pod_of(cronjob)["restartPolicy"] == "Never", name


def test_every_container_is_non_root_on_a_read_only_root_with_no_capabilities_and_writes_only_to_its_volumes(helm: Path) -> None:
    for name, cronjob in of_kind(render(helm), "CronJob").items():
        pod = pod_of(cronjob)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65532, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/home/runbooks", "/reports"} <= mounts, name  # the image's HOME and TMPDIR, and the evidence
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name


def test_every_cronjob_runs_as_its_own_service_account_bound_to_its_own_role(helm: Path) -> None:
    docs = render(helm)
    accounts = set(of_kind(docs, "ServiceAccount"))
    used = {pod_of(cronjob)["serviceAccountName"] for cronjob in of_kind(docs, "CronJob").values()}
    assert used == accounts and len(used) == 3
    bindings = [*of_kind(docs, "ClusterRoleBinding").values(), *of_kind(docs, "RoleBinding").values()]
    for binding in bindings:
        (subject,) = binding["subjects"]
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]  # each binding grants its own role
        assert binding["metadata"]["name"].startswith(subject["name"])  # ... to the job it is named after


def rules_of(docs: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    """Every rule bound to `account`, from ClusterRoles and Roles alike."""
    roles = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs if doc["kind"] in ("ClusterRole", "Role")}
    found = []
    for binding in (doc for doc in docs if doc["kind"] in ("ClusterRoleBinding", "RoleBinding")):
        if any(s["name"] == account for s in binding["subjects"]):
            found += roles[(binding["roleRef"]["kind"], binding["roleRef"]["name"])]["rules"]
    return found


def test_the_gate_only_reads_and_never_secrets(helm: Path) -> None:
    rules = rules_of(render(helm), f"{PREFIX}-gate")
    assert rules
    for rule in rules:
        assert set(rule["verbs"]) <= {"get", "list"}, rule
        assert "secrets" not in rule.get("resources", []) and "*" not in rule.get("resources", []), rule


def test_the_backups_write_nothing_but_node_shell_pods_in_their_namespace(helm: Path) -> None:
    docs = render(helm)
    assert all(set(r["verbs"]) <= {"get", "list"} for r in rules_of(docs, f"{PREFIX}-resource-backup"))
    roles = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Role"}
    for role in roles.values():
        writes = [r for r in role["rules"] if set(r["verbs"]) & WRITE_VERBS]
        if writes:
            assert role["metadata"]["namespace"] == "kube-runbooks-node-access", role["metadata"]
            assert {res for r in writes for res in r["resources"]} == {"pods", "pods/exec"}
    cluster_wide = [r for doc in docs if doc["kind"] == "ClusterRole" for r in doc["rules"]]
    assert all(set(r["verbs"]) <= {"get", "list"} for r in cluster_wide)


def args_of(docs: list[dict[str, Any]], job: str) -> list[str]:
    args: list[str] = pod_of(of_kind(docs, "CronJob")[f"{PREFIX}-{job}"])["containers"][0]["args"]
    return args


def env_of(docs: list[dict[str, Any]], job: str) -> dict[str, Any]:
    env = pod_of(of_kind(docs, "CronJob")[f"{PREFIX}-{job}"])["containers"][0]["env"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in env}


def test_values_reach_the_command_lines(helm: Path) -> None:
    docs = render(
        helm,
        "--set",
        "jobs.gate.targetVersion=v1.38",
        "--set",
        "changeId=CHG-42",
        "--set",
        "evidence.store=s3://audit/kube",
        "--set",
        "evidence.retentionDays=400",
        "--set",
        "nodeAccess.shellImage=registry.example/busybox:1.37",
        "--set",
        "jobs.gate.waivers.etcd=checked nightly by the etcd backup",
        "--set",
        "storage.type=pvc",
    )
    etcd = args_of(docs, "etcd-backup")
    assert etcd[:3] == ["backup", "etcd", "--to=/backups/etcd"]
    assert {"--node-access=pod", "--node-shell-image=registry.example/busybox:1.37", "--node-shell-namespace=kube-runbooks-node-access"} <= set(etcd)
    assert not any(a.startswith("--allow-disruption") for a in etcd)  # a backup only reads: nothing to allow
    assert args_of(docs, "resource-backup")[:3] == ["backup", "resources", "--to=/backups/resources"]
    gate = args_of(docs, "gate")
    assert gate[:2] == ["gate", "--target=v1.38"]
    assert {"--waive=etcd=checked nightly by the etcd backup", "--snapshot-dir=/backups/etcd"} <= set(gate)
    for job in ("etcd-backup", "resource-backup", "gate"):
        assert {"--change-id=CHG-42", "--evidence-store=s3://audit/kube", "--evidence-retention-days=400", "--evidence-dir=/reports"} <= set(
            args_of(docs, job)
        ), job
        assert "--evidence-store-unlocked" not in args_of(docs, job)
    # Every option the chart passes is one the CLI has: its verbs' own, or the plugin's.
    plugin = subprocess.run([sys.executable, "-m", "runbooks", "run", "--", "--help"], capture_output=True, text=True, check=True, timeout=120).stdout
    passed = {arg.split("=")[0] for job in ("etcd-backup", "resource-backup", "gate") for arg in args_of(docs, job) if arg.startswith("--")}
    assert {option for option in passed - {"--to", "--target"} if f"{option} " not in plugin and f"{option}=" not in plugin} == set()


def test_the_cluster_name_s3_settings_and_workload_identity_reach_the_pods(helm: Path) -> None:
    docs = render(
        helm,
        "--set",
        "clusterName=prod-eu-1",
        "--set",
        "s3.endpoint=https://s3.example:9000",
        "--set",
        "s3.region=eu-west-1",
        "--set",
        "s3.credentialsSecret.name=evidence-s3",
        "--set",
        "evidence.unlocked=true",
        "--set-string",
        "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/evidence",
    )
    env = env_of(docs, "gate")
    assert env["KUBE_RUNBOOKS_CLUSTER_NAME"] == "prod-eu-1"
    assert (env["AWS_ENDPOINT_URL"], env["AWS_REGION"]) == ("https://s3.example:9000", "eu-west-1")
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "evidence-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    assert "--evidence-store-unlocked" in args_of(docs, "gate")
    for account in of_kind(docs, "ServiceAccount").values():
        assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/evidence"}


def test_without_a_cluster_name_the_context_is_in_cluster_and_no_store_option_is_passed(helm: Path) -> None:
    docs = render(helm)
    assert env_of(docs, "etcd-backup")["KUBE_RUNBOOKS_CLUSTER_NAME"] == "in-cluster"
    assert not any(a.startswith("--evidence-store") or a.startswith("--change-id") for a in args_of(docs, "etcd-backup"))


@pytest.mark.parametrize(("key", "job"), [("etcdBackup", "etcd-backup"), ("resourceBackup", "resource-backup"), ("gate", "gate")])
def test_a_disabled_job_leaves_no_cronjob_identity_or_rights_behind(helm: Path, key: str, job: str) -> None:
    docs = render(helm, "--set", f"jobs.{key}.enabled=false")
    names = [doc["metadata"]["name"] for doc in docs]
    assert not any(name.startswith(f"{PREFIX}-{job}") for name in names), names
    assert len(of_kind(docs, "CronJob")) == 2
    assert ("Namespace" in {doc["kind"] for doc in docs}) is (key != "etcdBackup")  # the node-access namespace is the etcd backup's


def test_an_existing_claim_is_used_and_none_is_created(helm: Path) -> None:
    docs = render(helm, "--set", "storage.type=pvc", "--set", "storage.pvc.existingClaim=backups-on-nfs")
    assert of_kind(docs, "PersistentVolumeClaim") == {}
    claims = {v["persistentVolumeClaim"]["claimName"] for c in of_kind(docs, "CronJob").values() for v in pod_of(c)["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"backups-on-nfs"}


# -- against the API server of a real local cluster ------------------------------------------------------


@pytest.fixture(scope="module")
def installed(helm: Path, local_cluster: LocalCluster) -> Iterator[tuple[LocalCluster, Path]]:
    """The rendered chart server-side dry-run, then its namespaces, ServiceAccounts and RBAC applied for real."""
    kubectl = ensure_toolchain().kubernetes("kubectl")
    rendered = helm_run(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *BASE, "--set", "storage.type=pvc")
    assert rendered.returncode == 0, rendered.stderr
    docs = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    base = [str(kubectl), f"--kubeconfig={local_cluster.kubeconfig}"]
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}, *(d for d in docs if d["kind"] == "Namespace")]
    apply(base, namespaces, [])
    dry = apply(base, docs, ["--dry-run=server"])
    assert dry.count("(server dry run)") == len(docs), dry
    apply(base, [d for d in docs if d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")], [])
    yield local_cluster, kubectl


def apply(base: list[str], docs: list[dict[str, Any]], extra: list[str]) -> str:
    result = subprocess.run([*base, "apply", *extra, "-f", "-"], input=yaml.safe_dump_all(docs), capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


CAN_I = [
    # (job, verb resource [subresource], namespace, allowed)
    ("gate", "list nodes", None, True),
    ("gate", "list pods", "kube-system", True),
    ("gate", "list pods", "default", False),
    ("gate", "get /metrics", None, True),
    ("gate", "list secrets", None, False),
    ("gate", "get secrets", "kube-system", False),
    ("gate", "create pods", "kube-runbooks-node-access", False),
    ("gate", "delete nodes", None, False),
    ("resource-backup", "list secrets", None, True),  # the export holds Secrets (0600): a restore needs them
    ("resource-backup", "list widgets.example.com", None, True),  # every served type, custom ones included
    ("resource-backup", "create pods", "kube-runbooks-node-access", False),
    ("resource-backup", "update configmaps", "default", False),
    ("etcd-backup", "create pods", "kube-runbooks-node-access", True),
    ("etcd-backup", "create pods/exec", "kube-runbooks-node-access", True),
    ("etcd-backup", "delete pods", "kube-runbooks-node-access", True),
    ("etcd-backup", "create pods", "default", False),
    ("etcd-backup", "create pods/exec", "kube-system", False),
    ("etcd-backup", "create namespaces", None, False),
    ("etcd-backup", "get nodes", None, True),
    ("etcd-backup", "get secrets", "kube-system", False),
]


@pytest.mark.parametrize(("job", "what", "namespace", "allowed"), CAN_I)
def test_the_authorizer_gives_each_job_what_the_readme_says(
    installed: tuple[LocalCluster, Path], job: str, what: str, namespace: str | None, allowed: bool
) -> None:
    cluster, kubectl = installed
    argv = [str(kubectl), f"--kubeconfig={cluster.kubeconfig}", "auth", "can-i", *what.split(), f"--as=system:serviceaccount:{NAMESPACE}:{PREFIX}-{job}"]
    argv += [f"--namespace={namespace}"] if namespace else (["--all-namespaces"] if not what.split()[1].startswith("/") else [])
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert result.stdout.strip() == ("yes" if allowed else "no"), f"{job} {what} in {namespace}: {result.stdout} {result.stderr}"


# -- the jobs as their pods run them: no kubeconfig, the ServiceAccount's token and CA mounted ------------------


def as_pod(installed: tuple[LocalCluster, Path], job: str, tmp_path: Path) -> dict[str, str]:
    """The environment of the job's pod: the service host, a mounted ServiceAccount folder holding a real
    token of the chart's ServiceAccount (TokenRequest), no kubeconfig anywhere."""
    cluster, kubectl = installed
    base = [str(kubectl), f"--kubeconfig={cluster.kubeconfig}"]
    token = subprocess.run([*base, "create", "token", f"{PREFIX}-{job}", "-n", NAMESPACE, "--duration=20m"], capture_output=True, text=True, check=True)
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(token.stdout.strip())
    (account / "namespace").write_text(NAMESPACE)
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
    (account / "ca.crt").write_bytes(Path(kubeconfig["clusters"][0]["cluster"]["certificate-authority"]).read_bytes())
    host, port = kubeconfig["clusters"][0]["cluster"]["server"].removeprefix("https://").rsplit(":", 1)
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return env | {
        "HOME": str(tmp_path / "home"),
        "KUBE_RUNBOOKS_RUNTIME": str(tmp_path / "runtime"),  # the run's own kubeconfig and proofs, not in the shared root
        "KUBE_RUNBOOKS_CACHE": str(cache.cache_root()),  # the image sets it too: the binaries are built already
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
        "KUBE_RUNBOOKS_SERVICE_ACCOUNT_DIR": str(account),
        "KUBE_RUNBOOKS_CLUSTER_NAME": "test-fleet-1",
    }


def run_as_pod(env: dict[str, str], args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    reports = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "runbooks", *args, f"--evidence-dir={reports}"], env=env, capture_output=True, text=True, check=False, timeout=300
    )
    (journal,) = reports.glob("*/journal.jsonl")
    return result, [json.loads(line)["record"] for line in journal.read_text().splitlines()]


def refused(records: list[dict[str, Any]]) -> list[str]:
    """Every API request of the run the authorizer refused."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("status") == 403 and "path" in value:
                found.append(f"{value.get('method')} {value['path']}")
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(records)
    return found


def identity(records: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in records if r.get("type") == "cluster")
    return found


def test_the_gate_runs_in_its_pod_with_its_read_only_account_and_nothing_is_refused(installed: tuple[LocalCluster, Path], tmp_path: Path) -> None:
    result, records = run_as_pod(as_pod(installed, "gate", tmp_path), ["gate", "--target=v1.37"], tmp_path)
    assert identity(records)["kubernetes_user"]["username"] == f"system:serviceaccount:{NAMESPACE}:{PREFIX}-gate", result.stdout[-2000:]
    assert refused(records) == [], result.stdout[-2000:]
    verdict = json.loads(next((tmp_path / "reports").glob("*/gate.json")).read_text())
    # etcd: no node access; control-plane: this cluster's controllers are processes, not kube-system static pods.
    assert {c["id"] for c in verdict["checks"] if c["status"] not in ("passed", "failed")} <= {"etcd", "control-plane"}, verdict
    assert "403" not in json.dumps(verdict) and "forbidden" not in json.dumps(verdict).lower()


def test_the_resource_backup_runs_in_its_pod_with_its_account_and_proves_its_restore(installed: tuple[LocalCluster, Path], tmp_path: Path) -> None:
    result, records = run_as_pod(as_pod(installed, "resource-backup", tmp_path), ["backup", "resources", f"--to={tmp_path / 'backup'}"], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert identity(records)["kubernetes_user"]["username"] == f"system:serviceaccount:{NAMESPACE}:{PREFIX}-resource-backup"
    assert refused(records) == []
    assert "test-fleet-1" in json.dumps(identity(records))  # the context the evidence names: the chart's clusterName


def test_kubectl_reads_the_token_file_of_the_in_pod_kubeconfig(installed: tuple[LocalCluster, Path], tmp_path: Path) -> None:
    """Node access runs kubectl with the run's kubeconfig: it must authenticate by the mounted token's path too."""
    env = as_pod(installed, "etcd-backup", tmp_path)
    kubeconfig = in_cluster.write_kubeconfig(tmp_path / "runtime", env, Path(env["KUBE_RUNBOOKS_SERVICE_ACCOUNT_DIR"]))
    _, kubectl = installed
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]
    whoami = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert whoami.stdout == f"system:serviceaccount:{NAMESPACE}:{PREFIX}-etcd-backup", whoami.stderr
