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
//! The table is constant data: `card/build.rs` computes it with p256's arithmetic and writes its
//! coordinates as limbs, which are evaluated at compile time into the `static`
//! [`GENERATOR_TABLE`]. On a chip it is in flash (16.9 KB with 32-bit limbs as with 64-bit:
//! 264 entries of two 32-byte field elements), not RAM; the card uses it unless told otherwise
//! ([`Card::without_basepoint_table`](crate::Card::without_basepoint_table)). It holds only
//! public data (multiples of the generator).
//!
//! p256 0.13 has no `const` constructor of a point from its coordinates, so an entry is a pair
//! of field elements (p256's `expose-field`) and the product is accumulated here in projective
//! coordinates, with the complete formulas p256 itself uses for `a = −3` (Renes–Costello–Batina
//! 2015, algorithms 5 and 6, as in `primeorder`); the sum is converted to an [`AffinePoint`]
//! once, through p256's SEC1 decoding (which checks that it is on the curve).

use p256::elliptic_curve::sec1::FromEncodedPoint;
use p256::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use p256::elliptic_curve::zeroize::Zeroize;
use p256::elliptic_curve::PrimeField;
use p256::{AffinePoint, EncodedPoint, FieldElement, ProjectivePoint, Scalar};

/// Points per window: the multiples `1..=8` of the window's base.
const ENTRIES: usize = 8;
/// Windows: one per byte of the scalar, plus one for the carry out of the top digit.
const WINDOWS: usize = 33;
/// Signed radix-16 digits of a scalar: two per byte plus the carry.
const DIGITS: usize = 2 * WINDOWS - 1;

/// `2^64 mod p`, for [`field_element`].
const TWO_64: FieldElement = FieldElement::from_u64(1 << 32).square();

/// The field element of canonical little-endian 64-bit limbs, by constant evaluation (p256's
/// public `const` arithmetic: `((l3·2^64 + l2)·2^64 + l1)·2^64 + l0`).
const fn field_element(limbs: [u64; 4]) -> FieldElement {
    let [l0, l1, l2, l3] = limbs;
    FieldElement::from_u64(l3)
        .multiply(&TWO_64)
        .add(&FieldElement::from_u64(l2))
        .multiply(&TWO_64)
        .add(&FieldElement::from_u64(l1))
        .multiply(&TWO_64)
        .add(&FieldElement::from_u64(l0))
}

/// The curve's `b` (`y² = x³ − 3x + b`).
const EQUATION_B: FieldElement = field_element([
    0x3bce_3c3e_27d2_604b,
    0x651d_06b0_cc53_b0f6,
    0xb3eb_bd55_7698_86bc,
    0x5ac6_35d8_aa3a_93e7,
]);

/// One multiple of a window's base, in affine coordinates (for mixed additions). Never the
/// identity: a zero digit is flagged by [`Window::select`].
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    x: FieldElement,
    y: FieldElement,
}

impl Entry {
    const ZERO: Entry = Entry {
        x: FieldElement::ZERO,
        y: FieldElement::ZERO,
    };

    /// From canonical limbs (the source build.rs writes).
    const fn from_limbs(x: [u64; 4], y: [u64; 4]) -> Entry {
        Entry {
            x: field_element(x),
            y: field_element(y),
        }
    }
}

impl ConditionallySelectable for Entry {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Entry {
            x: FieldElement::conditional_select(&a.x, &b.x, choice),
            y: FieldElement::conditional_select(&a.y, &b.y, choice),
        }
    }
}

/// `[1..=8]·B` for one base point `B`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Window([Entry; ENTRIES]);

impl Window {
    /// `digit·B` for `digit ∈ [-8, 8]`, and whether it is the identity (`digit = 0`), in
    /// constant time: every entry is read.
    fn select(&self, digit: i8) -> (Entry, Choice) {
        // All ones when negative, zero otherwise (arithmetic shift).
        let sign = digit >> 7;
        let negative = Choice::from((sign & 1) as u8);
        // |digit|, without a branch: (d + s) ^ s.
        let magnitude = (digit.wrapping_add(sign) ^ sign) as u8;
        let mut entry = Entry::ZERO;
        for (multiple, candidate) in (1u8..).zip(self.0.iter()) {
            entry.conditional_assign(candidate, multiple.ct_eq(&magnitude));
        }
        entry.y = FieldElement::conditional_select(&entry.y, &-entry.y, negative);
        (entry, magnitude.ct_eq(&0))
    }
}

