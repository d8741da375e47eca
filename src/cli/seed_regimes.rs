//! The demo's whitelist regimes beyond one province pair and the states issue 17 added, beside
//! `seed/`'s registry and cases: the 川渝滇黔 four-province mechanism, an entry that serves two
//! source provinces from one shared quota, an entry's quota amended by letter, Hubei's one-sided
//! inbound list with its listed operator, an agreement with 一事一批 (completion within 30 days
//! and a per-application cap), a licensed collector (收集单位) as the transferring party, and
//! manifests with a recorded arrival, with discrepancies and their decisions, and back-filled
//! from paper. The cases go through the same database transactions as the service's (filing,
//! acting, creating and acting on manifests), so they pass the same checks as real ones.

use chrono::Datelike;

use super::seed::{AppSeeder, demo_uscc, err};
use crate::auth::principal::{Binding, Role};
use crate::db::{self, DbConnection};
use crate::domain::workflow::Status;

/// The demo collector (收集单位): an enterprise of kind collector and its own operator record.
pub const COLLECTOR_ID: &str = "demo-collector-cq";
pub const COLLECTOR_NAME: &str = "重庆示范废矿物油收集有限公司";
const COLLECTOR_OPERATOR_ID: &str = "demo-collector-cq-licence";
/// The collector's demo account (an enterprise user of the collector).
pub(super) fn collector_account() -> (&'static str, &'static str, Role, Binding) {
    (
        "cq-collector",
        COLLECTOR_NAME,
        Role::Enterprise,
        Binding::Enterprise(COLLECTOR_ID.into()),
    )
}

/// Hubei's operator on its inbound list.
const HUBEI_OPERATOR_ID: &str = "demo-operator-hb-1";
const SC_OPERATOR: &str = super::seed::DEMO_OPERATOR_ID;
const SC_OPERATOR_2: &str = "demo-operator-sc-2";

fn this_year() -> i32 {
    crate::domain::calendar::shanghai_date(chrono::Utc::now()).year()
}

fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// An operator record with a licence of `modes` for `categories`, valid from last year to three
/// years ahead.
fn operator(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    (province, division, serial): (&str, &str, u32),
    modes: &[crate::domain::whitelist::LicenceMode],
    categories: &[&str],
    licence_number: String,
) -> anyhow::Result<()> {
    use crate::db::registry::{NewLicence, OperatorRow};
    use crate::domain::catalogue::WasteCategory;
    use crate::domain::quantity::Quantity;
    let now = db::db_now();
    let year = this_year();
    db::registry::insert_operator(
        conn,
        &OperatorRow {
            id: id.into(),
            name: name.into(),
            uscc: demo_uscc(division, serial)?,
            province: province.into(),
            division_code: division.into(),
            address: format!("{name}厂区"),
            created_by: "seed".into(),
            created_at: now,
            updated_at: now,
        },
    )
    .map_err(err)?;
    db::registry::add_licence(
        conn,
        id,
        &NewLicence {
            licence_number,
            modes: modes.to_vec(),
            categories: categories
                .iter()
                .map(|c| WasteCategory::parse(c))
                .collect::<Result<_, _>>()
                .map_err(err)?,
            codes: vec![],
            annual_capacity: Quantity::from_grams(20_000 * 1_000_000).map_err(err)?,
            category_capacities: vec![],
            valid_from: date(year - 1, 1, 1),
            valid_until: date(year + 3, 12, 31),
            issuing_authority: "省级生态环境主管部门".into(),
        },
        "seed",
    )
    .map_err(err)?;
    Ok(())
}

