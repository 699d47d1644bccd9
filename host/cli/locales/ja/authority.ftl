# 国の認証局：ルート鍵、窓口の証明書、カードの初期化。

authority-card-not-blank = このカードはすでに「{ $state }」です。初期化できるのは白紙のカードだけです
authority-card-initialised = カード { $serial } を初期化しました（{ $state }）。カード自身の鍵は国の認証局が証明しています。
authority-root-key = { $path }（オフラインで保管してください。モード 0600）
authority-root-public-key = { $path }（`juki card init --root DIR` ですべてのカードに書き込まれます）
authority-credential = { $municipality } { $name } の窓口の証明書を発行しました（有効期間 { $from }〜{ $until }）。
authority-counter-key = { $path }（モード 0600）
