//! rapid as replicas of a Docker Swarm service (issue 26): three replicas
//! of the repository's FROM scratch image, with Debian's nginx in front
//! (deploy/swarm/: a FROM scratch nginx image, itself a Swarm service on
//! the same overlay network, published on the host). Through nginx, from
//! 127.0.0.1:
//!
//! - a burst spreads over all three replicas (each answer names the
//!   container that ran it, and nginx's `X-Rapid-Replica` its address);
//! - one replica's container killed (SIGKILL) under a burst of slow
//!   invokes: only the invokes in flight on it fail, each with nginx's
//!   Lambda-shaped 502 `ServiceException` naming that replica, and Swarm
//!   starts another in its place;
//! - a rolling update (`docker service update --force`) under a steady
//!   stream of invokes fails none of them, thanks to the HEALTHCHECK on
//!   readiness and the drain on SIGTERM.
//!
//! Why nginx and not Swarm's routing mesh: the routing mesh (the ingress
//! network's published ports) and a service's virtual IP are IPVS load
//! balancers, and this machine's kernel has no IPVS (`CONFIG_IP_VS` is not
//! set: no /proc/net/ip_vs), so the published port never answers. The
//! replicas are therefore in DNS round-robin mode (`--endpoint-mode
//! dnsrr`): Docker's embedded DNS answers their network alias with the
//! addresses of the tasks that are running and healthy, nginx resolves it
//! again every second, and nginx's own port is published in host mode (a
//! plain port mapping, no IPVS).
//!
//! Swarm mode is entered for the test (`docker swarm init --advertise-addr
//! 127.0.0.1`) when the daemon is not in it, and left again afterwards only
//! then (its `docker_gwbridge` network removed too); the services, network
//! and images the test made are removed however it ends. Skipped, saying
//! why, where no Docker daemon answers, Swarm cannot start, nginx is not
//! installed or the static rapid is not built (outside CI).

mod common;

use common::docker::{docker, stdout_of, wait_log_line};
use common::static_parts::{static_program, static_rapid_path};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Long enough for Swarm to start a task, pass its health check and have
/// nginx see it, on a loaded machine.
const SWARM_WAIT: Duration = Duration::from_secs(120);

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// The Swarm the test runs in; left when the test entered it.
struct Swarm {
    entered_here: bool,
}

impl Swarm {
    fn join() -> Result<Swarm, String> {
        let state = match Command::new("docker")
            .args(["info", "--format", "{{.Swarm.LocalNodeState}}"])
            .output()
        {
            Ok(state) => state,
            Err(e) => return Err(format!("no docker command: {e}")),
        };
        if !state.status.success() {
            return Err(format!("no Docker daemon answers: {}", text(&state)));
        }
        if stdout_of(&state) == "active" {
            return Ok(Swarm {
                entered_here: false,
            });
        }
        let init = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        if !init.status.success() {
            return Err(format!("Swarm mode cannot start here: {}", text(&init)));
        }
        Ok(Swarm { entered_here: true })
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.entered_here {
            let _ = docker(&["swarm", "leave", "--force"]);
            let _ = docker(&["network", "rm", "docker_gwbridge"]);
        }
    }
}

/// What the test made in the Swarm, removed however the test ends (in
/// the reverse order: services, then their network, then the images).
#[derive(Default)]
struct Made {
    services: Vec<String>,
    network: Option<String>,
    images: Vec<String>,
}

