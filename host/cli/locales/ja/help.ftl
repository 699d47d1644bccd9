# 各コマンドのヘルプ（`juki … --help`）: 何をするかを1行で。`help-juki` と `help-juki-long` は
# juki 自体の説明、ほかはサブコマンドの経路の順です。

help-juki = juki: 自宅と市区町村の窓口で使う住民基本台帳カード（住基カード）。
help-juki-long = juki: 自宅と市区町村の窓口で使う住民基本台帳カード（住基カード）。

    暗証番号・パスワードはコマンドラインでは渡しません。端末では画面に表示せずに入力を求め、標準入力が端末でないときは、求める順に1行に1つずつ読み取ります。

    終了コード: 0 成功、1 その他のエラー、2 使い方の誤り、3 暗証番号の誤り、4 暗証番号のロック（窓口で再設定）、5 カードリーダまたはカードがない、6 拒否（カードによる: 状態またはセキュリティ条件。juki による: カードの有効期限切れ、窓口の証明書が無効、台帳の規則、権限のない操作者）、7 操作者のログイン拒否（名前またはパスワードの誤り、一時的なロック、監督者による解除が必要なロック）、8 監査記録の破損、9 署名・電子証明書・利用者証明の応答の拒否（改ざん、信頼しない認証局、失効、有効期間満了）。

    メッセージは日本語のロケール（LC_ALL、LC_MESSAGES、LANG のうち最初に設定されているものが `ja` で始まる）では日本語、それ以外では英語です。コマンドラインで受け付けられない値（日付、性別、住民票コード、地方公共団体コード）は使い方の誤り（2）です。

    `JUKI_TODAY=YYYY-MM-DD` は研修とテストのために今日の日付を設定します（カードと窓口の証明書の有効期間、交付日）。実際の窓口では設定しないでください。
