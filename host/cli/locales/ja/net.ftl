# 住基ネット: ネットワークの認証局、ノードの証明書、失効リスト。

net-role-municipality = 市区町村
net-role-agency = 行政機関
net-role-administrator = 運用管理者
net-role-server = サーバ（全国センター）
net-ca-certificate-label = 住基ネット認証局
net-ca-certificate = { $path }（「{ $subject }」、有効期限 { $until }）
net-ca-key = 認証局の鍵は { $path } です（モード 0600。オフラインで保管してください）。発行した証明書は { $index } に記録します。
net-cert-serial = シリアル番号
net-cert-role = 役割
net-cert-identity = 識別
net-cert-purpose = 利用事務
net-cert-until = 有効期限
net-cert-names = サーバ名
net-cert-files = ノードのファイル: 鍵 { $key }（モード 0600）、証明書 { $cert }、住基ネット認証局 { $ca }。
net-cert-revoked = 証明書 { $serial } を失効させました。失効リストを発行して（juki net crl）サーバに渡すと、以後その証明書は拒否されます。
net-cert-already-revoked = 証明書 { $serial } はすでに失効しています。
net-cert-none = 発行したノードの証明書はありません。
net-cert-state-valid = 有効
net-cert-state-expired = 期限切れ
net-cert-state-revoked = 失効 { $date }
net-cert-line = { $serial } { $role } { $identity }、有効期限 { $until }: { $state }
net-crl-written = 失効リスト { $path }（失効 { $revoked }件、次回更新 { $next_update }）。
