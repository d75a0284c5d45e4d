//! Filesystem faults: the demo killed mid-write, torn files planted in the
//! session directory, a full disk (a 64 KiB tmpfs), a directory the app
//! may not write (the demo run as `nobody`), and a flood of new sessions
//! against `SESSION_FILE_THRESHOLD`.
//!
//! The store writes a temp file, syncs it and renames it over the session
//! file, and checks the length and SHA-1 of every file it reads
//! (`session/src/store/filesystem/`). These tests show it from outside: a
//! crash leaves the old session or the new one, never a torn one; a torn or
//! rotten file is a missing session (a fresh one, with a new sid), never
//! served; a temp file is never read, even when it holds a complete session;
//! I/O errors reach the app as a typed `StoreError` and the client as an
//! opaque 500, never a panic, while `/plain` keeps answering.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use session::store::filesystem::FileStore;
use session::store::{SaveHint, SessionStore, StoreErrorKind};
use session_tests::demo::Framework;

use crate::harness::{assert_opaque, runtime, serial, user_ids, Conn, Demo, DemoOptions};

const REQUEST_LIMIT: Duration = Duration::from_secs(30);

fn toml(dir: &Path) -> String {
    format!("type = \"filesystem\"\nfile_dir = \"{}\"\n", dir.display())
}

/// Session files (40 hex characters) in `dir`.
fn session_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|e| e.path())
        .collect()
}

fn temp_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect()
}

async fn get(conn: &mut Conn, path: &str) -> io::Result<crate::harness::Reply> {
    tokio::time::timeout(REQUEST_LIMIT, conn.get(path))
        .await
        .map_err(|_| io::Error::other(format!("{path}: no answer within {REQUEST_LIMIT:?}")))?
}

/// A client carried over to a new demo process, with its jar.
fn moved(conn: &Conn, port: u16) -> Conn {
    let mut next = Conn::new(port);
    next.cookie = conn.cookie.clone();
    next
}

/// A pseudo-random duration in `[low, low + spread)`.
fn jitter(low: Duration, spread: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    low + spread.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

const CRASH_CLIENTS: usize = 32;
const CRASHES: usize = 4;
/// Each session carries this much padding, so each write takes a while and a
/// kill often lands in the middle of one (under Rocket's 8 KiB default
/// limit for a string body).
const PAD: usize = 6 * 1024;

fn pad(client: usize) -> String {
    format!("{client}:{}", "x".repeat(PAD))
}

/// The demo is killed (SIGKILL) at a random moment while 32 clients rewrite
/// their 6 KiB sessions; after each crash a new demo process on the same
/// directory serves every client its last acknowledged count, or the one it
/// was writing when it died (the write was atomic), under the same sid, with
/// its padding intact. Then torn files are planted: a session file cut in
/// half, one emptied, one with its last byte cut, one with a flipped byte,
/// and two temp files (a stale torn one, a fresh complete one). None is ever
/// served: those sessions come back fresh, with a new sid.
fn crash_mid_write(framework: Framework) {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let toml = toml(&dir);
    let rt = runtime();
    let mut clients: Vec<Conn> = Vec::new();
    let mut acked = [0u32; CRASH_CLIENTS];
    let mut served = 0usize;
    let mut seen_temps = BTreeSet::new();
    let (mut empty_temps, mut whole_temps) = (0usize, 0usize);
    let mut in_flight_landed = 0usize;
    for crash in 0..=CRASHES {
        let mut demo = Demo::start(framework, &toml);
        let port = demo.port();
        if crash == 0 {
            clients = (0..CRASH_CLIENTS).map(|_| Conn::new(port)).collect();
            rt.block_on(async {
                for (i, conn) in clients.iter_mut().enumerate() {
                    let reply =
                        tokio::time::timeout(REQUEST_LIMIT, conn.send("PUT", "/kv/pad", &pad(i)))
                            .await
                            .unwrap()
                            .unwrap();
                    assert_eq!(reply.status, 204);
                }
            });
        } else {
            clients = clients.iter().map(|c| moved(c, port)).collect();
        }
        // What survived the previous crash.
        let sids_before: Vec<Option<String>> =
            clients.iter().map(|c| c.sid().map(str::to_owned)).collect();
        let after: Vec<(u32, String)> = rt.block_on(async {
            let mut after = Vec::new();
            for conn in clients.iter_mut() {
                let read = get(conn, "/read").await.unwrap();
                assert_eq!(read.status, 200);
                let padding = get(conn, "/kv/pad").await.unwrap();
                after.push((read.body.parse().unwrap(), padding.body));
            }
            after
        });
        for (i, (count, padding)) in after.into_iter().enumerate() {
            assert!(
                count == acked[i] || (crash > 0 && count == acked[i] + 1),
                "{framework:?}: client {i} reads {count} after crash {crash}; its last acknowledged count was {}",
                acked[i]
            );
            in_flight_landed += usize::from(count == acked[i] + 1);
            acked[i] = count;
            assert_eq!(padding, pad(i), "client {i}: the padding is intact");
            assert_eq!(
                clients[i].sid().map(str::to_owned),
                sids_before[i],
                "client {i}: same sid"
            );
        }
        if crash == CRASHES {
            demo.assert_alive_without_panic();
            plant_torn_files(framework, demo, &dir, &toml, &rt);
            break;
        }
        // Writes, and a kill in the middle of them.
        let handles: Vec<_> = clients
            .drain(..)
            .enumerate()
            .map(|(i, mut conn)| {
                let start = acked[i];
                rt.spawn(async move {
                    let mut last = start;
                    let mut served = 0;
                    for _ in 0..100_000 {
                        match get(&mut conn, "/incr").await {
                            Ok(reply) if reply.status == 200 => {
                                let value: u32 = reply.body.parse().unwrap();
                                assert_eq!(value, last + 1, "client {i}");
                                last = value;
                                served += 1;
                            }
                            Ok(reply) => panic!("client {i}: {} {}", reply.status, reply.body),
                            Err(_) => break, // the demo died
                        }
                    }
                    (conn, last, served)
                })
            })
            .collect();
        std::thread::sleep(jitter(
            Duration::from_millis(400),
            Duration::from_millis(800),
        ));
        demo.kill();
        let temps: Vec<(PathBuf, u64)> = temp_files(&dir)
            .into_iter()
            .filter(|(path, _)| seen_temps.insert(path.clone()))
            .collect();
        empty_temps += temps.iter().filter(|(_, len)| *len == 0).count();
        whole_temps += temps.iter().filter(|(_, len)| *len > 0).count();
        rt.block_on(async {
            for handle in handles {
                let (conn, last, n) = handle.await.unwrap();
                clients.push(conn);
                served += n;
                acked[clients.len() - 1] = last;
            }
        });
        eprintln!(
            "[faults] {framework:?} filesystem crash {}: killed after {served} writes in all; new temp files left, their sizes: {:?}",
            crash + 1,
            temps.iter().map(|(_, len)| *len).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "[faults] {framework:?} filesystem: {CRASHES} SIGKILLs of the demo during {served} acknowledged 6 KiB writes by {CRASH_CLIENTS} clients; \
         {} temp files left by the kills ({empty_temps} empty, {whole_temps} written but never renamed), none ever read; \
         {in_flight_landed} in-flight writes landed whole, the rest not at all; every session intact",
        empty_temps + whole_temps
    );
}

/// Plants torn files for four fresh sessions and two temp files, restarts
/// the demo on the directory, and shows that none of them is served.
fn plant_torn_files(
    framework: Framework, mut demo: Demo, dir: &Path, toml: &str, rt: &tokio::runtime::Runtime,
) {
    // Four sessions, each created alone so its file is the one that appears.
    let mut victims = Vec::new();
    for _ in 0..4 {
        let before = session_files(dir);
        let mut conn = demo.conn();
        rt.block_on(async {
            assert_eq!(get(&mut conn, "/incr").await.unwrap().body, "1");
            assert_eq!(get(&mut conn, "/incr").await.unwrap().body, "2");
        });
        let after = session_files(dir);
        let new: Vec<&PathBuf> = after.difference(&before).collect();
        assert_eq!(new.len(), 1, "one new session file");
        victims.push((conn, new[0].clone()));
    }
    demo.kill();

    let bytes: Vec<Vec<u8>> = victims
        .iter()
        .map(|(_, path)| std::fs::read(path).unwrap())
        .collect();
    let (half, empty, last_byte, flipped) =
        (&victims[0].1, &victims[1].1, &victims[2].1, &victims[3].1);
    std::fs::write(half, &bytes[0][..bytes[0].len() / 2]).unwrap();
    std::fs::write(empty, b"").unwrap();
    std::fs::write(last_byte, &bytes[2][..bytes[2].len() - 1]).unwrap();
    let mut rotten = bytes[3].clone();
    let middle = rotten.len() / 2;
    rotten[middle] ^= 0x01;
    std::fs::write(flipped, &rotten).unwrap();
    // A torn temp file from a crash two minutes ago: start-up removes it.
    let stale = dir.join(".tmp-planted-stale");
    std::fs::write(&stale, &bytes[0][..bytes[0].len() / 2]).unwrap();
    let two_minutes_ago = SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(two_minutes_ago)
        .unwrap();
    // A complete, valid copy of the emptied session, never renamed into
    // place: it may be another process's save in flight, so it stays, and it
    // is never read.
    let fresh = dir.join(".tmp-planted-fresh");
    std::fs::write(&fresh, &bytes[1]).unwrap();

    let mut demo = Demo::start(framework, toml);
    assert!(!stale.exists(), "start-up removes a stale temp file");
    assert!(fresh.exists(), "a fresh temp file is left to its writer");
    let names = [
        "cut in half",
        "emptied",
        "last byte cut",
        "one byte flipped",
    ];
    rt.block_on(async {
        for ((conn, path), name) in victims.iter().zip(names) {
            let mut conn = moved(conn, demo.port());
            let old_sid = conn.sid().unwrap().to_owned();
            let read = get(&mut conn, "/read").await.unwrap();
            assert_eq!(
                (read.status, read.body.as_str()),
                (200, "0"),
                "{framework:?}: a session file {name} is a missing session"
            );
            assert!(
                read.session_cookie
                    .as_deref()
                    .is_some_and(|c| c.contains("Max-Age=0")),
                "{framework:?}: the stale cookie is deleted ({name}): {read:?}"
            );
            assert!(!path.exists(), "{framework:?}: the {name} file is removed");
            let incr = get(&mut conn, "/incr").await.unwrap();
            assert_eq!(
                (incr.status, incr.body.as_str()),
                (200, "1"),
                "{name}: a fresh session"
            );
            assert_ne!(incr.sid(), Some(old_sid.as_str()), "{name}: with a new sid");
        }
    });
    assert!(
        fresh.exists(),
        "the fresh temp file was never read or removed"
    );
    let log = demo.log();
    let removed = log.matches("unreadable session file removed").count();
    assert_eq!(
        removed, 4,
        "{framework:?}: each torn file is logged:\n{log}"
    );
    demo.assert_alive_without_panic();
    eprintln!(
        "[faults] {framework:?} filesystem: planted 4 torn session files (cut in half, emptied, last byte cut, one byte flipped) and 2 temp files (stale and torn; fresh and complete): \
         none served, each torn file logged and removed, each session restarted fresh with a new sid and a deletion cookie, the stale temp file removed at start-up"
    );
}

/// A tmpfs of its own, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "mounting a {size} tmpfs needs root (this test runs as root on the rust-svc machine kind): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem of `dir` until a write fails with ENOSPC; returns
/// the filler file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = [0u8; 4096];
    for _ in 0..1_000_000 {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::StorageFull => break,
            Err(error) => panic!("filling {}: {error}", dir.display()),
        }
    }
    path
}

