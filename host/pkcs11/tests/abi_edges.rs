//! The module's C ABI at its edges, called the way any consumer calls it: the built
//! `libjuki_pkcs11.so` loaded with `dlopen`, every call through the table `C_GetFunctionList`
//! hands out, against the real stack (pcscd + vpcd + the simulated card). Initialise twice,
//! NULL and short buffers, bad handles, concurrent sessions from threads, and the card pulled
//! in the middle of a session.
//!
//! `unsafe` here is the FFI itself: each call passes pointers to live locals of the sizes the
//! PKCS#11 prototypes name.

use std::ptr::null_mut;

use cryptoki_sys::*;

mod common;

use common::world::{lines, world};
use common::{lock_or_skip, module, Served};

const AUTH_PIN: &[u8] = b"1357";

/// The function table of the loaded module (kept alive with the library).
struct Module {
    _lib: libloading::Library,
    f: &'static CK_FUNCTION_LIST,
}

fn load() -> Module {
    // SAFETY: loading our own module; its initialisers do nothing.
    let lib = unsafe { libloading::Library::new(module()) }.expect("dlopen the module");
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: the symbol has the PKCS#11 prototype; `list` is a live out-pointer.
    let rv = unsafe {
        let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
            lib.get(b"C_GetFunctionList\0").expect("C_GetFunctionList");
        get(&mut list)
    };
    assert_eq!(rv, CKR_OK);
    // SAFETY: the table is a static of the module, alive while `lib` is.
    let f = unsafe { &*list };
    Module { _lib: lib, f }
}

/// The auth-token slot of "Virtual PCD 00 00".
fn auth_slot(f: &CK_FUNCTION_LIST) -> CK_SLOT_ID {
    let mut n: CK_ULONG = 0;
    // SAFETY: count query with a live out-pointer.
    assert_eq!(
        unsafe { f.C_GetSlotList.unwrap()(CK_TRUE, null_mut(), &mut n) },
        CKR_OK
    );
    let mut slots = vec![0; n as usize];
    // SAFETY: `slots` holds `n` IDs.
    assert_eq!(
        unsafe { f.C_GetSlotList.unwrap()(CK_TRUE, slots.as_mut_ptr(), &mut n) },
        CKR_OK
    );
    slots
        .into_iter()
        .find(|s| {
            let mut info = CK_SLOT_INFO::default();
            // SAFETY: live CK_SLOT_INFO.
            unsafe { f.C_GetSlotInfo.unwrap()(*s, &mut info) };
            String::from_utf8_lossy(&info.slotDescription).trim_end()
                == "Virtual PCD 00 00 (JPKI auth)"
        })
        .expect("the auth token of the virtual reader")
}

fn open(f: &CK_FUNCTION_LIST, slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let mut h = 0;
    // SAFETY: live out-pointer; no callbacks.
    let rv =
        unsafe { f.C_OpenSession.unwrap()(slot, CKF_SERIAL_SESSION, null_mut(), None, &mut h) };
    assert_eq!(rv, CKR_OK);
    h
}

/// The handles of the objects of `class` in session `h`.
fn find(f: &CK_FUNCTION_LIST, h: CK_SESSION_HANDLE, class: CK_OBJECT_CLASS) -> Vec<CK_ULONG> {
    let mut class = class;
    let mut t = [CK_ATTRIBUTE {
        type_: CKA_CLASS,
        pValue: (&mut class as *mut CK_ULONG).cast(),
        ulValueLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
    }];
    let mut found = [0; 8];
    let mut n = 0;
    // SAFETY: a one-attribute template of live values; `found` holds 8 handles.
    unsafe {
        assert_eq!(f.C_FindObjectsInit.unwrap()(h, t.as_mut_ptr(), 1), CKR_OK);
        assert_eq!(
            f.C_FindObjects.unwrap()(h, found.as_mut_ptr(), 8, &mut n),
            CKR_OK
        );
        assert_eq!(f.C_FindObjectsFinal.unwrap()(h), CKR_OK);
    }
    found[..n as usize].to_vec()
}

/// One attribute through the two-call protocol.
fn attr(f: &CK_FUNCTION_LIST, h: CK_SESSION_HANDLE, o: CK_ULONG, t: CK_ULONG) -> Vec<u8> {
    let mut a = [CK_ATTRIBUTE {
        type_: t,
        pValue: null_mut(),
        ulValueLen: 0,
    }];
    // SAFETY: length query, then a buffer of that length.
    unsafe {
        assert_eq!(
            f.C_GetAttributeValue.unwrap()(h, o, a.as_mut_ptr(), 1),
            CKR_OK
        );
        let mut v = vec![0u8; a[0].ulValueLen as usize];
        a[0].pValue = v.as_mut_ptr().cast();
        assert_eq!(
            f.C_GetAttributeValue.unwrap()(h, o, a.as_mut_ptr(), 1),
            CKR_OK
        );
        v
    }
}

