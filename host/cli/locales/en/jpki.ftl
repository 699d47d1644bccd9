# The JPKI certification authority's commands and the relying party's challenge.

jpki-ca-of = CA for the { $kind }
jpki-ca-certificate = { $path } ("{ $subject }", valid until { $until })
jpki-ca-keys = CA keys in { $dir } (mode 0600; keep them offline), records in { $db }.
jpki-ca-none-issued = No certificates issued.
jpki-ca-cert-valid = valid
jpki-ca-cert-revoked = REVOKED { $date } ({ $reason })
jpki-ca-cert = { $serial } { $kind } of card { $card }, until { $until }: { $state }
jpki-creating = creating { $path }
jpki-crl-written = { $path } ({ $revoked } revoked; next update { $next_update })
jpki-challenge-written = Challenge: { $path } ({ $bytes } random bytes).
