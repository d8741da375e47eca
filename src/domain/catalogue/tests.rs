//! The catalogue's unit tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::tables::COLUMNS;
use super::*;

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn category_parse_and_format() {
    let c = WasteCategory::parse("HW08").unwrap();
    assert_eq!(c.number(), 8);
    assert_eq!(c.as_str(), "HW08");
    assert_eq!(c.to_string(), "HW08");
    assert_eq!(WasteCategory::from_number(50).unwrap().as_str(), "HW50");
    assert_eq!(WasteCategory::all().count(), 46);
    assert_eq!(WasteCategory::all().next().unwrap().as_str(), "HW01");
    assert_eq!(WasteCategory::all().last().unwrap().as_str(), "HW50");
}

#[test]
fn category_rejections() {
    for s in ["", "HW8", "HW008", "hw08", "08", "HW 8", "HWx8", "HW+8", "ＨＷ08"] {
        assert_eq!(WasteCategory::parse(s).unwrap_err().code, "category.format", "{s:?}");
    }
    for s in ["HW00", "HW41", "HW42", "HW43", "HW44", "HW51", "HW99"] {
        assert_eq!(WasteCategory::parse(s).unwrap_err().code, "category.unknown", "{s:?}");
    }
    assert_eq!(WasteCategory::from_number(0).unwrap_err().code, "category.unknown");
    assert_eq!(WasteCategory::from_number(41).unwrap_err().code, "category.unknown");
    assert_eq!(WasteCategory::from_number(255).unwrap_err().code, "category.unknown");
}

#[test]
fn waste_code_parse() {
    let c = WasteCode::parse("900-041-49").unwrap();
    assert_eq!(c.as_str(), "900-041-49");
    assert_eq!(c.category().as_str(), "HW49");
    assert_eq!(c.to_string(), "900-041-49");
    assert_eq!(WasteCode::parse("841-001-01").unwrap().category().number(), 1);
}

#[test]
fn waste_code_rejections() {
    for s in [
        "",
        "90004149",
        "900-041-4",
        "900-041-490",
        "900_041_49",
        " 900-041-49",
        "9OO-041-49",
        "900-041-4９",
        "900--41-49",
    ] {
        assert_eq!(WasteCode::parse(s).unwrap_err().code, "waste_code.format", "{s:?}");
    }
    for s in ["900-041-00", "900-041-41", "900-041-44", "900-041-51"] {
        assert_eq!(
            WasteCode::parse(s).unwrap_err().code,
            "waste_code.unknown_category",
            "{s:?}"
        );
    }
}

#[test]
fn serde_as_strings() {
    let c = WasteCode::parse("900-041-49").unwrap();
    assert_eq!(serde_json::to_string(&c).unwrap(), "\"900-041-49\"");
    assert_eq!(serde_json::from_str::<WasteCode>("\"900-041-49\"").unwrap(), c);
    assert!(serde_json::from_str::<WasteCode>("\"900-041-41\"").is_err());
    let k = WasteCategory::parse("HW08").unwrap();
    assert_eq!(serde_json::to_string(&k).unwrap(), "\"HW08\"");
    assert_eq!(serde_json::from_str::<WasteCategory>("\"HW08\"").unwrap(), k);
    assert!(serde_json::from_str::<WasteCategory>("8").is_err());
    assert_eq!(serde_json::to_string(&Hazard::In).unwrap(), "\"In\"");
    assert_eq!(serde_json::from_str::<Hazard>("\"T\"").unwrap(), Hazard::T);
}

#[test]
fn hazard_parse() {
    for h in [Hazard::T, Hazard::C, Hazard::I, Hazard::R, Hazard::In] {
        assert_eq!(Hazard::parse(h.as_str()).unwrap(), h);
    }
    for s in ["", "t", "IN", "X", "T/C"] {
        assert_eq!(Hazard::parse(s).unwrap_err().code, "hazard.unknown", "{s:?}");
    }
    assert_eq!(Hazard::parse_list("In/T").unwrap(), vec![Hazard::T, Hazard::In]);
    assert_eq!(Hazard::parse_list("T//C").unwrap_err().code, "hazard.unknown");
    assert_eq!(Hazard::parse_list("T/T").unwrap_err().code, "hazard.duplicate");
    assert_eq!(Hazard::parse_list("T，C").unwrap_err().code, "hazard.unknown");
}

#[test]
fn edition_2021_has_467_codes_in_46_categories() {
    let ed = edition_2021();
    assert_eq!(ed.edition, 2021);
    assert_eq!(ed.in_force_from, ymd(2021, 1, 1));
    assert_eq!(ed.entries.len(), 467);
    let counts = ed.count_by_category();
    assert_eq!(counts.len(), 46);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        WasteCategory::all().collect::<Vec<_>>()
    );
    for (cat, expected) in [
        ("HW01", 5),
        ("HW02", 20),
        ("HW08", 32),
        ("HW11", 85),
        ("HW48", 33),
        ("HW49", 11),
        ("HW50", 44),
    ] {
        assert_eq!(counts[&WasteCategory::parse(cat).unwrap()], expected, "{cat}");
    }
    // Per-category counts equal the code_count_2021 column, and the names agree.
    assert_eq!(CATEGORIES.len(), 46);
    for (cat, row) in CATEGORIES.iter() {
        assert_eq!(counts[cat], row.code_count_2021, "{cat}");
        assert_eq!(category_code_count_2021(*cat), Some(counts[cat]));
    }
    for e in &ed.entries {
        assert_eq!(Some(e.category_name.as_str()), category_name(e.category));
        assert_eq!(e.code.category(), e.category);
        assert!(!e.hazards.is_empty());
    }
}

#[test]
fn edition_2021_lookups() {
    let ed = edition_2021();
    let c = WasteCode::parse("900-042-49").unwrap();
    assert!(ed.contains(&c));
    let entry = ed.entry(&c).unwrap();
    assert_eq!(
        entry.hazards,
        vec![Hazard::T, Hazard::C, Hazard::I, Hazard::R, Hazard::In]
    );
    assert_eq!(entry.category_name, "其他废物");
    let oil = ed.entry(&WasteCode::parse("900-249-08").unwrap()).unwrap();
    assert_eq!(oil.hazards, vec![Hazard::T, Hazard::I]);
    assert_eq!(oil.category_name, "废矿物油与含矿物油废物");
    // Well-formed but absent from the 2021 table.
    assert!(!ed.contains(&WasteCode::parse("900-999-08").unwrap()));
    // A quoted description with ASCII commas survives.
    assert!(ed.entries.iter().any(|e| e.description.contains("1,1,1-三氯乙烷")));
}

#[test]
fn category_names() {
    assert_eq!(
        category_name(WasteCategory::parse("HW08").unwrap()),
        Some("废矿物油与含矿物油废物")
    );
    assert_eq!(category_name(WasteCategory::parse("HW50").unwrap()), Some("废催化剂"));
    for c in WasteCategory::all() {
        assert!(category_name(c).is_some(), "{c}");
    }
}

const HEADER: &str = "code,category,category_name,industry_source,description,hazard,hazard_official\n";

#[test]
fn parses_a_small_valid_file() {
    let text = format!(
        "{HEADER}900-041-49,HW49,其他废物,非特定行业,\"含有或沾染毒性,感染性危险废物的废弃的包装物\",T/In,T/In\n"
    );
    let entries = parse_catalogue_csv(&text).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].description, "含有或沾染毒性,感染性危险废物的废弃的包装物");
    assert_eq!(entries[0].hazards, vec![Hazard::T, Hazard::In]);
}

