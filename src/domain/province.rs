//! The 31 provincial-level divisions of mainland China (GB/T 2260), from `data/provinces.csv`.

use std::sync::LazyLock;

use serde::Serialize;

use super::Invalid;
use super::ids::ProvinceCode;

const PROVINCES_CSV: &str = include_str!("../../data/provinces.csv");

/// A provincial-level division with the names used on documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Province {
    pub code: ProvinceCode,
    /// Full name, e.g. 重庆市.
    pub name_zh: String,
    /// One-character abbreviation used in document numbers, e.g. 渝 in 渝危转〔2026〕….
    pub short_zh: String,
    pub name_en: String,
}

static PROVINCES: LazyLock<Vec<Province>> = LazyLock::new(|| match parse_provinces(PROVINCES_CSV) {
    Ok(list) => list,
    // Embedded at compile time and checked by the tests: a build defect.
    Err(e) => panic!("embedded data/provinces.csv is invalid: {e}"),
});

/// The 31 provinces in file order (parsed once).
pub fn provinces() -> &'static [Province] {
    &PROVINCES
}

pub fn province(code: ProvinceCode) -> Option<&'static Province> {
    provinces().iter().find(|p| p.code == code)
}

fn parse_provinces(text: &str) -> Result<Vec<Province>, Invalid> {
    let bad = |line: u64, what: String| Invalid::new("province.data", format!("provinces.csv line {line}: {what}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    if header.iter().collect::<Vec<_>>() != ["code", "name_zh", "short_zh", "name_en"] {
        return Err(bad(1, format!("unexpected header {header:?}")));
    }
    let mut out: Vec<Province> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(0, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").to_owned();
        // Shape only: membership is defined by this very file.
        let code = ProvinceCode::parse_shape(&field(0)).map_err(|e| bad(line, e.message))?;
        if out.iter().any(|p| p.code == code) {
            return Err(bad(line, format!("duplicate code {code}")));
        }
        let province = Province {
            code,
            name_zh: field(1),
            short_zh: field(2),
            name_en: field(3),
        };
        if province.name_zh.is_empty() || province.short_zh.chars().count() != 1 || province.name_en.is_empty() {
            return Err(bad(line, "empty name or abbreviation not one character".into()));
        }
        out.push(province);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn thirty_one_provinces_in_file_order() {
        let all = provinces();
        assert_eq!(all.len(), 31);
        assert_eq!(all[0].code.as_u32(), 110000);
        assert_eq!(all[0].name_zh, "北京市");
        assert_eq!(all[30].name_en, "Xinjiang");
        assert!(all.windows(2).all(|w| w[0].code < w[1].code));
    }

    #[test]
    fn looks_up_by_code() {
        let cq = province(ProvinceCode::CHONGQING).unwrap();
        assert_eq!(cq.name_zh, "重庆市");
        assert_eq!(cq.short_zh, "渝");
        assert_eq!(province(ProvinceCode::SICHUAN).unwrap().short_zh, "川");
        assert_eq!(province(ProvinceCode::GUIZHOU).unwrap().short_zh, "黔");
        assert_eq!(province(ProvinceCode::YUNNAN).unwrap().short_zh, "滇");
    }

    #[test]
    fn serializes_code_as_string() {
        let json = serde_json::to_value(province(ProvinceCode::CHONGQING).unwrap()).unwrap();
        assert_eq!(json["code"], "500000");
        assert_eq!(json["name_en"], "Chongqing");
    }

    #[test]
    fn rejects_bad_data() {
        assert!(parse_provinces("code,name\n").is_err());
        assert!(parse_provinces("code,name_zh,short_zh,name_en\n500001,x,y,z\n").is_err());
        assert!(parse_provinces("code,name_zh,short_zh,name_en\n500000,a,b,c\n500000,a,b,c\n").is_err());
        assert!(parse_provinces("code,name_zh,short_zh,name_en\n500000,a,bb,c\n").is_err());
    }
}
