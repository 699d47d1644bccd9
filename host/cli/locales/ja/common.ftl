# juki コマンドの共通の語とラベル（日本語）。

error = エラー: { $message }
error-writing-output = エラー: 出力を書き込めませんでした: { $detail }
card-image-created = （新しい白紙のカードイメージ { $path } を作成しました）

## 「ラベル: 値」の行のラベル

label-reader = カードリーダ
label-card-state = カードの状態
label-card-serial = カード番号
label-issued-by = 交付地
label-issue-date = 交付年月日
label-valid-until = 有効期限
label-photo = 顔写真
label-name = 氏名
label-address = 住所
label-birth = 生年月日
label-sex = 性別
label-resident-code = 住民票コード
label-new-resident-code = 新しい住民票コード
label-changes = 変更情報
label-name-changed = 氏名の変更
label-address-changed = 住所の変更
label-birth-changed = 生年月日の変更
label-sex-changed = 性別の変更
label-expired = 有効期限切れ
label-document = 文書
label-signature = 署名
label-signing-time = 署名日時
label-certificate = 電子証明書
label-issuer = 発行者
label-validity = 有効期間
label-revocation = 失効確認
label-verdict = 検証結果
label-checked-at = 検証日時
label-checked-on = 確認日
label-authentication = 利用者証明
label-user = 利用者
label-state = 状態
label-registry = 台帳
label-audit-record = 監査記録
label-representative = 法定代理人
label-sign-key-fingerprint = 署名用の鍵の指紋
label-root-key = 国の認証局の秘密鍵
label-root-public-key = 国の認証局の公開鍵
label-counter-key = 窓口の秘密鍵
label-counter-certificate = 窓口の証明書

## 値

photo-with = あり
photo-without = なし
sex-male = 男
sex-female = 女
sex-not-applicable = 適用不能
lifecycle-blank = 未初期化
lifecycle-initialised = 初期化済み（未交付）
lifecycle-issued = 交付済み
lifecycle-suspended = 一時停止中
lifecycle-terminated = 廃止（返納・失効済み）
terminate-returned = 返納
terminate-death = 死亡
terminate-expired = 有効期限切れ
terminate-code-changed = 住民票コードの変更
cert-sign = 署名用電子証明書
cert-auth = 利用者証明用電子証明書
cert-ca = 認証局の証明書
revocation-four-info-changed = 4情報の変更
revocation-code-changed = 住民票コードの変更
revocation-suspended = カードの一時停止
revocation-terminated = カードの廃止
revocation-reissued = 新しい電子証明書の発行
revocation-requested = 本人の申請

## 暗証番号と入力

pin-juki = 住基カードの暗証番号（数字4桁）
pin-auth = 利用者証明用電子証明書の暗証番号（数字4桁）
pin-sign = 署名用電子証明書の暗証番号（英大文字・数字6〜16桁）
pin-status-verified = この接続で確認済み
pin-status-tries = あと{ $tries }回入力できます
pin-status-blocked = ロックされています。市区町村の窓口で再設定してください
pin-rule-four-digits = 暗証番号は数字4桁で入力してください
pin-rule-weak = 容易に推測される暗証番号（同じ数字の繰り返し、1234や4321のような並び、生年月日）は設定できません。別の番号を選んでください
pin-rule-sign = 署名用電子証明書の暗証番号は、英大文字（A〜Z）と数字（0〜9）をそれぞれ1文字以上含む6〜16桁です
prompt-pin = { $pin }を入力してください:{" "}
prompt-new-pin = 新しい{ $pin }:{" "}
prompt-new-pin-again = 確認のため、新しい{ $pin }をもう一度:{" "}
prompt-new-pin-differs = 2回の入力が一致しません。もう一度入力してください。
prompt-again = 確認のため、もう一度（{ $prompt }）:{" "}
prompt-entries-differ = 2回の入力が一致しません。何も変更していません
prompt-no-pin = 暗証番号が入力されていません
prompt-nothing-entered = 何も入力されていません
prompt-stdin-ended = すべての暗証番号が入力される前に標準入力が終わりました（1行に1つずつ入力してください）
prompt-reading-terminal = 端末からの暗証番号の読み取り
prompt-reading-stdin = 標準入力からの暗証番号の読み取り
prompt-opening-terminal = 端末を開く処理
prompt-reading-answer = 回答の読み取り
prompt-yes-no = [y/N]

## コマンドラインの値（実行前に確認します）

arg-date = 「{ $value }」は日付ではありません。YYYY-MM-DD または YYYYMMDD で指定してください
arg-sex = 性別は 1（男）、2（女）、9（適用不能）のいずれかです（「{ $value }」は指定できません）
arg-resident-code-length = 住民票コードは11桁の数字です
arg-resident-code-digits = 住民票コードは数字（0〜9）だけです
arg-resident-code-check-digit = 住民票コードの検査数字が合いません。入力の誤りがないか確認してください
arg-municipality = 「{ $value }」は地方公共団体コードではありません。検査数字を含む6桁で指定してください（例: 131016）
arg-audit-head = 「{ $value }」は監査記録の先頭ではありません。juki counter audit verify が表示した SEQ:HASH を指定してください
label-copy-issuer = 交付者
label-disclosure-log = 提供記録
label-municipality = 住所地の市区町村