#[test]
fn reports_every_problem_at_once() {
    let text = format!(
        "{HEADER}\
             900-041-49,HW49,其他废物,非特定行业,包装物,T/In,T/In\n\
             900-41-49,HW49,其他废物,非特定行业,坏代码,T,T\n\
             900-042-49,HW08,其他废物,非特定行业,类别不符,T,T\n\
             900-043-08,HW41,废矿物油与含矿物油废物,非特定行业,未知类别,T,T\n\
             900-044-49,HW49,其他废物,,,T,T\n\
             900-045-49,HW49,其他废物,非特定行业,坏特性,T/X,T\n\
             900-041-49,HW49,其他废物,非特定行业,重复,T,T\n\
             900-046-49,HW49,别的名字,非特定行业,名称不一,T,T\n\
             900-047-49,HW49,其他废物\n\
             \"900-048-49\",HW49,其他废物,非特定行业,\"跨\n行\",T,T\n\
             900-049-49,HW49,其他废物,非特定行业,跨行之后,,T\n"
    );
    let problems = parse_catalogue_csv(&text).unwrap_err();
    let found: Vec<(usize, Option<&str>, &str)> = problems
        .iter()
        .map(|p| (p.row, p.column.as_deref(), p.problem.code))
        .collect();
    let expected = vec![
        (3, Some("code"), "waste_code.format"),
        (4, Some("category"), "catalogue.category_mismatch"),
        // 其他废物 is HW49's name in the category list, not HW08's.
        (4, Some("category_name"), "catalogue.category_name_mismatch"),
        (5, Some("category"), "category.unknown"),
        (6, Some("industry_source"), "catalogue.empty_field"),
        (6, Some("description"), "catalogue.empty_field"),
        (7, Some("hazard"), "hazard.unknown"),
        (8, Some("code"), "catalogue.duplicate_code"),
        (9, Some("category_name"), "catalogue.category_name_mismatch"),
        (10, None, "catalogue.field_count"),
        (10, Some("industry_source"), "catalogue.empty_field"),
        (10, Some("description"), "catalogue.empty_field"),
        (10, Some("hazard"), "catalogue.empty_field"),
        // The quoted line break makes the next record start on line 13.
        (13, Some("hazard"), "catalogue.empty_field"),
    ];
    assert_eq!(found, expected);
    assert!(problems[7].problem.message.contains("line 2"), "{:?}", problems[7]);
}

#[test]
fn lines_are_counted_as_seen_with_crlf_line_ends() {
    let text = format!(
        "{HEADER}900-041-49,HW49,其他废物,非特定行业,包装物,T/In,T/In\n900-41-49,HW49,其他废物,非特定行业,坏代码,T,T\n"
    )
    .replace('\n', "\r\n");
    assert_eq!(parse_catalogue_csv(&text).unwrap_err()[0].row, 3);
    let problems =
        parse_successors_csv("old_code,new_code\r\n900-041-49,900-901-49\r\n900-41-49,900-901-49\r\n").unwrap_err();
    assert_eq!(problems[0].row, 3);
}

#[test]
fn accepts_a_byte_order_mark() {
    let text = format!("\u{feff}{HEADER}900-041-49,HW49,其他废物,非特定行业,包装物,T/In,T/In\n");
    assert_eq!(parse_catalogue_csv(&text).unwrap().len(), 1);
}

#[test]
fn reports_missing_header_columns() {
    let text = "code,category,category_name,description\n900-041-49,HW49,其他废物,包装物\n";
    let problems = parse_catalogue_csv(text).unwrap_err();
    let found: Vec<(usize, Option<&str>, &str)> = problems
        .iter()
        .map(|p| (p.row, p.column.as_deref(), p.problem.code))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, Some("industry_source"), "catalogue.missing_column"),
            (1, Some("hazard"), "catalogue.missing_column"),
        ]
    );
    assert_eq!(parse_catalogue_csv("").unwrap_err().len(), COLUMNS.len());
    assert_eq!(
        parse_catalogue_csv(HEADER).unwrap_err()[0].problem.code,
        "catalogue.empty"
    );
}

