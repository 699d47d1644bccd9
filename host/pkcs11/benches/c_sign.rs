//! `C_Sign` through the real PC/SC stack, as a consumer calls it (the built module loaded with
//! `dlopen`, a session on the signing token logged in once), with its floor measured in the same
//! run by the method of juki-cli's e2e benchmark: each sample's APDUs and the card's time on
//! them (counted by the served card), and echo round trips to the echo card in the second
//! reader timed right after the sample. Floor = APDUs × echo + the card's time (the module
//! does no public-key operation of its own).
//!
//! Also `pkcs11-tool --sign` as a whole process (OpenSC's tool: start, load the module, find
//! the token, log in, sign), next to `juki sign` of the cli benchmark.
//!
//! Results go to `target/juki-perf/pkcs11.json`; the perf_report example of juki-cli puts them
//! into docs/performance.md. Needs pcscd with vpcd (skipped without it, fails with JUKI_PCSC=1).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../cli/benches/support/echo.rs"]
mod echo;

use std::path::Path;
use std::process::Command;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use common::world::{lines, world};
use common::{lock_or_skip, module, Served};
use criterion::{black_box, Criterion};
use cryptoki_sys::*;
use echo::{echo_card, ECHO};
use juki_host::transport::Transport;

const SIGN_PASSWORD: &str = "JUKI2026";
const SIGN_SLOT: &str = "Virtual PCD 00 00 (JPKI sign)";
const ECHOES_PER_SAMPLE: u32 = 4;
const PROCESS_RUNS: usize = 10;

/// The loaded module's function table.
struct Module {
    _lib: libloading::Library,
    f: &'static CK_FUNCTION_LIST,
}

fn load() -> Module {
    // SAFETY: our own module; its initialisers do nothing.
    let lib = unsafe { libloading::Library::new(module()) }.unwrap();
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: the PKCS#11 prototype; a live out-pointer; the table is a static of the module.
    let f = unsafe {
        let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
            lib.get(b"C_GetFunctionList\0").unwrap();
        assert_eq!(get(&mut list), CKR_OK);
        &*list
    };
    Module { _lib: lib, f }
}

/// A session on the signing token, logged in, and its private key.
fn signing_session(f: &CK_FUNCTION_LIST) -> (CK_SESSION_HANDLE, CK_OBJECT_HANDLE) {
    // SAFETY: every pointer is to a live local of the type the prototype names.
    unsafe {
        assert_eq!(f.C_Initialize.unwrap()(null_mut()), CKR_OK);
        let mut slots = [0; 8];
        let mut n: CK_ULONG = 8;
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, slots.as_mut_ptr(), &mut n),
            CKR_OK
        );
        let slot = slots[..n as usize]
            .iter()
            .copied()
            .find(|s| {
                let mut info = CK_SLOT_INFO::default();
                f.C_GetSlotInfo.unwrap()(*s, &mut info);
                String::from_utf8_lossy(&info.slotDescription).trim_end() == SIGN_SLOT
            })
            .unwrap();
        let mut h = 0;
        assert_eq!(
            f.C_OpenSession.unwrap()(slot, CKF_SERIAL_SESSION, null_mut(), None, &mut h),
            CKR_OK
        );
        let pin = SIGN_PASSWORD.as_bytes();
        assert_eq!(
            f.C_Login.unwrap()(h, CKU_USER, pin.as_ptr() as *mut u8, pin.len() as CK_ULONG),
            CKR_OK
        );
        let mut class = CKO_PRIVATE_KEY;
        let mut t = [CK_ATTRIBUTE {
            type_: CKA_CLASS,
            pValue: (&mut class as *mut CK_ULONG).cast(),
            ulValueLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
        }];
        let mut key = 0;
        let mut found = 0;
        assert_eq!(f.C_FindObjectsInit.unwrap()(h, t.as_mut_ptr(), 1), CKR_OK);
        assert_eq!(f.C_FindObjects.unwrap()(h, &mut key, 1, &mut found), CKR_OK);
        assert_eq!(f.C_FindObjectsFinal.unwrap()(h), CKR_OK);
        assert_eq!(found, 1);
        (h, key)
    }
}

