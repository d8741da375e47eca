//! Exact waste quantities. Amounts are declared in kilograms with at most three decimals
//! and stored as integer grams so that sums in the ledger never drift (no floats anywhere).

use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// A positive quantity of waste: whole grams, shown as kilograms with three decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    /// 1 million tonnes: a sane upper bound for one quantity; keeps ledger sums far from overflow.
    pub const MAX_GRAMS: i64 = 1_000_000_000_000;

    /// Accepts 1..=MAX_GRAMS grams.
    pub fn from_grams(g: i64) -> Result<Quantity, Invalid> {
        if g <= 0 {
            return Err(not_positive());
        }
        if g > Self::MAX_GRAMS {
            return Err(too_large());
        }
        Ok(Quantity(g))
    }

    /// Parses kilograms written as `digits` or `digits.d{1,3}` (ASCII only, no sign, no
    /// exponent, no grouping, no surrounding spaces). Leading zeros are accepted (`"007"`).
    pub fn parse_kg(s: &str) -> Result<Quantity, Invalid> {
        // A leading minus on an otherwise well-formed number gets the more helpful code.
        if let Some(rest) = s.strip_prefix('-')
            && parse_unsigned_grams(rest).is_ok()
        {
            return Err(not_positive());
        }
        let grams = parse_unsigned_grams(s)?;
        Quantity::from_grams(grams)
    }

    pub fn grams(self) -> i64 {
        self.0
    }

    /// Like `parse_kg` but also accepts zero, as grams: what an operator accepted of a load
    /// may be nothing at all.
    pub fn parse_kg_or_zero(s: &str) -> Result<i64, Invalid> {
        if s.strip_prefix('-')
            .is_some_and(|rest| parse_unsigned_grams(rest).is_ok())
        {
            return Err(Invalid::new("quantity.negative", "quantity must not be negative"));
        }
        let grams = parse_unsigned_grams(s)?;
        if grams > Self::MAX_GRAMS {
            return Err(too_large());
        }
        Ok(grams)
    }

    /// Always three decimals: 12.5 kg -> `"12.500"`.
    pub fn to_kg_string(self) -> String {
        grams_to_kg_string(self.0)
    }
}

/// [`Quantity::parse_kg_or_zero`] as a regular expression for the published contract: 0 to
/// 1 000 000 000 kg (`MAX_GRAMS`), at most 3 decimals, leading zeros allowed. A test holds the two
/// together.
pub const KG_OR_ZERO_PATTERN: &str = r"^0*([0-9]{1,9}(\.[0-9]{1,3})?|1000000000(\.0{1,3})?)$";

/// [`Quantity::parse_kg`] as a regular expression: like [`KG_OR_ZERO_PATTERN`] but above zero
/// (at least one gram).
pub const KG_PATTERN: &str =
    r"^0*([1-9][0-9]{0,8}(\.[0-9]{1,3})?|0\.([1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9])|1000000000(\.0{1,3})?)$";

/// Parses the unsigned kg grammar into grams; too many grams saturate to `too_large`.
fn parse_unsigned_grams(s: &str) -> Result<i64, Invalid> {
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
        return Err(Invalid::new(
            "quantity.format",
            format!(
                "quantity {s:?} is not a number of kilograms such as \"12\" or \"12.5\" \
                 (digits, optionally a point and 1 to 3 decimals)"
            ),
        ));
    }
    let frac = frac_part.unwrap_or("");
    if frac.len() > 3 {
        return Err(Invalid::new(
            "quantity.precision",
            format!("quantity {s:?} has more than 3 decimals (the smallest unit is 1 g = 0.001 kg)"),
        ));
    }
    let mut kg: i64 = 0;
    for b in int_part.bytes() {
        kg = kg
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    let mut frac_grams: i64 = 0;
    for i in 0..3 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        frac_grams = frac_grams * 10 + digit;
    }
    kg.checked_mul(1000)
        .and_then(|g| g.checked_add(frac_grams))
        .ok_or_else(too_large)
}

fn not_positive() -> Invalid {
    Invalid::new("quantity.not_positive", "quantity must be greater than zero")
}

fn too_large() -> Invalid {
    Invalid::new(
        "quantity.too_large",
        format!(
            "quantity exceeds the maximum of {} kg",
            grams_to_kg_string(Quantity::MAX_GRAMS)
        ),
    )
}

/// Formats any signed gram amount (ledger sums can be 0 or negative deltas) as kg with
/// 3 decimals: -1500 -> `"-1.500"`.
pub fn grams_to_kg_string(g: i64) -> String {
    // unsigned_abs so that i64::MIN does not overflow.
    let abs = g.unsigned_abs();
    let sign = if g < 0 { "-" } else { "" };
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_kg_string())
    }
}

impl FromStr for Quantity {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse_kg(s)
    }
}

