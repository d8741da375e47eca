//! Identifiers: administrative division codes (GB/T 2260), unified social credit codes
//! (GB 32100-2015) and licence numbers. Each is validated once, at the boundary.

use std::fmt;
use std::str::FromStr;

use super::Invalid;
use super::province::province;

fn six_ascii_digits(s: &str) -> Option<u32> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// GB/T 2260 province-level code: 6 digits ending "0000", one of the 31 known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProvinceCode(u32);

impl ProvinceCode {
    pub const CHONGQING: ProvinceCode = ProvinceCode(500000);
    pub const SICHUAN: ProvinceCode = ProvinceCode(510000);
    pub const GUIZHOU: ProvinceCode = ProvinceCode(520000);
    pub const YUNNAN: ProvinceCode = ProvinceCode(530000);

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let code = Self::parse_shape(s)?;
        if province(code).is_none() {
            return Err(Invalid::new(
                "province.unknown",
                format!("{s} is not the code of one of the 31 provinces"),
            ));
        }
        Ok(code)
    }

    /// Checks the form only; used to read `provinces.csv`, which itself defines membership.
    pub(crate) fn parse_shape(s: &str) -> Result<Self, Invalid> {
        match six_ascii_digits(s) {
            Some(n) if n % 10000 == 0 && n >= 10000 => Ok(ProvinceCode(n)),
            _ => Err(Invalid::new(
                "province.format",
                format!("province code {s:?} must be 6 digits ending in 0000, e.g. 500000"),
            )),
        }
    }

    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// Six digits, e.g. `"500000"`.
    pub fn as_str(&self) -> String {
        format!("{:06}", self.0)
    }
}

/// 6-digit administrative division code (city/county) whose first two digits name a known
/// province. A province's own code (e.g. 500000) is also a valid division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode(u32);

impl DivisionCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let Some(n) = six_ascii_digits(s) else {
            return Err(Invalid::new(
                "division.format",
                format!("division code {s:?} must be 6 digits, e.g. 500112"),
            ));
        };
        let code = DivisionCode(n);
        if province(code.province()).is_none() {
            return Err(Invalid::new(
                "division.unknown_province",
                format!("division code {s} does not start with the two digits of a known province"),
            ));
        }
        Ok(code)
    }

    /// Like `parse`, and the division must lie in `province`.
    pub fn parse_in(s: &str, province: ProvinceCode) -> Result<Self, Invalid> {
        let code = Self::parse(s)?;
        if code.province() != province {
            return Err(Invalid::new(
                "division.province_mismatch",
                format!("division code {s} is not in province {province}"),
            ));
        }
        Ok(code)
    }

    pub fn province(self) -> ProvinceCode {
        ProvinceCode(self.0 / 10000 * 10000)
    }

    /// Province 2 digits + city 2 digits, e.g. `"5001"`.
    pub fn city_code(self) -> String {
        format!("{:04}", self.0 / 100)
    }

    pub fn as_str(&self) -> String {
        format!("{:06}", self.0)
    }
}

/// Characters of a USCC in value order (GB 32100-2015: digits and upper-case letters
/// without I, O, S, V, Z).
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET
        .iter()
        .position(|&x| x == c)
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character for 17 characters already known to be in the charset.
fn uscc_check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(&c, w)| uscc_value(c).unwrap_or(0) * w)
        .sum();
    let check = (31 - sum % 31) % 31;
    USCC_CHARSET[check as usize]
}

/// Unified social credit code (统一社会信用代码, GB 32100-2015).
///
/// 18 characters from `0123456789ABCDEFGHJKLMNPQRTUWXY`; characters 3–8 are a division code
/// of a known province; the last is a check character. Lower-case input is accepted and
/// upper-cased (people type it that way; the code itself has only one case); surrounding
/// whitespace is not accepted. The first two characters (registration authority and
/// entity type) are not checked beyond the charset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uscc(String);