help-readers = PC/SC のカードリーダと、それぞれにカードが入っているかを一覧表示します
help-status = カード情報と暗証番号の残り回数（暗証番号は不要）
help-info = 住民票コード、4情報、変更情報を表示します（住基カードの暗証番号を入力）
help-pin = 暗証番号の状態の確認と変更
help-pin-status = 各暗証番号の残り回数（回数は減りません）
help-pin-change = 暗証番号を変更します: 現在の暗証番号、次に新しい暗証番号を入力します
help-sign = 電子申請に署名します: カードの署名用の鍵と署名用電子証明書による CMS 署名（RFC 5652）。署名用パスワードを入力します。既定では FILE.p7s（分離署名）を書き出します
help-verify = 行政機関による電子申請の署名の検証（カード不要）: 署名、信頼する署名用認証局までの証明書の連鎖、有効期間、失効リスト。結果と署名者の4情報を表示し、署名を拒否したときは 9 で終了します
help-auth = 利用者証明: サービス提供者のチャレンジにカードの利用者証明用の鍵で応答します（利用者証明用パスワードを入力）
help-verify-auth = `juki auth` の応答のサービス提供者による検証: チャレンジ、利用者証明用電子証明書の連鎖、有効期間、失効リスト。拒否したときは 9 で終了します
help-jpki = 公的個人認証サービス（JPKI）: 認証局、失効リスト、チャレンジ、自分の電子証明書
help-jpki-ca = 認証局
help-jpki-ca-init = 新しい認証局を作成します: DIR/sign-ca.key、DIR/auth-ca.key（0600）、DIR/sign-ca.pem、DIR/auth-ca.pem（行政機関等が信頼する認証局の証明書）、DIR/ca.db
help-jpki-ca-list = 認証局が発行した電子証明書とその状態
help-jpki-crl = 認証局の失効リストを公開します: DIR/sign.crl と DIR/auth.crl（PEM、有効期間7日）
help-jpki-challenge = `juki auth` のためのサービス提供者の乱数チャレンジ（32バイト）
help-jpki-status = 自己の電子証明書の有効性確認: 利用者証明用電子証明書（暗証番号不要）と署名用電子証明書（署名用パスワードを入力）を読み、--ca-cert で指定した認証局の証明書（カードが持つものは使いません）と指定した失効リストで確認します。有効でない証明書があれば 9 で終了します
help-card = カードの製造
help-card-init = 未初期化のカードに国の認証局の公開鍵を設定して初期化します
help-counter = 市区町村の窓口の業務: 操作者、カードの交付から廃止まで、台帳と監査記録
help-counter-operator = この窓口の操作者
help-counter-operator-add = 操作者を登録します（新しい操作者のパスワードを入力。端末では2回）。新しい窓口の最初の操作者はログインせず、市区町村の窓口の証明書（--credential）で窓口のデータを市区町村に結び付け、監督者になります。以降の操作者はログインした操作者（--operator、先にそのパスワードを入力）が登録します
help-counter-operator-unlock = ロック解除: パスワードを続けて間違えてロックされた操作者を解除します。ログインした監督者（--operator、先にそのパスワードを入力）が行い、本人は解除できません
help-counter-issue = 交付: 初期化済みのカードを住民に交付します（住民が住基カードの暗証番号、利用者証明用パスワード、署名用パスワードを設定）。住民票コードは無作為に付番します
help-counter-identify = 本人確認: 住民が住基カードの暗証番号を入力し、4情報、住民票コード、カードの有効期限を表示します
help-counter-reset-pin = パスワード再設定: ロックの有無にかかわらず暗証番号を再設定し、回数を元に戻します（住民が新しい暗証番号を入力）
help-counter-update = 記載事項変更・継続利用: 新しい住所や氏名と変更情報（転入、転居、氏名変更）を書き込みます。住民が住基カードの暗証番号を入力します。他の市区町村が交付したカードにも使えます。電子証明書は失効の対象になります
help-counter-change-code = 住民票コードの変更: 新しいコードを無作為に付番します。カードは廃止（コード変更）され、台帳には新しいカードが必要と記録されます
help-counter-suspend = 一時停止: カードの利用を停止します（紛失、盗難など）。解除できるのは窓口だけです
help-counter-resume = 一時停止の解除: 一時停止中のカードを再び使えるようにします
help-counter-terminate = 返納・廃止: カードを廃止します。元に戻せません（鍵、暗証番号、個人情報を消去）
help-counter-jpki-issue = 電子証明書の発行: 交付済みのカードに署名用と利用者証明用の電子証明書を発行します（住民が住基カードの暗証番号を入力。鍵ペアはカードの中で新しく生成）。--ca が必要です。それまでの電子証明書は失効します
help-counter-jpki-revoke = 電子証明書の失効: 住民の申出により、または保留になっていた失効を、認証局で失効させます。--ca が必要です。カードは不要です
help-counter-audit = 監査記録
help-counter-audit-verify = ハッシュの連鎖全体を確認し、毎回その先頭（SEQ:HASH）を表示します。異常があれば最初のものを示して 8 で終了します
help-counter-audit-show = カード1枚の履歴を古い順に表示します（住民の開示請求に）
help-counter-pending = 未完了の操作（カードと記録の間で処理が止まったもの）: 一覧表示、またはカードを確認して完了させます
help-counter-pending-resolve = カードを確認して未完了の操作を完了させます: リーダのカード（その操作のカードであれば）が、一時停止・解除・廃止・住民票コードの変更が行われたかを示します
help-counter-net = 住基ネット: この窓口の、送信待ちの更新
help-counter-net-status = 送信待ちのもの（ログイン不要）: 件数、最も古いもの、次の送信と前回の失敗の理由、住基ネットが受け付けなかった更新（以降の送信を止めます）
help-counter-net-retry = 受け付けられなかった更新の原因を解消した後: 次の送信で再送信します（監査記録に残ります）
help-authority = 国の認証局と市区町村の窓口の証明書（ファイルのみ、カード不要）
help-authority-init = 国の認証局の鍵ペアを作成します: DIR/root.key（0600）と DIR/root.pub
help-authority-certify = 市区町村の窓口を証明します: OUT/counter.key（0600）と OUT/counter.cvc
help-demo = 内蔵のシミュレータでカードの一生を実行します（準備も入力も不要）

# 各オプションのヘルプ（`juki … --help`）: どこでも同じ意味のオプションは `opt-ID`、
# コマンドごとに意味が異なるものは `opt-PATH--ID`。