/// One CKM_ECDSA signature of a SHA-256 hash (what `juki sign` has the card sign).
fn c_sign(f: &CK_FUNCTION_LIST, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE, hash: &[u8; 32]) {
    let mut mech = CK_MECHANISM {
        mechanism: CKM_ECDSA,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    let mut sig = [0u8; 64];
    let mut len: CK_ULONG = 64;
    // SAFETY: live mechanism, hash and signature buffers.
    unsafe {
        assert_eq!(f.C_SignInit.unwrap()(h, &mut mech, key), CKR_OK);
        let rv = f.C_Sign.unwrap()(h, hash.as_ptr() as *mut u8, 32, sig.as_mut_ptr(), &mut len);
        assert_eq!(rv, CKR_OK);
    }
    black_box(sig);
}

/// `pkcs11-tool --sign` as a process, `runs` times after one unmeasured run: median and
/// fastest.
fn pkcs11_tool_sign(dir: &Path, runs: usize) -> serde_json::Value {
    let doc = dir.join("application.txt");
    std::fs::write(&doc, "電子申請書: 転出届\n".repeat(100)).unwrap();
    let sig = dir.join("application.sig");
    let m = module();
    let once = || {
        let started = Instant::now();
        let out = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&m)
            .args(["--slot-description", SIGN_SLOT, "--login", "--pin"])
            .arg(SIGN_PASSWORD)
            .args(["--sign", "--mechanism", "ECDSA-SHA256", "--id", "02", "-i"])
            .arg(&doc)
            .arg("-o")
            .arg(&sig)
            .output()
            .expect("pkcs11-tool (package opensc)");
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    };
    once();
    let mut times: Vec<Duration> = (0..runs).map(|_| once()).collect();
    times.sort();
    serde_json::json!({
        "median_ns": times[times.len() / 2].as_nanos() as f64,
        "fastest_ns": times[0].as_nanos() as f64,
        "runs": runs,
    })
}

fn main() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let served = Served::start(&w.image);
    let (_echo_card, mut echo) = echo_card();
    let m = load();
    let (h, key) = signing_session(m.f);
    let hash = [0x5A; 32];
    c_sign(m.f, h, key, &hash);

    let mut samples = Vec::new();
    c.bench_function("pkcs11/c_sign", |b| {
        b.iter_custom(|iters| {
            let before = served.card_stats();
            let started = Instant::now();
            for _ in 0..iters {
                c_sign(m.f, h, key, &hash);
            }
            let took = started.elapsed();
            let used = served.card_stats() - before;
            let timed = Instant::now();
            for _ in 0..ECHOES_PER_SAMPLE {
                echo.transmit(black_box(&ECHO)).unwrap();
            }
            let echo_rtt = timed.elapsed() / ECHOES_PER_SAMPLE;
            samples.push([
                took.as_nanos() as f64,
                iters as f64,
                used.apdus as f64,
                used.busy.as_nanos() as f64,
                echo_rtt.as_nanos() as f64,
            ]);
            took
        })
    });
    // SAFETY: no argument.
    assert_eq!(unsafe { m.f.C_Finalize.unwrap()(null_mut()) }, CKR_OK);
    let process = pkcs11_tool_sign(w.image.parent().unwrap(), PROCESS_RUNS);
    drop(served);
    c.final_summary();

    let report = serde_json::json!({
        "ops": ["pkcs11_sign"],
        "pcsc_card": { "pkcs11_sign": { "samples": samples } },
        // No public-key operation on the host: the module does not check the card's signature
        // (docs/pkcs11.md says why).
        "host_crypto": { "pkcs11_sign": [0, 0, 0] },
        "processes": { "pkcs11-tool --sign": process },
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/juki-perf");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pkcs11.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", path.display());
}
