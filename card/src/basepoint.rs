//! A precomputed table of multiples of the P-256 generator, for fast constant-time `k·G`.
//!
//! p256 0.13 multiplies the generator like any other point: 4-bit windows, 252 doublings and 64
//! additions. With this table (the fixed-base method of p256 0.14's `precomputed-tables`) the
//! same product costs 4 doublings and 65 mixed additions.
//!
//! Layout: 33 windows of 8 affine points; window `i` holds `[1..=8]·(256^i·G)`. The scalar is
//! recoded into 65 signed radix-16 digits `d_j ∈ [-8, 8)` (`k = Σ d_j·16^j`), then
//!
//! `k·G = 16·Σ_i d_{2i+1}·(256^i·G) + Σ_i d_{2i}·(256^i·G)`:
//!
//! first the odd digits are added up, the sum is doubled four times, then the even digits are
//! added. Every digit is looked up by reading all 8 entries of its window with
//! [`ConditionallySelectable`] and negating the result conditionally: the memory access pattern
//! and the operations do not depend on the scalar.
//!
//! The table takes no `alloc`: [`BasepointTable::new`] returns it by value and the caller decides
//! where it lives (a `Box` on a host, a `static` initialised once on a chip). It holds only
//! public data (multiples of the generator).

use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::subtle::{
    Choice, ConditionallyNegatable, ConditionallySelectable, ConstantTimeEq,
};
use p256::elliptic_curve::zeroize::Zeroize;
use p256::elliptic_curve::PrimeField;
use p256::{AffinePoint, ProjectivePoint, Scalar};

/// Points per window: the multiples `1..=8` of the window's base.
const ENTRIES: usize = 8;
/// Windows: one per byte of the scalar, plus one for the carry out of the top digit.
const WINDOWS: usize = 33;
/// Signed radix-16 digits of a scalar: two per byte plus the carry.
const DIGITS: usize = 2 * WINDOWS - 1;

/// `[1..=8]·B` for one base point `B`, in affine coordinates (for mixed additions).
#[derive(Clone, Copy)]
struct Window([AffinePoint; ENTRIES]);

impl Window {
    const EMPTY: Window = Window([AffinePoint::IDENTITY; ENTRIES]);

    /// `[1..=8]·base`.
    fn new(base: &ProjectivePoint) -> Window {
        // p256 0.13's field element lacks the `Invert` trait that `BatchNormalize` needs: one
        // inversion per point (once, when the table is built).
        let mut window = Window::EMPTY;
        let mut acc = *base;
        for entry in window.0.iter_mut() {
            *entry = acc.to_affine();
            acc += base;
        }
        window
    }

    /// `digit·B` for `digit ∈ [-8, 8]`, in constant time: every entry is read.
    fn select(&self, digit: i8) -> AffinePoint {
        // All ones when negative, zero otherwise (arithmetic shift).
        let sign = digit >> 7;
        let negative = Choice::from((sign & 1) as u8);
        // |digit|, without a branch: (d + s) ^ s.
        let magnitude = (digit.wrapping_add(sign) ^ sign) as u8;
        let mut point = AffinePoint::IDENTITY;
        for (multiple, entry) in (1u8..).zip(self.0.iter()) {
            point.conditional_assign(entry, multiple.ct_eq(&magnitude));
        }
        point.conditional_negate(negative);
        point
    }
}

/// The multiples of the P-256 generator for [`BasepointTable::mul`]: 33 windows × 8 affine
/// points (see the [module documentation](self)).
#[derive(Clone)]
pub struct BasepointTable {
    windows: [Window; WINDOWS],
}

impl BasepointTable {
    /// Computes the table (a few milliseconds on a host: 264 additions and as many field
    /// inversions, 256 doublings).
    pub fn new() -> BasepointTable {
        let mut table = BasepointTable {
            windows: [Window::EMPTY; WINDOWS],
        };
        let mut base = ProjectivePoint::GENERATOR;
        for window in table.windows.iter_mut() {
            *window = Window::new(&base);
            // The next window's base: 256 times this one's.
            for _ in 0..8 {
                base = base.double();
            }
        }
        table
    }