opt-counter-update--address = 新しい住所
opt-counter-issue--address = 住所
opt-answer = 受け取った応答
opt-attached = 文書を署名の外ではなく中に入れます（attached SignedData）
opt-birth = 生年月日、YYYYMMDD または YYYY-MM-DD
opt-jpki-crl--ca = 認証局のディレクトリ
opt-counter--ca = 公的個人認証サービスの認証局のディレクトリ: jpki-issue と jpki-revoke に必要です。指定すると update、change-code、suspend、terminate でカードの電子証明書を自動的に失効させます。既定: $JUKI_CA_DIR
opt-ca-cert = 信頼する JPKI 認証局の証明書: 署名には署名用認証局の sign-ca.pem、ログインには利用者証明用認証局の auth-ca.pem
opt-jpki-status--ca-cert = 認証局が公開している、信頼する JPKI 認証局の証明書: sign-ca.pem と auth-ca.pem（--ca-cert を2回指定）。カードの中の認証局の証明書はこれと同じでなければなりません
opt-jpki-ca-list--card = このカードのものだけ
opt-counter-audit-show--card = カード番号
opt-counter--card = 職員が応対しているカード: カードに印字されたカード番号。リーダのカードが相互認証でそのカードであると証明しなければ何もしません（別のカードを中継するリーダは拒否します）
opt-auth--challenge = サービス提供者が送ったチャレンジのファイル（16〜1024バイト）
opt-verify-auth--challenge = 送ったチャレンジ
opt-counter-dir = 窓口のデータのディレクトリ（台帳、監査記録）。既定: $JUKI_COUNTER_DIR、なければ ./counter-data
opt-credential = 窓口の証明書のディレクトリ（counter.key、counter.cvc）
opt-counter-pending-resolve--credential = 窓口の証明書: リーダのカードがカード番号と状態を証明します（指定しないとカードは確認せず、操作は「未確認」として完了します）
opt-counter-operator-add--credential = 市区町村の窓口の証明書: 最初の操作者の登録に必要です
opt-jpki-status--crl = 認証局の失効リスト（sign.crl、auth.crl）。指定しないと失効は確認しません
opt-crl = 認証局の最新の失効リスト（`juki jpki crl` の sign.crl または auth.crl）。複数回指定できます
opt-date = 変更の日付、YYYY-MM-DD（既定: 今日）
opt-jpki-ca-list--dir = 認証局のディレクトリ
opt-jpki-ca-init--dir = 作成する場所（モード 0700 で作成）
opt-authority-init--dir = ファイルを書き出す場所
opt-file = 署名するファイル
opt-head = 以前に控えた先頭（SEQ:HASH）: そこまで書き換えられていないことも確認します
opt-id = 操作の番号（一覧のとおり）
opt-municipality = 地方公共団体コード、検査数字付きの6桁（例: 131016）
opt-authority-certify--name = 市区町村名（例: 千代田区）
opt-counter-operator-unlock--name = ロックされた操作者
opt-counter-update--name = 新しい氏名
opt-counter-operator-add--name = 新しい操作者の名前
opt-counter-issue--name = 氏名
opt-no-revocation-check = 失効の確認を省きます（結果にその旨が表示されます）
opt-no-sign = 署名用電子証明書を読みません（パスワードは尋ねません）
opt-note = 確認したことと、その結果
opt-counter-net-retry--note = 受け付けられなかった原因について行ったこと
opt-operator = 操作者（先に操作者のパスワードを入力）
opt-counter-operator-add--operator = 登録する操作者（最初の操作者のときは不要）
opt-counter-operator-unlock--operator = ロックを解除する監督者（先に監督者のパスワードを入力）
opt-jpki-challenge--out = 書き出す場所
opt-auth--out = 応答を書き出す場所（既定: CHALLENGE.answer）
opt-authority-certify--out = 窓口の証明書を書き出す場所
opt-sign--out = 署名を書き出す場所（既定: FILE.p7s、--attached のときは FILE.p7m）
opt-jpki-crl--out = 書き出す場所
opt-verify--out = 文書を含む署名の中にある署名済みの文書をここに書き出します
opt-paths = 分離署名なら FILE SIG、文書を含む署名なら SIG のみ
opt-photo = 顔写真付きのカード
opt-pin = どの暗証番号か
opt-reader = カードリーダ: PC/SC のリーダ名（またはその一部）、またはプロセス内で動かす模擬カードのイメージ `sim:PATH`。既定: カードが入っている最初のリーダ
opt-counter-update--reason = 事由（転入、転居、婚姻など）
opt-counter-terminate--reason = 事由
opt-counter-suspend--reason = 事由（紛失、盗難など）
opt-representative = 法定代理人: 15歳未満の住民には必要です
opt-resident-code = 登録済みの住民の住民票コード: その住民への新しいカード（コードの変更、紛失、返納の後）。既定: 新しい住民に新しいコードを無作為に付番
opt-card-init--root = 国の認証局のディレクトリ（`juki authority init` の `root.key`、`root.pub`）: カードは国の認証局の公開鍵を受け取り、自身の鍵を生成し、国の認証局がその鍵をカード番号とともに証明します（製造）
opt-authority-certify--root = 国の認証局のディレクトリ（root.key）
opt-card-init--serial = カード番号（A-Z、0-9、'-' の1〜16文字。既定: JK と無作為の10桁）
opt-counter-issue--serial = 職員が想定するカード番号（既定: 製造時に設定され、カードが証明するカード番号）
opt-sex = 性別: 1 男、2 女、9 適用不能
opt-stay-until = 外国人住民の在留期間の満了日: 交付から10年より早ければ、カードの有効期限はその日になります
opt-supervisor = 監督者を登録します。監督者は他の操作者のロックを解除できます。監督者を登録できるのは監督者だけです（最初の操作者は監督者です）
opt-valid-years = 今日からの有効年数（1〜20）
opt-without-card = カードなしで台帳のカード SERIAL を廃止します: 手続きに参加できないカード（自身の鍵を持たない、相互認証より前に初期化されたカード、または提示されないカード）のため。カード自体は変わりません。電子証明書は失効します
help-net = 住基ネット: ネットワーク専用の認証局、ノードの証明書、失効リスト
help-net-ca = 住基ネットの認証局
help-net-ca-init = 住基ネット認証局を作成します: DIR/ca.key（0600）、DIR/ca.pem（すべてのノードが信頼する証明書）、DIR/index.json
help-net-cert = ノードの証明書: 発行、失効、一覧
help-net-cert-issue = 新しい P-256 鍵でノードの証明書を発行します: OUT/node.key（0600）、OUT/node.pem、OUT/ca.pem（ノードのクライアントまたはサーバが読み込むもの）
help-net-cert-revoke = ノードの証明書を失効させます。サーバが次の失効リストを受け取ると拒否されます
help-net-cert-list = 認証局が発行したノードの証明書とその状態
help-net-crl = 住基ネット認証局の失効リスト（PEM、有効 7 日）を発行します: サーバは載っている証明書をすべて拒否し、次回更新を過ぎるとすべてのクライアントを拒否します
opt-net-ca-init--dir = 作成する場所（モード 0700 で作成）
opt-net-cert-issue--ca = 住基ネット認証局のディレクトリ
opt-net-cert-issue--role = ノードの役割
opt-net-cert-issue--id = ノードの識別: 市区町村は地方公共団体コード（例: 131016）、行政機関・運用管理者・サーバは名称
opt-net-cert-issue--purpose = 行政機関の利用事務（例: 年金・恩給の現況確認）。行政機関には 1 つ以上、事務ごとに 1 回ずつ指定
opt-net-cert-issue--dns = サーバの DNS 名（--ip もなければ既定は localhost と 127.0.0.1）
opt-net-cert-issue--ip = サーバの IP アドレス
opt-net-cert-issue--days = 今からの有効日数（1〜3650）
opt-net-cert-issue--out = 書き込むノードのディレクトリ（モード 0700 で作成）
opt-net-cert-revoke--ca = 住基ネット認証局のディレクトリ
opt-net-cert-revoke--serial = 証明書のシリアル番号（一覧に表示される 16 進数）
opt-net-cert-list--ca = 住基ネット認証局のディレクトリ
opt-net-crl--ca = 住基ネット認証局のディレクトリ
opt-net-crl--out = 書き込む場所
