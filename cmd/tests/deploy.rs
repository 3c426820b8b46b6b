//! deploy/'s manifests (issue 26): the Knative Service, and the plain
//! Kubernetes Deployment, Service, PodDisruptionBudget and KEDA
//! HTTPScaledObject, checked by deploy/check.py against Kubernetes' own
//! schemas (PyPI's kubernetes-validate, strict) and against each other and
//! rapid's sizing rules. No cluster is needed.

mod common;

use common::fixtures::{repo_root, venv_python};

#[test]
fn the_manifests_are_valid_kubernetes() {
    let out = std::process::Command::new(venv_python())
        .arg(repo_root().join("deploy/check.py"))
        .arg(repo_root().join("deploy"))
        .output()
        .expect("python for deploy/check.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "deploy/check.py failed:\n{stdout}\n{stderr}"
    );
    for kind in [
        "Pod knative-template",
        "Deployment orders",
        "Service orders",
        "PodDisruptionBudget orders",
        "HTTPScaledObject orders",
    ] {
        assert!(stdout.contains(kind), "{kind} not checked:\n{stdout}");
    }
}