serde_via_string!(Quantity);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code_of(s: &str) -> &'static str {
        Quantity::parse_kg(s).unwrap_err().code
    }

    #[test]
    fn parses_valid_kilograms() {
        assert_eq!(Quantity::parse_kg("12").unwrap().grams(), 12_000);
        assert_eq!(Quantity::parse_kg("12.5").unwrap().grams(), 12_500);
        assert_eq!(Quantity::parse_kg("0.001").unwrap().grams(), 1);
        assert_eq!(Quantity::parse_kg("1234.500").unwrap().grams(), 1_234_500);
        assert_eq!(Quantity::parse_kg("007").unwrap().grams(), 7_000);
        assert_eq!(Quantity::parse_kg("1000000000").unwrap().grams(), Quantity::MAX_GRAMS);
    }

    #[test]
    fn rejects_malformed_text() {
        for s in [
            "", " 1", "1 ", "1,000", "+1", ".5", "5.", "1e3", "1E3", "1..2", "1.2.3", "abc", "١٢", "１２", "12kg",
            "0x10", "NaN", "inf", "-", ".",
        ] {
            assert_eq!(code_of(s), "quantity.format", "{s:?}");
        }
    }

    #[test]
    fn rejects_too_many_decimals() {
        assert_eq!(code_of("1.2345"), "quantity.precision");
        assert_eq!(code_of("0.0001"), "quantity.precision");
        assert_eq!(code_of("1.0000"), "quantity.precision");
    }

    #[test]
    fn rejects_zero_and_negative() {
        for s in ["0", "0.0", "0.000", "-1", "-0", "-12.5"] {
            assert_eq!(code_of(s), "quantity.not_positive", "{s:?}");
        }
        assert_eq!(Quantity::from_grams(0).unwrap_err().code, "quantity.not_positive");
        assert_eq!(Quantity::from_grams(-5).unwrap_err().code, "quantity.not_positive");
    }

    #[test]
    fn rejects_too_large_and_overflow() {
        assert_eq!(code_of("1000000000.001"), "quantity.too_large");
        assert_eq!(code_of("9223372036854775807"), "quantity.too_large");
        assert_eq!(code_of("99999999999999999999999999"), "quantity.too_large");
        assert_eq!(
            Quantity::from_grams(Quantity::MAX_GRAMS + 1).unwrap_err().code,
            "quantity.too_large"
        );
        assert_eq!(Quantity::from_grams(i64::MAX).unwrap_err().code, "quantity.too_large");
    }

    #[test]
    fn formats_with_three_decimals() {
        assert_eq!(Quantity::parse_kg("12.5").unwrap().to_kg_string(), "12.500");
        assert_eq!(Quantity::from_grams(1).unwrap().to_string(), "0.001");
        assert_eq!(grams_to_kg_string(0), "0.000");
        assert_eq!(grams_to_kg_string(-1500), "-1.500");
        assert_eq!(grams_to_kg_string(-1), "-0.001");
        assert_eq!(grams_to_kg_string(i64::MIN), "-9223372036854775.808");
        assert_eq!(grams_to_kg_string(i64::MAX), "9223372036854775.807");
    }

    #[test]
    fn from_str_is_parse_kg() {
        let q: Quantity = "3.25".parse().unwrap();
        assert_eq!(q.grams(), 3_250);
    }

    #[test]
    fn serde_uses_kg_string_and_accepts_only_strings() {
        let q = Quantity::from_grams(12_500).unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"12.500\"");
        let back: Quantity = serde_json::from_str("\"12.5\"").unwrap();
        assert_eq!(back, q);
        assert!(serde_json::from_str::<Quantity>("12.5").is_err());
        assert!(serde_json::from_str::<Quantity>("12").is_err());
        let err = serde_json::from_str::<Quantity>("\"1.2345\"").unwrap_err();
        assert!(err.to_string().contains("more than 3 decimals"), "{err}");
    }

    proptest! {
        #[test]
        fn grams_round_trip_through_kg_string(g in 1..=Quantity::MAX_GRAMS) {
            let q = Quantity::from_grams(g).unwrap();
            let back = Quantity::parse_kg(&q.to_kg_string()).unwrap();
            prop_assert_eq!(back.grams(), g);
        }

        #[test]
        fn more_than_three_decimals_is_rejected(int in "[0-9]{1,12}", frac in "[0-9]{4,12}") {
            let s = format!("{int}.{frac}");
            prop_assert_eq!(Quantity::parse_kg(&s).unwrap_err().code, "quantity.precision");
        }

        #[test]
        fn parse_matches_integer_arithmetic(int in 0i64..=1_100_000_000, frac in "[0-9]{0,3}") {
            let s = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let frac_grams = if frac.is_empty() {
                0
            } else {
                frac.parse::<i64>().unwrap() * 10i64.pow(3 - frac.len() as u32)
            };
            let expected = int * 1000 + frac_grams;
            match Quantity::parse_kg(&s) {
                Ok(q) => prop_assert_eq!(q.grams(), expected),
                Err(e) if expected == 0 => prop_assert_eq!(e.code, "quantity.not_positive"),
                Err(e) => {
                    prop_assert!(expected > Quantity::MAX_GRAMS);
                    prop_assert_eq!(e.code, "quantity.too_large");
                }
            }
        }
    }
}