/// A point in projective coordinates `(X : Y : Z)`, `(0 : 1 : 0)` the identity.
#[derive(Clone, Copy)]
struct Projective {
    x: FieldElement,
    y: FieldElement,
    z: FieldElement,
}

impl ConditionallySelectable for Projective {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Projective {
            x: FieldElement::conditional_select(&a.x, &b.x, choice),
            y: FieldElement::conditional_select(&a.y, &b.y, choice),
            z: FieldElement::conditional_select(&a.z, &b.z, choice),
        }
    }
}

impl Projective {
    const IDENTITY: Projective = Projective {
        x: FieldElement::ZERO,
        y: FieldElement::ONE,
        z: FieldElement::ZERO,
    };

    /// `self + digit·B`, in constant time (`self` unchanged for a zero digit).
    fn add_digit(&mut self, window: &Window, digit: i8) {
        let (entry, identity) = window.select(digit);
        let sum = self.add_mixed(&entry);
        self.conditional_assign(&sum, !identity);
    }

    /// `self + rhs` for an affine `rhs` that is not the identity: complete mixed addition for
    /// `a = −3` (Renes–Costello–Batina 2015, algorithm 5; p256's own `add_mixed`).
    fn add_mixed(&self, rhs: &Entry) -> Projective {
        let xx = self.x * rhs.x;
        let yy = self.y * rhs.y;
        let xy_pairs = ((self.x + self.y) * (rhs.x + rhs.y)) - (xx + yy);
        let yz_pairs = (rhs.y * self.z) + self.y;
        let xz_pairs = (rhs.x * self.z) + self.x;

        let bz_part = xz_pairs - (EQUATION_B * self.z);
        let bz3_part = bz_part.double() + bz_part;
        let yy_m_bzz3 = yy - bz3_part;
        let yy_p_bzz3 = yy + bz3_part;

        let z3 = self.z.double() + self.z;
        let bxz_part = (EQUATION_B * xz_pairs) - (z3 + xx);
        let bxz3_part = bxz_part.double() + bxz_part;
        let xx3_m_zz3 = xx.double() + xx - z3;

        Projective {
            x: (yy_p_bzz3 * xy_pairs) - (yz_pairs * bxz3_part),
            y: (yy_p_bzz3 * yy_m_bzz3) + (xx3_m_zz3 * bxz3_part),
            z: (yy_m_bzz3 * yz_pairs) + (xy_pairs * xx3_m_zz3),
        }
    }

    /// `2·self`: exception-free doubling for `a = −3` (Renes–Costello–Batina 2015, algorithm 6;
    /// p256's own `double`).
    fn double(&self) -> Projective {
        let xx = self.x.square();
        let yy = self.y.square();
        let zz = self.z.square();
        let xy2 = (self.x * self.y).double();
        let xz2 = (self.x * self.z).double();

        let bzz_part = (EQUATION_B * zz) - xz2;
        let bzz3_part = bzz_part.double() + bzz_part;
        let yy_m_bzz3 = yy - bzz3_part;
        let yy_p_bzz3 = yy + bzz3_part;
        let y_frag = yy_p_bzz3 * yy_m_bzz3;
        let x_frag = yy_m_bzz3 * xy2;

        let zz3 = zz.double() + zz;
        let bxz2_part = (EQUATION_B * xz2) - (zz3 + xx);
        let bxz6_part = bxz2_part.double() + bxz2_part;
        let xx3_m_zz3 = xx.double() + xx - zz3;

        let y = y_frag + (xx3_m_zz3 * bxz6_part);
        let yz2 = (self.y * self.z).double();
        let x = x_frag - (bxz6_part * yz2);
        let z = (yz2 * yy).double().double();
        Projective { x, y, z }
    }

    /// The affine point, through p256's SEC1 decoding (on-curve check); the identity for
    /// `Z = 0` (whose `(0, 0)` is not on the curve). One field inversion, constant time.
    fn to_affine(self) -> AffinePoint {
        let z_inv = self.z.invert().unwrap_or(FieldElement::ZERO);
        let x = (self.x * z_inv).to_bytes();
        let y = (self.y * z_inv).to_bytes();
        let encoded = EncodedPoint::from_affine_coordinates(&x, &y, false);
        AffinePoint::from_encoded_point(&encoded).unwrap_or(AffinePoint::IDENTITY)
    }
}

/// The multiples of the P-256 generator for [`BasepointTable::mul`]: 33 windows × 8 affine
/// points (see the [module documentation](self)).
#[derive(Clone, PartialEq, Eq)]
pub struct BasepointTable {
    windows: [Window; WINDOWS],
}

