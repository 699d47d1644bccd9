# 失敗したときに住民や窓口の職員が読むメッセージ。CLI の下の層のエラー（juki_host::Error、
# juki_jpki::JpkiError、juki_counter::CounterError）の一つ一つに対応します。

## カードが拒否した

err-wrong-pin = { $tries_left ->
    [0] 暗証番号が違います。暗証番号はロックされました。市区町村の窓口で再設定してください。
   *[other] 暗証番号が違います。あと{ $tries_left }回間違えるとロックされます。
}
err-pin-blocked = 暗証番号がロックされています。市区町村の窓口で再設定してください。
err-security-status = 先に暗証番号の入力（または窓口の認証）が必要です。
err-card-suspended = このカードは一時停止中です（紛失・盗難の届出などにより窓口で利用を停止しています）。利用するには、市区町村の窓口で一時停止の解除を申請してください。
err-card-terminated = このカードは廃止されています（返納・廃止の手続きにより、鍵、暗証番号、個人情報は消去されました）。カード情報のみ読み取れます。新しいカードは市区町村の窓口で申請してください。
err-conditions = カードの状態が違うため、この操作はできません（未初期化・初期化済み・交付済みのいずれかが必要です）。
err-no-current-file = ファイルが選択されていないか、この操作に使えない種類のファイルです。
err-incompatible-file = 選択中のファイルにはこの命令を使えません。
err-wrong-data = カードが入力内容を受け付けませんでした（形式の誤り、推測されやすい暗証番号、または不正な鍵）。
err-file-not-found = カードにアプリケーションまたはファイルがありません（住基カードではない可能性があります）。
err-not-enough-space = カードのファイルに空きがありません。
err-wrong-length = カードが命令の長さを受け付けませんでした。
err-wrong-parameters = 命令のパラメータ（P1-P2）が不正です。
err-offset = ファイルの範囲外を指定しました。
err-chaining = コマンドチェーンまたは論理チャネルに対応していません。
err-ins-not-supported = カードが対応していない命令です。
err-cla-not-supported = カードが対応していないクラスです。
err-memory-failure = カードのメモリに書き込めませんでした（カードが損傷している可能性があります。窓口で再交付を受けてください）。
err-unexpected-status = カードから想定外の応答（ステータスワード { $sw }）がありました。
err-counter-not-accepted = このカードでは窓口の証明書を使えません（このカードとは別のルート認証局が発行した証明書か、有効期限が切れています）。
err-sm-missing = カードは窓口の命令を保護された通信（セキュアメッセージング）でしか受け付けません（6987）。窓口の認証をやり直してください。
err-sm-rejected = カードが保護された窓口の命令を拒否しました（6988）。窓口とカードの間で改ざん・再送・順序の入れ替えがありました。接続を閉じ、何も書き込んでいません。カードリーダを確認して認証をやり直してください。

## 相互認証

err-card-not-authenticated = カードの認証に失敗しました（{ $why }）。偽造されたカードか、カードリーダが応答を書き換えた可能性があります。何も処理していません。
auth-bad-signature = 国の認証局が証明したカードの証明書ではないか、カードの署名がその証明書とこのやり取りに一致しません
auth-expired = カードの証明書の有効期限が切れています
auth-wrong-role = カードではなく窓口の証明書が示されました
auth-malformed = カードの応答の形式が正しくありません
auth-unknown-lifecycle = カードが未知のライフサイクル状態（{ $lcs }）に署名しました
auth-not-a-point = 通信の鍵が P-256 の点ではありません
auth-other-card = カード情報はカード { $info } を、証明書はカード { $certificate } を示しています
err-card-without-key = このカードは相互認証に対応していません（カード自身の鍵がありません）。窓口ではこのカードを処理できないため、カードを再交付してください。
err-card-changed = カードが違います。カードリーダのカードはカード { $found } で、{ $expected } ではありません。何も処理していません。
err-outcome-unknown = 結果不明: 保護された命令へのカードの応答が正しく保護されていませんでした（{ $why }）。カードが処理したかどうか分からないため、処理は未完了のままです。カードを確認してください（juki counter pending）。

## 端末側で拒否

err-card-expired = このカードの有効期限（{ $expires }）が切れています。もう利用できません。市区町村の窓口に返納し、新しいカードを申請してください。

## カードリーダと通信

