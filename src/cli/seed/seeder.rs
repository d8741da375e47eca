//! The seeder's moves: filing a demo application, one workflow act, decisions, and advancing a
//! case to a state, with the demo carriers and the accounts that act for each party.

use super::*;

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
        crate::cli::seed_regimes::COLLECTOR_ID => "cq-collector".into(),
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

pub(super) const APPROVE_CONDITIONS: &[&str] = &[
    "按申报路线和车辆运输，全程执行电子转移联单",
    "接受单位应在收到废物后5个工作日内确认接收",
];

impl AppSeeder<'_> {
    /// `n` working days before the due day, at `hh:mm` Asia/Shanghai (never later than now).
    pub(in crate::cli) fn wd(&self, n: u32, hh: u32, mm: u32) -> chrono::DateTime<chrono::Utc> {
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

    pub(in crate::cli) fn day(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        crate::domain::calendar::shanghai_date(at)
    }

    /// Files an application at `at`; the requested period is half a year from the filing day
    /// unless given.
    pub(in crate::cli) fn file(
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
            FileOutcome::Filed(app, _) => Ok(app),
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
    pub(in crate::cli) fn act(
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

    pub(super) fn decide(
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
    pub(in crate::cli) fn advance(
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

    pub(super) fn correction(
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

    pub(super) fn resubmit(
        &mut self,
        app: &AppRow,
        note: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<AppRow> {
        self.act(app, Actor::Enterprise, at, Act::Resubmit { note: note.into() })
    }

    pub(super) fn withdraw(
        &mut self,
        app: &AppRow,
        reason: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<AppRow> {
        self.act(app, Actor::Enterprise, at, Act::Withdraw { reason: reason.into() })
    }
}
