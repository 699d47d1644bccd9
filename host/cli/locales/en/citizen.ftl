# The citizen's commands (status, info, pin, sign, auth, jpki status) and the agency's checks
# (verify, verify-auth).

citizen-reader-card = card present (ATR { $atr })
citizen-reader-empty = no card
citizen-expired = this card can no longer be used
citizen-no-changes = none
citizen-pin-changed = { $pin }: changed
citizen-signature-attached = { $file } (CMS SignedData, DER, document inside)
citizen-signature-detached = { $file } (CMS SignedData, DER, detached: send it with the document)
citizen-signed = Signed with the card's signing key and certificate.
citizen-certificate = { $kind }, serial { $serial }
citizen-not-revoked = not revoked; CRL of { $crl_date }, next update { $next_update }
citizen-revocation-skipped = NOT CHECKED (--no-revocation-check)
citizen-verify-usage = give FILE SIG, or SIG alone
citizen-signature-valid = VALID: the signature is valid
citizen-signer = Signer, as certified by the JPKI certification authority:
citizen-claimed-time = { $time } (as claimed by the signer)
citizen-document-inside = inside the signature
citizen-document = { $document } ({ $bytes } bytes, SHA-256 { $sha256 })
citizen-verify-out-detached = --out: this signature is detached; the document is the FILE given
citizen-document-written = The signed document was written to { $file }.
citizen-answer-written = Answer: { $file }; send it to the relying party (authentication certificate, serial { $serial }).
citizen-auth-valid = VALID: the user is who the certificate says
citizen-auth-user = { $subject } (the certificate carries no personal data)
citizen-cert-valid = valid
citizen-cert-invalid = NOT valid: { $why }
citizen-recorded-in-cert = Recorded in the certificate:
citizen-revocation-not-checked = Revocation was not checked: give the CA's CRLs with --crl (juki jpki crl).
citizen-verify-copy-detached = A 住民票の写し carries its document inside the signature: give the .p7s alone.
citizen-copy-valid = VALID: the seal (電子公印) of the 住民票の写し is valid
citizen-copy-issuer = the head of { $name } ({ $code }), number { $number }
citizen-seal-certificate = seal certificate (電子公印)
citizen-copy-text = The 住民票の写し certified:
