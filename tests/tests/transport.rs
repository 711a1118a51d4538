//! The coordinator's transport: TLS with a certificate made in the test (a worker runs a
//! sweep and `herd status` reads it over TLS; a client without the CA is refused), an
//! unreadable or non-PEM certificate stops the coordinator by name, and the standard gRPC
//! health and reflection services answer.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use herd_tests::*;

/// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it, made with
/// openssl; returns (ca.pem, cert.pem, key.pem).
fn make_certs(dir: &Path) -> (String, String, String) {
    let p = |n: &str| dir.join(n).display().to_string();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (Debian's openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend_from_slice(&ec);
    let (ca_key, ca_pem) = (p("ca.key"), p("ca.pem"));
    ca.extend_from_slice(&[
        "-keyout",
        &ca_key,
        "-out",
        &ca_pem,
        "-days",
        "1",
        "-subj",
        "/CN=herd-test-ca",
    ]);
    run(&ca);
    let (key, csr, cert, ext) = (p("key.pem"), p("leaf.csr"), p("cert.pem"), p("leaf.ext"));
    let mut leaf = vec!["req"];
    leaf.extend_from_slice(&ec);
    leaf.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
    run(&leaf);
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "1",
        "-extfile",
        &ext,
    ]);
    (ca_pem, cert, key)
}

fn coordinator(dir: &Path, port: u16, cert: &str, key: &str) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    spawn_herd(
        dir,
        "coordinator",
        &[
            "coordinator",
            "--listen",
            &listen,
            "--state",
            "state.redb",
            "--data",
            "data",
            "--no-actions",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ],
        &[],
    )
}

/// A coordinator serving TLS with a fresh certificate: (its directory, the CA file, the
/// process, its `https://` URL).
fn tls_coordinator() -> (tempfile::TempDir, String, Proc, String) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certs(dir.path());
    let port = free_port();
    let coord = coordinator(dir.path(), port, &cert, &key);
    (dir, ca, coord, format!("https://localhost:{port}"))
}

#[test]
fn a_sweep_runs_over_tls_and_a_client_without_the_ca_is_refused() {
    let (dir, ca, _coord, url) = tls_coordinator();
    let model = FakeModel::start(Duration::from_millis(10), "888");
    let sweep = write_sweep(dir.path(), "tls", &model.url, 2, "");
    // Every herd process this test starts trusts the test's CA (nextest runs each test in its
    // own process, so the variable stays here).
    unsafe { std::env::set_var("HERD_TLS_CA", &ca) };
    let _worker = spawn_herd(
        dir.path(),
        "worker",
        &[
            "worker",
            "--coordinator",
            &url,
            "--without-docker",
            "--slots",
            "2",
        ],
        &[],
    );
    let id = submit(&url, &sweep, None);
    let status = wait_done(&url, &id, None, Duration::from_secs(90));
    assert_eq!(status["done"], 2, "{status}");
    assert_eq!(
        status["correct"], 1,
        "only mini-arith-01's gold is 888: {status}"
    );

    // Without the CA the client does not trust the coordinator.
    let (ok, _, err) = herd(
        &["status", &id, "--coordinator", &url],
        &[("HERD_TLS_CA", "")],
    );
    assert!(!ok, "a client without the CA must be refused");
    assert!(!err.is_empty());
    // An unreadable CA file is an error naming it.
    let (ok, _, err) = herd(
        &["status", &id, "--coordinator", &url],
        &[("HERD_TLS_CA", "/nonexistent/ca.pem")],
    );
    assert!(!ok && err.contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn an_unreadable_or_non_pem_certificate_stops_the_coordinator_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = make_certs(dir.path());
    let port = free_port();
    let mut c = coordinator(dir.path(), port, "/nonexistent/cert.pem", &key);
    assert_eq!(
        c.wait_exit(Duration::from_secs(30)),
        Some(false),
        "{}",
        c.log_text()
    );
    let log = c.log_text();
    assert!(
        log.contains("the certificate `/nonexistent/cert.pem`"),
        "{log}"
    );
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let mut c = coordinator(dir.path(), port, &cert, junk.to_str().unwrap());
    assert_eq!(
        c.wait_exit(Duration::from_secs(30)),
        Some(false),
        "{}",
        c.log_text()
    );
    let log = c.log_text();
    assert!(log.contains("no PEM `PRIVATE KEY` block"), "{log}");
}

#[test]
fn health_and_reflection_answer_over_tls() {
    let (_dir, ca, _coord, url) = tls_coordinator();
    let ca = std::fs::read(&ca).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let channel = herd_proto::client::channel(&url, Some(&ca)).unwrap();
        // The coordinator may still be starting.
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let mut serving = None;
        for _ in 0..100 {
            match health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: "herd.v1.WorkerService".into(),
                })
                .await
            {
                Ok(r) => {
                    serving = Some(r.into_inner().status);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert_eq!(
            serving,
            Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
        );

        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let mut reflection = ServerReflectionClient::new(channel);
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = reflection
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().expect("one reply");
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("not a service list: {resp:?}");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for want in [
            "herd.v1.WorkerService",
            "herd.v1.ControlService",
            "grpc.health.v1.Health",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    });
}
