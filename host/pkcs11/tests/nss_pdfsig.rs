//! A PDF signed with the card's signing key by poppler's `pdfsig` (package poppler-utils, 22.12
//! in Debian 12) through NSS and `libjuki_pkcs11.so`, then checked by `pdfsig` itself and,
//! independently, by `openssl cms -verify` of the embedded CMS over the PDF's byte ranges.
//! Through pcscd + vpcd + the simulated card, like the other tests.
//!
//! Two limits of pdfsig 22.12 shape it (docs/pkcs11.md, NSS):
//! - it answers NSS's password requests with its one `-nss-pwd`, once per run (a second request
//!   is "Password was not accepted"), and both tokens of a card require a login: with both
//!   enabled it cannot sign, whatever the password. The test shows that (no PIN try used on
//!   either token), then disables the authentication token's slot in the NSS database
//!   (`modutil -disable`) and signs with the signing token alone;
//! - it sizes the signature's place in the PDF with a first signature of dummy data and fails
//!   when the real one differs in length, which ECDSA signatures do 5 times in 8: the test
//!   retries, as a user would, and accepts no other failure.

use std::path::Path;
use std::process::Command;

mod common;

use common::world::{lines, world};
use common::{installed, juki, lock_or_skip, nss_db, run, skip_without, Served};
use juki_jpki::CertKind;
use juki_reader_sim::server::FIRST_READER_NAME;

const SIGN_PASSWORD: &str = "JUKI2026";
/// The signing certificate as NSS names it: `<token label>:<certificate CKA_LABEL>`.
const SIGN_NICK: &str = "JPKI 署名用 (sign):署名用電子証明書";
const PAGE_TEXT: &str = "juki e-application";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A one-page PDF 1.7 showing `text` (Helvetica), with a correct cross-reference table.
fn minimal_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 24 Tf 72 760 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    pdf
}

/// `pdfsig -nssdir DB ARGS`: success and combined output.
fn pdfsig(db: &str, args: &[&str]) -> (bool, String) {
    run(Command::new("pdfsig").args(["-nssdir", db]).args(args))
}