/// A confirmed agreement among `provinces` (`["*", p]` for a one-sided list of `p`).
fn agreement(
    conn: &mut DbConnection,
    id: &str,
    provinces: &[&str],
    consent: &str,
    kind: &str,
    created_at: chrono::NaiveDateTime,
    (cap_g, completion_days): (Option<i64>, Option<i32>),
) -> anyhow::Result<()> {
    use crate::db::whitelist::AgreementRow;
    let year = this_year();
    let members: Vec<String> = provinces.iter().filter(|p| **p != "*").map(|p| p.to_string()).collect();
    let row = AgreementRow {
        id: id.into(),
        province_a: provinces[0].into(),
        province_b: provinces[1].into(),
        valid_from: format!("{year}-01-01"),
        valid_until: format!("{year}-12-31"),
        receiving_consent: consent.into(),
        cap_per_application_g: cap_g,
        status: "confirmed".into(),
        proposed_by: "seed".into(),
        proposed_by_province: members[0].clone(),
        confirmed_by: Some("seed".into()),
        confirmed_at: Some(created_at),
        created_at,
        terminated_on: None,
        termination_reason: None,
        terminated_by: None,
        completion_days,
        kind: kind.into(),
    };
    db::whitelist::insert_agreement_among(conn, &row, &members).map_err(err)
}

/// A confirmed entry of this year.
fn entry(
    conn: &mut DbConnection,
    id: &str,
    (operator, receiving): (&str, &str),
    sources: &[&str],
    (scope_kind, scope, category): (&str, &str, &str),
    quota_t: i64,
    note: &str,
) -> anyhow::Result<()> {
    use crate::db::whitelist::EntryRow;
    let now = db::db_now();
    let shared: Vec<crate::domain::ids::ProvinceCode> = sources[1..]
        .iter()
        .map(|p| crate::domain::ids::ProvinceCode::parse(p))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let row = EntryRow {
        id: id.into(),
        year: this_year(),
        operator_id: operator.into(),
        receiving_province: receiving.into(),
        source_province: sources[0].into(),
        scope_kind: scope_kind.into(),
        scope: scope.into(),
        category: category.into(),
        quota_g: quota_t * 1_000_000,
        reserved_g: 0,
        approved_g: 0,
        shipped_g: 0,
        received_g: 0,
        facility: None,
        note: Some(note.into()),
        status: "confirmed".into(),
        status_reason: None,
        proposed_by: "seed".into(),
        proposed_by_province: receiving.into(),
        confirmed_by: Some("seed".into()),
        version: 1,
        created_at: now,
        updated_at: now,
        shared_sources: crate::domain::whitelist::encode_shared_sources(&shared),
    };
    db::whitelist::insert_entries(conn, &[row])
        .map_err(err)?
        .map_err(|_| anyhow::anyhow!("demo entry {id} duplicates an existing one"))
}