/// The table, computed by `card/build.rs` and evaluated at compile time: constant data, in
/// flash on a chip. The card multiplies the generator with it by default.
pub static GENERATOR_TABLE: BasepointTable =
    include!(concat!(env!("OUT_DIR"), "/basepoint_table.rs"));

impl BasepointTable {
    /// A copy of [`GENERATOR_TABLE`] (for a caller that keeps its own, e.g. boxed on a host;
    /// `&GENERATOR_TABLE` costs nothing).
    pub fn new() -> BasepointTable {
        GENERATOR_TABLE.clone()
    }

    /// `k·G`, in constant time.
    pub fn mul(&self, k: &Scalar) -> ProjectivePoint {
        ProjectivePoint::from(self.mul_affine(k))
    }

    /// `k·G` in affine coordinates (one field inversion), in constant time.
    pub fn mul_affine(&self, k: &Scalar) -> AffinePoint {
        let mut digits = radix16(k);
        let mut acc = Projective::IDENTITY;
        // Odd digits: d_{2i+1} with window i (32 of them; zip stops at the shorter).
        for (window, digit) in self.windows.iter().zip(digits.iter().skip(1).step_by(2)) {
            acc.add_digit(window, *digit);
        }
        acc = acc.double().double().double().double();
        // Even digits: d_{2i} with window i (33 of them).
        for (window, digit) in self.windows.iter().zip(digits.iter().step_by(2)) {
            acc.add_digit(window, *digit);
        }
        digits.zeroize();
        acc.to_affine()
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
    use p256::elliptic_curve::group::Group;
    use p256::elliptic_curve::ops::Reduce;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::U256;
    use rand_core::OsRng;
    use std::boxed::Box;

    /// The table computed at run time with p256's own point arithmetic, independently of
    /// build.rs's source and of the constant evaluation.
    fn computed() -> Box<BasepointTable> {
        let coordinate = |c: Option<&p256::FieldBytes>| {
            Option::<FieldElement>::from(FieldElement::from_bytes(c.unwrap())).unwrap()
        };
        let mut table = Box::new(BasepointTable {
            windows: [Window([Entry::ZERO; ENTRIES]); WINDOWS],
        });
        let mut base = ProjectivePoint::GENERATOR;
        for window in table.windows.iter_mut() {
            let mut multiple = base;
            for entry in window.0.iter_mut() {
                let point = multiple.to_affine().to_encoded_point(false);
                *entry = Entry {
                    x: coordinate(point.x()),
                    y: coordinate(point.y()),
                };
                multiple += base;
            }
            for _ in 0..8 {
                base = base.double();
            }
        }
        table
    }

    fn check(table: &BasepointTable, k: &Scalar) {
        let expected = (ProjectivePoint::GENERATOR * k).to_affine();
        assert_eq!(table.mul_affine(k), expected, "k = {:?}", k.to_repr());
        assert_eq!(table.mul(k).to_affine(), expected, "k = {:?}", k.to_repr());
    }

    #[test]
    fn the_static_table_is_the_computed_one() {
        let computed = computed();
        for (i, (ours, theirs)) in GENERATOR_TABLE
            .windows
            .iter()
            .zip(computed.windows.iter())
            .enumerate()
        {
            assert!(ours == theirs, "window {i}");
        }
        assert!(GENERATOR_TABLE == *computed);
        assert!(BasepointTable::new() == *computed);
        // Its first entry is G itself, and b is the curve's.
        let g = AffinePoint::GENERATOR.to_encoded_point(false);
        assert_eq!(
            GENERATOR_TABLE.windows[0].0[0].x.to_bytes(),
            *g.x().unwrap()
        );
        let b: [u8; 32] =
            hex::decode("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b")
                .unwrap()
                .try_into()
                .unwrap();
        let b = FieldElement::from_bytes(&b.into()).unwrap();
        assert_eq!(EQUATION_B, b);
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
        let table = &GENERATOR_TABLE;
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
            check(table, k);
        }
        for _ in 0..50 {
            check(table, &Scalar::random(&mut OsRng));
        }
        // The identity for k = 0, and the table computed at run time gives the same products.
        assert_eq!(table.mul_affine(&Scalar::ZERO), AffinePoint::IDENTITY);
        let computed = computed();
        for _ in 0..10 {
            check(&computed, &Scalar::random(&mut OsRng));
        }
    }
}