#[test]
fn picks_edition_in_force() {
    let eds = [
        (2021, ymd(2021, 1, 1)),
        (2025, ymd(2025, 1, 1)),
        (2016, ymd(2016, 8, 1)),
    ];
    assert_eq!(edition_in_force(&eds, ymd(2020, 12, 31)), Some(2016));
    assert_eq!(edition_in_force(&eds, ymd(2021, 1, 1)), Some(2021));
    assert_eq!(edition_in_force(&eds, ymd(2024, 12, 31)), Some(2021));
    assert_eq!(edition_in_force(&eds, ymd(2025, 1, 1)), Some(2025));
    assert_eq!(edition_in_force(&eds, ymd(2030, 6, 1)), Some(2025));
    assert_eq!(edition_in_force(&eds, ymd(2016, 7, 31)), None);
    assert_eq!(edition_in_force(&[], ymd(2025, 1, 1)), None);
}
#[test]
fn the_law_fixes_which_edition_is_in_force() {
    assert_eq!(KNOWN_EDITIONS.len(), 2);
    assert_eq!(
        known_edition(2025).map(|k| (k.code_count, k.source)),
        Some((470, "部令第36号"))
    );
    assert_eq!(known_edition(2021).map(|k| k.code_count), Some(467));
    assert_eq!(
        known_edition(2021).map(|k| k.code_count),
        Some(edition_2021().entries.len())
    );
    assert!(known_edition(2031).is_none());
    assert_eq!(edition_required_on(ymd(2020, 12, 31)), None);
    assert_eq!(edition_required_on(ymd(2021, 1, 1)).map(|k| k.edition), Some(2021));
    assert_eq!(edition_required_on(ymd(2024, 12, 31)).map(|k| k.edition), Some(2021));
    assert_eq!(edition_required_on(ymd(2025, 1, 1)).map(|k| k.edition), Some(2025));
    assert_eq!(edition_required_on(ymd(2026, 12, 2)).map(|k| k.edition), Some(2025));
    // Using 2021 in 2026 is using a repealed edition; in 2024 it is right.
    assert_eq!(edition_missing(2021, ymd(2026, 12, 2)).map(|k| k.edition), Some(2025));
    assert_eq!(edition_missing(2021, ymd(2024, 12, 31)), None);
    assert_eq!(edition_missing(2025, ymd(2026, 12, 2)), None);
    // A loaded edition newer than any the service knows is not a missing one.
    assert_eq!(edition_missing(2031, ymd(2031, 6, 1)), None);
}

#[test]
fn codes_900_000_are_accepted_from_2025() {
    let tested = WasteCode::parse("900-000-49").unwrap();
    assert!(identified_by_testing(&tested, ymd(2025, 1, 1)));
    assert!(identified_by_testing(
        &WasteCode::parse("900-000-08").unwrap(),
        ymd(2030, 1, 1)
    ));
    assert!(!identified_by_testing(&tested, ymd(2024, 12, 31)));
    assert!(!identified_by_testing(
        &WasteCode::parse("900-001-49").unwrap(),
        ymd(2026, 1, 1)
    ));
    assert!(!identified_by_testing(
        &WasteCode::parse("901-000-49").unwrap(),
        ymd(2026, 1, 1)
    ));
    // NN must be a category: the code itself does not parse otherwise.
    assert!(WasteCode::parse("900-000-42").is_err());
}

#[test]
fn category_names_follow_the_category_list() {
    // Consistent within the file, but not the list's name.
    let text = format!(
        "{HEADER}900-041-49,HW49,杂项废物,非特定行业,包装物,T/In,T/In\n900-042-49,HW49,杂项废物,非特定行业,其他,T,T\n"
    );
    let problems = parse_catalogue_csv(&text).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p.problem.code == "catalogue.category_name_mismatch" && p.problem.message.contains("其他废物"))
    );
}

#[test]
fn reads_a_successor_mapping_with_every_problem() {
    let ok = parse_successors_csv("old_code,new_code\n900-041-49,900-901-49\n900-041-49,900-902-49\n\n").unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!((ok[1].row, ok[1].new_code.as_str()), (3, "900-902-49"));
    assert!(parse_successors_csv("old_code,new_code\n").unwrap().is_empty());
    let problems = parse_successors_csv(
            "old_code,new_code\n900-041-49,900-901-49\n900-41-49,900-901-49\n900-041-49,900-901-44\n900-041-49,900-901-49\n",
        )
        .unwrap_err();
    let found: Vec<(usize, Option<&str>, &str)> = problems
        .iter()
        .map(|p| (p.row, p.column.as_deref(), p.problem.code))
        .collect();
    assert_eq!(
        found,
        vec![
            (3, Some("old_code"), "waste_code.format"),
            (4, Some("new_code"), "waste_code.unknown_category"),
            (5, None, "successors.duplicate"),
        ]
    );
    let problems = parse_successors_csv("old,new_code\n1,2\n").unwrap_err();
    assert_eq!(problems[0].problem.code, "successors.missing_column");
}

