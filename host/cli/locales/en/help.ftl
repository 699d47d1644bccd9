# The help of each command (`juki … --help`): what it does, in one line. `help-juki` and
# `help-juki-long` are the command's own; the rest follow the subcommand path.

help-juki = juki: the resident registry card (住基カード) at home and at the municipal counter.
help-juki-long = juki: the resident registry card (住基カード) at home and at the municipal counter.

    PINs and passwords are never given on the command line: they are asked for without echo at a terminal, or read one per line from standard input when it is not a terminal, in the order asked.

    Exit codes: 0 success, 1 other error, 2 usage error, 3 wrong PIN, 4 PIN locked (reset at the counter), 5 no reader or no card, 6 refused (by the card: state or security condition; or by juki: card expired, credential not valid, registry rules, an operator without the right), 7 operator login refused (wrong name or password, locked out, locked until a supervisor unlocks), 8 audit trail damaged, 9 signature, certificate or login answer rejected (tampered, foreign CA, revoked, expired).

    Messages are in Japanese under a Japanese locale (the first of LC_ALL, LC_MESSAGES, LANG that is set starts with `ja`), in English otherwise. A value refused on the command line (a date, sex, 住民票コード or 地方公共団体コード) is a usage error (2).

    `JUKI_TODAY=YYYY-MM-DD` sets today's date for training and tests (card and credential validity, issue date); never set it at a real counter.
help-readers = List the PC/SC readers and whether each holds a card
help-status = Card information and PIN tries left (no PIN needed)
help-info = Show the resident code, the 4 info and the change information (asks the 住基 PIN)
help-pin = PIN status or change
help-pin-status = Tries left of each PIN (uses no try)
help-pin-change = Change a PIN: asks the current one, then the new one
help-sign = Sign an e-application (電子申請): a CMS signature (RFC 5652) with the card's signing key and certificate; asks the sign password (署名用パスワード). Writes FILE.p7s (detached) by default
help-verify = The agency's check of a signed e-application (no card needed): the signature, the chain to the trusted JPKI signing CA, the validity period and the CRL. Prints the verdict and the signer's 4 info; exits 9 when the signature is rejected
help-auth = 利用者証明: answer a relying party's challenge with the card's authentication key; asks the auth PIN (利用者証明用パスワード)
help-verify-auth = The relying party's check of an answer made by `juki auth`: the challenge, the authentication certificate's chain, validity and CRL. Exits 9 when it is rejected
help-jpki = 公的個人認証 (JPKI): the certification authority, CRLs, challenges, and the citizen's own certificates
help-jpki-ca = The certification authority (認証局)
help-jpki-ca-init = Make a new CA: DIR/sign-ca.key, DIR/auth-ca.key (0600), DIR/sign-ca.pem, DIR/auth-ca.pem (the CA certificates the agencies trust) and DIR/ca.db
help-jpki-ca-list = The certificates the CA issued, with their state
help-jpki-crl = Publish the CA's CRLs (失効リスト): DIR/sign.crl and DIR/auth.crl (PEM), valid 7 days
help-jpki-challenge = A relying party's random challenge for `juki auth` (32 bytes)
help-jpki-status = 自己の電子証明書の有効性確認: are my certificates valid now? Reads the authentication certificate (free) and the signing certificate (asks the sign password), and checks them against the CA certificates given with --ca-cert (never against those the card carries) and the CRLs given. Exits 9 when a certificate is not valid
help-card = Card manufacturing
help-card-init = Initialise a blank card with the national root public key
help-counter = Municipal counter operations: operators, the card's lifecycle, registry and audit trail
help-counter-operator = Operators (操作者) of this counter
help-counter-operator-add = Register an operator (asks the new operator's password, twice at a terminal). The first operator of a new counter needs no login but the municipality's credential (--credential), which binds the counter's data to its municipality, and is the counter's supervisor (監督者); later ones are added by a logged-in operator (--operator, whose password is asked first)
help-counter-operator-unlock = ロック解除: unlock an operator locked after repeated wrong passwords. Done by a logged-in supervisor (--operator, whose password is asked first), never by the operator themself
help-counter-issue = 交付: issue an initialised card to a resident (the resident enters the 住基 PIN, auth PIN and sign password). The resident code is generated at random
help-counter-identify = 本人確認: the resident enters the 住基 PIN; shows the 4 info, the resident code and the card's validity
help-counter-reset-pin = パスワード再設定: reset a PIN with full tries, locked or not (the resident enters the new PIN)
help-counter-update = 記載事項変更・継続利用: write a new address and/or name and the change information (転入, 転居, 氏名変更); the resident enters the 住基 PIN. Also for a card issued by another municipality. The JPKI certificates are flagged for revocation
help-counter-change-code = 住民票コードの変更: a new random code; the card is terminated (code-changed) and the registry shows that a new card is needed
help-counter-suspend = 一時停止: suspend a card (lost, stolen, …); only the counter can resume it
help-counter-resume = 一時停止の解除: resume a suspended card
help-counter-terminate = 返納・廃止: terminate a card, irreversibly (keys, PINs and personal data erased)
help-counter-jpki-issue = 電子証明書の発行: issue the JPKI signing and authentication certificates of an issued card (the resident enters the 住基 PIN; both key pairs are generated anew on the card). Needs --ca. The card's earlier certificates are revoked
help-counter-jpki-revoke = 電子証明書の失効: revoke a card's JPKI certificates at the CA, on the resident's request or when a revocation was left pending. Needs --ca. The card need not be present
help-counter-audit = The audit trail (監査記録)
help-counter-audit-verify = Check the whole hash chain; prints the head (SEQ:HASH) every time; exits 8 naming the first fault
help-counter-audit-show = One card's history, oldest first (for a resident's disclosure request, 開示請求)
help-counter-pending = Unfinished operations (the process stopped between the card and the records): list them, or close one after checking the card
help-counter-pending-resolve = Close an unfinished operation after checking the card: the card in the reader (if it is the operation's card) tells whether a suspend, resume, terminate or change-code was done
help-counter-net = 住基ネット: the updates of this counter waiting to be delivered to the network
help-counter-net-status = What is waiting (no login): how many updates, the oldest, the next attempt and why the last one failed, and an update the network refused, which stops the queue
help-counter-net-retry = After the cause of a refused update was dealt with: deliver it again at the next sync (audited)
help-authority = National root and municipality credentials (files; no card)
help-authority-init = Make the national root key pair: DIR/root.key (0600) and DIR/root.pub
help-authority-certify = Certify a municipality's counter: OUT/counter.key (0600) and OUT/counter.cvc
help-demo = Run the card's whole life on the built-in simulator (no setup, no input)

# The help of each option (`juki … --help`): `opt-ID` for an option that means the same
# everywhere, `opt-PATH--ID` where one command gives it its own meaning.

opt-counter-update--address = The new address
opt-counter-issue--address = 住所
opt-answer = The answer received
opt-attached = Put the document inside the signature (attached SignedData) instead of beside it
opt-birth = 生年月日, YYYYMMDD or YYYY-MM-DD
opt-jpki-crl--ca = The CA directory
opt-counter--ca = The JPKI certification authority's directory: needed by jpki-issue and jpki-revoke, and with it, update, change-code, suspend and terminate revoke the card's certificates automatically. Default: $JUKI_CA_DIR
opt-ca-cert = The trusted JPKI CA certificate: sign-ca.pem of the CA for signatures, auth-ca.pem for logins
opt-jpki-status--ca-cert = The trusted JPKI CA certificates, as published by the CA: sign-ca.pem and auth-ca.pem (give --ca-cert twice). The CA certificates on the card must be these
opt-jpki-ca-list--card = Only those of this card
opt-counter-audit-show--card = The card serial
opt-counter--card = The card the clerk is serving: the serial printed on it. The card on the reader must prove to be that card in the mutual authentication, or nothing is done (a reader relaying another card is refused)
opt-auth--challenge = The challenge file sent by the relying party (16 to 1024 bytes)
opt-verify-auth--challenge = The challenge that was sent
opt-counter-dir = The counter's data directory (registry, audit trail). Default: $JUKI_COUNTER_DIR, else ./counter-data
opt-credential = The counter credential directory (counter.key, counter.cvc)
opt-counter-pending-resolve--credential = The counter credential: the card in the reader proves its serial and state (without it, the card is not consulted and the operation is closed as not confirmed)
opt-counter-operator-add--credential = The municipality's counter credential: required for the first operator
opt-jpki-status--crl = The CA's CRLs (sign.crl, auth.crl); without them revocation is not checked
opt-crl = The CA's current CRL (sign.crl or auth.crl from `juki jpki crl`); may be given more than once
opt-date = The date of the change, YYYY-MM-DD (default: today)
opt-jpki-ca-list--dir = The CA directory
opt-jpki-ca-init--dir = Where to make it (created with mode 0700)
opt-authority-init--dir = Where to write the files
opt-file = The file to sign
opt-head = A head noted earlier (SEQ:HASH): also prove that nothing up to it was rewritten
opt-id = The operation's number (as listed)
opt-municipality = 地方公共団体コード, 6 digits with check digit (e.g. 131016)
opt-authority-certify--name = Municipality name (e.g. 千代田区)
opt-counter-operator-unlock--name = The locked operator
opt-counter-update--name = The new name
opt-counter-operator-add--name = The new operator's name
opt-counter-issue--name = 氏名
opt-no-revocation-check = Skip the revocation check (the verdict then says so)
opt-no-sign = Do not read the signing certificate (no password asked)
opt-note = What was checked and found
opt-counter-net-retry--note = What was done about the refusal
opt-operator = The operator (asks the operator's password first)
opt-counter-operator-add--operator = The operator who adds it (not for the first one)
opt-counter-operator-unlock--operator = The supervisor who unlocks (asks the supervisor's password first)
opt-jpki-challenge--out = Where to write it
opt-auth--out = Where to write the answer (default: CHALLENGE.answer)
opt-authority-certify--out = Where to write the credential
opt-sign--out = Where to write the signature (default: FILE.p7s, or FILE.p7m with --attached)
opt-jpki-crl--out = Where to write them
opt-verify--out = Write the signed document found inside an attached signature here
opt-paths = FILE SIG for a detached signature; just SIG for an attached one
opt-photo = The card carries the holder's photo (顔写真付き)
opt-pin = Which PIN
opt-reader = Reader: a PC/SC reader name (or a unique part of it), or `sim:PATH` for a simulated card image run in-process. Default: the first reader with a card
opt-counter-update--reason = The reason (転入, 転居, 婚姻, …)
opt-counter-terminate--reason = Why
opt-counter-suspend--reason = Why (紛失, 盗難, …)
opt-representative = Legal representative (法定代理人): required for a resident under 15
opt-resident-code = A registered resident's 住民票コード: a new card for them (after a change of code, a loss or a return). Default: a new resident with a new random code
opt-card-init--root = The national root's directory (`root.key`, `root.pub` from `juki authority init`): the card gets the root public key, generates its own key, and the root certifies that key with the card's serial (manufacture)
opt-authority-certify--root = The root directory (root.key)
opt-card-init--serial = The card's serial (1 to 16 of A-Z, 0-9, '-'; default: JK and 10 random digits)
opt-counter-issue--serial = The serial the clerk expects (default: the serial the card proves, set at manufacture)
opt-sex = 性別: 1 male, 2 female, 9 not applicable
opt-stay-until = End of the period of stay (在留期間) of a foreign resident: the card expires then if that is earlier than 10 years after issue
opt-supervisor = Register a supervisor (監督者), who may unlock other operators; only a supervisor registers one (the first operator is one)
opt-valid-years = Validity in years from today (1 to 20)
opt-without-card = Terminate card SERIAL in the registry without the card: for a card that cannot take part (no key of its own, initialised before the mutual authentication; or not presented). The card itself is not changed; its JPKI certificates are revoked
help-net = 住基ネット: the network's own certification authority, node certificates and CRLs
help-net-ca = The network's certification authority
help-net-ca-init = Make the network CA: DIR/ca.key (0600), DIR/ca.pem (every node's trust anchor) and DIR/index.json
help-net-cert = Node certificates: issue, revoke, list
help-net-cert-issue = Issue a node certificate with a new P-256 key: OUT/node.key (0600), OUT/node.pem and OUT/ca.pem, what the node's client or server loads
help-net-cert-revoke = Revoke a node certificate; it is refused once the server has the next CRL
help-net-cert-list = The node certificates the CA issued, with their state
help-net-crl = Publish the network CA's CRL (PEM), valid 7 days: the server refuses every certificate it lists, and every client once it is past its next update
opt-net-ca-init--dir = Where to make it (created with mode 0700)
opt-net-cert-issue--ca = The network CA's directory
opt-net-cert-issue--role = The node's role
opt-net-cert-issue--id = The node's identity: a municipality's 地方公共団体コード (e.g. 131016), an agency's, an administrator's or the server's name
opt-net-cert-issue--purpose = An agency's legal purpose (e.g. 年金・恩給の現況確認); at least one for an agency, give it once per purpose
opt-net-cert-issue--dns = A DNS name of the server (default with --ip absent: localhost and 127.0.0.1)
opt-net-cert-issue--ip = An IP address of the server
opt-net-cert-issue--days = Days of validity from now (1 to 3650)
opt-net-cert-issue--out = The node's directory to write (created with mode 0700)
opt-net-cert-revoke--ca = The network CA's directory
opt-net-cert-revoke--serial = The certificate's serial number (hex, as listed)
opt-net-cert-list--ca = The network CA's directory
opt-net-crl--ca = The network CA's directory
opt-net-crl--out = Where to write it
