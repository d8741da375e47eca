//! The demo registry: a dozen licensed operators and five producers across the four provinces,
//! their agreements and a confirmed whitelist for the current year.

use super::*;

/// (id, name, province, division, serial, categories, capacity t/a)
type DemoOperator = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u32,
    &'static [&'static str],
    i64,
);

/// A dozen licensed operators across the four provinces.
const DEMO_OPERATORS: &[DemoOperator] = &[
    (
        DEMO_OPERATOR_ID,
        "四川示范环保处置有限公司",
        "510000",
        "510100",
        11,
        &["HW08", "HW49", "HW50"],
        60_000,
    ),
    (
        "demo-operator-sc-2",
        "四川蓝天危废利用有限公司",
        "510000",
        "510600",
        12,
        &["HW08", "HW09", "HW12"],
        30_000,
    ),
    (
        "demo-operator-sc-3",
        "攀枝花金属回收利用有限公司",
        "510000",
        "510400",
        13,
        &["HW17", "HW22", "HW48"],
        45_000,
    ),
    (
        "demo-operator-cq-1",
        "重庆示范危险废物处置有限公司",
        "500000",
        "500112",
        21,
        &["HW08", "HW11", "HW18", "HW49"],
        80_000,
    ),
    (
        "demo-operator-cq-2",
        "重庆长江再生资源有限公司",
        "500000",
        "500105",
        22,
        &["HW31", "HW34", "HW35"],
        25_000,
    ),
    (
        "demo-operator-cq-3",
        "重庆医废集中处置有限公司",
        "500000",
        "500113",
        23,
        &["HW01", "HW02", "HW03"],
        15_000,
    ),
    (
        "demo-operator-gz-1",
        "贵州示范环境科技有限公司",
        "520000",
        "520100",
        31,
        &["HW08", "HW12", "HW13"],
        40_000,
    ),
    (
        "demo-operator-gz-2",
        "遵义危废综合利用有限公司",
        "520000",
        "520300",
        32,
        &["HW17", "HW21", "HW46"],
        20_000,
    ),
    (
        "demo-operator-gz-3",
        "六盘水固废处置有限公司",
        "520000",
        "520200",
        33,
        &["HW18", "HW48", "HW50"],
        18_000,
    ),
    (
        "demo-operator-yn-1",
        "云南示范危险废物处置中心",
        "530000",
        "530100",
        41,
        &["HW08", "HW49", "HW50"],
        50_000,
    ),
    (
        "demo-operator-yn-2",
        "曲靖有色金属回收有限公司",
        "530000",
        "530300",
        42,
        &["HW22", "HW31", "HW48"],
        35_000,
    ),
    (
        "demo-operator-yn-3",
        "红河化工废物处置有限公司",
        "530000",
        "532500",
        43,
        &["HW06", "HW11", "HW34"],
        22_000,
    ),
];

/// Demo producers: (id, name, province, division, serial).
pub(super) const DEMO_ENTERPRISES: &[(&str, &str, &str, &str, u32)] = &[
    (DEMO_ENTERPRISE_ID, "重庆示范化工有限公司", "500000", "500112", 101),
    (
        "demo-producer-cq-2",
        "重庆汽车零部件制造有限公司",
        "500000",
        "500113",
        102,
    ),
    ("demo-producer-sc-1", "成都电子材料有限公司", "510000", "510100", 103),
    ("demo-producer-gz-1", "贵阳铝业加工有限公司", "520000", "520100", 104),
    ("demo-producer-yn-1", "昆明冶炼有限公司", "530000", "530100", 105),
];

