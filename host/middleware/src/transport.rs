//! The [`Transport`] trait: how the host reaches a card (PC/SC reader or in-process simulator).
//!
//! A transport moves one raw APDU to the card and brings back the raw response (data ‖ SW1 SW2).
//! Framing above that (command chaining, `61xx`/GET RESPONSE, `6Cxx`, extended length) is done
//! once, in [`crate::framing`], for every transport.

use crate::error::Result;

/// A connection to one card.
pub trait Transport {
    /// Sends one command APDU and returns the card's response, status word included.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>>;

    /// Whether the card and reader take extended Lc/Le (one APDU for large data).
    fn supports_extended_length(&self) -> bool;

    /// Runs `f` inside an exclusive transaction: no other application can talk to the card (or
    /// reset it) until `f` returns, so a PIN verified in `f` guards only `f`'s own commands.
    ///
    /// The transaction begins before `f` runs and ends when it returns, whether it succeeded
    /// or not. A transaction in which a command may have raised the card's security status
    /// ([`raises_security_status`]: a PIN verified, the counter authenticated) ends with a
    /// reset of the card, as part of ending it, so that nobody who comes after — another
    /// application, or this one in its next transaction — finds the PIN verified; any other
    /// transaction leaves the card as it is. Nested calls run inside the outer one.
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()>;

    /// A human-readable name of the reader or card image, for messages.
    fn name(&self) -> String;
}

/// Whether a command APDU can raise the card's security status: VERIFY with a PIN (not the
/// status query, which has no data) and EXTERNAL AUTHENTICATE (the counter's session), whatever
/// the class byte (chaining, secure messaging). A transaction that sent one ends with a reset.
pub fn raises_security_status(apdu: &[u8]) -> bool {
    use juki_card::command::Ins;
    match apdu {
        [_, ins, _, _, _, ..] if *ins == Ins::Verify.byte() => true,
        [_, ins, ..] => *ins == Ins::ExternalAuthenticate.byte(),
        _ => false,
    }
}

/// The transport inside an exclusive transaction, noting whether any command sent through it
/// could have raised the card's security status (the transports end such a transaction with a
/// reset). Nested transactions run inside this one.
pub(crate) struct Watched<'a> {
    inner: &'a mut dyn Transport,
    raised: bool,
}

impl<'a> Watched<'a> {
    pub(crate) fn new(inner: &'a mut dyn Transport) -> Watched<'a> {
        Watched {
            inner,
            raised: false,
        }
    }

    /// Whether a command sent may have raised the security status (sent, not necessarily
    /// accepted: a reset costs nothing when it was refused).
    pub(crate) fn raised(&self) -> bool {
        self.raised
    }
}

impl Transport for Watched<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.raised |= raises_security_status(apdu);
        self.inner.transmit(apdu)
    }
    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

/// Forwards [`Transport`] through pointers to a transport: `&mut T` (the card inside
/// [`Transport::exclusive`]) and `Box<T>` (the CLI's `Box<dyn Transport>`).
macro_rules! forward_transport {
    ($($pointer:ty),*) => {$(
        impl<T: Transport + ?Sized> Transport for $pointer {
            fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
                (**self).transmit(apdu)
            }
            fn supports_extended_length(&self) -> bool {
                (**self).supports_extended_length()
            }
            fn exclusive(
                &mut self,
                f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>,
            ) -> Result<()> {
                (**self).exclusive(f)
            }
            fn name(&self) -> String {
                (**self).name()
            }
        }
    )*};
}

forward_transport!(&mut T, Box<T>);

/// A transport that records every command APDU sent through it, inside
/// [`Transport::exclusive`] too: how many APDUs an operation takes (tests, benchmarks).
#[derive(Debug)]
pub struct Recording<T> {
    inner: T,
    sent: Vec<Vec<u8>>,
}

impl<T: Transport> Recording<T> {
    /// Records what goes to `inner`.
    pub fn new(inner: T) -> Recording<T> {
        Recording {
            inner,
            sent: Vec::new(),
        }
    }

    /// The command APDUs sent since the last call, oldest first.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.sent)
    }
}

impl<T: Transport> Transport for Recording<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.sent.push(apdu.to_vec());
        self.inner.transmit(apdu)
    }

    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }

    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        let sent = &mut self.sent;
        self.inner.exclusive(&mut |t: &mut dyn Transport| {
            let mut inside = Recording {
                inner: t,
                sent: std::mem::take(sent),
            };
            let result = f(&mut inside);
            *sent = inside.sent;
            result
        })
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}

/// Whether an ATR announces extended Lc/Le in its card capabilities (ISO/IEC 7816-4 §8.1.1.2.7:
/// compact-TLV tag `7x` with three bytes, bit `40` of the third byte).
///
/// The historical bytes are found by walking T0 and the TDi interface bytes; a malformed ATR
/// simply answers `false`.
pub fn atr_announces_extended_length(atr: &[u8]) -> bool {
    let Some(&t0) = atr.get(1) else {
        return false;
    };
    let historical_len = usize::from(t0 & 0x0F);
    // Walk the interface bytes.
    let mut pos = 2usize;
    let mut y = t0 >> 4;
    loop {
        let mut td = None;
        for bit in 0..4 {
            if y & (1 << bit) != 0 {
                if bit == 3 {
                    td = atr.get(pos).copied();
                }
                pos += 1;
            }
        }
        match td {
            Some(td) => y = td >> 4,
            None => break,
        }
    }
    let Some(hist) = atr.get(pos..pos + historical_len) else {
        return false;
    };
    // Category indicator 0x80: compact-TLV objects follow.
    let Some((&category, mut rest)) = hist.split_first() else {
        return false;
    };
    if category != 0x80 {
        return false;
    }
    while let Some((&tl, tail)) = rest.split_first() {
        let tag = tl >> 4;
        let len = usize::from(tl & 0x0F);
        let Some(value) = tail.get(..len) else {
            return false;
        };
        if tag == 0x7 && len == 3 {
            return value.get(2).is_some_and(|b| b & 0x40 != 0);
        }
        rest = tail.get(len..).unwrap_or(&[]);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_length_from_atr() {
        // 3B 8x 80 01 | 80 73 00 00 C0 (card capabilities: chaining + extended) | TCK
        let atr = [0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0x00, 0x00, 0xC0, 0x00];
        assert!(atr_announces_extended_length(&atr));
        let atr = [0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0x00, 0x00, 0x80, 0x00];
        assert!(!atr_announces_extended_length(&atr));
        assert!(!atr_announces_extended_length(&[]));
        assert!(!atr_announces_extended_length(&[0x3B, 0x8F]));
    }
}