err-no-reader = カードリーダが見つかりません。pcscd が動いていて、カードリーダが接続されているか確認してください。
err-reader-not-found = カードリーダ「{ $name }」が見つかりません。使えるカードリーダ: { $available }
err-no-card = カードリーダ「{ $reader }」にカードが挿入されていません。カードを挿入してやり直してください。
err-no-card-in-any-reader = どのカードリーダにもカードが挿入されていません。カードリーダ: { $available }
err-card-removed = 処理の途中でカードリーダ「{ $reader }」からカードが取り外されました。カードを挿入してやり直してください。このように中断した窓口の処理は juki counter pending で確認できます。
err-reader-lost = 処理の途中でカードリーダ「{ $reader }」との接続が切れました（カードリーダが外されたか、pcscd が再起動されました）。接続し直してやり直してください。
err-card-reset = 処理の途中でカードリーダ「{ $reader }」のカードがリセットされました。それ以降は何も送っていません。やり直してください。
err-pcsc = PC/SC のエラー: { $detail }
err-sim = シミュレーションのカード: { $detail }
err-protocol = カードの応答の形式が正しくありません: { $detail }
err-invalid-input = { $detail }
err-crypto = 暗号処理: { $detail }
err-io = { $context }: { $detail }

## 公的個人認証の検証結果

err-jpki-tampered = 無効: 署名対象のデータが改ざんされています（署名の後に変更されたか、別の文書の署名です）。
err-jpki-bad-signature = 無効: 署名値が署名者の電子証明書と一致しません。
err-jpki-wrong-ca = 無効: 信頼する認証局が発行した電子証明書ではありません: { $detail }
err-jpki-revoked = 無効: 電子証明書（{ $kind }、シリアル番号 { $serial }）は { $date } に失効しています: { $reason }
err-jpki-expired = 無効: 電子証明書（{ $kind }、シリアル番号 { $serial }）の有効期間は { $date } に満了しています。
err-own-certificate-expired = このカードの{ $kind }は { $date } に有効期間が満了しています。署名はしていません。電子証明書はカードの有効期限を超えないため、カードの有効期限が切れた場合もこの表示になります。市区町村の窓口で更新してください。
err-jpki-not-yet-valid = 無効: 電子証明書（{ $kind }、シリアル番号 { $serial }）の有効期間は { $date } からです。
err-jpki-bad-crl = 失効リストが正しくありません: { $detail }
err-jpki-crl-not-current = 失効リストの有効期間外です: { $detail }。認証局の最新の失効リストを入手してください（juki jpki crl）。
err-jpki-no-crl = 失効確認ができません（{ $issuer } の失効リストがありません）。--crl FILE で指定するか、確認を省く場合は --no-revocation-check を指定してください。
err-jpki-wrong-kind = 無効: 電子証明書の種類が違います: { $detail }
err-jpki-signing-time-outside = 無効: 署名日時 { $time } が電子証明書の有効期間外です。
err-jpki-challenge-mismatch = 無効: この応答は今回のチャレンジに対するものではありません（再送または別の応答です）。
err-jpki-no-certificate = カードに電子証明書が格納されていません。電子証明書は市区町村の窓口で発行します（juki counter jpki-issue）。
err-jpki-malformed = { $what } の形式が正しくありません: { $detail }
err-jpki-ca = 認証局: { $detail }

## 窓口の記録と規則