/// CKM_ECDSA_SHA256 of `msg` with key `key` in session `h`: the 64-byte `r‖s`.
fn sign(f: &CK_FUNCTION_LIST, h: CK_SESSION_HANDLE, key: CK_ULONG, msg: &[u8]) -> Vec<u8> {
    sign_with(f, h, key, CKM_ECDSA_SHA256, msg)
}

/// `mechanism` over `msg` with key `key` in session `h`: the 64-byte `r‖s`.
fn sign_with(
    f: &CK_FUNCTION_LIST,
    h: CK_SESSION_HANDLE,
    key: CK_ULONG,
    mechanism: CK_MECHANISM_TYPE,
    msg: &[u8],
) -> Vec<u8> {
    let mut mech = CK_MECHANISM {
        mechanism,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    let mut sig = [0u8; 64];
    let mut len = sig.len() as CK_ULONG;
    // SAFETY: live mechanism, message and signature buffers.
    unsafe {
        assert_eq!(f.C_SignInit.unwrap()(h, &mut mech, key), CKR_OK);
        let rv = f.C_Sign.unwrap()(
            h,
            msg.as_ptr() as *mut u8,
            msg.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut len,
        );
        assert_eq!(rv, CKR_OK);
    }
    sig[..len as usize].to_vec()
}

#[test]
fn abi_edges_threads_and_a_pulled_card() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let mut served = Served::start(&w.image);
    let m = load();
    let f = m.f;

    // SAFETY (this block and those below): arguments are live locals or deliberate NULLs.
    unsafe {
        // Before C_Initialize; then initialise twice; finalise; again with OS locking.
        let mut n: CK_ULONG = 0;
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_FALSE, null_mut(), &mut n),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(f.C_Initialize.unwrap()(null_mut()), CKR_OK);
        assert_eq!(
            f.C_Initialize.unwrap()(null_mut()),
            CKR_CRYPTOKI_ALREADY_INITIALIZED
        );
        assert_eq!(f.C_Finalize.unwrap()(null_mut()), CKR_OK);
        assert_eq!(
            f.C_Finalize.unwrap()(null_mut()),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        let mut args = CK_C_INITIALIZE_ARGS {
            flags: CKF_OS_LOCKING_OK,
            ..Default::default()
        };
        assert_eq!(
            f.C_Initialize.unwrap()((&mut args as *mut CK_C_INITIALIZE_ARGS).cast()),
            CKR_OK
        );

        // NULL and short buffers for lists.
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
        let mut one = [0; 1];
        let mut n: CK_ULONG = 1;
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, one.as_mut_ptr(), &mut n),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 2, "two tokens for the one card");
        assert_eq!(f.C_GetInfo.unwrap()(null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(
            f.C_GetTokenInfo.unwrap()(0xFFFF, &mut CK_TOKEN_INFO::default()),
            CKR_SLOT_ID_INVALID
        );
        // Writing is refused; unimplemented functions answer, never crash.
        assert_eq!(
            f.C_CreateObject.unwrap()(1, null_mut(), 0, null_mut()),
            CKR_TOKEN_WRITE_PROTECTED
        );
        assert_eq!(
            f.C_EncryptInit.unwrap()(1, null_mut(), 0),
            CKR_FUNCTION_NOT_SUPPORTED
        );
    }

    let slot = auth_slot(f);
    let h = open(f, slot);
    let cert = find(f, h, CKO_CERTIFICATE);
    assert_eq!(cert.len(), 2, "certificate and CA certificate");
    assert!(
        find(f, h, CKO_PRIVATE_KEY).is_empty(),
        "no private key before login"
    );
    unsafe {
        // Short buffer, unknown attribute, bad object and session handles.
        let mut small = [0u8; 4];
        let mut a = [
            CK_ATTRIBUTE {
                type_: CKA_VALUE,
                pValue: small.as_mut_ptr().cast(),
                ulValueLen: 4,
            },
            CK_ATTRIBUTE {
                type_: CKA_MODULUS,
                pValue: null_mut(),
                ulValueLen: 0,
            },
        ];
        let rv = f.C_GetAttributeValue.unwrap()(h, cert[0], a.as_mut_ptr(), 2);
        assert!(
            rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID,
            "{rv:#x}"
        );
        assert_eq!(a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(a[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(
            f.C_GetAttributeValue.unwrap()(h, 999, a.as_mut_ptr(), 1),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(
            f.C_GetAttributeValue.unwrap()(999, cert[0], a.as_mut_ptr(), 1),
            CKR_SESSION_HANDLE_INVALID
        );
        assert_eq!(f.C_Logout.unwrap()(h), CKR_USER_NOT_LOGGED_IN);
        let mut mech = CK_MECHANISM {
            mechanism: CKM_ECDSA,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        assert_eq!(
            f.C_SignInit.unwrap()(h, &mut mech, 4),
            CKR_USER_NOT_LOGGED_IN
        );
        assert_eq!(
            f.C_Sign.unwrap()(h, null_mut(), 0, null_mut(), &mut 0),
            CKR_OPERATION_NOT_INITIALIZED
        );

        // Login; then the private key; a length query and a short buffer keep the operation.
        assert_eq!(
            f.C_Login.unwrap()(h, CKU_USER, AUTH_PIN.as_ptr() as *mut u8, 4),
            CKR_OK
        );
        assert_eq!(
            f.C_Login.unwrap()(h, CKU_USER, AUTH_PIN.as_ptr() as *mut u8, 4),
            CKR_USER_ALREADY_LOGGED_IN
        );
        let key = find(f, h, CKO_PRIVATE_KEY);
        assert_eq!(key.len(), 1);
        assert_eq!(f.C_SignInit.unwrap()(h, &mut mech, key[0]), CKR_OK);
        let hash = [0x5Au8; 32];
        let mut len: CK_ULONG = 0;
        let data = hash.as_ptr() as *mut u8;
        assert_eq!(f.C_Sign.unwrap()(h, data, 32, null_mut(), &mut len), CKR_OK);
        assert_eq!(len, 64);
        let mut sig = [0u8; 64];
        len = 10;
        assert_eq!(
            f.C_Sign.unwrap()(h, data, 32, sig.as_mut_ptr(), &mut len),
            CKR_BUFFER_TOO_SMALL
        );
        len = 64;
        assert_eq!(
            f.C_Sign.unwrap()(h, data, 32, sig.as_mut_ptr(), &mut len),
            CKR_OK
        );
        assert_eq!(
            f.C_Sign.unwrap()(h, data, 32, sig.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED,
            "C_Sign ends the operation"
        );
    }
    let key = find(f, h, CKO_PRIVATE_KEY)[0];
    let public = find(f, h, CKO_PUBLIC_KEY)[0];
    let point = attr(f, h, public, CKA_EC_POINT);
    assert_eq!(&point[..2], &[0x04, 65]);
    let point = point[2..].to_vec();

    // Concurrent sessions from threads, each signing: every signature verifies.
    std::thread::scope(|scope| {
        for i in 0..4u8 {
            let point = &point;
            scope.spawn(move || {
                let s = open(f, slot);
                let key = find(f, s, CKO_PRIVATE_KEY)[0];
                let msg = [b'a' + i; 100];
                let sig = sign(f, s, key, &msg);
                assert!(
                    juki_host::card::verify_p256(point, &msg, &sig),
                    "thread {i}"
                );
                // SAFETY: a session of this thread.
                assert_eq!(unsafe { f.C_CloseSession.unwrap()(s) }, CKR_OK);
            });
        }
    });
    let sig = sign(f, h, key, b"still logged in");
    assert!(juki_host::card::verify_p256(
        &point,
        b"still logged in",
        &sig
    ));

    // The card pulled mid-session: the next call says so, then the session is gone and the
    // slot is empty; nothing stale is answered.
    served.stop();
    let mut mech = CK_MECHANISM {
        mechanism: CKM_ECDSA_SHA256,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    unsafe {
        assert_eq!(f.C_SignInit.unwrap()(h, &mut mech, key), CKR_OK);
        let mut sig = [0u8; 64];
        let mut len: CK_ULONG = 64;
        let rv = f.C_Sign.unwrap()(h, b"x".as_ptr() as *mut u8, 1, sig.as_mut_ptr(), &mut len);
        assert_eq!(rv, CKR_DEVICE_REMOVED);
        let mut info = CK_SESSION_INFO::default();
        assert_eq!(
            f.C_GetSessionInfo.unwrap()(h, &mut info),
            CKR_SESSION_HANDLE_INVALID
        );
        let mut n: CK_ULONG = 0;
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, null_mut(), &mut n),
            CKR_OK
        );
        assert_eq!(n, 0);
        let mut t = CK_TOKEN_INFO::default();
        assert_eq!(
            f.C_GetTokenInfo.unwrap()(slot, &mut t),
            CKR_TOKEN_NOT_PRESENT
        );
        assert_eq!(f.C_Finalize.unwrap()(null_mut()), CKR_OK);
    }
}

/// The interface table C_GetInterface hands out for `version` (`None`: the module's first).
fn interface(lib: &libloading::Library, version: Option<CK_VERSION>) -> (CK_RV, (u8, u8)) {
    let mut v = version.unwrap_or_default();
    let mut out: *mut CK_INTERFACE = null_mut();
    // SAFETY: the PKCS#11 3.0 prototype; live out-pointers, a NUL-terminated name.
    unsafe {
        let get: libloading::Symbol<
            unsafe extern "C" fn(
                *mut u8,
                *mut CK_VERSION,
                *mut *mut CK_INTERFACE,
                CK_FLAGS,
            ) -> CK_RV,
        > = lib.get(b"C_GetInterface\0").expect("C_GetInterface");
        let version = if version.is_some() {
            &mut v as *mut _
        } else {
            null_mut()
        };
        let rv = get(c"PKCS 11".as_ptr() as *mut u8, version, &mut out, 0);
        if rv != CKR_OK {
            return (rv, (0, 0));
        }
        // Every function table starts with its version.
        let v = ((*out).pFunctionList as *const CK_VERSION).read();
        (rv, (v.major, v.minor))
    }
}

fn token_info(f: &CK_FUNCTION_LIST, slot: CK_SLOT_ID) -> CK_TOKEN_INFO {
    let mut t = CK_TOKEN_INFO::default();
    // SAFETY: live CK_TOKEN_INFO.
    assert_eq!(unsafe { f.C_GetTokenInfo.unwrap()(slot, &mut t) }, CKR_OK);
    t
}

fn wait_event(f: &CK_FUNCTION_LIST, flags: CK_FLAGS) -> Result<CK_SLOT_ID, CK_RV> {
    let mut slot = 0;
    // SAFETY: live out-pointer, NULL reserved.
    match unsafe { f.C_WaitForSlotEvent.unwrap()(flags, &mut slot, null_mut()) } {
        CKR_OK => Ok(slot),
        rv => Err(rv),
    }
}

#[test]
fn interfaces_slot_events_serials_and_a_swapped_card() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    // A second card of another resident, its auth PIN changed: a PIN meant for the first card
    // that reached it would use one of its tries.
    let other = w._dir.path().join("other.img");
    w.issue_card(&other, "JK-0010", "住基 花子", "東京都千代田区千代田2-2");
    let mut card_b = juki_host::card::JukiCard::new(
        juki_host::sim_transport::SimTransport::open(&other).unwrap(),
    );
    w.session()
        .jpki_issue(&mut card_b, &w.cred, &mut lines("2580\n"))
        .unwrap();
    card_b
        .change_pin(
            juki_host::pin::PinId::Auth,
            &juki_host::pin::Pin::from("1357"),
            &juki_host::pin::Pin::from("8642"),
        )
        .unwrap();
    drop(card_b);

    let m = load();
    let f = m.f;
    // PKCS#11 3.0: the 3.0 table first, the 2.40 one by version, nothing else.
    assert_eq!(interface(&m._lib, None), (CKR_OK, (3, 0)));
    let v240 = CK_VERSION {
        major: 2,
        minor: 40,
    };
    assert_eq!(interface(&m._lib, Some(v240)), (CKR_OK, (2, 40)));
    let v31 = CK_VERSION { major: 3, minor: 1 };
    assert_eq!(interface(&m._lib, Some(v31)).0, CKR_ARGUMENTS_BAD);

    let mut served = Served::start(&w.image);
    // SAFETY: NULL arguments: no locking callbacks.
    assert_eq!(unsafe { f.C_Initialize.unwrap()(null_mut()) }, CKR_OK);
    let slot = auth_slot(f);
    assert_eq!(
        wait_event(f, CKF_DONT_BLOCK),
        Err(CKR_NO_EVENT),
        "nothing since C_Initialize"
    );

    // The token serial is the card's own.
    let serial = String::from_utf8_lossy(&token_info(f, slot).serialNumber)
        .trim_end()
        .to_owned();
    assert_eq!(serial, "JK-0009-A");
    assert_eq!(
        String::from_utf8_lossy(&token_info(f, slot + 1).serialNumber).trim_end(),
        "JK-0009-S"
    );

    let h = open(f, slot);
    // SAFETY: live PIN bytes.
    let rv = unsafe { f.C_Login.unwrap()(h, CKU_USER, AUTH_PIN.as_ptr() as *mut u8, 4) };
    assert_eq!(rv, CKR_OK);
    let key = find(f, h, CKO_PRIVATE_KEY)[0];
    let public = find(f, h, CKO_PUBLIC_KEY)[0];
    let cert = find(f, h, CKO_CERTIFICATE)
        .into_iter()
        .find(|c| attr(f, h, *c, CKA_ID) == [0x01])
        .unwrap();
    let subject = attr(f, h, cert, CKA_SUBJECT);
    assert!(subject.len() > 10);
    assert_eq!(
        attr(f, h, key, CKA_SUBJECT),
        subject,
        "the key names its certificate's subject"
    );
    assert_eq!(attr(f, h, public, CKA_SUBJECT), subject);

    // SHA-384 and SHA-512 with ECDSA: the hash's leftmost 256 bits signed (what p256 checks).
    let point = attr(f, h, public, CKA_EC_POINT);
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point[2..]).unwrap();
    for (mech, hash) in [
        (
            CKM_ECDSA_SHA384,
            <sha2::Sha384 as sha2::Digest>::digest(b"e-application").to_vec(),
        ),
        (
            CKM_ECDSA_SHA512,
            <sha2::Sha512 as sha2::Digest>::digest(b"e-application").to_vec(),
        ),
    ] {
        let sig = sign_with(f, h, key, mech, b"e-application");
        let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        vk.verify_prehash(&hash, &sig)
            .unwrap_or_else(|e| panic!("{mech:#x}: {e}"));
    }

    // PKCS#11 3.0's C_SessionCancel ends a signature in progress.
    let mut mech = CK_MECHANISM {
        mechanism: CKM_ECDSA_SHA256,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: live mechanism; then a length query with a live out-pointer.
    unsafe {
        assert_eq!(f.C_SignInit.unwrap()(h, &mut mech, key), CKR_OK);
        let cancel: libloading::Symbol<unsafe extern "C" fn(CK_SESSION_HANDLE, CK_FLAGS) -> CK_RV> =
            m._lib.get(b"C_SessionCancel\0").unwrap();
        assert_eq!(cancel(h, CKF_SIGN), CKR_OK);
        let mut len: CK_ULONG = 0;
        assert_eq!(
            f.C_Sign.unwrap()(h, b"x".as_ptr() as *mut u8, 1, null_mut(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED
        );
    }

    // The card pulled: both of its slots report an event, once.
    served.stop();
    assert_eq!(wait_event(f, CKF_DONT_BLOCK), Ok(slot));
    assert_eq!(wait_event(f, CKF_DONT_BLOCK), Ok(slot + 1));
    assert_eq!(wait_event(f, CKF_DONT_BLOCK), Err(CKR_NO_EVENT));

    // Another card inserted while a consumer blocks in C_WaitForSlotEvent: it wakes up.
    let (woke, served_b) = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| wait_event(f, 0));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let served_b = Served::start(&other);
        (waiter.join().unwrap(), served_b)
    });
    assert_eq!(woke, Ok(slot));

    // The session was opened on the first card: the module checks the card's key before
    // anything, so the second card gets no PIN (its tries untouched) and no signature comes out.
    let sig = {
        let mut sig = [0u8; 64];
        let mut len: CK_ULONG = 64;
        // SAFETY: live mechanism, data and signature buffers.
        unsafe {
            let init = f.C_SignInit.unwrap()(h, &mut mech, key);
            if init == CKR_OK {
                f.C_Sign.unwrap()(h, b"x".as_ptr() as *mut u8, 1, sig.as_mut_ptr(), &mut len)
            } else {
                init
            }
        }
    };
    assert_eq!(sig, CKR_DEVICE_REMOVED);
    let t = token_info(f, slot);
    assert_eq!(
        t.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED),
        0,
        "no try used on card B"
    );
    assert_eq!(
        String::from_utf8_lossy(&t.serialNumber).trim_end(),
        "JK-0010-A"
    );
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: live CK_SESSION_INFO.
    assert_eq!(
        unsafe { f.C_GetSessionInfo.unwrap()(h, &mut info) },
        CKR_SESSION_HANDLE_INVALID
    );

    // C_Finalize ends a blocking wait.
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            while wait_event(f, CKF_DONT_BLOCK).is_ok() {}
            wait_event(f, 0)
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: NULL reserved.
        assert_eq!(unsafe { f.C_Finalize.unwrap()(null_mut()) }, CKR_OK);
        assert_eq!(waiter.join().unwrap(), Err(CKR_CRYPTOKI_NOT_INITIALIZED));
    });
    drop(served_b);
}