impl Uscc {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let upper = s.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if upper.chars().count() != 18 {
            return Err(Invalid::new(
                "uscc.length",
                format!(
                    "unified social credit code must have 18 characters, got {}",
                    s.chars().count()
                ),
            ));
        }
        Self::check_chars(&upper)?;
        let (first17, check) = bytes.split_at(17);
        Self::check_division(first17)?;
        let expected = uscc_check_char(first17);
        if check[0] != expected {
            return Err(Invalid::new(
                "uscc.check",
                format!(
                    "unified social credit code {upper} fails its check character \
                     (the last character should be {})",
                    char::from(expected)
                ),
            ));
        }
        Ok(Uscc(upper))
    }

    /// Appends the correct check character to 17 valid chars (used by seed data and tests).
    pub fn with_check_char(first17: &str) -> Result<Self, Invalid> {
        let upper = first17.to_ascii_uppercase();
        if upper.chars().count() != 17 {
            return Err(Invalid::new(
                "uscc.length",
                format!(
                    "expected the first 17 characters of a unified social credit code, got {}",
                    first17.chars().count()
                ),
            ));
        }
        Self::check_chars(&upper)?;
        Self::check_division(upper.as_bytes())?;
        let check = uscc_check_char(upper.as_bytes());
        Ok(Uscc(format!("{upper}{}", char::from(check))))
    }

    fn check_chars(upper: &str) -> Result<(), Invalid> {
        if let Some((pos, c)) = upper
            .char_indices()
            .find(|&(_, c)| !c.is_ascii() || uscc_value(c as u8).is_none())
        {
            return Err(Invalid::new(
                "uscc.charset",
                format!(
                    "unified social credit code has invalid character {c:?} at position {} \
                     (allowed: digits and letters except I, O, S, V, Z)",
                    pos + 1
                ),
            ));
        }
        Ok(())
    }

    /// Characters 3–8 (1-based) must be a division code of a known province.
    fn check_division(bytes: &[u8]) -> Result<(), Invalid> {
        let division = std::str::from_utf8(&bytes[2..8]).unwrap_or("");
        DivisionCode::parse(division).map(|_| ()).map_err(|e| {
            Invalid::new(
                "uscc.division",
                format!(
                    "characters 3 to 8 of a unified social credit code must be a division code: {}",
                    e.message
                ),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registering division (characters 3–8).
    pub fn division(&self) -> DivisionCode {
        // Validated in `parse`: six ASCII digits.
        DivisionCode(self.0.get(2..8).and_then(six_ascii_digits).unwrap_or(0))
    }
}

/// Licence number of a 危险废物经营许可证: opaque; trimmed, non-empty, at most 64 chars,
/// no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LicenceNumber(String);

impl LicenceNumber {
    pub const MAX_CHARS: usize = 64;

    /// Trims surrounding whitespace, then validates.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Invalid::new("licence.empty", "licence number is empty"));
        }
        let len = s.chars().count();
        if len > Self::MAX_CHARS {
            return Err(Invalid::new(
                "licence.too_long",
                format!(
                    "licence number has {len} characters, at most {} are allowed",
                    Self::MAX_CHARS
                ),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Invalid::new(
                "licence.control_char",
                "licence number contains a control character",
            ));
        }
        Ok(LicenceNumber(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_and_from_str {
    ($t:ty, $as_str:expr) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&$as_str(self))
            }
        }

        impl FromStr for $t {
            type Err = Invalid;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }

        serde_via_string!($t);
    };
}

display_and_from_str!(ProvinceCode, ProvinceCode::as_str);
display_and_from_str!(DivisionCode, DivisionCode::as_str);
display_and_from_str!(Uscc, Uscc::as_str);
display_and_from_str!(LicenceNumber, LicenceNumber::as_str);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn province_code_parses_known() {
        let cq = ProvinceCode::parse("500000").unwrap();
        assert_eq!(cq, ProvinceCode::CHONGQING);
        assert_eq!(cq.as_u32(), 500000);
        assert_eq!(cq.as_str(), "500000");
        assert_eq!(cq.to_string(), "500000");
        assert_eq!("510000".parse::<ProvinceCode>().unwrap(), ProvinceCode::SICHUAN);
        for c in [
            ProvinceCode::CHONGQING,
            ProvinceCode::SICHUAN,
            ProvinceCode::GUIZHOU,
            ProvinceCode::YUNNAN,
        ] {
            assert!(province(c).is_some());
        }
    }

    #[test]
    fn province_code_rejections() {
        for s in [
            "", "50000", "5000000", "500001", "50000a", " 500000", "000000", "５00000",
        ] {
            assert_eq!(ProvinceCode::parse(s).unwrap_err().code, "province.format", "{s:?}");
        }
        // Well-formed but not a province: 71 Taiwan, 81 Hong Kong are outside the 31; 99 unused.
        for s in ["710000", "810000", "990000", "100000"] {
            assert_eq!(ProvinceCode::parse(s).unwrap_err().code, "province.unknown", "{s:?}");
        }
    }

    #[test]
    fn division_code_parses_and_splits() {
        let d = DivisionCode::parse("500112").unwrap();
        assert_eq!(d.province(), ProvinceCode::CHONGQING);
        assert_eq!(d.city_code(), "5001");
        assert_eq!(d.as_str(), "500112");
        assert_eq!(d.to_string(), "500112");
        assert_eq!(DivisionCode::parse("110101").unwrap().city_code(), "1101");
        assert!(DivisionCode::parse("500000").is_ok());
        assert!(DivisionCode::parse_in("510104", ProvinceCode::SICHUAN).is_ok());
    }

    #[test]
    fn division_code_rejections() {
        for s in ["", "50011", "5001120", "50011x", "-50011", "500 12"] {
            assert_eq!(DivisionCode::parse(s).unwrap_err().code, "division.format", "{s:?}");
        }
        for s in ["990101", "000101", "710101"] {
            assert_eq!(
                DivisionCode::parse(s).unwrap_err().code,
                "division.unknown_province",
                "{s:?}"
            );
        }
        assert_eq!(
            DivisionCode::parse_in("500112", ProvinceCode::SICHUAN)
                .unwrap_err()
                .code,
            "division.province_mismatch"
        );
        assert_eq!(
            DivisionCode::parse_in("5001", ProvinceCode::CHONGQING)
                .unwrap_err()
                .code,
            "division.format"
        );
    }

    #[test]
    fn uscc_real_world_examples() {
        // Published codes of well-known companies (Huawei, Tencent, Alibaba).
        for s in ["914403001922038216", "9144030071526726XG", "91330100799655058B"] {
            assert_eq!(Uscc::parse(s).unwrap().as_str(), s);
        }
        // The brief's example "91500000MA5U8X1E6K" does not satisfy the check; computed: '3'.
        assert_eq!(Uscc::parse("91500000MA5U8X1E6K").unwrap_err().code, "uscc.check");
        let u = Uscc::with_check_char("91500000MA5U8X1E6").unwrap();
        assert_eq!(u.as_str(), "91500000MA5U8X1E63");
        assert_eq!(Uscc::parse("91500000MA5U8X1E63").unwrap(), u);
        assert_eq!(u.division(), DivisionCode::parse("500000").unwrap());
        assert_eq!(u.division().province(), ProvinceCode::CHONGQING);
    }

    #[test]
    fn uscc_check_char_zero_when_sum_divisible() {
        // Find a prefix whose weighted sum is a multiple of 31: the check is '0', not '31'.
        let base = b"9150011200000000";
        let found = USCC_CHARSET.iter().find_map(|&c| {
            let mut v = base.to_vec();
            v.push(c);
            (uscc_check_char(&v) == b'0').then_some(v)
        });
        let v = found.unwrap();
        let s = String::from_utf8(v).unwrap();
        assert_eq!(Uscc::with_check_char(&s).unwrap().as_str(), format!("{s}0"));
    }

    #[test]
    fn uscc_lower_case_is_upper_cased() {
        let u = Uscc::parse("9144030071526726xg").unwrap();
        assert_eq!(u.as_str(), "9144030071526726XG");
    }

    #[test]
    fn uscc_rejections() {
        let code = |s: &str| Uscc::parse(s).unwrap_err().code;
        assert_eq!(code(""), "uscc.length");
        assert_eq!(code("91440300192203821"), "uscc.length");
        assert_eq!(code("9144030019220382161"), "uscc.length");
        assert_eq!(code(" 914403001922038216"), "uscc.length");
        // I, O, S, V, Z and punctuation are outside the charset.
        assert_eq!(code("91440300192203821I"), "uscc.charset");
        assert_eq!(code("9144030019220382O6"), "uscc.charset");
        assert_eq!(code("91440300-922038216"), "uscc.charset");
        assert_eq!(code("91440300192203821６"), "uscc.charset");
        // Characters 3–8 not a division of a known province.
        assert_eq!(code("91990300192203821A"), "uscc.division");
        assert_eq!(code("914403A0192203821A"), "uscc.division");
        assert_eq!(code("914403001922038217"), "uscc.check");
        assert_eq!(
            Uscc::with_check_char("9199030019220382").unwrap_err().code,
            "uscc.length"
        );
        assert_eq!(
            Uscc::with_check_char("91990300192203821").unwrap_err().code,
            "uscc.division"
        );
    }

    #[test]
    fn licence_number_rules() {
        let l = LicenceNumber::parse("  渝危废〔2024〕12号 ").unwrap();
        assert_eq!(l.as_str(), "渝危废〔2024〕12号");
        assert_eq!(LicenceNumber::parse("").unwrap_err().code, "licence.empty");
        assert_eq!(LicenceNumber::parse(" \t ").unwrap_err().code, "licence.empty");
        assert!(LicenceNumber::parse(&"危".repeat(64)).is_ok());
        assert_eq!(
            LicenceNumber::parse(&"危".repeat(65)).unwrap_err().code,
            "licence.too_long"
        );
        assert_eq!(
            LicenceNumber::parse("A\u{0}B").unwrap_err().code,
            "licence.control_char"
        );
        assert_eq!(LicenceNumber::parse("A\nB").unwrap_err().code, "licence.control_char");
    }

    #[test]
    fn serde_as_strings() {
        let u = Uscc::parse("914403001922038216").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"914403001922038216\"");
        let back: Uscc = serde_json::from_str("\"914403001922038216\"").unwrap();
        assert_eq!(back, u);
        let err = serde_json::from_str::<Uscc>("\"914403001922038217\"").unwrap_err();
        assert!(err.to_string().contains("check character"), "{err}");

        let p: ProvinceCode = serde_json::from_str("\"500000\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"500000\"");
        assert!(serde_json::from_str::<ProvinceCode>("500000").is_err());
        let d: DivisionCode = serde_json::from_str("\"500112\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"500112\"");
        let l: LicenceNumber = serde_json::from_str("\" CQ-001 \"").unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), "\"CQ-001\"");
        assert!(serde_json::from_str::<LicenceNumber>("\"\"").is_err());
    }

    /// 17 characters: 2 free charset characters, a division of a known province, 9 free.
    fn valid_first17() -> impl Strategy<Value = String> {
        let charset = "[0-9A-HJ-NP-RTUW-Y]";
        let prefixes: Vec<String> = crate::domain::province::provinces()
            .iter()
            .map(|p| p.code.as_str()[..2].to_owned())
            .collect();
        (
            proptest::string::string_regex(&format!("{charset}{{2}}")).unwrap(),
            proptest::sample::select(prefixes),
            "[0-9]{4}",
            proptest::string::string_regex(&format!("{charset}{{9}}")).unwrap(),
        )
            .prop_map(|(a, p, d, b)| format!("{a}{p}{d}{b}"))
    }

    proptest! {
        #[test]
        fn uscc_with_check_char_parses(first17 in valid_first17()) {
            let u = Uscc::with_check_char(&first17).unwrap();
            prop_assert_eq!(&u.as_str()[..17], first17.as_str());
            prop_assert_eq!(Uscc::parse(u.as_str()).unwrap(), u);
        }

        #[test]
        fn uscc_any_single_substitution_fails(
            first17 in valid_first17(),
            pos in 0usize..18,
            replacement in 0usize..31,
        ) {
            let u = Uscc::with_check_char(&first17).unwrap();
            let mut bytes = u.as_str().as_bytes().to_vec();
            let new = USCC_CHARSET[replacement];
            prop_assume!(bytes[pos] != new);
            bytes[pos] = new;
            let mutated = String::from_utf8(bytes).unwrap();
            prop_assert!(Uscc::parse(&mutated).is_err(), "{} accepted", mutated);
        }
    }
}
