# 住基ネット: the network's certification authority, node certificates and CRLs.

net-role-municipality = municipality
net-role-agency = agency
net-role-administrator = administrator
net-role-server = server (national center)
net-ca-certificate-label = Network CA
net-ca-certificate = { $path } ("{ $subject }", valid until { $until })
net-ca-key = CA key { $path } (mode 0600; keep it offline); certificates issued are recorded in { $index }.
net-cert-serial = Serial
net-cert-role = Role
net-cert-identity = Identity
net-cert-purpose = Purpose
net-cert-until = Valid until
net-cert-names = Server names
net-cert-files = Node files: key { $key } (mode 0600), certificate { $cert }, network CA { $ca }.
net-cert-revoked = Certificate { $serial } revoked. Publish the CRL (juki net crl) and give it to the server: it refuses the certificate from then on.
net-cert-already-revoked = Certificate { $serial } was already revoked.
net-cert-none = No node certificates issued.
net-cert-state-valid = valid
net-cert-state-expired = expired
net-cert-state-revoked = REVOKED { $date }
net-cert-line = { $serial } { $role } { $identity }, until { $until }: { $state }
net-crl-written = CRL { $path } ({ $revoked } revoked; next update { $next_update }).
