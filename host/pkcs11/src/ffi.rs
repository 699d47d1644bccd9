//! The C ABI: every `C_*` entry point, the one place with `unsafe`. Each function checks its
//! pointers (`CKR_ARGUMENTS_BAD` for NULL), copies the C arguments into Rust values, calls
//! [`crate::token`] and copies the answer back, all inside [`guard`] (a panic becomes
//! `CKR_GENERAL_ERROR`, never an unwind into C).
#![allow(non_snake_case)]
#![allow(clippy::missing_safety_doc)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use cryptoki_sys::*;

use crate::token::{self, Rv};

/// Runs `f`, turning its error or a panic into the `CK_RV` to return.
fn guard(f: impl FnOnce() -> Rv<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(rv)) => rv,
        Err(_) => CKR_GENERAL_ERROR,
    }
}

/// Writes `value` through `ptr`, `CKR_ARGUMENTS_BAD` if it is NULL.
///
/// # Safety
/// `ptr` is NULL or valid for one write of `T`.
unsafe fn put<T>(ptr: *mut T, value: T) -> Rv<()> {
    if ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL, and the caller (PKCS#11's contract) gives a writable `T`.
    unsafe { ptr.write(value) };
    Ok(())
}

/// The bytes at `ptr`, `len` long (empty for len 0, `CKR_ARGUMENTS_BAD` for NULL with a length).
///
/// # Safety
/// `ptr` is NULL or valid for `len` bytes of reads.
unsafe fn bytes<'a>(ptr: *const CK_BYTE, len: CK_ULONG) -> Rv<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and, by the caller's contract, `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len as usize) })
}

/// The C-array output protocol: with `out` NULL, the count in `*count`; else the items copied if
/// `*count` is enough, `CKR_BUFFER_TOO_SMALL` (and the count) if not.
///
/// # Safety
/// `count` is NULL or a valid `CK_ULONG`; `out` NULL or valid for `*count` writes.
unsafe fn put_list<T: Copy>(items: &[T], out: *mut T, count: *mut CK_ULONG) -> Rv<()> {
    if count.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: `count` is non-NULL and valid by the caller's contract.
    let room = unsafe { count.read() } as usize;
    // SAFETY: as above.
    unsafe { count.write(items.len() as CK_ULONG) };
    if out.is_null() {
        return Ok(());
    }
    if room < items.len() {
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` holds `room >= items.len()` elements.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), out, items.len()) };
    Ok(())
}

/// `text` in a blank-padded fixed field (UTF-8, cut at a character boundary).
fn padded<const N: usize>(text: &str) -> [CK_UTF8CHAR; N] {
    let mut field = [b' '; N];
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&text.as_bytes()[..end]);
    field
}

const VERSION: CK_VERSION = CK_VERSION { major: 0, minor: 1 };

#[no_mangle]
pub unsafe extern "C" fn C_Initialize(args: *mut std::ffi::c_void) -> CK_RV {
    guard(|| {
        if !args.is_null() {
            // SAFETY: a non-NULL argument is a CK_C_INITIALIZE_ARGS (PKCS#11 §5.4).
            let a = unsafe { &*(args as *const CK_C_INITIALIZE_ARGS) };
            if !a.pReserved.is_null() {
                return Err(CKR_ARGUMENTS_BAD);
            }
            let given = [
                a.CreateMutex.is_some(),
                a.DestroyMutex.is_some(),
                a.LockMutex.is_some(),
                a.UnlockMutex.is_some(),
            ];
            if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
                return Err(CKR_ARGUMENTS_BAD);
            }
            // With or without CKF_OS_LOCKING_OK: the module locks with the OS's primitives
            // (std's Mutex), which the spec allows in every case but "application callbacks
            // only", where it also lets a library use OS locking when the flag is set.
            if given[0] && a.flags & CKF_OS_LOCKING_OK == 0 {
                return Err(CKR_CANT_LOCK);
            }
        }
        token::initialize()
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Finalize(reserved: *mut std::ffi::c_void) -> CK_RV {
    guard(|| {
        if !reserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        token::finalize()
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    guard(|| {
        token::initialized()?;
        let value = CK_INFO {
            cryptokiVersion: CK_VERSION {
                major: 2,
                minor: 40,
            },
            manufacturerID: padded("juki"),
            flags: 0,
            libraryDescription: padded("juki JPKI PKCS#11 module"),
            libraryVersion: VERSION,
        };
        // SAFETY: `info` is NULL or a CK_INFO to fill.
        unsafe { put(info, value) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        let table = std::ptr::addr_of!(FUNCTION_LIST) as *mut CK_FUNCTION_LIST;
        // SAFETY: `list` is NULL or a pointer to fill. Callers only read the table.
        unsafe { put(list, table) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    present: CK_BBOOL,
    slots: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let list = token::slot_list(present != CK_FALSE)?;
        // SAFETY: PKCS#11's contract for these two pointers.
        unsafe { put_list(&list, slots, count) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let s = token::slot_info(slot)?;
        let value = CK_SLOT_INFO {
            slotDescription: padded(&s.description),
            manufacturerID: padded("juki"),
            flags: s.flags,
            hardwareVersion: VERSION,
            firmwareVersion: VERSION,
        };
        // SAFETY: non-NULL CK_SLOT_INFO to fill.
        unsafe { put(info, value) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let t = token::token_info(slot)?;
        let value = CK_TOKEN_INFO {
            label: padded(&t.label),
            manufacturerID: padded("juki"),
            model: padded("JPKI AP"),
            serialNumber: padded(&t.serial),
            flags: t.flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: t.sessions,
            // Read-write sessions are accepted (docs/pkcs11.md), though nothing in them writes.
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: t.rw_sessions,
            ulMaxPinLen: t.pin_len.1,
            ulMinPinLen: t.pin_len.0,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: VERSION,
            firmwareVersion: VERSION,
            utcTime: [b' '; 16],
        };
        // SAFETY: non-NULL CK_TOKEN_INFO to fill.
        unsafe { put(info, value) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        token::check_slot(slot)?;
        // SAFETY: PKCS#11's contract for these two pointers.
        unsafe { put_list(&token::MECHANISMS, list, count) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    mechanism: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| {
        token::check_slot(slot)?;
        if !token::MECHANISMS.contains(&mechanism) {
            return Err(CKR_MECHANISM_INVALID);
        }
        let value = CK_MECHANISM_INFO {
            ulMinKeySize: 256,
            ulMaxKeySize: 256,
            flags: CKF_HW | CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        };
        // SAFETY: NULL or a CK_MECHANISM_INFO to fill.
        unsafe { put(info, value) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _app: *mut std::ffi::c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if session.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let h = token::open_session(slot, flags)?;
        // SAFETY: non-NULL handle to fill.
        unsafe { put(session, h) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| token::close_session(session))
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard(|| token::close_all_sessions(slot))
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    session: CK_SESSION_HANDLE,
    info: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let (slot, rw, state) = token::session_info(session)?;
        let value = CK_SESSION_INFO {
            slotID: slot,
            state,
            flags: CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 },
            ulDeviceError: 0,
        };
        // SAFETY: non-NULL CK_SESSION_INFO to fill.
        unsafe { put(info, value) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Login(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if pin.is_null() {
            // No protected authentication path: the PIN comes from the caller.
            return Err(CKR_ARGUMENTS_BAD);
        }
        // SAFETY: `len` readable bytes at non-NULL `pin`.
        let pin = unsafe { bytes(pin, len) }?;
        token::login(session, user, pin)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Logout(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| token::logout(session))
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    session: CK_SESSION_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let mut wanted = Vec::new();
        if count > 0 {
            if template.is_null() {
                return Err(CKR_ARGUMENTS_BAD);
            }
            // SAFETY: `count` attributes at non-NULL `template`.
            let attrs = unsafe { std::slice::from_raw_parts(template, count as usize) };
            for a in attrs {
                // SAFETY: each attribute's value is `ulValueLen` bytes at `pValue`.
                let v = unsafe { bytes(a.pValue as *const CK_BYTE, a.ulValueLen) }?;
                wanted.push((a.type_, v.to_vec()));
            }
        }
        token::find_init(session, &wanted)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    session: CK_SESSION_HANDLE,
    objects: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if objects.is_null() || count.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let found = token::find(session, max as usize)?;
        // SAFETY: `objects` holds `max >= found.len()` handles; `count` is non-NULL.
        unsafe {
            std::ptr::copy_nonoverlapping(found.as_ptr(), objects, found.len());
            put(count, found.len() as CK_ULONG)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| token::find_final(session))
}

#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if template.is_null() && count > 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if count == 0 {
            return token::attributes(session, object, &[]).map(|_| ());
        }
        // SAFETY: `count` attributes at non-NULL `template`, ours to update.
        let attrs = unsafe { std::slice::from_raw_parts_mut(template, count as usize) };
        let types: Vec<_> = attrs.iter().map(|a| a.type_).collect();
        let values = token::attributes(session, object, &types)?;
        // PKCS#11 §5.7: every attribute is processed; the last error kind found is returned.
        let mut rv = Ok(());
        for (a, v) in attrs.iter_mut().zip(values) {
            match v {
                token::Attr::Invalid => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = Err(CKR_ATTRIBUTE_TYPE_INVALID);
                }
                token::Attr::Sensitive => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = Err(CKR_ATTRIBUTE_SENSITIVE);
                }
                token::Attr::Value(v) if a.pValue.is_null() => a.ulValueLen = v.len() as CK_ULONG,
                token::Attr::Value(v) if (a.ulValueLen as usize) < v.len() => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = Err(CKR_BUFFER_TOO_SMALL);
                }
                token::Attr::Value(v) => {
                    // SAFETY: `pValue` holds `ulValueLen >= v.len()` bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(v.as_ptr(), a.pValue as *mut u8, v.len())
                    };
                    a.ulValueLen = v.len() as CK_ULONG;
                }
            }
        }
        rv
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        if mechanism.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        // SAFETY: non-NULL CK_MECHANISM.
        let m = unsafe { &*mechanism };
        token::sign_init(session, m.mechanism, key)
    })
}

/// The output half of C_Sign / C_SignFinal: length query, short buffer, or the signature.
///
/// # Safety
/// `out` NULL or valid for `*len` bytes; `len` NULL or a valid `CK_ULONG`.
unsafe fn signature_out(
    session: CK_SESSION_HANDLE,
    out: *mut CK_BYTE,
    len: *mut CK_ULONG,
    make: impl FnOnce() -> Rv<Vec<u8>>,
) -> Rv<()> {
    if len.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    token::sign_active(session)?;
    // SAFETY: non-NULL `len`.
    let room = unsafe { len.read() } as usize;
    // SAFETY: as above.
    unsafe { len.write(token::SIGNATURE_LEN as CK_ULONG) };
    if out.is_null() {
        return Ok(());
    }
    if room < token::SIGNATURE_LEN {
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    let sig = make()?;
    // SAFETY: `out` holds `room >= 64` bytes; `len` non-NULL.
    unsafe {
        std::ptr::copy_nonoverlapping(sig.as_ptr(), out, sig.len());
        len.write(sig.len() as CK_ULONG);
    }
    Ok(())
}

#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: `data_len` readable bytes at `data`.
        let data = unsafe { bytes(data, data_len) }?;
        // SAFETY: PKCS#11's contract for the output pointers.
        unsafe {
            signature_out(session, signature, signature_len, || {
                token::sign(session, data, false)
            })
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: `len` readable bytes at `part`.
        let part = unsafe { bytes(part, len) }?;
        token::sign_update(session, part)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: PKCS#11's contract for the output pointers.
    guard(|| unsafe {
        signature_out(session, signature, signature_len, || {
            token::sign(session, &[], true)
        })
    })
}

/// Entry points this module does not implement: each answers `$rv`.
macro_rules! unsupported {
    ($rv:expr; $($name:ident($($arg:ty),*);)*) => {
        $(
            #[no_mangle]
            pub unsafe extern "C" fn $name($(_: $arg),*) -> CK_RV {
                guard(|| {
                    token::initialized()?;
                    Err($rv)
                })
            }
        )*
    };
}

// The token is read-only: what would write answers CKR_TOKEN_WRITE_PROTECTED (PKCS#11 lists
// it for these functions); PIN changes and initialisation are the counter's and `juki pin`'s.
unsupported! { CKR_TOKEN_WRITE_PROTECTED;
    C_CreateObject(CK_SESSION_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_CopyObject(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_DestroyObject(CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
    C_SetAttributeValue(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG);
    C_GenerateKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_GenerateKeyPair(CK_SESSION_HANDLE, *mut CK_MECHANISM, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE, *mut CK_OBJECT_HANDLE);
    C_UnwrapKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
    C_DeriveKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG, *mut CK_OBJECT_HANDLE);
}

unsupported! { CKR_FUNCTION_NOT_SUPPORTED;
    C_InitToken(CK_SLOT_ID, *mut CK_UTF8CHAR, CK_ULONG, *mut CK_UTF8CHAR);
    C_InitPIN(CK_SESSION_HANDLE, *mut CK_UTF8CHAR, CK_ULONG);
    C_SetPIN(CK_SESSION_HANDLE, *mut CK_UTF8CHAR, CK_ULONG, *mut CK_UTF8CHAR, CK_ULONG);
    C_GetOperationState(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_SetOperationState(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE);
    C_GetObjectSize(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ULONG);
    C_EncryptInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_Encrypt(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_EncryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_EncryptFinal(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_Decrypt(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptFinal(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_DigestInit(CK_SESSION_HANDLE, *mut CK_MECHANISM);
    C_Digest(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DigestUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_DigestKey(CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
    C_DigestFinal(CK_SESSION_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    C_SignRecoverInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_SignRecover(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_VerifyInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_Verify(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, CK_ULONG);
    C_VerifyUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_VerifyFinal(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_VerifyRecoverInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_VerifyRecover(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DigestEncryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptDigestUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_SignEncryptUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptVerifyUpdate(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_WrapKey(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, *mut CK_BYTE, *mut CK_ULONG);
    // PKCS#11 3.0's message-based functions: nothing to encrypt, and signing stays
    // C_SignInit/C_Sign (what every consumer uses).
    C_MessageEncryptInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_EncryptMessage(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_EncryptMessageBegin(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG);
    C_EncryptMessageNext(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG, CK_FLAGS);
    C_MessageEncryptFinal(CK_SESSION_HANDLE);
    C_MessageDecryptInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_DecryptMessage(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_DecryptMessageBegin(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG);
    C_DecryptMessageNext(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG, CK_FLAGS);
    C_MessageDecryptFinal(CK_SESSION_HANDLE);
    C_MessageSignInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_SignMessage(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_SignMessageBegin(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG);
    C_SignMessageNext(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG);
    C_MessageSignFinal(CK_SESSION_HANDLE);
    C_MessageVerifyInit(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE);
    C_VerifyMessage(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, CK_ULONG);
    C_VerifyMessageBegin(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG);
    C_VerifyMessageNext(CK_SESSION_HANDLE, *mut std::ffi::c_void, CK_ULONG, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, CK_ULONG);
    C_MessageVerifyFinal(CK_SESSION_HANDLE);
}

#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    slot: *mut CK_SLOT_ID,
    reserved: *mut std::ffi::c_void,
) -> CK_RV {
    guard(|| {
        if slot.is_null() || !reserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let event = token::wait_for_slot_event(flags & CKF_DONT_BLOCK == 0)?;
        // SAFETY: non-NULL slot ID to fill.
        unsafe { put(slot, event) }
    })
}

/// C_LoginUser (3.0): C_Login; a user name means nothing to this token.
#[no_mangle]
pub unsafe extern "C" fn C_LoginUser(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    len: CK_ULONG,
    _username: *mut CK_UTF8CHAR,
    username_len: CK_ULONG,
) -> CK_RV {
    if username_len != 0 {
        return guard(|| Err(CKR_ARGUMENTS_BAD));
    }
    // SAFETY: the caller's contract is C_Login's for these arguments.
    unsafe { C_Login(session, user, pin, len) }
}

/// C_SessionCancel (3.0): ends the session's signature (the only operation it can have).
#[no_mangle]
pub unsafe extern "C" fn C_SessionCancel(session: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    guard(|| token::cancel(session, flags & CKF_SIGN != 0))
}

// No random number generator offered (CKF_RNG is not set): PKCS#11's answer for both.
unsupported! { CKR_RANDOM_NO_RNG;
    C_SeedRandom(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
    C_GenerateRandom(CK_SESSION_HANDLE, *mut CK_BYTE, CK_ULONG);
}

/// Legacy functions: PKCS#11 says they answer CKR_FUNCTION_NOT_PARALLEL.
macro_rules! not_parallel {
    ($($name:ident),*) => {
        $(
            #[no_mangle]
            pub unsafe extern "C" fn $name(_: CK_SESSION_HANDLE) -> CK_RV {
                guard(|| {
                    token::initialized()?;
                    Err(CKR_FUNCTION_NOT_PARALLEL)
                })
            }
        )*
    };
}

not_parallel!(C_GetFunctionStatus, C_CancelFunction);

/// The interfaces C_GetInterfaceList offers: PKCS#11 3.0 first, then 2.40 (the table
/// C_GetFunctionList hands out) for consumers that ask for it by version.
struct Interfaces([CK_INTERFACE; 2]);

// SAFETY: the pointers are to 'static, never-written data (a name and two function tables).
unsafe impl Sync for Interfaces {}

const INTERFACE_NAME: &std::ffi::CStr = c"PKCS 11";

static INTERFACES: Interfaces = Interfaces([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: std::ptr::addr_of!(FUNCTION_LIST_3_0) as *mut std::ffi::c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: std::ptr::addr_of!(FUNCTION_LIST) as *mut std::ffi::c_void,
        flags: 0,
    },
]);

#[no_mangle]
pub unsafe extern "C" fn C_GetInterfaceList(
    list: *mut CK_INTERFACE,
    count: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: PKCS#11's contract for these two pointers.
    guard(|| unsafe { put_list(&INTERFACES.0, list, count) })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    name: *mut CK_UTF8CHAR,
    version: *mut CK_VERSION,
    interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard(|| {
        if interface.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if !name.is_null() {
            // SAFETY: a non-NULL name is a NUL-terminated string (PKCS#11 3.0 §5.4).
            let name = unsafe { std::ffi::CStr::from_ptr(name as *const std::ffi::c_char) };
            if name != INTERFACE_NAME {
                return Err(CKR_ARGUMENTS_BAD);
            }
        }
        let wanted = if version.is_null() {
            None
        } else {
            // SAFETY: non-NULL CK_VERSION to read.
            Some(unsafe { version.read() })
        };
        let found = INTERFACES.0.iter().find(|i| {
            // SAFETY: every table starts with its CK_VERSION.
            let v = unsafe { (i.pFunctionList as *const CK_VERSION).read() };
            i.flags & flags == flags
                && wanted.is_none_or(|w| (w.major, w.minor) == (v.major, v.minor))
        });
        let found = found.ok_or(CKR_ARGUMENTS_BAD)?;
        // SAFETY: non-NULL pointer to fill; callers only read the interface.
        unsafe { put(interface, found as *const CK_INTERFACE as *mut CK_INTERFACE) }
    })
}

/// A function table: `$ty` with `version` and every function named, the 2.40 ones first in
/// the order of the OASIS header (the layout is checked by cryptoki-sys's types).
macro_rules! function_list {
    ($ty:ident { $major:literal, $minor:literal } $($extra:ident,)*) => {
        function_list!(@ $ty $major $minor
            C_Initialize,
            C_Finalize,
            C_GetInfo,
            C_GetFunctionList,
            C_GetSlotList,
            C_GetSlotInfo,
            C_GetTokenInfo,
            C_GetMechanismList,
            C_GetMechanismInfo,
            C_InitToken,
            C_InitPIN,
            C_SetPIN,
            C_OpenSession,
            C_CloseSession,
            C_CloseAllSessions,
            C_GetSessionInfo,
            C_GetOperationState,
            C_SetOperationState,
            C_Login,
            C_Logout,
            C_CreateObject,
            C_CopyObject,
            C_DestroyObject,
            C_GetObjectSize,
            C_GetAttributeValue,
            C_SetAttributeValue,
            C_FindObjectsInit,
            C_FindObjects,
            C_FindObjectsFinal,
            C_EncryptInit,
            C_Encrypt,
            C_EncryptUpdate,
            C_EncryptFinal,
            C_DecryptInit,
            C_Decrypt,
            C_DecryptUpdate,
            C_DecryptFinal,
            C_DigestInit,
            C_Digest,
            C_DigestUpdate,
            C_DigestKey,
            C_DigestFinal,
            C_SignInit,
            C_Sign,
            C_SignUpdate,
            C_SignFinal,
            C_SignRecoverInit,
            C_SignRecover,
            C_VerifyInit,
            C_Verify,
            C_VerifyUpdate,
            C_VerifyFinal,
            C_VerifyRecoverInit,
            C_VerifyRecover,
            C_DigestEncryptUpdate,
            C_DecryptDigestUpdate,
            C_SignEncryptUpdate,
            C_DecryptVerifyUpdate,
            C_GenerateKey,
            C_GenerateKeyPair,
            C_WrapKey,
            C_UnwrapKey,
            C_DeriveKey,
            C_SeedRandom,
            C_GenerateRandom,
            C_GetFunctionStatus,
            C_CancelFunction,
            C_WaitForSlotEvent,
            $($extra,)*
        )
    };
    (@ $ty:ident $major:literal $minor:literal $($f:ident,)*) => {
        $ty {
            version: CK_VERSION { major: $major, minor: $minor },
            $($f: Some($f),)*
        }
    };
}

/// The table C_GetFunctionList hands out: every PKCS#11 2.40 entry point.
static FUNCTION_LIST: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST { 2, 40 });

/// The 3.0 table: the 2.40 one and the functions 3.0 added.
static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(CK_FUNCTION_LIST_3_0 { 3, 0 }
    C_GetInterfaceList,
    C_GetInterface,
    C_LoginUser,
    C_SessionCancel,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal,
    C_MessageSignInit,
    C_SignMessage,
    C_SignMessageBegin,
    C_SignMessageNext,
    C_MessageSignFinal,
    C_MessageVerifyInit,
    C_VerifyMessage,
    C_VerifyMessageBegin,
    C_VerifyMessageNext,
    C_MessageVerifyFinal,
);