/// The registry, agreements and a confirmed whitelist for the current year.
pub(super) fn demo_registry(conn: &mut DbConnection) -> anyhow::Result<()> {
    use crate::db::registry::{EnterpriseRow, NewLicence, OperatorRow};
    use crate::db::whitelist::{AgreementRow, EntryRow};
    use crate::domain::catalogue::WasteCategory;
    use crate::domain::quantity::Quantity;
    use crate::domain::whitelist::LicenceMode;
    use chrono::Datelike;

    let now = db::db_now();
    let year = crate::domain::calendar::shanghai_date(chrono::Utc::now()).year();
    for (id, name, province, division, serial) in DEMO_ENTERPRISES {
        if db::registry::enterprise_by_id(conn, id).map_err(err)?.is_none() {
            db::registry::insert_enterprise(
                conn,
                &EnterpriseRow {
                    id: id.to_string(),
                    name: name.to_string(),
                    uscc: demo_uscc(division, *serial)?,
                    province: province.to_string(),
                    division_code: division.to_string(),
                    address: format!("{name}厂区"),
                    contact_name: "环保专员".into(),
                    contact_phone: "000-00000000".into(),
                    created_by: "seed".into(),
                    created_at: now,
                    updated_at: now,
                    kind: "producer".into(),
                    collector_operator_id: None,
                },
            )
            .map_err(err)?;
        }
    }
    for (id, name, province, division, serial, categories, capacity_t) in DEMO_OPERATORS {
        if db::registry::operator_by_id(conn, id).map_err(err)?.is_some() {
            continue;
        }
        db::registry::insert_operator(
            conn,
            &OperatorRow {
                id: id.to_string(),
                name: name.to_string(),
                uscc: demo_uscc(division, *serial)?,
                province: province.to_string(),
                division_code: division.to_string(),
                address: format!("{name}厂区"),
                created_by: "seed".into(),
                created_at: now,
                updated_at: now,
            },
        )
        .map_err(err)?;
        let short = &province[..2];
        db::registry::add_licence(
            conn,
            id,
            &NewLicence {
                licence_number: format!("{short}危证{year}{serial:04}号"),
                modes: vec![
                    LicenceMode::Collect,
                    LicenceMode::Store,
                    LicenceMode::Utilise,
                    LicenceMode::Dispose,
                ],
                categories: categories
                    .iter()
                    .map(|c| WasteCategory::parse(c))
                    .collect::<Result<_, _>>()
                    .map_err(err)?,
                codes: vec![],
                annual_capacity: Quantity::from_grams(capacity_t * 1_000_000).map_err(err)?,
                category_capacities: vec![],
                valid_from: chrono::NaiveDate::from_ymd_opt(year - 1, 1, 1).unwrap_or_default(),
                valid_until: chrono::NaiveDate::from_ymd_opt(year + 3, 12, 31).unwrap_or_default(),
                issuing_authority: "省级生态环境主管部门".into(),
            },
            "seed",
        )
        .map_err(err)?;
    }
    let provinces = ["500000", "510000", "520000", "530000"];
    for (i, a) in provinces.iter().enumerate() {
        for b in &provinces[i + 1..] {
            let id = format!("demo-agreement-{a}-{b}-{year}");
            if db::whitelist::agreement_by_id(conn, &id).map_err(err)?.is_some() {
                continue;
            }
            // 川渝 practice: the source approves and informs; the others ask for consent.
            let consent = if (*a, *b) == ("500000", "510000") {
                "inform"
            } else {
                "consent"
            };
            db::whitelist::insert_agreement(
                conn,
                &AgreementRow {
                    id,
                    province_a: a.to_string(),
                    province_b: b.to_string(),
                    valid_from: format!("{year}-01-01"),
                    valid_until: format!("{year}-12-31"),
                    receiving_consent: consent.into(),
                    cap_per_application_g: None,
                    status: "confirmed".into(),
                    proposed_by: "seed".into(),
                    proposed_by_province: a.to_string(),
                    confirmed_by: Some("seed".into()),
                    confirmed_at: Some(now),
                    created_at: now,
                    terminated_on: None,
                    termination_reason: None,
                    terminated_by: None,
                    completion_days: None,
                    kind: "mutual".into(),
                },
            )
            .map_err(err)?;
        }
    }
    // Each operator takes its first two categories from every other province.
    let mut entries = Vec::new();
    for (op, _, receiving, _, _, categories, capacity_t) in DEMO_OPERATORS {
        for source in provinces.iter().filter(|p| *p != receiving) {
            for cat in categories.iter().take(2) {
                let id = format!("demo-entry-{year}-{op}-{source}-{cat}");
                if db::whitelist::entry_by_id(conn, &id).map_err(err)?.is_some() {
                    continue;
                }
                entries.push(EntryRow {
                    id,
                    year,
                    operator_id: op.to_string(),
                    receiving_province: receiving.to_string(),
                    source_province: source.to_string(),
                    scope_kind: "category".into(),
                    scope: cat.to_string(),
                    category: cat.to_string(),
                    quota_g: capacity_t * 1_000_000 / 20,
                    reserved_g: 0,
                    approved_g: 0,
                    shipped_g: 0,
                    received_g: 0,
                    facility: None,
                    note: Some("示范数据".into()),
                    status: "confirmed".into(),
                    status_reason: None,
                    proposed_by: "seed".into(),
                    proposed_by_province: source.to_string(),
                    confirmed_by: Some("seed".into()),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                    shared_sources: String::new(),
                });
            }
        }
    }
    if !entries.is_empty() {
        db::whitelist::insert_entries(conn, &entries)
            .map_err(err)?
            .map_err(|i| anyhow::anyhow!("demo entry {i} duplicates an existing one"))?;
    }
    Ok(())
}