/// The regimes' registry side, once (it is there when the four-province mechanism is).
pub fn registry(conn: &mut DbConnection) -> anyhow::Result<()> {
    use crate::domain::whitelist::LicenceMode::{Collect, Dispose, Store, Utilise};
    let year = this_year();
    let four = format!("demo-agreement-chuanyu-dianqian-{year}");
    if db::whitelist::agreement_by_id(conn, &four).map_err(err)?.is_some() {
        return Ok(());
    }
    // 川渝滇黔: one mechanism signed by four provinces. Older than the demo's pair agreements,
    // which (newest first) still decide each pair's consent policy; it is what an entry shared
    // by several of its members needs.
    let signed = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_else(db::db_now);
    agreement(
        conn,
        &four,
        &["500000", "510000", "520000", "530000"],
        "consent",
        "mutual",
        signed,
        (None, None),
    )?;
    // Sichuan lists one quota of HW12 for its operator, shared by Guizhou and Yunnan.
    entry(
        conn,
        &format!("demo-entry-{year}-shared-{SC_OPERATOR_2}-HW12"),
        (SC_OPERATOR_2, "510000"),
        &["520000", "530000"],
        ("category", "HW12", "HW12"),
        600,
        "黔滇共用额度（川渝滇黔机制）",
    )?;
    // An entry's quota raised by letter during the year: a new version citing the letter.
    let amended = format!("demo-entry-{year}-{SC_OPERATOR_2}-500000-HW08");
    if let Some(e) = db::whitelist::entry_by_id(conn, &amended).map_err(err)? {
        db::whitelist::amend_quota(
            conn,
            &amended,
            e.version,
            e.quota_g + 300 * 1_000_000,
            &format!("川环函〔{year}〕87号"),
            "接受单位扩建投运，经两省函商同意增加年度额度",
            "sc-regulator",
        )
        .map_err(err)?
        .ok_or_else(|| anyhow::anyhow!("the demo amendment of {amended} did not hold"))?;
    }
    // Hubei's one-sided inbound list: Hubei pre-consents to transfers into its listed operator.
    operator(
        conn,
        HUBEI_OPERATOR_ID,
        "湖北示范环保科技有限公司",
        ("420000", "420100", 41),
        &[Collect, Store, Utilise, Dispose],
        &["HW08", "HW49"],
        format!("鄂危证{year}0041号"),
    )?;
    let signed_now = db::db_now();
    agreement(
        conn,
        &format!("demo-agreement-inbound-420000-{year}"),
        &["*", "420000"],
        "inform",
        "inbound_list",
        signed_now,
        (None, None),
    )?;
    entry(
        conn,
        &format!("demo-entry-{year}-{HUBEI_OPERATOR_ID}-500000-HW08"),
        (HUBEI_OPERATOR_ID, "420000"),
        &["500000"],
        ("category", "HW08", "HW08"),
        800,
        "湖北省跨省转入白名单",
    )?;
    // 一事一批 (Anhui's practice): each whitelist transfer completed within 30 days of its
    // approval, and at most 50 t per application.
    agreement(
        conn,
        &format!("demo-agreement-340000-500000-{year}"),
        &["340000", "500000"],
        "consent",
        "mutual",
        signed_now,
        (Some(50 * 1_000_000), Some(30)),
    )?;
    // The collector: its licence (收集 and 贮存) as an operator record, and the enterprise of
    // kind collector that files under it (the same legal person, the same USCC).
    operator(
        conn,
        COLLECTOR_OPERATOR_ID,
        COLLECTOR_NAME,
        ("500000", "500105", 31),
        &[Collect, Store],
        &["HW08", "HW49"],
        format!("渝危证收集{year}0031号"),
    )?;
    let now = db::db_now();
    db::registry::insert_enterprise(
        conn,
        &crate::db::registry::EnterpriseRow {
            id: COLLECTOR_ID.into(),
            name: COLLECTOR_NAME.into(),
            uscc: demo_uscc("500105", 31)?,
            province: "500000".into(),
            division_code: "500105".into(),
            address: format!("{COLLECTOR_NAME}集中贮存点"),
            contact_name: "收集站站长".into(),
            contact_phone: "000-00000000".into(),
            created_by: "seed".into(),
            created_at: now,
            updated_at: now,
            kind: "collector".into(),
            collector_operator_id: Some(COLLECTOR_OPERATOR_ID.into()),
        },
    )
    .map_err(err)?;
    Ok(())
}

fn transport(departure_at: chrono::DateTime<chrono::Utc>, plate: &str) -> db::manifests::Transport {
    db::manifests::Transport {
        carrier_name: "重庆安运危险品物流有限公司".into(),
        carrier_permit: "渝交运管许可字500112000318号".into(),
        vehicle_plate: plate.into(),
        driver_name: "周师傅".into(),
        route_from: "重庆市江北区".into(),
        route_to: "四川省成都市".into(),
        departure_at,
    }
}