/// A full disk, in the store: `save` fails with a typed `StoreError`
/// (`filesystem`, `save`, `Failed`, its source the OS's `StorageFull`), the
/// previous version of a session stays readable, and no temp file is left;
/// with space again, saves work without reopening the store.
fn disk_full_store() {
    let disk = Tmpfs::mount("64k");
    let dir = disk.path().join("store");
    let store = FileStore::new(&dir, 0, 0o600).unwrap();
    let rt = runtime();
    let ttl = Duration::from_secs(3600);
    rt.block_on(async {
        store
            .save("session:a", &[1; 100], ttl, SaveHint::New)
            .await
            .unwrap();
        let filler = fill(disk.path());
        for (key, hint) in [
            ("session:b", SaveHint::New),
            ("session:a", SaveHint::Existing),
        ] {
            let error = store.save(key, &[2; 100], ttl, hint).await.unwrap_err();
            assert_eq!(
                (error.backend, error.operation, error.kind),
                ("filesystem", "save", StoreErrorKind::Failed)
            );
            let io = error
                .source
                .downcast_ref::<io::Error>()
                .unwrap_or_else(|| panic!("an io::Error source: {error:?}"));
            assert_eq!(io.kind(), io::ErrorKind::StorageFull, "{error}");
            eprintln!("[faults] disk full, typed: {error}");
        }
        assert_eq!(
            store.load("session:a").await.unwrap(),
            Some(vec![1; 100]),
            "the old version"
        );
        assert_eq!(store.load("session:b").await.unwrap(), None);
        assert!(temp_files(&dir).is_empty(), "no temp file left");
        std::fs::remove_file(filler).unwrap();
        store
            .save("session:b", &[2; 100], ttl, SaveHint::New)
            .await
            .unwrap();
        assert_eq!(store.load("session:b").await.unwrap(), Some(vec![2; 100]));
    });
}

