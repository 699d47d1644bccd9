//! The card's answer to reset (ISO/IEC 7816-3 §8.2), as vpcd hands it to pcscd.

/// The juki card's ATR.
///
/// | bytes | meaning |
/// |---|---|
/// | `3B` | TS: direct convention |
/// | `8A` | T0: TD1 follows; 10 historical bytes |
/// | `81` | TD1: TD2 follows; protocol T=1 |
/// | `31` | TD2: TA3 and TB3 follow; T=1 parameters |
/// | `FE` | TA3: IFSC 254 |
/// | `45` | TB3: BWI 4, CWI 5 |
/// | `80` | historical bytes: category indicator, compact-TLV objects follow |
/// | `73 90 21 C0` | card capabilities (ISO/IEC 7816-4 §8.1.1.2.7): selection by full DF name and by file identifier; data unit 1 byte, proprietary write behaviour; **command chaining and extended Lc/Le**, no logical channels |
/// | `54 4A 55 4B 49` | card issuer's data: `JUKI` |
/// | `4A` | TCK: XOR of T0 to the last historical byte |
pub const ATR: [u8; 17] = [
    0x3B, 0x8A, 0x81, 0x31, 0xFE, 0x45, // TS T0 TD1 TD2 TA3 TB3
    0x80, // category indicator
    0x73, 0x90, 0x21, 0xC0, // card capabilities
    0x54, b'J', b'U', b'K', b'I', // card issuer's data
    0x4A, // TCK
];

#[cfg(test)]
mod tests {
    use super::ATR;

    #[test]
    fn tck_makes_the_xor_of_t0_to_tck_zero() {
        let xor = ATR[1..].iter().fold(0u8, |acc, b| acc ^ b);
        assert_eq!(xor, 0, "TCK wrong");
    }

    #[test]
    fn structure_matches_t0_and_interface_bytes() {
        assert_eq!(ATR[0], 0x3B);
        let k = usize::from(ATR[1] & 0x0F);
        // TS, T0, TD1, TD2, TA3, TB3, historical bytes, TCK
        assert_eq!(ATR.len(), 6 + k + 1);
        assert_eq!(ATR[2] & 0x0F, 1, "TD1 announces T=1");
        assert_eq!(ATR[3] & 0x0F, 1, "TD2 announces T=1");
    }

    #[test]
    fn historical_bytes_announce_chaining_and_extended_length() {
        let hist = &ATR[6..ATR.len() - 1];
        assert_eq!(hist[0], 0x80, "category indicator: compact-TLV");
        // Walk the compact-TLV objects and find the card capabilities (tag 7, length 3).
        let mut rest = &hist[1..];
        let mut caps = None;
        while let Some((&tl, tail)) = rest.split_first() {
            let len = usize::from(tl & 0x0F);
            assert!(
                tail.len() >= len,
                "compact-TLV object overruns the historical bytes"
            );
            if tl >> 4 == 7 {
                caps = Some(&tail[..len]);
            }
            rest = &tail[len..];
        }
        let caps = caps.expect("card capabilities present");
        assert_eq!(caps.len(), 3);
        assert_eq!(caps[2] & 0x80, 0x80, "command chaining");
        assert_eq!(caps[2] & 0x40, 0x40, "extended Lc and Le");
    }
}