impl Drop for Made {
    fn drop(&mut self) {
        for service in &self.services {
            let _ = docker(&["service", "rm", service]);
        }
        // The tasks' containers go with their service, asynchronously;
        // the network and the images once they did.
        for service in &self.services {
            let filter = format!("label=com.docker.swarm.service.name={service}");
            let deadline = Instant::now() + SWARM_WAIT;
            while Instant::now() < deadline
                && !stdout_of(&docker(&["ps", "-aq", "--filter", &filter])).is_empty()
            {
                std::thread::sleep(Duration::from_millis(200)); // ok: no event says a removed service's last container is gone
            }
        }
        if let Some(network) = &self.network {
            let _ = docker(&["network", "rm", network]);
        }
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// One invoke answered through nginx.
#[derive(Debug)]
struct Answer {
    /// The container (hostname) that ran it.
    container: String,
    /// The replica's address, as nginx names it.
    replica: String,
}

/// One invoke through nginx on a new connection: who ran it, or the
/// answer that says why it failed.
fn invoke(address: &str, event: &Value) -> Result<Answer, String> {
    let resp = http::try_request(
        address,
        "POST",
        INVOKE_PATH,
        &[],
        event.to_string().as_bytes(),
    )
    .map_err(|e| format!("no answer: {e}"))?;
    let replica = resp
        .header("x-rapid-replica")
        .unwrap_or_default()
        .to_owned();
    if resp.status != 200 || resp.header("x-amz-function-error").is_some() {
        return Err(format!(
            "{} [X-Amzn-ErrorType {:?}, X-Rapid-Replica {replica}] {}",
            resp.status,
            resp.header("x-amzn-errortype"),
            resp.text().trim()
        ));
    }
    let body: Value = serde_json::from_slice(&resp.body).map_err(|e| e.to_string())?;
    Ok(Answer {
        container: body["hostname"].as_str().unwrap_or_default().to_owned(),
        replica,
    })
}

/// The running containers of `service`.
fn containers_of(service: &str) -> Vec<String> {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    stdout_of(&docker(&["ps", "-q", "--no-trunc", "--filter", &filter]))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `callers` threads each sending `each` invokes of `event` one after
/// another: the answers and the failures.
fn burst(address: &str, callers: usize, each: usize, event: &Value) -> (Vec<Answer>, Vec<String>) {
    let answers = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                for _ in 0..each {
                    match invoke(address, event) {
                        Ok(answer) => answers.lock().unwrap().push(answer),
                        Err(failure) => failures.lock().unwrap().push(failure),
                    }
                }
            });
        }
    });
    (
        answers.into_inner().unwrap(),
        failures.into_inner().unwrap(),
    )
}

