"""Validates deploy/'s manifests (cmd/tests/deploy.rs runs it):

- every core kind (Deployment, Service, PodDisruptionBudget) against the
  Kubernetes schemas of PyPI's kubernetes-validate, strictly (unknown
  fields refused);
- the Knative Service's pod template as a core PodSpec (Knative's own
  fields taken off first), and its sizing: containerConcurrency is
  --max-sandboxes x AWS_LAMBDA_MAX_CONCURRENCY, timeoutSeconds the
  function timeout;
- the KEDA HTTPScaledObject (a custom resource, no schema here) against
  the Deployment and Service it names;
- every probe on rapid's probe paths.

Prints one line per document checked; exits 1 with the reasons otherwise.
"""

import sys
from pathlib import Path

import kubernetes_validate
import yaml

KUBERNETES = "1.30.0"
KNATIVE_ONLY = ("containerConcurrency", "timeoutSeconds",
                "responseStartTimeoutSeconds", "idleTimeoutSeconds")
problems = []


def validate(doc, where):
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        print(f"ok {where}: {doc['kind']} {doc['metadata']['name']}")
    except kubernetes_validate.ValidationError as err:
        problems.append(f"{where}: {doc['kind']}: {err.message} at {list(err.path)}")


def flag(args, name, default):
    return int(args[args.index(name) + 1]) if name in args else default


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def check_probes(container, where):
    ready = container.get("readinessProbe", {}).get("httpGet", {}).get("path")
    live = container.get("livenessProbe", {}).get("httpGet", {}).get("path")
    if (ready, live) != ("/_/ready", "/_/health"):
        problems.append(f"{where}: probes on {ready!r} / {live!r}, not /_/ready and /_/health")


def sandboxes_times_concurrency(container):
    args = container.get("args", [])
    env = env_of(container)
    return flag(args, "--max-sandboxes", 1) * int(env.get("AWS_LAMBDA_MAX_CONCURRENCY") or 1)


root = Path(sys.argv[1])
knative = yaml.safe_load((root / "knative/service.yaml").read_text())
spec = dict(knative["spec"]["template"]["spec"])
container = spec["containers"][0]
check_probes(container, "knative")
if spec["containerConcurrency"] != sandboxes_times_concurrency(container):
    problems.append("knative: containerConcurrency is not --max-sandboxes x AWS_LAMBDA_MAX_CONCURRENCY")
if str(spec["timeoutSeconds"]) != env_of(container).get("AWS_LAMBDA_FUNCTION_TIMEOUT"):
    problems.append("knative: timeoutSeconds is not the function timeout")
for field in KNATIVE_ONLY:
    spec.pop(field, None)
validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "knative-template"},
          "spec": spec}, "knative/service.yaml (pod template)")

docs = list(yaml.safe_load_all((root / "kubernetes/function.yaml").read_text()))
by_kind = {doc["kind"]: doc for doc in docs}
for doc in docs:
    if doc["apiVersion"].startswith("http.keda.sh/"):
        continue
    validate(doc, "kubernetes/function.yaml")
deployment, service = by_kind["Deployment"], by_kind["Service"]
pod = deployment["spec"]["template"]["spec"]
check_probes(pod["containers"][0], "kubernetes")
if "lifecycle" in pod["containers"][0]:
    problems.append("kubernetes: the drain needs no preStop hook")
scaled = by_kind["HTTPScaledObject"]["spec"]
target = scaled["scaleTargetRef"]
if (target["name"], target["kind"], target["service"]) != (
        deployment["metadata"]["name"], "Deployment", service["metadata"]["name"]):
    problems.append("keda: scaleTargetRef does not name the Deployment and its Service")
if target["port"] not in [p["port"] for p in service["spec"]["ports"]]:
    problems.append("keda: the port is not the Service's")
if scaled["scalingMetric"]["concurrency"]["targetValue"] > sandboxes_times_concurrency(pod["containers"][0]):
    problems.append("keda: targetValue is more than one replica runs at once")
print("ok kubernetes/function.yaml: HTTPScaledObject orders (names and sizing)")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
