# What the citizen or the clerk reads when something fails: one message for each error of the
# layers under the CLI (juki_host::Error, juki_jpki::JpkiError, juki_counter::CounterError).

## The card said no

err-wrong-pin = { $tries_left ->
    [0] wrong PIN or password; no tries left: it is now locked and must be reset at the municipal counter
    [one] wrong PIN or password: 1 try left before it is locked
   *[other] wrong PIN or password: { $tries_left } tries left before it is locked
}
err-pin-blocked = the PIN or password is locked after too many wrong entries; it must be reset at the municipal counter
err-security-status = security status not satisfied: the PIN (or the counter's authentication) is required first
err-card-suspended = this card is suspended: its use was stopped at the municipal counter, e.g. after it was reported lost or stolen; ask the municipal counter to lift the suspension before using it
err-card-terminated = this card is no longer valid: it was returned or terminated at the municipal counter, and its keys, passwords and personal data are erased; only the card information can still be read. Apply for a new card at the municipal counter
err-conditions = conditions of use not satisfied: the card is not in the right state for this (blank, initialised or issued)
err-no-current-file = no current file, or the wrong kind of file for this command
err-incompatible-file = command incompatible with the selected file
err-wrong-data = the card refused the data (wrong format, weak PIN, or bad key)
err-file-not-found = application or file not found on this card (this may not be a resident registry card)
err-not-enough-space = not enough space in the card file
err-wrong-length = wrong length (the card refused the command's length)
err-wrong-parameters = wrong parameters P1-P2
err-offset = offset outside the file
err-chaining = command chaining or logical channel not supported as sent
err-ins-not-supported = instruction not supported by the card
err-cla-not-supported = class not supported by the card
err-memory-failure = card memory failure (the card may be damaged; ask the municipal counter for a replacement)
err-unexpected-status = unexpected status word { $sw } from the card
err-counter-not-accepted = this card does not accept the counter credential: certified by another national root, or expired
err-sm-missing = the card takes the counter's commands only under secure messaging (6987); authenticate the counter again
err-sm-rejected = the card refused the protected counter command (6988): it was altered, replayed or reordered between the counter and the card; the session is closed and nothing was written — check the reader and authenticate again

## Mutual authentication

err-card-not-authenticated = the card did not prove itself ({ $why }); it may be counterfeit, or the reader altered its answer: nothing was done
auth-bad-signature = its certificate is not of this national root, or its signature does not match its certificate and this exchange
auth-expired = its certificate has expired
auth-wrong-role = it presented a counter's certificate, not a card's
auth-malformed = its answer is malformed
auth-unknown-lifecycle = it signed an unknown life cycle status { $lcs }
auth-not-a-point = its key for the session is not a P-256 point
auth-other-card = its card information names card { $info }, its certificate card { $certificate }
err-card-without-key = this card has no key of its own (it was initialised before cards proved themselves to the counter); the counter cannot work on it: issue a replacement card
err-card-changed = wrong card: the card on the reader proved to be card { $found }, not { $expected }; nothing was done
err-outcome-unknown = outcome unknown: the card's answer to a protected command came without valid protection ({ $why }); whether the card did it is unknown, so the operation stays pending: check the card (juki counter pending)

## Refused on the host

err-card-expired = this card expired on { $expires }: it can no longer be used; return it at the municipal counter and apply for a new card

## Reader and transport

err-no-reader = no smart card reader found; is pcscd running and the reader connected?
err-reader-not-found = reader "{ $name }" not found; available readers: { $available }
err-no-card = no card in reader "{ $reader }"; insert the card and try again
err-no-card-in-any-reader = no card found in any reader; readers: { $available }
err-card-removed = the card was removed from reader "{ $reader }" during the operation: put it back and try again; a counter operation interrupted this way is listed by juki counter pending
err-reader-lost = the connection to reader "{ $reader }" was lost during the operation: the reader was unplugged or pcscd was restarted; reconnect it and try again
err-card-reset = the card in reader "{ $reader }" was reset during the operation: nothing more was sent to it; try again
err-pcsc = PC/SC error: { $detail }
err-sim = simulated card: { $detail }
err-protocol = malformed response from the card: { $detail }
err-invalid-input = { $detail }
err-crypto = cryptography: { $detail }
err-io = { $context }: { $detail }

## JPKI verdicts

err-jpki-tampered = REJECTED: the document does not match the signature: it was changed after it was signed, or the signature belongs to another document
err-jpki-bad-signature = REJECTED: the signature value is not valid for the signer's certificate
err-jpki-wrong-ca = REJECTED: the certificate was not issued by the trusted JPKI certification authority: { $detail }
err-jpki-revoked = REJECTED: the { $kind } (serial { $serial }) was revoked on { $date }: { $reason }
err-jpki-expired = REJECTED: the { $kind } (serial { $serial }) expired on { $date }
err-own-certificate-expired = the { $kind } on this card expired on { $date }: nothing was signed. A certificate lasts until the card expires at the latest; renew it (or the card) at the municipal counter.
err-jpki-not-yet-valid = REJECTED: the { $kind } (serial { $serial }) is valid only from { $date }
err-jpki-bad-crl = the CRL is not valid: { $detail }
err-jpki-crl-not-current = the CRL is not current: { $detail }; get the CA's current CRL (juki jpki crl)
err-jpki-no-crl = revocation cannot be checked: no CRL of { $issuer } was given; give --crl FILE, or --no-revocation-check to skip it knowingly
err-jpki-wrong-kind = REJECTED: wrong kind of certificate: { $detail }
err-jpki-signing-time-outside = REJECTED: the signing time { $time } is outside the certificate's validity
err-jpki-challenge-mismatch = REJECTED: the answer was not made for this challenge: a replayed or foreign answer
err-jpki-no-certificate = the card holds no JPKI certificates: they are issued at the municipal counter (juki counter jpki-issue)
err-jpki-malformed = malformed { $what }: { $detail }
err-jpki-ca = certification authority: { $detail }

## The counter's records and rules

err-counter-wrong-card-state = this card is { $state }: { $operation } is not possible ({ $hint })
err-counter-credential-not-valid = the counter credential of { $municipality } { $name } { $when }: ask the national authority for a new one (juki authority certify)
err-counter-audit-trail = the audit trail is damaged: { $detail }
err-counter-sqlite = counter database: { $detail }
err-counter-schema-too-new = the counter database has schema version { $found }, newer than this juki understands ({ $supported }); use a newer juki
err-counter-corrupt = the counter database holds an invalid { $what }; it was edited outside juki or is damaged
err-counter-unknown-card = no card with serial { $serial } in this counter's registry
err-counter-unknown-resident = no resident with resident code { $code } in this counter's registry
err-counter-duplicate-card = a card with serial { $serial } is already registered
err-counter-code-in-use = the resident code { $code } is already in use or was used before
err-counter-name-mismatch = resident { $code } is registered under another name; record a name change first
err-counter-transition = card { $serial } is { $from }; it cannot become { $to }
err-counter-wrong-state = card { $serial } is { $state }: { $operation } is not possible
err-counter-card-already-held = resident { $code } still holds card { $serial } ({ $state }); terminate it (return) before registering another
err-counter-duplicate-operator = an operator named { $name } already exists
err-counter-unknown-operator = no operator named { $name }
err-counter-wrong-credentials = wrong operator name or password
err-counter-locked-out = operator { $operator } is locked out after repeated wrong passwords until { $until }
err-counter-locked-until-unlocked = operator { $operator } is locked after repeated wrong passwords until a supervisor unlocks it: juki counter operator unlock { $operator } --operator SUPERVISOR
err-counter-not-allowed = not allowed: { $detail }
err-counter-last-supervisor = 権限がありません (not allowed): operator { $operator } is the last supervisor of this counter who can log in; without one nobody could add operators, change roles or register operator cards. Register another supervisor (with an operator card) first
err-counter-role-not-allowed = 権限がありません (not allowed): operator { $operator } has the role { $role }, which may not { $operation }. Ask an operator whose role allows it; roles are decided by the municipality
err-counter-role-supervisor-only = (only a supervisor may: { $operator } is not a supervisor)
err-counter-operator-card-refused = 操作者カードを確認できません (operator card refused): { $reason }. Put your own operator card in the operator reader (--operator-reader) and enter its 住基 PIN; a supervisor registers a card (juki counter operator card)
err-counter-operator-card-removed = 操作者カードが取り外されました (the operator card was removed from { $reader }): the operator's session is over and the operation was stopped; log in again with the card in the reader (juki counter pending lists an operation left unfinished)
err-counter-password-hash = password hashing: { $detail }
err-counter-unknown-pending = no pending operation #{ $id }
err-counter-not-pending = operation #{ $id } is already { $state }
err-net-not-a-node-certificate = not a 住基ネット node certificate: { $detail }
err-net-ca = network CA: { $detail }
err-net-setup = cannot connect to 住基ネット with this node's files: { $detail }
err-net-unreachable = 住基ネット's national server is not reachable: { $detail }
err-net-refused = 住基ネット's national server refused the request ({ $status } { $error }): { $detail }
err-net-bad-answer = 住基ネット's national server answered something this juki does not understand: { $detail }
err-copy-seal = REJECTED: the 住民票の写し is not signed with a municipality's seal (電子公印): { $detail }
err-copy-document = REJECTED: the signed document is not a 住民票の写し (広域交付) of the expected form: { $detail }
err-copy-mismatch = REJECTED: the 住民票の写し and its seal disagree: { $detail }
err-copy-not-issuable = No 住民票の写し can be issued: { $detail }
err-net-serve = the 住基ネット server cannot run: { $detail }
err-disclosure-unauthenticated = REJECTED: the national server did not accept the authentication with your certificate: { $detail }
err-disclosure-not-linked = This authentication certificate is not linked to a resident code; have it issued again at the counter: { $detail }
err-disclosure-proof = REJECTED: the national server's answer does not match the signed provision log; do not trust what it says: { $detail }
err-disclosure-log = REJECTED: the provision log is not the one seen before (or the head given): it was rewritten or forked; do not trust what the server says, and tell the municipality: { $detail }
err-disclosure-no-state = Where to keep what this computer saw is unknown (neither HOME nor XDG_STATE_HOME is set): give --state.
err-disclosure-state = The disclosure state file { $file } cannot be used: { $detail }
err-disclosure-witness = { $file } is not a head signed with the provision log's key: { $detail }
err-provision-log = 住基ネットの提供記録の改ざん・分岐を検知しました (住基ネット's provision log was tampered with or forked): { $detail }. Tell the national center and this counter's supervisor at once (docs/counter.md).