/// A full disk under the demo: writes answer an opaque 500 (no cookie),
/// reads and `/plain` keep working, the log has the OS error, and once space
/// is freed writes work again without a restart.
fn disk_full_demo(framework: Framework) {
    let disk = Tmpfs::mount("64k");
    let dir = disk.path().join("sessions");
    let mut demo = Demo::start(framework, &toml(&dir));
    let rt = runtime();
    let (status_full, elapsed) = rt.block_on(async {
        let mut a = demo.conn();
        assert_eq!(get(&mut a, "/incr").await.unwrap().body, "1");
        let filler = fill(disk.path());
        let started = Instant::now();
        let full = get(&mut a, "/incr").await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(full.status, 500, "{framework:?}: a write on a full disk");
        assert_opaque(framework, 500, &full.body);
        assert!(full.session_cookie.is_none(), "no cookie on a failed write");
        let mut fresh = demo.conn();
        let new = get(&mut fresh, "/incr").await.unwrap();
        assert_eq!(
            new.status, 500,
            "{framework:?}: a new session on a full disk"
        );
        assert!(new.session_cookie.is_none());
        let read = get(&mut a, "/read").await.unwrap();
        assert_eq!((read.status, read.body.as_str()), (200, "1"), "reads work");
        let plain = get(&mut a, "/plain").await.unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (200, "ok"));
        std::fs::remove_file(filler).unwrap();
        let again = get(&mut a, "/incr").await.unwrap();
        assert_eq!(
            (again.status, again.body.as_str()),
            (200, "2"),
            "recovered without a restart"
        );
        (full.status, elapsed)
    });
    demo.assert_alive_without_panic();
    let log = demo.log();
    assert!(
        log.contains("No space left on device"),
        "the OS error is logged:\n{log}"
    );
    eprintln!(
        "[faults] {framework:?} filesystem, disk full (64 KiB tmpfs): writes {status_full} in {:.1} ms, reads and /plain 200, recovered once space was freed, no restart, no panic",
        elapsed.as_secs_f64() * 1000.0
    );
    drop(demo);
}