#[test]
fn replicas_behind_nginx_share_a_burst_survive_a_killed_one_and_update_without_failures() {
    let started = Instant::now();
    let skip = |why: &str| eprintln!("swarm: skipped: {why}");
    if let Err(why) = static_rapid_path() {
        return skip(&why);
    }
    if !std::path::Path::new("/usr/sbin/nginx").exists() {
        return skip("nginx is not installed (Debian: apt-get install nginx-light; scripts/test installs it as root)");
    }
    let _swarm = match Swarm::join() {
        Ok(swarm) => swarm,
        Err(why) => return skip(&why),
    };
    let pid = std::process::id();
    let mut made = Made::default();

    // The images: the function's (rapid + a static echo runtime) and nginx.
    let bootstrap = static_program("runtimes/static_echo.rs");
    let function_image = format!("replica-swarm-fn-{pid}");
    made.images.push(function_image.clone());
    let built = Command::new(repo_root().join("scripts/image"))
        .args(["--tag", &function_image, "--bootstrap"])
        .arg(&bootstrap)
        .output()
        .expect("scripts/image");
    assert!(built.status.success(), "scripts/image: {}", text(&built));
    let nginx_image = format!("replica-swarm-nginx-{pid}");
    made.images.push(nginx_image.clone());
    let built = Command::new(repo_root().join("deploy/swarm/nginx-image"))
        .args(["--tag", &nginx_image])
        .output()
        .expect("deploy/swarm/nginx-image");
    assert!(
        built.status.success(),
        "deploy/swarm/nginx-image: {}",
        text(&built)
    );

    let network = format!("replica-swarm-net-{pid}");
    let created = docker(&["network", "create", "--driver", "overlay", &network]);
    assert!(created.status.success(), "network: {}", text(&created));
    made.network = Some(network.clone());

    // The replicas: --detach=false returns once the three tasks run and
    // their HEALTHCHECK (rapid --probe ready) passed.
    let service = format!("replica-swarm-fn-{pid}");
    made.services.push(service.clone());
    let attach = format!("name={network},alias=replicas");
    let created = docker(&[
        "service",
        "create",
        "--detach=false",
        "--quiet",
        "--name",
        &service,
        "--replicas",
        "3",
        "--endpoint-mode",
        "dnsrr",
        "--network",
        &attach,
        "--env",
        "PORT=8080",
        "--env",
        "RAPID_DRAIN_DELAY=3s",
        "--env",
        "RAPID_DRAIN_TIMEOUT=10s",
        "--health-interval",
        "1s",
        "--stop-grace-period",
        "20s",
        "--update-parallelism",
        "1",
        "--update-delay",
        "0s",
        "--restart-delay",
        "1s",
        &function_image,
    ]);
    assert!(
        created.status.success(),
        "service create: {}",
        text(&created)
    );

    // nginx in front, its port published on the host (mode=host: a port
    // mapping of its container, no routing mesh).
    let port = free_port();
    let publish = format!("mode=host,published={port},target=8080");
    let front = format!("replica-swarm-lb-{pid}");
    made.services.push(front.clone());
    let created = docker(&[
        "service",
        "create",
        "--detach=false",
        "--quiet",
        "--name",
        &front,
        "--network",
        &network,
        "--publish",
        &publish,
        &nginx_image,
    ]);
    assert!(created.status.success(), "nginx: {}", text(&created));
    let address = format!("127.0.0.1:{port}");
    let quick = json!({"from": "swarm"});
    poll_until("a first invoke answered through nginx", SWARM_WAIT, || {
        invoke(&address, &quick).is_ok()
    });
    eprintln!(
        "swarm: three replicas and nginx up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 1. A burst, each invoke on a connection of its own: nginx sends each
    //    to one of the replicas at random (30 miss one with a chance of
    //    3 × (2/3)^30, about 2 in 100,000).
    let (answers, failures) = burst(&address, 6, 5, &quick);
    assert!(failures.is_empty(), "the burst: {failures:?}");
    let containers: BTreeSet<&str> = answers.iter().map(|a| a.container.as_str()).collect();
    let replicas: BTreeSet<&str> = answers.iter().map(|a| a.replica.as_str()).collect();
    assert_eq!(containers.len(), 3, "30 invokes ran in {containers:?}");
    assert_eq!(replicas.len(), 3, "30 invokes went to {replicas:?}");

    // 2. One replica killed under a burst of slow invokes: only those in
    //    flight on it fail, each saying so; Swarm replaces it.
    let before = containers_of(&service);
    assert_eq!(before.len(), 3, "{before:?}");
    let victim = before[0].clone();
    let victim_address = stdout_of(&docker(&[
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        &victim,
    ]));
    assert!(!victim_address.is_empty(), "the victim's address");
    let slow = json!({"from": "swarm", "sleep_ms": 1500});
    let (answers, failures) = std::thread::scope(|s| {
        let load = s.spawn(|| burst(&address, 6, 4, &slow));
        wait_log_line(&victim, "a slow invoke on the victim", SWARM_WAIT, |line| {
            line.contains("sleeps 1500 ms")
        });
        let killed = docker(&["kill", &victim]);
        assert!(killed.status.success(), "docker kill: {}", text(&killed));
        load.join().expect("the burst's callers")
    });
    eprintln!(
        "swarm: killed replica: {} invokes answered, {} failed: {failures:?}",
        answers.len(),
        failures.len()
    );
    assert_eq!(answers.len() + failures.len(), 24);
    // At most one in flight per caller, and at least the one it was
    // running when killed.
    assert!(
        (1..=6).contains(&failures.len()),
        "{} failures (none: the killed replica's invoke was sent to another, so it may have run twice): {failures:?}",
        failures.len()
    );
    let named = format!("X-Rapid-Replica {victim_address}:8080");
    for failure in &failures {
        assert!(
            failure.starts_with("502 [X-Amzn-ErrorType Some(\"ServiceException\")")
                && failure.contains(&named)
                && failure.contains("\"errorType\":\"ServiceException\"")
                && failure.contains("ended or could not be reached"),
            "a failure that is not the killed replica's: {failure}"
        );
    }
    let short = &victim[..12];
    poll_until("Swarm to replace the killed replica", SWARM_WAIT, || {
        let now = containers_of(&service);
        now.len() == 3 && !now.contains(&victim)
    });
    // The new one serves once healthy: a burst reaches three containers
    // again, the killed one not among them.
    let mut seen = BTreeSet::new();
    poll_until("three replicas answering again", SWARM_WAIT, || {
        let (answers, _) = burst(&address, 3, 3, &quick);
        seen = answers.into_iter().map(|a| a.container).collect();
        seen.len() == 3
    });
    assert!(!seen.contains(short), "{seen:?}");

    // 3. A rolling update under a steady stream: no invoke fails.
    let stop = AtomicBool::new(false);
    let (served, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let failures = Mutex::new(Vec::new());
    let update_started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Acquire) {
                    match invoke(&address, &quick) {
                        Ok(_) => served.fetch_add(1, Ordering::AcqRel),
                        Err(e) => {
                            failures.lock().unwrap().push(e);
                            failed.fetch_add(1, Ordering::AcqRel)
                        }
                    };
                }
            });
        }
        let updated = docker(&[
            "service",
            "update",
            "--detach=false",
            "--quiet",
            "--force",
            &service,
        ]);
        stop.store(true, Ordering::Release);
        assert!(
            updated.status.success(),
            "service update: {}",
            text(&updated)
        );
    });
    let (served, failed) = (served.into_inner(), failed.into_inner());
    eprintln!(
        "swarm: rolling update under load ({:.1} s): {served} invokes served, {failed} failed; test took {:.1} s",
        update_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(served > 0, "no invoke was served during the update");
    assert_eq!(
        failed,
        0,
        "invokes failed during the rolling update: {:?}",
        failures.into_inner().unwrap()
    );
    let after = containers_of(&service);
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        after.iter().all(|c| !before.contains(c)),
        "every replica was replaced: before {before:?}, after {after:?}"
    );
}