impl AppSeeder<'_> {
    /// Creates a manifest of `kg` on line 0 of `app` at `at`, leaving at `departure`.
    fn manifest(
        &mut self,
        app: &db::applications::AppRow,
        kg: i64,
        (departure, at): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
        paper: Option<db::manifests::PaperTrip>,
        plate: &str,
    ) -> anyhow::Result<db::manifests::ManifestRow> {
        use db::manifests::{Clock, CreateOutcome, NewManifest};
        let clock = Clock {
            cal: &self.cal,
            office_close: self.close,
        };
        let new = NewManifest {
            application_id: app.id.clone(),
            enterprise_id: app.enterprise_id.clone(),
            items: vec![(0, kg * 1000)],
            transport: transport(departure.min(self.now), plate),
            paper,
            idempotency_key: None,
            request_hash: format!("demo-manifest-{plate}"),
            created_by: "cq-collector".into(),
        };
        match db::manifests::create(self.conn, &clock, &new, at).map_err(err)? {
            CreateOutcome::Created(m) => Ok(m),
            CreateOutcome::Refused(problems) => anyhow::bail!(
                "demo manifest on {} refused: {}",
                app.id,
                problems
                    .iter()
                    .map(|(p, i)| format!("{p}: {}", i.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            CreateOutcome::Replayed(_) | CreateOutcome::KeyReused => {
                anyhow::bail!("demo manifest on {} was not created anew", app.id)
            }
        }
    }

    fn manifest_act(
        &mut self,
        id: &str,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
        act: db::manifests::ManifestAct,
    ) -> anyhow::Result<db::manifests::ManifestRow> {
        let ctx = db::manifests::ManifestContext {
            cal: &self.cal,
            office_close: self.close,
            discrepancy_percent: 5.0,
            name: by,
            now: at,
        };
        match db::manifests::act(self.conn, &ctx, id, None, &act).map_err(err)? {
            Ok(m) => Ok(m),
            Err(why) => anyhow::bail!("demo manifest {id}: {act:?} refused: {why:?}"),
        }
    }

    /// The collector's filing (approved, the source province alone: 川渝 inform) and the
    /// manifests under it: one on the road with its arrival recorded (the receipt clock runs
    /// from it), one received with discrepancies and the operator's decisions, and one trip made
    /// on paper and back-filled.
    pub(super) fn new_states(&mut self) -> anyhow::Result<()> {
        use crate::domain::manifest::{Discrepancy, DiscrepancyDecision, DiscrepancyKind};
        use db::manifests::{ArrivalReporter, ManifestAct, PaperTrip};
        let oil = (
            "900-214-08",
            "车辆维修废矿物油（辖区汽修网点收集）",
            "液态",
            "T/I",
            "200L铁桶",
            "30000",
        );
        let app = self.file(
            COLLECTOR_ID,
            SC_OPERATOR,
            crate::db::applications::Method::Utilise,
            &[oil],
            self.wd(9, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(8, 10, 0))?;
        let app = self.advance(app, Status::Approved, self.wd(7, 15, 0))?;

        // On the road, arrived: the operator recorded the arrival; the receipt is due in 5 WD.
        let m = self.manifest(&app, 8000, (self.wd(3, 9, 0), self.wd(3, 8, 30)), None, "渝AH3127")?;
        self.manifest_act(&m.id, "cq-collector", self.wd(3, 9, 0), ManifestAct::Dispatch)?;
        self.manifest_act(
            &m.id,
            "sc-operator",
            self.wd(1, 16, 0),
            ManifestAct::Arrive {
                at: self.wd(1, 15, 40),
                reported_by: ArrivalReporter::Operator,
            },
        )?;
        // Received with discrepancies (第18条): 9.2 t of 10 t, one drum leaking; both accepted.
        let m = self.manifest(&app, 10000, (self.wd(5, 8, 30), self.wd(5, 8, 0)), None, "渝AH3128")?;
        self.manifest_act(&m.id, "cq-collector", self.wd(5, 8, 30), ManifestAct::Dispatch)?;
        self.manifest_act(
            &m.id,
            "sc-operator",
            self.wd(4, 14, 0),
            ManifestAct::Receive {
                accepted: vec![(0, 9_200_000)],
                discrepancies: vec![
                    Discrepancy {
                        line: 0,
                        kind: DiscrepancyKind::Quantity,
                        description: "过磅9.2吨，较联单少0.8吨（含水率偏高，已沉降分离）".into(),
                        decision: DiscrepancyDecision::Accept,
                    },
                    Discrepancy {
                        line: 0,
                        kind: DiscrepancyKind::Packaging,
                        description: "两只铁桶桶身锈蚀渗漏，已转入防渗容器".into(),
                        decision: DiscrepancyDecision::Accept,
                    },
                ],
                note: Some("已按规定报告接受地生态环境主管部门".into()),
            },
        )?;
        // A trip made on paper while the system was down (第20条), back-filled afterwards.
        self.manifest(
            &app,
            6000,
            (self.wd(3, 8, 0), self.wd(1, 10, 0)),
            Some(PaperTrip {
                number: format!("渝纸联〔{}〕0012号", Self::day(self.now).year()),
                completed_at: self.wd(2, 17, 0),
            }),
            "渝AH3129",
        )?;
        Ok(())
    }
}
