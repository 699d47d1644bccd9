# The national authority: the root, counter credentials, card manufacture.

authority-card-not-blank = this card is already { $state }; only a blank card can be initialised
authority-card-initialised = Card { $serial } initialised: { $state }; its own key is certified by the national root.
authority-root-key = { $path } (keep it offline; mode 0600)
authority-root-public-key = { $path } (written into every card by `juki card init --root DIR`)
authority-credential = Counter credential for { $municipality } { $name }, valid { $from } to { $until }.
authority-counter-key = { $path } (mode 0600)