fn synthetic_table() -> String {
    format!(
        "{HEADER}\
             900-249-08,HW08,废矿物油与含矿物油废物,非特定行业,测试用合成条目甲,T/I,T/I\n\
             900-901-49,HW49,其他废物,非特定行业,测试用合成条目乙,T,T\n\
             900-902-49,HW49,其他废物,非特定行业,测试用合成条目丙,T,T\n"
    )
}

fn import<'a>(codes: &'a str, successors: Option<&'a str>, edition: i32, count: usize) -> EditionImport<'a> {
    EditionImport {
        edition,
        in_force_from: ymd(edition, 1, 1),
        declared_count: count,
        codes_csv: codes,
        successors_csv: successors,
    }
}

#[test]
fn an_edition_import_reads_its_table_and_mapping() {
    let table = synthetic_table();
    let previous = PreviousEdition {
        edition: 2021,
        codes: ["900-249-08", "900-041-49"].iter().map(|s| s.to_string()).collect(),
    };
    let mapping = "old_code,new_code\n900-041-49,900-901-49\n900-041-49,900-902-49\n";
    let (entries, successors) = check_edition_import(&import(&table, Some(mapping), 2031, 3), Some(&previous)).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(successors.len(), 2);
    // No mapping is fine; a mapping with nothing before it is not.
    assert!(check_edition_import(&import(&table, None, 2031, 3), None).is_ok());
    let problems = check_edition_import(&import(&table, Some(mapping), 2031, 3), None).unwrap_err();
    assert_eq!(problems[0].problem.code, "successors.no_previous_edition");
    assert_eq!(problems[0].part, EditionPart::Successors);
}

#[test]
fn an_edition_import_reports_every_problem() {
    let table = format!(
        "{}900-903-49,HW48,有色金属采选和冶炼废物,非特定行业,类别不符,T,T\n900-901-49,HW49,其他废物,非特定行业,重复,T,T\n",
        synthetic_table()
    );
    let previous = PreviousEdition {
        edition: 2021,
        codes: ["900-041-49"].iter().map(|s| s.to_string()).collect(),
    };
    let mapping = "old_code,new_code\n900-041-49,900-901-49\n900-999-49,900-902-49\n900-041-49,900-909-49\n";
    let mut bad = import(&table, Some(mapping), 2031, 4);
    bad.in_force_from = ymd(2030, 7, 1);
    let problems = check_edition_import(&bad, Some(&previous)).unwrap_err();
    let found: Vec<(EditionPart, Option<usize>, &str)> =
        problems.iter().map(|p| (p.part, p.row, p.problem.code)).collect();
    assert_eq!(
        found,
        vec![
            (EditionPart::InForceFrom, None, "catalogue.in_force_year"),
            (EditionPart::CodeCount, None, "catalogue.count_mismatch"),
            (EditionPart::Codes, Some(5), "catalogue.category_mismatch"),
            (EditionPart::Codes, Some(6), "catalogue.duplicate_code"),
            (EditionPart::Successors, Some(3), "successors.old_code_unknown"),
            (EditionPart::Successors, Some(4), "successors.new_code_unknown"),
        ]
    );
    // A known edition must be the law's: its count and its day.
    let small = synthetic_table();
    let mut known = import(&small, None, 2025, 3);
    known.in_force_from = ymd(2025, 3, 1);
    let problems = check_edition_import(&known, None).unwrap_err();
    let codes: Vec<&str> = problems.iter().map(|p| p.problem.code).collect();
    assert_eq!(codes, vec!["catalogue.known_in_force", "catalogue.known_count"]);
    assert!(problems[1].problem.message.contains("470"), "{:?}", problems[1]);
}
