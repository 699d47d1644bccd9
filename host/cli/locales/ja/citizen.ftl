# 住民の操作（status, info, pin, sign, auth, jpki status）と、受け取る行政機関等の検証
# （verify, verify-auth）。

citizen-reader-card = カードあり（ATR { $atr }）
citizen-reader-empty = カードなし
citizen-expired = このカードはもう利用できません
citizen-no-changes = なし
citizen-pin-changed = { $pin }を変更しました。
citizen-signature-attached = { $file }（CMS SignedData、DER形式、文書を含む）
citizen-signature-detached = { $file }（CMS SignedData、DER形式、文書とは別のファイルです。文書と一緒に送ってください）
citizen-signed = カードの署名用の鍵と署名用電子証明書で電子署名しました。
citizen-certificate = { $kind }、シリアル番号 { $serial }
citizen-not-revoked = 失効していません（{ $crl_date }の失効リスト、次回更新 { $next_update }）
citizen-revocation-skipped = 確認していません（--no-revocation-check）
citizen-verify-usage = FILE SIG、または SIG だけを指定してください
citizen-signature-valid = 有効：署名は有効です
citizen-signer = 署名者（公的個人認証サービスの認証局が証明した情報）:
citizen-claimed-time = { $time }（署名者の申告）
citizen-document-inside = 署名に含まれる文書
citizen-document = { $document }（{ $bytes }バイト、SHA-256 { $sha256 }）
citizen-verify-out-detached = --out: この署名は文書を含みません。文書は指定した FILE です
citizen-document-written = 署名された文書を { $file } に書き出しました。
citizen-answer-written = 応答: { $file }。サービスの提供者に送ってください（利用者証明用電子証明書、シリアル番号 { $serial }）。
citizen-auth-valid = 有効：本人であることを確認しました
citizen-auth-user = { $subject }（この電子証明書には個人情報は記録されていません）
citizen-cert-valid = 有効
citizen-cert-invalid = 無効: { $why }
citizen-recorded-in-cert = 電子証明書の記録事項:
citizen-revocation-not-checked = 失効確認をしていません。認証局の失効リストを --crl で指定してください（juki jpki crl）。
citizen-verify-copy-detached = 住民票の写しは文書を署名の中に含みます: 署名ファイル（.p7s）だけを指定してください。
citizen-copy-valid = 有効：住民票の写しの電子公印は有効です
citizen-copy-issuer = { $name }長（{ $code }）、交付番号 { $number }
citizen-seal-certificate = 電子公印の証明書
citizen-copy-text = 証明された住民票の写し:
