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
    let mut mech = CK_MECHANISM {
        mechanism: CKM_ECDSA_SHA256,
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
