# Shared words and labels of the juki command (English).

error = error: { $message }
error-writing-output = error: the output could not be written: { $detail }
card-image-created = (created a new blank card image { $path })

## Labels of "label: value" lines

label-reader = reader
label-card-state = card state
label-card-serial = card serial
label-issued-by = issued by
label-issue-date = issue date
label-valid-until = valid until
label-photo = photo
label-name = name
label-address = address
label-birth = date of birth
label-sex = sex
label-resident-code = resident code
label-new-resident-code = new resident code
label-changes = changes
label-name-changed = name changed
label-address-changed = address changed
label-birth-changed = birth changed
label-sex-changed = sex changed
label-expired = EXPIRED
label-document = document
label-signature = signature
label-signing-time = signing time
label-certificate = certificate
label-issuer = issuer
label-validity = validity
label-revocation = revocation
label-verdict = verdict
label-checked-at = checked at
label-checked-on = checked on
label-authentication = authentication
label-user = user
label-state = state
label-registry = registry
label-audit-record = audit record
label-representative = legal representative
label-sign-key-fingerprint = signing key fingerprint
label-root-key = national root key
label-root-public-key = root public key
label-counter-key = counter key
label-counter-certificate = counter certificate

## Values

photo-with = with photo
photo-without = without photo
sex-male = male
sex-female = female
sex-not-applicable = not applicable
lifecycle-blank = blank
lifecycle-initialised = initialised, not issued
lifecycle-issued = issued
lifecycle-suspended = suspended
lifecycle-terminated = terminated (returned or invalidated)
terminate-returned = returned
terminate-death = death of the holder
terminate-expired = expired
terminate-code-changed = resident code changed
cert-sign = signing certificate
cert-auth = authentication certificate
cert-ca = CA certificate
revocation-four-info-changed = the 4 info changed
revocation-code-changed = the resident code changed
revocation-suspended = the card was suspended
revocation-terminated = the card was terminated
revocation-reissued = superseded by a new certificate
revocation-requested = at the holder's request

## PINs and prompts

pin-juki = resident card PIN (4 digits)
pin-auth = authentication PIN (4 digits)
pin-sign = signing password (6-16 of A-Z, 0-9)
pin-status-verified = verified in this session
pin-status-tries = { $tries ->
    [one] 1 try left
   *[other] { $tries } tries left
}
pin-status-blocked = LOCKED: reset it at the municipal counter
pin-rule-four-digits = the PIN must be exactly 4 digits
pin-rule-weak = this PIN is too easy to guess (all the same digit, a run like 1234 or 4321, or your birthday); choose another
pin-rule-sign = the signing password must be 6 to 16 characters of capital letters A-Z and digits 0-9, with at least one letter and one digit
prompt-pin = Enter the { $pin }:{" "}
prompt-new-pin = New { $pin }:{" "}
prompt-new-pin-again = New { $pin } again:{" "}
prompt-new-pin-differs = The two entries of the new PIN differ; please try again.
prompt-again = { $prompt } again:{" "}
prompt-entries-differ = the two entries differ; nothing was changed
prompt-no-pin = no PIN entered
prompt-nothing-entered = nothing entered
prompt-stdin-ended = standard input ended before all PINs were given (one PIN per line)
prompt-reading-terminal = reading the PIN from the terminal
prompt-reading-stdin = reading the PIN from standard input
prompt-opening-terminal = opening the terminal
prompt-reading-answer = reading the answer
prompt-yes-no = [y/N]

## Values on the command line (refused before anything runs)

arg-date = "{ $value }" is not a date: give YYYY-MM-DD or YYYYMMDD
arg-sex = the sex is 1 (male), 2 (female) or 9 (not applicable), not "{ $value }"
arg-resident-code-length = a resident code has 11 digits
arg-resident-code-digits = a resident code has only digits 0-9
arg-resident-code-check-digit = the check digit of the resident code is wrong; check for a typing mistake
arg-municipality = "{ $value }" is not a local government code: 6 digits with the check digit (e.g. 131016)
arg-audit-head = "{ $value }" is not an audit trail head: give SEQ:HASH as printed by juki counter audit verify
label-copy-issuer = issued by
label-disclosure-log = log
label-municipality = municipality of residence