/// Tries left on the card for the authentication PIN and the sign password, as `juki pin status`
/// reads them (VERIFY without data: no try used).
fn tries_left() -> (String, String) {
    let out = juki(&["--reader", FIRST_READER_NAME, "pin", "status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "juki pin status: {text}");
    let line = |what: &str| {
        text.lines()
            .find(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("no {what} in:\n{text}"))
            .to_owned()
    };
    (line("authentication PIN"), line("signing password"))
}

/// The bytes a PDF signature covers: the two ranges of its `/ByteRange [a b c d]`.
fn signed_ranges(pdf: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(pdf);
    let start = text.find("/ByteRange").expect("a /ByteRange") + "/ByteRange".len();
    let list = &text[start..];
    let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
    let n: Vec<usize> = list
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let [a, b, c, d] = n[..] else {
        panic!("/ByteRange [{list}]")
    };
    assert_eq!(c + d, pdf.len(), "the ranges cover the whole file");
    [&pdf[a..a + b], &pdf[c..c + d]].concat()
}

#[test]
fn pdfsig_signs_a_pdf_with_the_signing_key_through_nss() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    if !installed("pdfsig") {
        skip_without("no pdfsig (package poppler-utils)");
        return;
    }
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let _served = Served::start(&w.image);
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let Some(db) = nss_db(dir.path()) else {
        return;
    };
    // The JPKI signing CA, trusted for signatures in this database.
    let ca = w.ca_dir.join("sign-ca.pem");
    let (ok, text) = run(Command::new("certutil")
        .args([
            "-A",
            "-d",
            &db,
            "-n",
            "JPKI sign CA",
            "-t",
            "C,C,C",
            "-a",
            "-i",
        ])
        .arg(&ca));
    assert!(ok, "certutil -A: {text}");
    let unsigned = d("application.pdf");
    std::fs::write(&unsigned, minimal_pdf(PAGE_TEXT)).unwrap();
    let signed = d("application-signed.pdf");
    let sign = |db: &str| {
        pdfsig(
            db,
            &[
                "-nss-pwd",
                SIGN_PASSWORD,
                "-add-signature",
                "-nick",
                SIGN_NICK,
                "-kpw",
                SIGN_PASSWORD,
                "-digest",
                "SHA256",
                s(&unsigned),
                s(&signed),
            ],
        )
    };
    let before = tries_left();
    assert!(before.0.contains("3 tries left"), "{before:?}");
    assert!(before.1.contains("5 tries left"), "{before:?}");

    // Both tokens enabled: pdfsig needs a password for each (no password: refused at once);
    // with one, NSS logs the signing token in with it (it lists that slot first) and poppler has
    // nothing for the authentication token's request. Nothing signed, no try used on either.
    let (ok, text) = pdfsig(&db, &["-list-nicks"]);
    assert!(!ok && text.contains("Password is needed"), "{text}");
    let (ok, text) = pdfsig(&db, &["-nss-pwd", SIGN_PASSWORD, "-list-nicks"]);
    assert!(!ok && text.contains("Password was not accepted"), "{text}");
    let (ok, text) = sign(&db);
    assert!(!ok && text.contains("Password was not accepted"), "{text}");
    assert!(!signed.exists());
    assert_eq!(tries_left(), before);
    // What an NSS consumer with one password for every token does (certutil logs in to the named
    // token with the password in the file): the sign password (8 characters) for the
    // authentication token, the auth PIN for the signing token. Both have a length the token
    // cannot have, so the module answers CKR_PIN_LEN_RANGE (NSS: SEC_ERROR_INVALID_PASSWORD,
    // not the SEC_ERROR_BAD_PASSWORD of a wrong PIN) without sending it to the card.
    for (token, password) in [
        ("JPKI 利用者証明用 (auth)", SIGN_PASSWORD),
        ("JPKI 署名用 (sign)", "1357"),
    ] {
        let pwfile = d("pw.txt");
        std::fs::write(&pwfile, format!("{password}\n")).unwrap();
        let (ok, text) = run(Command::new("certutil")
            .args(["-K", "-d", &db, "-h", token, "-f"])
            .arg(&pwfile));
        assert!(
            !ok && text.contains("SEC_ERROR_INVALID_PASSWORD"),
            "{token}: {text}"
        );
    }
    assert_eq!(tries_left(), before);

    // The authentication token's slot disabled in this database: pdfsig logs in to the signing
    // token only, sees its certificate (visible only after that login) and signs.
    let auth_slot = format!("{FIRST_READER_NAME} (JPKI auth)");
    let (ok, text) = run(Command::new("modutil").args([
        "-dbdir", &db, "-disable", "juki", "-slot", &auth_slot, "-force",
    ]));
    assert!(ok && text.contains("disabled"), "modutil -disable: {text}");
    let (ok, text) = pdfsig(&db, &["-nss-pwd", SIGN_PASSWORD, "-list-nicks"]);
    assert!(ok, "{text}");
    assert!(text.lines().any(|l| l == SIGN_NICK), "{text}");
    assert!(!text.contains("利用者証明用"), "{text}");
    // poppler 22.12 signs twice: a signature of dummy data sizes the hole left in the PDF, then
    // the real signature must fill it exactly. An ECDSA signature in DER is 70, 71 or 72 bytes
    // (r and s each take a leading zero byte when their top bit is set), so the two differ in
    // length 5 times in 8 and pdfsig gives up: "signDocument: unable update signature" (exit 3;
    // poppler 23.04 pads the real signature instead). A user retries; so does this test, and
    // any other failure fails it.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (ok, text) = sign(&db);
        if ok {
            break;
        }
        assert!(
            text.contains("signDocument: unable update signature") && attempts < 40,
            "pdfsig -add-signature, attempt {attempts}: {text}"
        );
    }
    eprintln!("pdfsig -add-signature succeeded at attempt {attempts}");
    assert_eq!(tries_left(), before);

    // pdfsig checks it: a valid signature by the card's certificate, chained to the trusted CA,
    // over the whole document.
    let (ok, text) = pdfsig(&db, &[s(&signed)]);
    assert!(ok, "{text}");
    for expected in [
        "Signer Certificate Common Name: JK-0009",
        "Signing Hash Algorithm: SHA-256",
        "Signature Type: adbe.pkcs7.detached",
        "Total document signed",
        "Signature Validation: Signature is Valid.",
        "Certificate Validation: Certificate is Trusted.",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }

    // OpenSSL checks the CMS pdfsig embedded (-dump writes it to the working directory) over
    // the PDF's signed byte ranges, and finds the card's signing certificate as the signer.
    let (ok, text) = run(Command::new("pdfsig")
        .current_dir(dir.path())
        .args(["-dump"])
        .arg(&signed));
    assert!(ok && text.contains("Dumping Signatures: 1"), "{text}");
    let cms = d("application-signed.pdf.sig0");
    let pdf = std::fs::read(&signed).unwrap();
    std::fs::write(d("ranges.bin"), signed_ranges(&pdf)).unwrap();
    let signer = d("signer.pem");
    let (ok, text) = run(Command::new("openssl").args([
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        s(&cms),
        "-content",
        s(&d("ranges.bin")),
        "-CAfile",
        s(&ca),
        "-signer",
        s(&signer),
        "-out",
        "/dev/null",
    ]));
    assert!(ok && text.contains("Verification successful"), "{text}");
    let (ok, text) = run(Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in", s(&signer), "-out"])
        .arg(d("signer.der")));
    assert!(ok, "{text}");
    let card_cert = w
        .ca()
        .certificates_of("JK-0009")
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CertKind::Sign)
        .unwrap();
    assert_eq!(std::fs::read(d("signer.der")).unwrap(), card_cert.der);

    // One byte of the page's text changed after signing: pdfsig says the digest does not match.
    let mut tampered = pdf.clone();
    let at = tampered
        .windows(PAGE_TEXT.len())
        .position(|w| w == PAGE_TEXT.as_bytes())
        .unwrap();
    tampered[at] ^= 0x20;
    let tampered_path = d("application-tampered.pdf");
    std::fs::write(&tampered_path, tampered).unwrap();
    let (_, text) = pdfsig(&db, &[s(&tampered_path)]);
    assert!(
        text.contains("Signature Validation: Digest Mismatch.") && !text.contains("is Valid"),
        "{text}"
    );
}
