//! Demo data for a first look: one account of each role (and a regulator per southwest
//! province) with well-known passwords. Idempotent: existing accounts are left alone.
//!
//! The registry (enterprises, operators, licences, a confirmed whitelist for the current year) and
//! transfer applications in every state of the workflow, some due today and some overdue.

use crate::auth::principal::{Binding, Role};
use crate::db::applications::{Act, ActRefusal, AppRow, Method};
use crate::db::{self, DbConnection};
use crate::domain::ids::ProvinceCode;
use crate::domain::workflow::{Actor, Route, Side, Status};
use crate::service::users::{NewUser, create_user};

/// Demo identifiers of the producer and operator the enterprise and operator accounts act for.
pub const DEMO_ENTERPRISE_ID: &str = "demo-producer-cq";
pub const DEMO_OPERATOR_ID: &str = "demo-operator-sc";
/// Every demo account's password. For local demos only: never seed a production database.
pub const DEMO_PASSWORD: &str = "demo-pass-2026";

pub struct DemoLogin {
    pub username: String,
    pub role: Role,
    pub binding: String,
}

fn demo_accounts() -> Vec<(&'static str, &'static str, Role, Binding)> {
    vec![
        ("admin", "系统管理员", Role::Admin, Binding::Nationwide),
        (
            "cq-regulator",
            "重庆市生态环境局 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::CHONGQING),
        ),
        (
            "sc-regulator",
            "四川省生态环境厅 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::SICHUAN),
        ),
        (
            "gz-regulator",
            "贵州省生态环境厅 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::GUIZHOU),
        ),
        (
            "yn-regulator",
            "云南省生态环境厅 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::YUNNAN),
        ),
        ("auditor", "审计员", Role::Auditor, Binding::Nationwide),
        (
            "cq-producer",
            "重庆示范化工有限公司",
            Role::Enterprise,
            Binding::Enterprise(DEMO_ENTERPRISE_ID.into()),
        ),
        (
            "sc-operator",
            "四川示范环保处置有限公司",
            Role::Operator,
            Binding::Operator(DEMO_OPERATOR_ID.into()),
        ),
        super::seed_regimes::collector_account(),
    ]
}