/// The demo runs as `nobody` (root ignores permissions). With the session
/// directory made read-only, writes answer an opaque 500 and reads still
/// work; with a session file made unreadable, reading it is a 500 too (an
/// I/O error is not a missing session: no fresh sid is handed out); `/plain`
/// answers throughout, and restoring the modes needs no restart.
fn permission_denied_demo(framework: Framework) {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let (uid, gid) = user_ids("nobody");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("sessions");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut demo = Demo::start_with(
        framework,
        &toml(&dir),
        DemoOptions {
            user: Some((uid, gid)),
            dir: Some(root.path()),
            ..DemoOptions::default()
        },
    );
    let rt = runtime();
    rt.block_on(async {
        let mut a = demo.conn();
        assert_eq!(get(&mut a, "/incr").await.unwrap().body, "1");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        let denied = get(&mut a, "/incr").await.unwrap();
        assert_eq!(
            denied.status, 500,
            "{framework:?}: a write to a read-only directory"
        );
        assert_opaque(framework, 500, &denied.body);
        assert!(denied.session_cookie.is_none());
        let read = get(&mut a, "/read").await.unwrap();
        assert_eq!((read.status, read.body.as_str()), (200, "1"), "reads work");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let file = session_files(&dir).into_iter().next().unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        let unreadable = get(&mut a, "/read").await.unwrap();
        assert_eq!(
            unreadable.status, 500,
            "{framework:?}: an unreadable session file"
        );
        assert_opaque(framework, 500, &unreadable.body);
        assert!(
            unreadable.session_cookie.is_none(),
            "no new sid, no deletion cookie"
        );
        let plain = get(&mut a, "/plain").await.unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (200, "ok"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let again = get(&mut a, "/incr").await.unwrap();
        assert_eq!(
            (again.status, again.body.as_str()),
            (200, "2"),
            "recovered without a restart"
        );
    });
    demo.assert_alive_without_panic();
    let log = demo.log();
    assert!(
        log.matches("Permission denied").count() >= 2,
        "the OS error is logged for the write and the read:\n{log}"
    );
    eprintln!(
        "[faults] {framework:?} filesystem, permission denied (demo as nobody): read-only directory -> write 500, read 200; unreadable file -> read 500, no new sid; /plain 200; recovered without a restart, no panic"
    );
}

const THRESHOLD: usize = 5;
const ANONYMOUS: usize = 20;

/// `SESSION_FILE_THRESHOLD = 5` and the default `SESSION_WHEN_FULL`
/// (refuse): a user gets a session, then 20 anonymous clients each create
/// one. The directory fills up with the first four; the other sixteen get an
/// opaque 503 (no cookie), the user is not logged out (the next `/incr`
/// answers 2), `/plain` keeps answering, and the log names the key to raise.
fn full_directory_refuses_new_sessions(framework: Framework) {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let threshold = THRESHOLD.to_string();
    let mut demo = Demo::start_with(
        framework,
        &toml(&dir),
        DemoOptions {
            env: &[("SESSION_FILE_THRESHOLD", &threshold)],
            ..DemoOptions::default()
        },
    );
    let rt = runtime();
    let statuses = rt.block_on(async {
        let mut user = demo.conn();
        let first = get(&mut user, "/incr").await.unwrap();
        assert_eq!((first.status, first.body.as_str()), (200, "1"));
        let mut replies = Vec::new();
        for _ in 0..ANONYMOUS {
            let mut anonymous = demo.conn();
            replies.push(get(&mut anonymous, "/incr").await.unwrap());
        }
        let again = get(&mut user, "/incr").await.unwrap();
        assert_eq!(
            (again.status, again.body.as_str()),
            (200, "2"),
            "{framework:?}: the first user is still logged in"
        );
        for (i, reply) in replies.iter().enumerate() {
            if i + 1 < THRESHOLD {
                assert_eq!(
                    (reply.status, reply.body.as_str()),
                    (200, "1"),
                    "{framework:?}: anonymous client {i} fits under the threshold"
                );
            } else {
                assert_eq!(
                    reply.status, 503,
                    "{framework:?}: anonymous client {i} is past the threshold: {reply:?}"
                );
                assert_opaque(framework, 503, &reply.body);
                assert!(
                    reply.session_cookie.is_none(),
                    "{framework:?}: a refused session gets no cookie"
                );
            }
        }
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        let plain = get(&mut user, "/plain").await.unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (200, "ok"));
        statuses
    });
    assert_eq!(
        session_files(&dir).len(),
        THRESHOLD,
        "no live session evicted"
    );
    demo.assert_alive_without_panic();
    let log = demo.log();
    assert!(
        log.contains("SESSION_FILE_THRESHOLD") && log.contains(&format!("(now {THRESHOLD})")),
        "{framework:?}: the warning names the key and its value:\n{log}"
    );
    let refused = statuses.iter().filter(|s| **s == 503).count();
    eprintln!(
        "[faults] {framework:?} filesystem, SESSION_FILE_THRESHOLD = {THRESHOLD}: {} of {ANONYMOUS} anonymous sessions stored, {refused} refused with 503; the first user kept the session",
        ANONYMOUS - refused
    );
}

#[test]
#[ignore = "needs root for a tmpfs mount: run scripts/test.sh"]
fn disk_full_is_a_typed_store_error() {
    let _serial = serial();
    disk_full_store();
}

macro_rules! filesystem_tests {
    ($module:ident, $framework:expr) => {
        mod $module {
            use super::*;

            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn crash_mid_write_is_never_served() {
                crash_mid_write($framework);
            }

            #[test]
            #[ignore = "needs root for a tmpfs mount: run scripts/test.sh"]
            fn disk_full_is_an_opaque_500() {
                let _serial = serial();
                disk_full_demo($framework);
            }

            #[test]
            #[ignore = "needs root to run the demo as nobody: run scripts/test.sh"]
            fn permission_denied_is_an_opaque_500() {
                let _serial = serial();
                permission_denied_demo($framework);
            }

            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn a_flood_of_new_sessions_logs_nobody_out() {
                full_directory_refuses_new_sessions($framework);
            }
        }
    };
}

filesystem_tests!(poem, Framework::Poem);
filesystem_tests!(rocket, Framework::Rocket);
