# 公的個人認証サービスの認証局の操作と、サービス提供者のチャレンジ。

jpki-ca-of = { $kind }の認証局
jpki-ca-certificate = { $path }（「{ $subject }」、有効期限 { $until }）
jpki-ca-keys = 認証局の鍵は { $dir } にあります（モード 0600。オフラインで保管してください）。記録は { $db } です。
jpki-ca-none-issued = 発行した電子証明書はありません。
jpki-ca-cert-valid = 有効
jpki-ca-cert-revoked = 失効 { $date }（{ $reason }）
jpki-ca-cert = { $serial } カード { $card } の{ $kind }、有効期限 { $until }: { $state }
jpki-creating = { $path } の作成
jpki-crl-written = { $path }（失効 { $revoked }件、次回更新 { $next_update }）
jpki-challenge-written = チャレンジ: { $path }（{ $bytes }バイトの乱数）。