pub(super) fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

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
const DEMO_ENTERPRISES: &[(&str, &str, &str, &str, u32)] = &[
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

pub(super) fn demo_uscc(division: &str, serial: u32) -> anyhow::Result<String> {
    let first17 = format!("91{division}MA{serial:07}");
    Ok(crate::domain::ids::Uscc::with_check_char(&first17[..17])
        .map_err(err)?
        .as_str()
        .to_string())
}

/// The registry, agreements and a confirmed whitelist for the current year.
fn demo_registry(conn: &mut DbConnection) -> anyhow::Result<()> {
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

/// A waste line of a demo application: (code, name, physical form, hazards, packaging, kg).
type DemoItem = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The demo account (or ERP client) that acts for a party.
fn demo_actor_name(party: &str) -> String {
    match party {
        DEMO_ENTERPRISE_ID => "cq-producer".into(),
        super::seed_regimes::COLLECTOR_ID => "cq-collector".into(),
        "500000" => "cq-regulator".into(),
        "510000" => "sc-regulator".into(),
        "520000" => "gz-regulator".into(),
        "530000" => "yn-regulator".into(),
        other => format!("erp:{other}"),
    }
}

/// A licensed hazardous-goods road carrier of the source province.
fn demo_carrier(province: &str) -> crate::db::applications::Carrier {
    let (name, permit, plate) = match province {
        "510000" => (
            "四川蜀运危险货物运输有限公司",
            "川交运管许可成字510100000527号",
            "川A6G291",
        ),
        "520000" => (
            "贵州黔通危险品运输有限公司",
            "黔交运管许可筑字520100000214号",
            "贵A3K778",
        ),
        "530000" => (
            "云南滇运危险货物运输有限公司",
            "云交运管许可昆字530100000863号",
            "云A8M205",
        ),
        _ => ("重庆安运危险品物流有限公司", "渝交运管许可字500112000318号", "渝AH3127"),
    };
    crate::db::applications::Carrier {
        name: name.into(),
        permit_number: permit.into(),
        plate: Some(plate.into()),
    }
}

/// Files and moves the demo applications. Times are real instants in the past: the day a step
/// started decides its due day, so "due today" and "overdue" are chosen by going back working days.
pub(super) struct AppSeeder<'c> {
    pub(super) conn: &'c mut DbConnection,
    pub(super) cal: crate::domain::calendar::WorkingDayCalendar,
    pub(super) close: chrono::NaiveTime,
    pub(super) now: chrono::DateTime<chrono::Utc>,
    /// The day the "due today" cases fall due: today, or the next working day when today is not
    /// one (a deadline always falls on a working day).
    due_day: chrono::NaiveDate,
    filed: u32,
}

const APPROVE_CONDITIONS: &[&str] = &[
    "按申报路线和车辆运输，全程执行电子转移联单",
    "接受单位应在收到废物后5个工作日内确认接收",
];

impl AppSeeder<'_> {
    /// `n` working days before the due day, at `hh:mm` Asia/Shanghai (never later than now).
    pub(super) fn wd(&self, n: u32, hh: u32, mm: u32) -> chrono::DateTime<chrono::Utc> {
        let mut day = self.due_day;
        let mut counted = 0;
        while counted < n {
            let Some(prev) = day.pred_opt() else { break };
            day = prev;
            if self.cal.is_working_day(day).0 {
                counted += 1;
            }
        }
        let time = chrono::NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or_default();
        crate::domain::calendar::deadline_instant(day, time).min(self.now)
    }

    pub(super) fn day(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        crate::domain::calendar::shanghai_date(at)
    }

    /// Files an application at `at`; the requested period is half a year from the filing day
    /// unless given.
    pub(super) fn file(
        &mut self,
        enterprise: &str,
        operator: &str,
        method: Method,
        items: &[DemoItem],
        at: chrono::DateTime<chrono::Utc>,
        period: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    ) -> anyhow::Result<AppRow> {
        use crate::db::applications::{FileOutcome, Filing, FilingItem};
        use crate::domain::catalogue::WasteCode;
        use crate::domain::quantity::Quantity;

        self.filed += 1;
        let province = db::registry::enterprise_by_id(self.conn, enterprise)
            .map_err(err)?
            .map(|e| e.province)
            .ok_or_else(|| anyhow::anyhow!("{enterprise} is not a demo enterprise"))?;
        let start = Self::day(at);
        let (period_start, period_end) = period.unwrap_or((start, start + chrono::Duration::days(180)));
        let mut lines = Vec::new();
        for (code, name, form, hazards, packaging, kg) in items {
            lines.push(FilingItem {
                code: WasteCode::parse(code).map_err(err)?,
                name: name.to_string(),
                physical_form: form.to_string(),
                hazards: hazards.to_string(),
                packaging: packaging.to_string(),
                quantity: Quantity::parse_kg(kg).map_err(err)?,
            });
        }
        let filing = Filing {
            enterprise_id: enterprise.into(),
            operator_id: operator.into(),
            method,
            period_start,
            period_end,
            carriers: vec![demo_carrier(&province)],
            items: lines,
            idempotency_key: None,
            request_hash: format!("demo-seed-{}", self.filed),
            filed_by: demo_actor_name(enterprise),
        };
        // The seed plants demo cases on both routes on purpose: it is the operator's own door, not a
        // producer's, so the standard route needs no confirmation here (confirm-to-proceed protects
        // producers from landing on it by surprise; see service::applications::filing).
        let (outcome, _) =
            db::applications::file(self.conn, &self.cal, self.close, &filing, at, |_| true).map_err(err)?;
        match outcome {
            FileOutcome::Filed(app) => Ok(app),
            FileOutcome::Refused(problems) => {
                let list: Vec<String> = problems
                    .iter()
                    .map(|(pointer, p)| format!("{pointer}: {}", p.message))
                    .collect();
                anyhow::bail!(
                    "demo application {} ({enterprise} to {operator}) was refused: {}",
                    self.filed,
                    list.join("; ")
                )
            }
            FileOutcome::Replayed(_) | FileOutcome::KeyReused | FileOutcome::Unconfirmed => anyhow::bail!(
                "demo application {} ({enterprise} to {operator}) was not filed anew",
                self.filed
            ),
        }
    }

    /// One workflow act; a refusal means the seed asked for a step the workflow does not allow.
    pub(super) fn act(
        &mut self,
        app: &AppRow,
        actor: Actor,
        at: chrono::DateTime<chrono::Utc>,
        act: Act,
    ) -> anyhow::Result<AppRow> {
        use crate::db::applications::ActContext;
        let (name, role) = match actor {
            Actor::Enterprise => (demo_actor_name(&app.enterprise_id), "enterprise"),
            Actor::SourceRegulator => (demo_actor_name(&app.source_province), "regulator"),
            Actor::ReceivingRegulator => (demo_actor_name(&app.receiving_province), "regulator"),
            Actor::System => ("system".to_string(), "system"),
        };
        let ctx = ActContext {
            cal: &self.cal,
            office_close: self.close,
            actor,
            name: &name,
            role,
            now: at,
        };
        match db::applications::act(self.conn, &ctx, &app.id, None, &act).map_err(err)? {
            Ok(row) => Ok(row),
            Err(ActRefusal::NotYours(why) | ActRefusal::State(why)) => anyhow::bail!(
                "demo application {} ({} to {}, {} route, {}): {act:?} by {actor:?} refused: {} ({})",
                app.id,
                app.enterprise_id,
                app.operator_id,
                app.route,
                app.status,
                why.message,
                why.code
            ),
            Err(ActRefusal::Stale { current }) => {
                anyhow::bail!("demo application {}: version {current} changed under the seed", app.id)
            }
            Err(ActRefusal::Input(problems)) => anyhow::bail!(
                "demo application {}: {act:?} refused: {}",
                app.id,
                problems
                    .iter()
                    .map(|(p, i)| format!("{p}: {}", i.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }

    fn decide(
        &mut self,
        app: &AppRow,
        side: Side,
        approve: bool,
        reasons: &[&str],
        conditions: &[&str],
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<AppRow> {
        let actor = match side {
            Side::Source => Actor::SourceRegulator,
            Side::Receiving => Actor::ReceivingRegulator,
        };
        let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        // The consultation letter and the reply carry a demo number (never a real one).
        let route = Route::parse(&app.route).map_err(err)?;
        let status = Status::parse(&app.status).map_err(err)?;
        let letter = crate::domain::workflow::letter_of(route, status, side, approve).map(|k| {
            crate::domain::workflow::LetterText {
                number: format!(
                    "演示{}〔{}〕{}号",
                    match k {
                        crate::domain::documents::LetterKind::Consultation => "商请函",
                        crate::domain::documents::LetterKind::Reply => "复函",
                    },
                    chrono::Datelike::year(&crate::domain::calendar::shanghai_date(at)),
                    &app.id[app.id.len().saturating_sub(4)..]
                ),
                date: crate::domain::calendar::shanghai_date(at).to_string(),
            }
        });
        self.act(
            app,
            actor,
            at,
            Act::Decide {
                side,
                approve,
                reasons: strings(reasons),
                conditions: strings(conditions),
                letter,
            },
        )
    }

    /// Takes the next favourable steps, all at `at`, until the application is in `until`. Works
    /// on either route, so a case routed differently than planned (a filing day in a year without
    /// an agreement) still lands where asked, or fails loudly.
    pub(super) fn advance(
        &mut self,
        mut app: AppRow,
        until: Status,
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<AppRow> {
        loop {
            let status = Status::parse(&app.status).map_err(err)?;
            if status == until {
                return Ok(app);
            }
            let whitelist = app.route == Route::Whitelist.as_str();
            app = match status {
                Status::Submitted | Status::Resubmitted => self.act(&app, Actor::SourceRegulator, at, Act::Accept)?,
                Status::UnderReview if whitelist => {
                    let decided = db::applications::decisions_of(self.conn, &app.id).map_err(err)?;
                    let side = if decided.iter().any(|d| d.side == Side::Source.as_str()) {
                        Side::Receiving
                    } else {
                        Side::Source
                    };
                    let reasons: &[&str] = match side {
                        Side::Source => &["属白名单范围，数量在年度额度内，同意转出"],
                        Side::Receiving => &["接受单位许可类别和能力满足要求，同意接收"],
                    };
                    self.decide(&app, side, true, reasons, APPROVE_CONDITIONS, at)?
                }
                Status::UnderReview => self.decide(
                    &app,
                    Side::Source,
                    true,
                    &["初审通过，函商接受地省级生态环境主管部门"],
                    &[],
                    at,
                )?,
                Status::ConsultationSent => self.decide(
                    &app,
                    Side::Receiving,
                    true,
                    &["接受单位具备相应利用处置能力，同意接收"],
                    &[],
                    at,
                )?,
                Status::ReceivingReplied => self.decide(
                    &app,
                    Side::Source,
                    true,
                    &["接受地同意接收，准予转移"],
                    APPROVE_CONDITIONS,
                    at,
                )?,
                other => anyhow::bail!(
                    "demo application {} is {} on the {} route and cannot reach {}",
                    app.id,
                    other.as_str(),
                    app.route,
                    until.as_str()
                ),
            };
        }
    }

    fn correction(
        &mut self,
        app: &AppRow,
        problems: &[&str],
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<AppRow> {
        self.act(
            app,
            Actor::SourceRegulator,
            at,
            Act::RequestCorrection {
                problems: problems.iter().map(|p| p.to_string()).collect(),
            },
        )
    }

    fn resubmit(&mut self, app: &AppRow, note: &str, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<AppRow> {
        self.act(app, Actor::Enterprise, at, Act::Resubmit { note: note.into() })
    }

    fn withdraw(&mut self, app: &AppRow, reason: &str, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<AppRow> {
        self.act(app, Actor::Enterprise, at, Act::Withdraw { reason: reason.into() })
    }

    /// Every state on both routes where it applies (`accepted` has no way in: acceptance moves a
    /// case straight to `under_review`). The whitelist route needs a confirmed entry with room;
    /// the standard ones use a category the operator has no entry for, or more than the quota.
    fn all_states(&mut self) -> anyhow::Result<()> {
        use Method::{Dispose, Utilise};
        const CQ: &str = DEMO_ENTERPRISE_ID;
        const CQ2: &str = "demo-producer-cq-2";
        const SC1: &str = "demo-producer-sc-1";
        const GZ1: &str = "demo-producer-gz-1";
        const YN1: &str = "demo-producer-yn-1";
        const OP_SC: &str = DEMO_OPERATOR_ID;
        const OP_SC2: &str = "demo-operator-sc-2";
        const OP_SC3: &str = "demo-operator-sc-3";
        const OP_CQ1: &str = "demo-operator-cq-1";
        const OP_GZ1: &str = "demo-operator-gz-1";
        const OP_GZ2: &str = "demo-operator-gz-2";
        const OP_GZ3: &str = "demo-operator-gz-3";
        const OP_YN1: &str = "demo-operator-yn-1";
        const OP_YN2: &str = "demo-operator-yn-2";
        let now = self.now;
        let oil = |kg| {
            (
                "900-249-08",
                "废矿物油（设备检修更换的废润滑油）",
                "液态",
                "T/I",
                "200L铁桶",
                kg,
            )
        };

        // Approvals first, oldest first, so the approval numbers follow the approval days.
        // Expired, standard route (渝 → 川, HW50 has no entry): approved long ago for a period
        // that ended last week; the sweep below expires it.
        let filed = self.wd(60, 9, 30);
        let app = self.file(
            CQ,
            OP_SC,
            Dispose,
            &[(
                "261-151-50",
                "废催化剂（酯化工序）",
                "固态",
                "T",
                "内衬塑料袋的钢桶",
                "500",
            )],
            filed,
            Some((Self::day(filed), Self::day(self.wd(8, 9, 0)))),
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(58, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(55, 15, 0))?;
        let app = self.advance(app, Status::ReceivingReplied, self.wd(50, 11, 0))?;
        self.advance(app, Status::Approved, self.wd(47, 16, 0))?;
        // Expired, whitelist route (渝 → 川 informs only: the source's approval completes it).
        let filed = self.wd(45, 9, 10);
        let app = self.file(
            CQ,
            OP_SC,
            Utilise,
            &[oil("3000")],
            filed,
            Some((Self::day(filed), Self::day(self.wd(4, 9, 0)))),
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(44, 10, 30))?;
        self.advance(app, Status::Approved, self.wd(42, 14, 0))?;
        // Revoked (撤销), whitelist route: approved, then revoked by the source province.
        let filed = self.wd(40, 9, 40);
        let app = self.file(CQ, OP_SC, Utilise, &[oil("2000")], filed, None)?;
        let app = self.advance(app, Status::UnderReview, self.wd(39, 10, 0))?;
        let app = self.advance(app, Status::Approved, self.wd(38, 15, 0))?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(20, 11, 0),
            Act::Revoke {
                reasons: vec!["经查，移出单位提供的危险废物鉴别材料不实，依法撤销本批准".into()],
            },
        )?;
        // Revoked, standard route (渝 → 川, HW50 has no entry).
        let app = self.file(
            CQ,
            OP_SC,
            Dispose,
            &[(
                "261-151-50",
                "废催化剂（酯化工序）",
                "固态",
                "T",
                "内衬塑料袋的钢桶",
                "800",
            )],
            self.wd(37, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(36, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(35, 15, 0))?;
        let app = self.advance(app, Status::ReceivingReplied, self.wd(33, 11, 0))?;
        let app = self.advance(app, Status::Approved, self.wd(32, 16, 0))?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(15, 10, 0),
            Act::Revoke {
                reasons: vec!["接受单位危险废物经营许可证被依法吊销，撤销本批准".into()],
            },
        )?;
        // Approved, standard route (黔 → 川: no HW48 entry for the operator): the whole path.
        let app = self.file(
            GZ1,
            OP_SC3,
            Utilise,
            &[("321-026-48", "铝灰渣（熔铸工序）", "固态", "R", "防潮吨袋", "1800000")],
            self.wd(30, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(28, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(25, 16, 20))?;
        let app = self.advance(app, Status::ReceivingReplied, self.wd(16, 11, 0))?;
        self.advance(app, Status::Approved, self.wd(13, 15, 30))?;
        // Approved, whitelist route, source only (川渝 inform).
        let app = self.file(CQ, OP_SC, Utilise, &[oil("25000")], self.wd(12, 9, 20), None)?;
        let app = self.advance(app, Status::UnderReview, self.wd(11, 10, 0))?;
        self.advance(app, Status::Approved, self.wd(9, 16, 0))?;
        // Approved, whitelist route, both provinces (渝 → 黔 asks for consent).
        let app = self.file(
            CQ2,
            OP_GZ1,
            Dispose,
            &[("900-252-12", "喷漆废物（漆渣）", "半固态", "T/I", "200L铁桶", "8600")],
            self.wd(10, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(9, 11, 0))?;
        let app = self.decide(
            &app,
            Side::Source,
            true,
            &["属白名单范围，数量在年度额度内，同意转出"],
            APPROVE_CONDITIONS,
            self.wd(7, 10, 0),
        )?;
        self.advance(app, Status::Approved, self.wd(6, 14, 40))?;

        // Submitted: fresh on both routes, and one whose acceptance is due today.
        self.file(CQ, OP_SC, Utilise, &[oil("12500")], now, None)?;
        self.file(
            CQ,
            OP_SC,
            Dispose,
            &[(
                "261-151-50",
                "废催化剂（酯化工序）",
                "固态",
                "T",
                "内衬塑料袋的钢桶",
                "860",
            )],
            now,
            None,
        )?;
        self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[(
                "900-041-49",
                "沾染危险化学品的废包装桶",
                "固态",
                "T/In",
                "捆扎托盘",
                "3200.5",
            )],
            self.wd(5, 10, 12),
            None,
        )?;

        // Correction requested (补正): one notice listing every problem.
        let app = self.file(
            CQ2,
            OP_GZ1,
            Dispose,
            &[("900-252-12", "喷漆废物（漆渣）", "半固态", "T/I", "200L铁桶", "5400")],
            self.wd(4, 9, 40),
            None,
        )?;
        self.correction(
            &app,
            &[
                "缺少与接受单位签订的委托利用处置合同",
                "危险废物特性说明未注明含水率和主要有害成分",
                "承运单位道路危险货物运输许可证已过有效期",
            ],
            self.wd(3, 15, 5),
        )?;
        let app = self.file(
            SC1,
            OP_CQ1,
            Dispose,
            &[(
                "900-047-49",
                "实验室无机废液及废弃化学试剂",
                "液态",
                "T/C/I/R",
                "25L塑料桶",
                "18.75",
            )],
            self.wd(3, 14, 0),
            None,
        )?;
        self.correction(
            &app,
            &["未附废液成分检测报告", "包装方式与危险特性不符：含氰废液须单独包装"],
            self.wd(2, 10, 30),
        )?;

        // Resubmitted today: the acceptance clock starts again.
        let app = self.file(
            CQ,
            OP_GZ1,
            Utilise,
            &[("900-218-08", "废液压油", "液态", "T/I", "200L铁桶", "7800")],
            self.wd(8, 9, 15),
            None,
        )?;
        let app = self.correction(&app, &["未提供接受单位危险废物经营许可证复印件"], self.wd(6, 11, 0))?;
        self.resubmit(&app, "已补充接受单位经营许可证复印件", now)?;
        let app = self.file(
            GZ1,
            OP_YN2,
            Utilise,
            &[("321-026-48", "二次铝灰", "固态", "R", "防潮吨袋", "420000")],
            self.wd(7, 9, 0),
            None,
        )?;
        let app = self.correction(
            &app,
            &["转移数量超出环评批复的年产生量，请说明依据", "未填写运输路线"],
            self.wd(5, 16, 0),
        )?;
        self.resubmit(&app, "已附产能核定文件并补充运输路线", now)?;

        // Under review on the whitelist route: due today; overdue; half consented.
        let app = self.file(
            CQ,
            OP_SC,
            Dispose,
            &[("900-039-49", "VOCs治理废活性炭", "固态", "T", "编织吨袋", "96.5")],
            self.wd(6, 9, 5),
            None,
        )?;
        self.advance(app, Status::UnderReview, self.wd(5, 11, 20))?;
        let app = self.file(CQ, OP_GZ1, Utilise, &[oil("15000")], self.wd(14, 10, 0), None)?;
        self.advance(app, Status::UnderReview, self.wd(12, 9, 45))?;
        let app = self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[(
                "900-249-08",
                "沾染矿物油的废弃包装物",
                "固态",
                "T/I",
                "编织吨袋",
                "2600",
            )],
            self.wd(4, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(3, 10, 0))?;
        if app.route == Route::Whitelist.as_str() {
            self.decide(
                &app,
                Side::Source,
                true,
                &["属白名单范围，数量在年度额度内，同意转出"],
                APPROVE_CONDITIONS,
                self.wd(1, 15, 0),
            )?;
        }
        // Filed long ago and never answered: the sweep deems it accepted on the day of receipt.
        self.file(
            CQ2,
            OP_SC2,
            Dispose,
            &[("900-006-09", "机加工废乳化液", "液态", "T", "IBC吨桶", "36000")],
            self.wd(13, 14, 30),
            None,
        )?;
        // Under review on the standard route, due today: more than the entry's quota (900 t).
        let app = self.file(
            CQ,
            OP_GZ3,
            Dispose,
            &[("772-003-18", "危险废物焚烧飞灰", "固态", "T", "防渗吨袋", "950000")],
            self.wd(7, 9, 30),
            None,
        )?;
        self.advance(app, Status::UnderReview, self.wd(5, 10, 40))?;

        // Consultation sent (商请函): the receiving opinion due today, and one overdue.
        let app = self.file(
            CQ,
            OP_GZ1,
            Dispose,
            &[("265-104-13", "树脂合成废水处理污泥", "半固态", "T", "防渗吨袋", "3800")],
            self.wd(14, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(13, 10, 0))?;
        self.advance(app, Status::ConsultationSent, self.wd(10, 15, 0))?;
        let app = self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[("900-048-50", "废液体催化剂", "液态", "T", "200L塑料桶", "640")],
            self.wd(26, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(24, 10, 0))?;
        self.advance(app, Status::ConsultationSent, self.wd(20, 16, 0))?;

        // Receiving province replied: the source's final decision is running.
        let app = self.file(
            SC1,
            OP_GZ1,
            Dispose,
            &[("900-015-13", "废弃离子交换树脂", "固态", "T", "编织吨袋", "2150")],
            self.wd(20, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(18, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(16, 14, 0))?;
        self.advance(app, Status::ReceivingReplied, self.wd(2, 11, 0))?;

        // The receiving province refused in its reply (第25条): the source's final decision (第26条)
        // is running, and can only refuse.
        let app = self.file(
            YN1,
            OP_GZ2,
            Utilise,
            &[("900-037-46", "废镍催化剂", "固态", "T/I", "钢桶", "6500")],
            self.wd(12, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(11, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(9, 15, 0))?;
        self.decide(
            &app,
            Side::Receiving,
            false,
            &["接受单位本年度含镍废物利用计划已排满"],
            &[],
            self.wd(1, 11, 0),
        )?;

        // Refused: by the receiving province (whitelist); in its opinion (standard: the source's
        // final decision then runs); by the source after a refusing opinion (standard); and by the
        // source (whitelist).
        let app = self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[(
                "900-041-49",
                "沾染危险化学品的废包装桶",
                "固态",
                "T/In",
                "捆扎托盘",
                "5200",
            )],
            self.wd(9, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(8, 10, 0))?;
        let refusal = ["接受单位回转窑焚烧线停产检修至下月底，近期处置能力不足"];
        if app.route == Route::Whitelist.as_str() {
            self.decide(&app, Side::Receiving, false, &refusal, &[], self.wd(6, 16, 0))?;
        } else {
            let app = self.advance(app, Status::ConsultationSent, self.wd(7, 10, 0))?;
            self.decide(&app, Side::Receiving, false, &refusal, &[], self.wd(6, 16, 0))?;
        }
        let app = self.file(
            YN1,
            OP_GZ2,
            Utilise,
            &[("900-037-46", "废镍催化剂", "固态", "T/I", "钢桶", "12000")],
            self.wd(22, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(20, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(17, 15, 0))?;
        // The receiving province's refusal is its opinion (第25条); the source decides (第26条).
        let app = self.decide(
            &app,
            Side::Receiving,
            false,
            &[
                "接受单位含镍废物利用能力已满负荷",
                "申报废物的镍含量低于接受单位入场标准",
            ],
            &[],
            self.wd(9, 11, 0),
        )?;
        self.decide(
            &app,
            Side::Source,
            false,
            &["接受地省级生态环境主管部门复函不同意接收"],
            &[],
            self.wd(7, 10, 0),
        )?;
        let app = self.file(
            SC1,
            OP_CQ1,
            Dispose,
            &[("900-013-11", "溶剂精馏釜底残渣", "半固态", "T", "200L铁桶", "2750")],
            self.wd(8, 9, 30),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(7, 10, 0))?;
        self.decide(
            &app,
            Side::Source,
            false,
            &["申报转移量与排污许可执行报告中的年产生量不符"],
            &[],
            self.wd(4, 15, 0),
        )?;

        // Withdrawn: after acceptance (whitelist), and before it (standard).
        let app = self.file(CQ, OP_SC, Utilise, &[oil("9000")], self.wd(6, 10, 0), None)?;
        let app = self.advance(app, Status::UnderReview, self.wd(5, 9, 30))?;
        self.withdraw(&app, "合同变更，改由厂内再生装置综合利用", self.wd(3, 14, 0))?;
        let app = self.file(
            CQ2,
            OP_SC2,
            Dispose,
            &[("900-252-12", "喷漆废物（废漆渣）", "半固态", "T/I", "200L铁桶", "4300")],
            self.wd(5, 9, 0),
            None,
        )?;
        self.withdraw(&app, "与接受单位未就处置价格达成一致，暂不转移", self.wd(2, 10, 0))?;

        // 不予受理 (行政许可法 第32条), on each route: a numbered decision that ends the case.
        let app = self.file(CQ, OP_SC, Utilise, &[oil("800")], self.wd(3, 9, 0), None)?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(2, 11, 0),
            Act::RefuseAcceptance {
                reasons: vec!["申请单位不是该批危险废物的产生单位，不属于移出人".into()],
            },
        )?;
        let app = self.file(
            CQ2,
            OP_SC2,
            Dispose,
            &[("900-252-12", "喷漆废物（漆渣）", "半固态", "T/I", "200L铁桶", "1200")],
            self.wd(4, 9, 0),
            None,
        )?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(3, 15, 0),
            Act::RefuseAcceptance {
                reasons: vec!["申请事项依法不需要取得跨省转移批准：接受单位与移出人位于同一省份".into()],
            },
        )?;
        Ok(())
    }
}

/// Applications from the demo producers in every state on both routes, some due today and some
/// overdue, loaded in one transaction and only while the demo producers have none.
fn demo_applications(conn: &mut DbConnection, close: chrono::NaiveTime) -> anyhow::Result<()> {
    use crate::db::applications::AppFilter;
    for (id, ..) in DEMO_ENTERPRISES {
        let filter = AppFilter {
            enterprise_id: Some(id.to_string()),
            ..Default::default()
        };
        if !db::applications::list(conn, &filter, None, 1).map_err(err)?.is_empty() {
            return Ok(());
        }
    }
    db::write_tx(conn, |conn| -> anyhow::Result<()> {
        let cal = db::calendar::load(conn).map_err(err)?;
        let now = chrono::Utc::now();
        let mut due_day = crate::domain::calendar::shanghai_date(now);
        for _ in 0..30 {
            if cal.is_working_day(due_day).0 {
                break;
            }
            due_day = due_day.succ_opt().unwrap_or(due_day);
        }
        let mut seeder = AppSeeder {
            conn,
            cal,
            close,
            now,
            due_day,
            filed: 0,
        };
        seeder.all_states()?;
        seeder.new_states()?;
        // Deemed acceptance, overdue marking and expiry as the sweeper would do them; the second
        // pass flags the review steps that deemed acceptance just opened (already late).
        for _ in 0..2 {
            db::applications::sweep(seeder.conn, &seeder.cal, close, now).map_err(err)?;
        }
        Ok(())
    })
}

/// Loads the demo data; returns the accounts to show.
/// The demo data; deadlines fall due at `office_close` (`HWT_OFFICE_CLOSE`) like real ones.
pub fn demo(conn: &mut DbConnection, office_close: chrono::NaiveTime) -> anyhow::Result<Vec<DemoLogin>> {
    demo_registry(conn)?;
    super::seed_regimes::registry(conn)?;
    demo_applications(conn, office_close)?;
    let mut logins = Vec::new();
    for (username, name, role, binding) in demo_accounts() {
        if db::users::user_by_username(conn, username)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_none()
        {
            create_user(
                conn,
                &NewUser {
                    username: username.into(),
                    password: DEMO_PASSWORD.into(),
                    role,
                    display_name: name.into(),
                    binding: binding.clone(),
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        logins.push(DemoLogin {
            username: username.into(),
            role,
            binding: binding.to_claim(),
        });
    }
    Ok(logins)
}

pub fn print_logins(logins: &[DemoLogin], addr: Option<std::net::SocketAddr>) {
    println!("\nDemo accounts (password for all: {DEMO_PASSWORD}):");
    for l in logins {
        println!("  {:<14} {:<10} {}", l.username, l.role.as_str(), l.binding);
    }
    if let Some(addr) = addr {
        println!(
            "\nTry:\n  curl -s -X POST http://{addr}/api/v1/auth/token -H 'content-type: application/json' \\\n    -d '{{\"username\":\"cq-regulator\",\"password\":\"{DEMO_PASSWORD}\"}}'"
        );
    }
}