err-counter-wrong-card-state = このカードは「{ $state }」のため、{ $operation } はできません（{ $hint }）。
err-counter-credential-not-valid = { $municipality } { $name } の窓口の証明書は有効期間外です（{ $when }）。国の認証局に新しい証明書を申請してください（juki authority certify）。
err-counter-audit-trail = 監査記録の改ざん・欠落があります: { $detail }
err-counter-sqlite = 窓口のデータベース: { $detail }
err-counter-schema-too-new = 窓口のデータベースはこの juki より新しい版（スキーマ { $found }、対応 { $supported }）で作られています。新しい juki を使ってください。
err-counter-corrupt = 窓口のデータベースに不正な { $what } があります。juki 以外で編集されたか、損傷しています。
err-counter-unknown-card = カード番号 { $serial } のカードはこの窓口の台帳にありません。
err-counter-unknown-resident = 住民票コード { $code } の住民はこの窓口の台帳にありません。
err-counter-duplicate-card = カード番号 { $serial } のカードはすでに登録されています。
err-counter-code-in-use = 住民票コード { $code } は使用中か、以前に使用されています。
err-counter-name-mismatch = 住民票コード { $code } の住民は別の氏名で登録されています。先に氏名の変更（記載事項変更）を記録してください。
err-counter-transition = カード { $serial } は「{ $from }」のため、「{ $to }」にできません。
err-counter-wrong-state = カード { $serial } は「{ $state }」のため、{ $operation } はできません。
err-counter-card-already-held = 住民票コード { $code } の住民は、まだカード { $serial }（{ $state }）を持っています。別のカードを登録する前に返納（廃止）してください。
err-counter-duplicate-operator = 操作者 { $name } はすでに登録されています。
err-counter-unknown-operator = 操作者 { $name } は登録されていません。
err-counter-wrong-credentials = 操作者名またはパスワードが違います。
err-counter-locked-out = 操作者 { $operator } はパスワードを続けて間違えたため、{ $until } までロックされています。
err-counter-locked-until-unlocked = 操作者 { $operator } はパスワードを続けて間違えたためロックされています。監督者による解除が必要です: juki counter operator unlock { $operator } --operator 監督者
err-counter-not-allowed = 権限がありません: { $detail }
err-counter-last-supervisor = 権限がありません: 操作者 { $operator } はこの窓口でログインできる最後の監督者です。監督者がいなくなると、操作者の登録、役割の変更、操作者カードの登録ができる人がいなくなります。先に別の監督者を（操作者カードとともに）登録してください
err-counter-role-not-allowed = 権限がありません: 操作者 { $operator } の役割「{ $role }」では「{ $operation }」を行えません。役割は市区町村が決めます。権限のある操作者に依頼してください
err-counter-role-supervisor-only = （監督者のみ可能です。{ $operator } は監督者ではありません: not a supervisor）
err-counter-operator-card-refused = 操作者カードを確認できません: { $reason }。ご自身の操作者カードを操作者用リーダー (--operator-reader) に置き、その住基暗証番号を入力してください。カードの登録は監督者が行います (juki counter operator card)
err-counter-operator-card-removed = 操作者カードが取り外されました ({ $reader }): 操作者のセッションは終了し、操作は中止されました。カードをリーダーに置いて再度ログインしてください（未完了の操作は juki counter pending で確認できます）
err-counter-password-hash = パスワードの処理: { $detail }
err-counter-unknown-pending = 未完了の処理 #{ $id } はありません。
err-counter-not-pending = 処理 #{ $id } はすでに { $state } です。
err-net-not-a-node-certificate = 住基ネットのノードの証明書ではありません: { $detail }
err-net-ca = 住基ネット認証局: { $detail }
err-net-setup = このノードのファイルでは住基ネットに接続できません: { $detail }
err-net-unreachable = 住基ネットの全国サーバに接続できません: { $detail }
err-net-refused = 住基ネットの全国サーバが要求を受け付けませんでした（{ $status } { $error }）: { $detail }
err-net-bad-answer = 住基ネットの全国サーバの応答を解釈できません: { $detail }
err-copy-seal = 無効: 住民票の写しの署名が市区町村の電子公印のものではありません（{ $detail }）。
err-copy-document = 無効: 署名された文書は住民票の写し（広域交付）の様式どおりではありません（{ $detail }）。
err-copy-mismatch = 無効: 住民票の写しとその電子公印が一致しません（{ $detail }）。
err-copy-not-issuable = 住民票の写しは交付できません: { $detail }
err-net-serve = 住基ネットサーバを稼働できません: { $detail }
err-disclosure-unauthenticated = 無効: 全国サーバは利用者証明用電子証明書による認証を受け付けませんでした（{ $detail }）。
err-disclosure-not-linked = この利用者証明用電子証明書は住民票コードと関連付けられていません。市区町村の窓口で電子証明書を再発行してください（{ $detail }）。
err-disclosure-proof = 無効: 全国サーバの回答は提供記録（署名付きログ）と一致しません。表示された内容を信用しないでください（{ $detail }）。
err-disclosure-log = 無効: 提供記録のログが、以前に確認したもの（または指定された先頭）と一致しません。ログの改ざん・分岐の疑いがあります。表示された内容を信用せず、市区町村の窓口に相談してください（{ $detail }）。
err-disclosure-no-state = 確認記録の保存先がわかりません（HOME も XDG_STATE_HOME もありません）: --state で指定してください。
err-disclosure-state = 開示請求の確認記録 { $file } を使えません: { $detail }
err-disclosure-witness = { $file } は提供記録ログの鍵で署名された先頭ではありません: { $detail }
err-provision-log = 住基ネットの提供記録の改ざん・分岐を検知しました: { $detail }。全国センターと、この窓口の監督者に直ちに連絡してください（docs/counter.md）。