    /// `k·G`, in constant time.
    pub fn mul(&self, k: &Scalar) -> ProjectivePoint {
        let mut digits = radix16(k);
        let mut acc = ProjectivePoint::IDENTITY;
        // Odd digits: d_{2i+1} with window i (32 of them; zip stops at the shorter).
        for (window, digit) in self.windows.iter().zip(digits.iter().skip(1).step_by(2)) {
            acc += window.select(*digit);
        }
        acc = acc.double().double().double().double();
        // Even digits: d_{2i} with window i (33 of them).
        for (window, digit) in self.windows.iter().zip(digits.iter().step_by(2)) {
            acc += window.select(*digit);
        }
        digits.zeroize();
        acc
    }
}

impl Default for BasepointTable {
    fn default() -> Self {
        BasepointTable::new()
    }
}

/// The 65 signed radix-16 digits of `k`, least significant first: `k = Σ d_j·16^j` with
/// `d_j ∈ [-8, 8)` for `j < 64` and `d_64 ∈ {0, 1}`. Constant time.
fn radix16(k: &Scalar) -> [i8; DIGITS] {
    let mut bytes = k.to_repr();
    let mut digits = [0i8; DIGITS];
    // Unsigned nibbles first: the representation is big-endian.
    for (pair, byte) in digits.chunks_exact_mut(2).zip(bytes.iter().rev()) {
        if let [low, high] = pair {
            *low = (byte & 0x0F) as i8;
            *high = (byte >> 4) as i8;
        }
    }
    bytes.zeroize();
    // Recentre each digit from [0, 16] into [-8, 8), carrying into the next one.
    let mut carry = 0i8;
    for digit in digits.iter_mut() {
        let value = *digit + carry;
        carry = (value + 8) >> 4;
        *digit = value - (carry << 4);
    }
    digits
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use p256::elliptic_curve::ff::Field;
    use p256::elliptic_curve::ops::Reduce;
    use p256::U256;
    use rand_core::OsRng;
    use std::boxed::Box;

    fn table() -> Box<BasepointTable> {
        Box::new(BasepointTable::new())
    }

    fn check(table: &BasepointTable, k: &Scalar) {
        assert_eq!(
            table.mul(k).to_affine(),
            (ProjectivePoint::GENERATOR * k).to_affine(),
            "k = {:?}",
            k.to_repr()
        );
    }

    #[test]
    fn digits_recompose_the_scalar() {
        let sixteen = Scalar::from(16u64);
        for k in [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::random(&mut OsRng),
        ] {
            let digits = radix16(&k);
            let mut sum = Scalar::ZERO;
            for &d in digits.iter().rev() {
                assert!((-8..8).contains(&d));
                let magnitude = Scalar::from(u64::from(d.unsigned_abs()));
                sum = sum * sixteen + if d < 0 { -magnitude } else { magnitude };
            }
            assert_eq!(sum, k);
        }
    }

    #[test]
    fn table_product_equals_the_generic_product() {
        let table = table();
        let mut edge = std::vec![
            Scalar::ZERO,
            Scalar::ONE,
            Scalar::from(2u64),
            Scalar::from(7u64),
            Scalar::from(8u64),
            Scalar::from(9u64),
            Scalar::from(15u64),
            Scalar::from(16u64),
            Scalar::from(255u64),
            Scalar::from(256u64),
            Scalar::from(u64::MAX),
            -Scalar::ONE,
            -Scalar::from(2u64),
            -Scalar::from(8u64),
            -Scalar::from(256u64),
        ];
        // 2^255 (below n) and its neighbours, 2^255 − 1 = 0x7FFF…FF, and all nibbles 8 or F.
        let two_255 = Scalar::reduce(U256::ONE.shl_vartime(255));
        edge.extend([two_255, two_255 - Scalar::ONE, two_255 + Scalar::ONE]);
        edge.push(Scalar::reduce(U256::from_be_hex(
            "8888888888888888888888888888888888888888888888888888888888888888",
        )));
        edge.push(Scalar::reduce(U256::from_be_hex(
            "7777777777777777777777777777777777777777777777777777777777777777",
        )));
        edge.push(Scalar::reduce(U256::from_be_hex(
            "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632540",
        )));
        for k in &edge {
            check(&table, k);
        }
        for _ in 0..50 {
            check(&table, &Scalar::random(&mut OsRng));
        }
    }
}
